package tests

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// Servers made and deleted by hetzner.hcloud 5.x and by its vendored python hcloud against
// hcloud-sim, as a user's test playbook does around its volumes: an x86 and an Arm type, an
// image by name, a location; a volume on the new server is left detached by its delete.

type serverResult struct {
	Changed      bool      `json:"changed"`
	Server       *hcServer `json:"hcloud_server"`
	RootPassword *string   `json:"root_password"`
}

// TestModernHcloudServer runs testdata/modern/server.yml: create (check mode, for real, rerun),
// an Arm server, a volume on the new server, server_info, delete (check mode, for real, rerun).
func TestModernHcloudServer(t *testing.T) {
	m, env, ctx := modernStart(t, "fleet.json")
	r := modernPlaybook(t, ctx, m, env, "server.yml", nil)
	e2eRequireOK(t, r)
	wantStatuses(t, r, map[string]string{
		"create x86 (check)": "changed", "create x86": "changed", "create x86 (rerun)": "ok", "create arm": "changed",
		"volume on the new server": "changed", "server_info of the new servers": "ok",
		"delete x86 (check)": "changed", "delete x86": "changed", "delete x86 (rerun)": "ok",
		"volume after its server's delete": "ok", "delete arm": "changed",
	})
	assert.Equal(t, map[string]int{
		"POST /v1/servers":        2,
		"POST /v1/volumes":        1,
		"DELETE /v1/servers/{id}": 2,
	}, mutations(t, env), "check mode and reruns send nothing")
	st := env.State()

	check := result[serverResult](t, r, "create x86 (check)")
	assert.Nil(t, check.Server)
	assert.Nil(t, check.RootPassword)

	x86 := modernCreatedX86(t, r)

	rerun := result[serverResult](t, r, "create x86 (rerun)")
	assert.Equal(t, &x86, rerun.Server, "the rerun finds the same server")
	assert.Nil(t, rerun.RootPassword)

	arm := result[serverResult](t, r, "create arm").Server
	require.NotNil(t, arm)
	assert.Equal(t, "cax11", arm.ServerType)
	assert.Equal(t, "nbg1", arm.Location)
	assert.Equal(t, "running", arm.Status)

	onX86 := result[volumeResult](t, r, "volume on the new server").Volume
	require.NotNil(t, onX86)
	assert.Equal(t, "modern-x86", *onX86.Server)
	assert.Equal(t, "fsn1", onX86.Location)

	type srvs struct {
		List []hcServer `json:"hcloud_server_info"`
	}
	assert.ElementsMatch(t, []hcServer{x86, *arm}, result[srvs](t, r, "server_info of the new servers").List)

	for _, name := range []string{"delete x86 (check)", "delete x86", "delete x86 (rerun)", "delete arm"} {
		assert.Nil(t, result[serverResult](t, r, name).Server, name)
	}
	type vols struct {
		List []hcVolume `json:"hcloud_volume_info"`
	}
	detached := *onX86
	detached.Server = nil
	assert.Equal(t, []hcVolume{detached}, result[vols](t, r, "volume after its server's delete").List, "a server's delete detaches its volumes")
	assert.Equal(t, detached, wantVolume(t, st, "modern-on-x86"))

	modernServerRecord(t, st, x86.ID, arm.ID)
}

// modernCreatedX86 is the server "create x86" returned, checked against the playbook's task.
func modernCreatedX86(t *testing.T, r *e2e.Run) hcServer {
	t.Helper()
	created := result[serverResult](t, r, "create x86")
	require.NotNil(t, created.Server)
	x86 := *created.Server
	require.NotNil(t, created.RootPassword)
	assert.NotEmpty(t, *created.RootPassword, "root_password of a server made without SSH keys")
	assert.Equal(t, "modern-x86", x86.Name)
	assert.Equal(t, "cx22", x86.ServerType)
	require.NotNil(t, x86.Image)
	assert.Equal(t, "debian-12", *x86.Image)
	assert.Equal(t, "fsn1", x86.Location)
	assert.Regexp(t, `^fsn1-dc\d+$`, x86.Datacenter)
	assert.Equal(t, "running", x86.Status, "the start in next_actions was waited for")
	assert.Equal(t, map[string]string{"suite": "modern", "arch": "x86"}, x86.Labels)
	require.NotNil(t, x86.IPv4)
	assert.NotEmpty(t, *x86.IPv4)
	return x86
}

// modernServerRecord checks the simulator's record: each server made, started and deleted, the
// servers back to the fleet's.
func modernServerRecord(t *testing.T, st simproc.State, x86ID, armID int64) {
	t.Helper()
	var names []string
	for _, s := range st.Servers {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"modern-a", "modern-b", "modern-c"}, names)
	for _, id := range []int64{x86ID, armID} {
		var commands []string
		for _, a := range st.Actions {
			for _, res := range a.Resources {
				if res.Type == "server" && res.ID == id {
					commands = append(commands, a.Command+" "+a.Status)
				}
			}
		}
		slices.Sort(commands)
		want := []string{"create_server success", "delete_server success", "start_server success"}
		if id == x86ID {
			want = []string{"attach_volume success", "create_server success", "delete_server success", "start_server success"}
		}
		assert.Equal(t, want, commands, "actions of server %d", id)
	}
}

