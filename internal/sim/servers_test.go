package sim_test

import (
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
)

func TestServerTypes(t *testing.T) {
	e := start(t, fast("empty"))
	all, err := e.client.ServerType.All(e.ctx)
	require.NoError(t, err)
	byName := map[string]*hcloud.ServerType{}
	for _, st := range all {
		byName[st.Name] = st
	}
	tests := []struct {
		name      string
		arch      hcloud.Architecture
		cpu       hcloud.CPUType
		cores     int
		locations []string
	}{
		{"cx22", hcloud.ArchitectureX86, hcloud.CPUTypeShared, 2, []string{"fsn1", "nbg1", "hel1"}},
		{"cx32", hcloud.ArchitectureX86, hcloud.CPUTypeShared, 4, []string{"fsn1", "nbg1", "hel1"}},
		{"cpx11", hcloud.ArchitectureX86, hcloud.CPUTypeShared, 2, []string{"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}},
		{"cax11", hcloud.ArchitectureARM, hcloud.CPUTypeShared, 2, []string{"fsn1", "nbg1", "hel1"}},
		{"cax21", hcloud.ArchitectureARM, hcloud.CPUTypeShared, 4, []string{"fsn1", "nbg1", "hel1"}},
		{"ccx23", hcloud.ArchitectureX86, hcloud.CPUTypeDedicated, 4, []string{"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := byName[tt.name]
			require.NotNil(t, st)
			assert.Equal(t, tt.arch, st.Architecture)
			assert.Equal(t, tt.cpu, st.CPUType)
			assert.Equal(t, tt.cores, st.Cores)
			assert.Positive(t, st.Memory)
			assert.Positive(t, st.Disk)
			assert.Nil(t, st.Deprecation)
			var priced, located []string
			for _, p := range st.Pricings {
				priced = append(priced, p.Location.Name)
				assert.NotEmpty(t, p.Monthly.Net)
			}
			for _, l := range st.Locations {
				located = append(located, l.Location.Name)
			}
			assert.Equal(t, tt.locations, priced)
			assert.Equal(t, tt.locations, located)
			one, _, err := e.client.ServerType.GetByName(e.ctx, tt.name)
			require.NoError(t, err)
			assert.Equal(t, st.ID, one.ID)
			one, _, err = e.client.ServerType.GetByID(e.ctx, st.ID)
			require.NoError(t, err)
			assert.Equal(t, tt.name, one.Name)
		})
	}
}

func TestImageFilters(t *testing.T) {
	e := start(t, fast("empty"))
	names := func(query string) []string {
		r := e.api(t, "GET", "/images?"+query, "")
		require.Equal(t, 200, r.status, string(r.raw))
		var out []string
		for _, im := range r.body["images"].([]any) {
			m := im.(map[string]any)
			out = append(out, m["name"].(string)+"/"+m["architecture"].(string))
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"name=debian-12", []string{"debian-12/x86", "debian-12/arm"}},
		{"name=debian-12&architecture=arm", []string{"debian-12/arm"}},
		{"name=ubuntu-24.04&architecture=x86&type=system&status=available", []string{"ubuntu-24.04/x86"}},
		{"name=ubuntu-20.04", nil},
		{"name=ubuntu-20.04&include_deprecated=true", []string{"ubuntu-20.04/x86", "ubuntu-20.04/arm"}},
		{"name=ubuntu-20.04&architecture=x86&include_deprecated=True", []string{"ubuntu-20.04/x86"}},
		{"name=debian-12&type=snapshot", nil},
		{"name=debian-12&label_selector=k", nil},
		{"name=debian-12&label_selector=!k", []string{"debian-12/x86", "debian-12/arm"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, names(tt.query), tt.query)
	}
	img, _, err := e.client.Image.GetByNameAndArchitecture(e.ctx, "ubuntu-24.04", hcloud.ArchitectureARM)
	require.NoError(t, err)
	require.NotNil(t, img)
	assert.Equal(t, hcloud.ArchitectureARM, img.Architecture)
	old, _, err := e.client.Image.GetByID(e.ctx, 45557056)
	require.NoError(t, err)
	assert.True(t, old.IsDeprecated(), "by id, a deprecated image is found")
}

func TestCreateServerLifecycle(t *testing.T) {
	e, clock := manual(t)
	e.sim.Store().SetActionTime(sim.CmdCreateServer, 8*time.Second)
	e.sim.Store().SetActionTime(sim.CmdStartServer, 2*time.Second)
	vres, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "spare", Size: 10, Location: &hcloud.Location{Name: "hel1"}})
	require.NoError(t, err)
	clock.Advance(time.Second)
	spare := vres.Volume
	res, _, err := e.client.Server.Create(e.ctx, hcloud.ServerCreateOpts{
		Name: "arm-01", ServerType: &hcloud.ServerType{Name: "cax11"}, Image: &hcloud.Image{Name: "ubuntu-24.04"},
		Location: &hcloud.Location{Name: spare.Location.Name}, Labels: map[string]string{"role": "arm"},
		Volumes: []*hcloud.Volume{spare},
	})
	require.NoError(t, err)
	assert.Equal(t, hcloud.ServerStatusInitializing, res.Server.Status)
	assert.NotEmpty(t, res.RootPassword)
	assert.Equal(t, "create_server", res.Action.Command)
	require.Len(t, res.NextActions, 1)
	assert.Equal(t, "start_server", res.NextActions[0].Command)
	assert.Equal(t, hcloud.ArchitectureARM, res.Server.Image.Architecture)
	assert.NotEmpty(t, res.Server.PublicNet.IPv4.IP)
	assert.NotNil(t, res.Server.PublicNet.IPv6.Network)
	assert.True(t, e.server(t, "arm-01").Locked)

	clock.Advance(8 * time.Second)
	srv := e.server(t, "arm-01")
	assert.Equal(t, hcloud.ServerStatusStarting, srv.Status)
	require.Len(t, srv.Volumes, 1, "the volumes given are attached when the creation ends")
	assert.Equal(t, spare.ID, srv.Volumes[0].ID)
	clock.Advance(2 * time.Second)
	srv = e.server(t, "arm-01")
	assert.Equal(t, hcloud.ServerStatusRunning, srv.Status)
	assert.False(t, srv.Locked)
	assert.Equal(t, spare.Location.Name, srv.Location.Name)
	assert.Equal(t, "cax11", srv.ServerType.Name)

	// hcloud-go no longer sends datacenter; python3-hcloud and the API still take it.
	off := e.api(t, "POST", "/servers", `{"name":"off-01","server_type":"cpx11","image":"debian-12","start_after_create":false,"datacenter":"ash-dc1"}`)
	require.Equal(t, 201, off.status, string(off.raw))
	assert.Empty(t, off.body["next_actions"])
	clock.Advance(8 * time.Second)
	srv = e.server(t, "off-01")
	assert.Equal(t, hcloud.ServerStatusOff, srv.Status)
	assert.Equal(t, "ash", srv.Location.Name)
}

func TestCreateServerRules(t *testing.T) {
	e := start(t, fast("ph3-02"))
	attached := e.volume(t, "vol-minio-01")
	tests := []struct {
		name string
		body string
		code string
	}{
		{"no name", `{"server_type":"cx22","image":"debian-12"}`, "invalid_input"},
		{"bad name", `{"name":"my server","server_type":"cx22","image":"debian-12"}`, "invalid_input"},
		{"name in use", `{"name":"minio-01","server_type":"cx22","image":"debian-12"}`, "uniqueness_error"},
		{"no type", `{"name":"n1","image":"debian-12"}`, "invalid_input"},
		{"unknown type", `{"name":"n1","server_type":"cx99","image":"debian-12"}`, "invalid_input"},
		{"unknown image", `{"name":"n1","server_type":"cx22","image":"windows-11"}`, "invalid_input"},
		{"arm image id on x86", `{"name":"n1","server_type":"cx22","image":114690389}`, "invalid_input"},
		{"type not sold there", `{"name":"n1","server_type":"cax11","image":"debian-12","location":"ash"}`, "invalid_input"},
		{"location and datacenter", `{"name":"n1","server_type":"cx22","image":"debian-12","location":"fsn1","datacenter":"fsn1-dc14"}`, "invalid_input"},
		{"unknown location", `{"name":"n1","server_type":"cx22","image":"debian-12","location":"mars1"}`, "invalid_input"},
		{"ssh key", `{"name":"n1","server_type":"cx22","image":"debian-12","ssh_keys":["me"]}`, "not_found"},
		{"attached volume", `{"name":"n1","server_type":"cx22","image":"debian-12","location":"` + attached.Location.Name + `","volumes":[` + itoa(attached.ID) + `]}`, "volume_already_attached"},
		{"bad labels", `{"name":"n1","server_type":"cx22","image":"debian-12","labels":{"a b":"c"}}`, "invalid_input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.api(t, "POST", "/servers", tt.body)
			assert.Equal(t, tt.code, errCode(r), string(r.raw))
		})
	}
	srv, _, err := e.client.Server.GetByName(e.ctx, "n1")
	require.NoError(t, err)
	assert.Nil(t, srv, "no refusal leaves a server behind")
}