type pyServer2 struct {
	ID                int64             `json:"id"`
	Name              string            `json:"name"`
	Status            string            `json:"status"`
	ServerType        string            `json:"server_type"`
	Architecture      string            `json:"architecture"`
	Image             *string           `json:"image"`
	ImageArchitecture *string           `json:"image_architecture"`
	Location          string            `json:"location"`
	Labels            map[string]string `json:"labels"`
	Volumes           []int64           `json:"volumes"`
	IPv4              *string           `json:"ipv4"`
}

type pyServersReport struct {
	Version    string `json:"version"`
	ServerType struct {
		Name         string   `json:"name"`
		Architecture string   `json:"architecture"`
		PricedIn     []string `json:"priced_in"`
	} `json:"server_type"`
	Image struct {
		ID           int64  `json:"id"`
		Name         string `json:"name"`
		Architecture string `json:"architecture"`
		Type         string `json:"type"`
	} `json:"image"`
	Create struct {
		Status       string      `json:"status"`
		RootPassword bool        `json:"root_password"`
		Action       pyAction2   `json:"action"`
		NextActions  []pyAction2 `json:"next_actions"`
		Server       pyServer2   `json:"server"`
	} `json:"create"`
	Duplicate  *pyRefusal `json:"duplicate"`
	WithVolume pyServer2  `json:"with_volume"`
	Delete     struct {
		Action pyAction2 `json:"action"`
	} `json:"delete"`
	AfterDelete bool      `json:"after_delete"`
	VolumeAfter pyVolume2 `json:"volume_after"`
}

// TestModernPythonHcloudServers: an Arm type and the Arm variant of an image looked up, a server
// created in hel1 (initializing, then running once create_server and start_server are done), a
// refused duplicate name, a volume made on it, the server deleted and its volume left detached.
func TestModernPythonHcloudServers(t *testing.T) {
	m, env, ctx := modernStart(t, "fleet.json")
	var rep pyServersReport
	modernPython(t, ctx, m, env, "hcloud_python.py", &rep, "servers")
	st := env.State()

	assert.Equal(t, "cax11", rep.ServerType.Name)
	assert.Equal(t, "arm", rep.ServerType.Architecture)
	assert.Contains(t, rep.ServerType.PricedIn, "hel1")
	assert.Equal(t, "debian-12", rep.Image.Name)
	assert.Equal(t, "arm", rep.Image.Architecture, "get_by_name_and_architecture")
	assert.Equal(t, "system", rep.Image.Type)

	assert.Equal(t, "initializing", rep.Create.Status, "the server as POST /servers returns it")
	assert.True(t, rep.Create.RootPassword)
	assert.Equal(t, pyAction2{ID: rep.Create.Action.ID, Command: "create_server", Status: "success", Progress: 100}, rep.Create.Action)
	require.Len(t, rep.Create.NextActions, 1)
	assert.Equal(t, "start_server", rep.Create.NextActions[0].Command)
	assert.Equal(t, "success", rep.Create.NextActions[0].Status)
	s := func(v string) *string { return &v }
	srv := rep.Create.Server
	require.NotNil(t, srv.IPv4)
	assert.Equal(t, pyServer2{
		ID: srv.ID, Name: "py-arm", Status: "running", ServerType: "cax11", Architecture: "arm", Image: s("debian-12"),
		ImageArchitecture: s("arm"), Location: "hel1", Labels: map[string]string{"suite": "py"}, Volumes: []int64{}, IPv4: srv.IPv4,
	}, srv)
	require.NotNil(t, rep.Duplicate)
	assert.Equal(t, "uniqueness_error", rep.Duplicate.Code)

	v, ok := st.Volume("py-on-arm")
	require.True(t, ok)
	withVolume := srv
	withVolume.Volumes = []int64{v.ID}
	assert.Equal(t, withVolume, rep.WithVolume)
	assert.Equal(t, pyAction2{ID: rep.Delete.Action.ID, Command: "delete_server", Status: "success", Progress: 100}, rep.Delete.Action)
	assert.True(t, rep.AfterDelete)
	assert.Nil(t, rep.VolumeAfter.Server, "a server's delete detaches its volumes")
	assert.Equal(t, v.ID, rep.VolumeAfter.ID)
	assert.Nil(t, v.Server, "detached in the simulator")
	_, found := st.ServerByID(srv.ID)
	assert.False(t, found)

	actions := map[int64]string{}
	for _, a := range st.Actions {
		actions[a.ID] = a.Command + " " + a.Status
	}
	assert.Equal(t, "create_server success", actions[rep.Create.Action.ID])
	assert.Equal(t, "start_server success", actions[rep.Create.NextActions[0].ID])
	assert.Equal(t, "delete_server success", actions[rep.Delete.Action.ID])
}