func TestCreateServerFailedActionRemovesIt(t *testing.T) {
	e := start(t, fast("empty"))
	require.NoError(t, e.sim.AddFaults(sim.FaultRule{Method: "POST", Path: "/v1/servers", Effect: sim.EffectActionError}))
	res, _, err := e.client.Server.Create(e.ctx, hcloud.ServerCreateOpts{Name: "doomed", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"}})
	require.NoError(t, err)
	err = e.client.Action.WaitFor(e.ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...)
	var aerr hcloud.ActionError
	require.ErrorAs(t, err, &aerr)
	srv, _, err := e.client.Server.GetByName(e.ctx, "doomed")
	require.NoError(t, err)
	assert.Nil(t, srv)
}

func TestCreateThenDeleteServerWithHcloudGo(t *testing.T) {
	e := start(t, fast("empty"))
	res, _, err := e.client.Server.Create(e.ctx, hcloud.ServerCreateOpts{Name: "tmp-01", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"}})
	require.NoError(t, err)
	e.wait(t, append([]*hcloud.Action{res.Action}, res.NextActions...)...)
	assert.Equal(t, "fsn1", e.server(t, "tmp-01").Location.Name, "the API picks a location that sells the type")
	v, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "tmp-vol", Size: 10, Server: res.Server})
	require.NoError(t, err)
	e.wait(t, append([]*hcloud.Action{v.Action}, v.NextActions...)...)
	del, _, err := e.client.Server.DeleteWithResult(e.ctx, res.Server)
	require.NoError(t, err)
	e.wait(t, del.Action)
	assert.Nil(t, e.volume(t, "tmp-vol").Server)
	_, _, err = e.client.Volume.Resize(e.ctx, e.volume(t, "tmp-vol"), 20)
	require.NoError(t, err)
}

func TestUpdateServer(t *testing.T) {
	e := start(t, fast("ph3-02"))
	srv := e.server(t, "redis-01")
	up, _, err := e.client.Server.Update(e.ctx, srv, hcloud.ServerUpdateOpts{Name: "redis-01b", Labels: map[string]string{"tier": "cache"}})
	require.NoError(t, err)
	assert.Equal(t, "redis-01b", up.Name)
	assert.Equal(t, map[string]string{"tier": "cache"}, e.server(t, "redis-01b").Labels)
	_, _, err = e.client.Server.Update(e.ctx, up, hcloud.ServerUpdateOpts{Name: "redis-02"})
	apiErr(t, err, hcloud.ErrorCodeUniquenessError)
}

func TestServerPowerAndProtection(t *testing.T) {
	e, clock := manual(t)
	srv := e.server(t, "vault-01")
	tests := []struct {
		name          string
		do            func() (*hcloud.Action, *hcloud.Response, error)
		command       string
		during, after hcloud.ServerStatus
	}{
		{"poweroff", func() (*hcloud.Action, *hcloud.Response, error) { return e.client.Server.Poweroff(e.ctx, srv) }, "stop_server", hcloud.ServerStatusStopping, hcloud.ServerStatusOff},
		{"poweron", func() (*hcloud.Action, *hcloud.Response, error) { return e.client.Server.Poweron(e.ctx, srv) }, "start_server", hcloud.ServerStatusStarting, hcloud.ServerStatusRunning},
		{"shutdown", func() (*hcloud.Action, *hcloud.Response, error) { return e.client.Server.Shutdown(e.ctx, srv) }, "shutdown_server", hcloud.ServerStatusStopping, hcloud.ServerStatusOff},
		{"poweron again", func() (*hcloud.Action, *hcloud.Response, error) { return e.client.Server.Poweron(e.ctx, srv) }, "start_server", hcloud.ServerStatusStarting, hcloud.ServerStatusRunning},
		{"reboot", func() (*hcloud.Action, *hcloud.Response, error) { return e.client.Server.Reboot(e.ctx, srv) }, "reboot_server", hcloud.ServerStatusRunning, hcloud.ServerStatusRunning},
		{"reset", func() (*hcloud.Action, *hcloud.Response, error) { return e.client.Server.Reset(e.ctx, srv) }, "reset_server", hcloud.ServerStatusRunning, hcloud.ServerStatusRunning},
	}
	for _, tt := range tests {
		a, _, err := tt.do()
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.command, a.Command, tt.name)
		got := e.server(t, "vault-01")
		assert.Equal(t, tt.during, got.Status, tt.name)
		assert.True(t, got.Locked, tt.name)
		_, _, err = e.client.Volume.Detach(e.ctx, e.volume(t, "vol-vault-01"))
		apiErr(t, err, hcloud.ErrorCodeLocked)
		clock.Advance(time.Second)
		got = e.server(t, "vault-01")
		assert.Equal(t, tt.after, got.Status, tt.name)
		assert.False(t, got.Locked, tt.name)
	}

	a, _, err := e.client.Server.ChangeProtection(e.ctx, srv, hcloud.ServerChangeProtectionOpts{Delete: hcloud.Ptr(true), Rebuild: hcloud.Ptr(true)})
	require.NoError(t, err)
	assert.Equal(t, "change_protection", a.Command)
	clock.Advance(time.Second)
	got := e.server(t, "vault-01")
	assert.True(t, got.Protection.Delete)
	assert.True(t, got.Protection.Rebuild)
	_, _, err = e.client.Server.DeleteWithResult(e.ctx, srv)
	apiErr(t, err, hcloud.ErrorCodeProtected)
	_, _, err = e.client.Server.ChangeProtection(e.ctx, srv, hcloud.ServerChangeProtectionOpts{Delete: hcloud.Ptr(false), Rebuild: hcloud.Ptr(true)})
	apiErr(t, err, hcloud.ErrorCodeInvalidInput)
	_, _, err = e.client.Server.ChangeProtection(e.ctx, srv, hcloud.ServerChangeProtectionOpts{Delete: hcloud.Ptr(false), Rebuild: hcloud.Ptr(false)})
	require.NoError(t, err)
	clock.Advance(time.Second)
	_, _, err = e.client.Server.DeleteWithResult(e.ctx, srv)
	require.NoError(t, err)

	r := e.api(t, "POST", "/servers/"+itoa(e.server(t, "redis-01").ID)+"/actions/explode", "")
	assert.Equal(t, "not_found", errCode(r))
}

func TestServerActionLists(t *testing.T) {
	e := start(t, fast("ph3-02"))
	srv := e.server(t, "haproxy-01")
	off, _, err := e.client.Server.Poweroff(e.ctx, srv)
	require.NoError(t, err)
	e.wait(t, off)
	detach, _, err := e.client.Volume.Detach(e.ctx, e.volume(t, "vol-haproxy-01"))
	require.NoError(t, err)
	e.wait(t, detach)

	ids := func(path string) []int64 {
		r := e.api(t, "GET", path, "")
		require.Equal(t, 200, r.status, string(r.raw))
		var out []int64
		for _, a := range r.body["actions"].([]any) {
			out = append(out, int64(a.(map[string]any)["id"].(float64)))
		}
		return out
	}
	assert.Equal(t, []int64{off.ID, detach.ID}, ids("/servers/"+itoa(srv.ID)+"/actions?sort=id"), "a detach touches the server too")
	assert.Equal(t, []int64{off.ID, detach.ID}, ids("/servers/actions?sort=id"))
	assert.Equal(t, []int64{detach.ID}, ids("/volumes/actions?sort=id"))
	assert.Equal(t, 200, e.api(t, "GET", "/servers/actions/"+itoa(off.ID), "").status)
	assert.Equal(t, 404, e.api(t, "GET", "/volumes/actions/"+itoa(off.ID), "").status, "no volume in a poweroff")
	assert.Equal(t, 404, e.api(t, "GET", "/servers/"+itoa(e.server(t, "haproxy-02").ID)+"/actions/"+itoa(off.ID), "").status)
	assert.Equal(t, 404, e.api(t, "GET", "/servers/424242/actions", "").status)
	routes := e.sim.Stats().Requests.ByRoute
	assert.Equal(t, 2, routes["GET /v1/servers/{id}/actions"], "the unknown server counts too")
	assert.Equal(t, 1, routes["GET /v1/servers/actions/{id}"])
	assert.Equal(t, 1, routes["GET /v1/volumes/actions/{id}"])
}
