package sim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
)

func TestVolumeLifecycle(t *testing.T) {
	e := start(t, fast("ph3-02"))
	srv := e.server(t, "minio-01")

	res, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{
		Name: "kbv3-test-data", Size: 20, Location: srv.Location, Labels: map[string]string{"app": "kbv3"},
		Format: hcloud.Ptr("xfs"),
	})
	require.NoError(t, err)
	assert.Equal(t, hcloud.VolumeStatusCreating, res.Volume.Status)
	assert.Equal(t, "create_volume", res.Action.Command)
	assert.Empty(t, res.NextActions)
	e.wait(t, res.Action)

	v := e.volume(t, "kbv3-test-data")
	assert.Equal(t, hcloud.VolumeStatusAvailable, v.Status)
	assert.Equal(t, srv.Location.Name, v.Location.Name)
	assert.Equal(t, 20, v.Size)
	assert.Equal(t, "xfs", *v.Format)
	assert.Nil(t, v.Server)
	assert.Contains(t, v.LinuxDevice, "/dev/disk/by-id/scsi-0HC_Volume_")
	assert.Equal(t, map[string]string{"app": "kbv3"}, v.Labels)

	a, _, err := e.client.Volume.AttachWithOpts(e.ctx, v, hcloud.VolumeAttachOpts{Server: srv, Automount: hcloud.Ptr(true)})
	require.NoError(t, err)
	assert.Equal(t, "attach_volume", a.Command)
	e.wait(t, a)
	v = e.volume(t, "kbv3-test-data")
	require.NotNil(t, v.Server)
	assert.Equal(t, srv.ID, v.Server.ID)
	assert.Contains(t, serverVolumes(t, e, srv.ID), v.ID)

	a, _, err = e.client.Volume.Resize(e.ctx, v, 30)
	require.NoError(t, err)
	e.wait(t, a)
	a, _, err = e.client.Volume.Detach(e.ctx, v)
	require.NoError(t, err)
	e.wait(t, a)
	v = e.volume(t, "kbv3-test-data")
	assert.Nil(t, v.Server)
	assert.Equal(t, 30, v.Size)
	assert.NotContains(t, serverVolumes(t, e, srv.ID), v.ID)

	v, _, err = e.client.Volume.Update(e.ctx, v, hcloud.VolumeUpdateOpts{Name: "kbv3-renamed", Labels: map[string]string{"x": "y"}})
	require.NoError(t, err)
	assert.Equal(t, "kbv3-renamed", v.Name)
	assert.Equal(t, map[string]string{"x": "y"}, v.Labels)

	_, err = e.client.Volume.Delete(e.ctx, v)
	require.NoError(t, err)
	gone, _, err := e.client.Volume.GetByID(e.ctx, v.ID)
	require.NoError(t, err)
	assert.Nil(t, gone)

	_, err = e.client.Volume.Action.AllFor(e.ctx, v, hcloud.ActionListOpts{})
	apiErr(t, err, hcloud.ErrorCodeNotFound)
}

func serverVolumes(t *testing.T, e *env, id int64) []int64 {
	t.Helper()
	s, _, err := e.client.Server.GetByID(e.ctx, id)
	require.NoError(t, err)
	out := make([]int64, len(s.Volumes))
	for i, v := range s.Volumes {
		out[i] = v.ID
	}
	return out
}

func TestCreateWithServerAttachesInNextActions(t *testing.T) {
	e, clock := manual(t)
	srv := e.server(t, "redis-02")
	res, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "kbv3-redis-02-data", Size: 20, Server: srv, Automount: hcloud.Ptr(false)})
	require.NoError(t, err)
	assert.Equal(t, srv.Location.Name, res.Volume.Location.Name)
	require.Len(t, res.NextActions, 1)
	assert.Equal(t, "attach_volume", res.NextActions[0].Command)
	assert.Equal(t, hcloud.ActionStatusRunning, res.NextActions[0].Status)

	// Nobody polls the actions: the list alone must show the attach once its time has passed
	// (create 1 s, then attach 1 s).
	clock.Advance(1999 * time.Millisecond)
	v := e.volume(t, "kbv3-redis-02-data")
	assert.Nil(t, v.Server, "the attach ends 1 s after the create")
	clock.Advance(time.Millisecond)
	v = e.volume(t, "kbv3-redis-02-data")
	require.NotNil(t, v.Server)
	assert.Equal(t, srv.ID, v.Server.ID)
	assert.Equal(t, hcloud.VolumeStatusAvailable, v.Status)
}

func TestCreateAcceptsLocationByIDOrName(t *testing.T) {
	e := start(t, fast("empty"))
	for i, loc := range []string{`"hel1"`, `3`, `"3"`} {
		r := e.api(t, "POST", "/volumes", `{"name":"v`+string(rune('a'+i))+`","size":10,"location":`+loc+`}`)
		require.Equal(t, http.StatusCreated, r.status, string(r.raw))
		vol := r.body["volume"].(map[string]any)
		assert.Equal(t, "hel1", vol["location"].(map[string]any)["name"])
		assert.Nil(t, vol["server"])
		assert.Equal(t, "creating", vol["status"])
	}
}

func TestVolumeRules(t *testing.T) {
	e := start(t, fast("ph3-02"))
	minio := e.server(t, "minio-01")
	var other *hcloud.Server
	servers, err := e.client.Server.All(e.ctx)
	require.NoError(t, err)
	for _, s := range servers {
		if s.Location.Name != minio.Location.Name {
			other = s
			break
		}
	}
	require.NotNil(t, other)
	free, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "free", Size: 10, Location: minio.Location})
	require.NoError(t, err)
	e.wait(t, free.Action)
	attached := e.volume(t, "vol-minio-01")

	tests := []struct {
		name  string
		call  func() error
		code  hcloud.ErrorCode
		field string
	}{
		{"size below 10", func() error {
			_, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "a", Size: 9, Location: minio.Location})
			return err
		}, hcloud.ErrorCodeInvalidInput, "size"},
		{"size above 10240", func() error {
			_, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "a", Size: 10241, Location: minio.Location})
			return err
		}, hcloud.ErrorCodeInvalidInput, "size"},
		{"bad name", func() error {
			_, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "-bad-", Size: 10, Location: minio.Location})
			return err
		}, hcloud.ErrorCodeInvalidInput, "name"},
		{"name in use", func() error {
			_, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "vol-minio-01", Size: 10, Location: minio.Location})
			return err
		}, hcloud.ErrorCodeUniquenessError, "name"},
		{"rename to a name in use", func() error {
			_, _, err := e.client.Volume.Update(e.ctx, free.Volume, hcloud.VolumeUpdateOpts{Name: "vol-minio-01"})
			return err
		}, hcloud.ErrorCodeUniquenessError, "name"},
		{"unknown location", func() error {
			_, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "a", Size: 10, Location: &hcloud.Location{Name: "mars1"}})
			return err
		}, hcloud.ErrorCodeInvalidInput, "location"},
		{"resize shrinks", func() error {
			_, _, err := e.client.Volume.Resize(e.ctx, attached, 10)
			return err
		}, hcloud.ErrorCodeInvalidInput, "size"},
		{"resize to the same size", func() error {
			_, _, err := e.client.Volume.Resize(e.ctx, attached, attached.Size)
			return err
		}, hcloud.ErrorCodeInvalidInput, "size"},
		{"attach to another location", func() error {
			_, _, err := e.client.Volume.Attach(e.ctx, free.Volume, other)
			return err
		}, hcloud.ErrorCodeInvalidInput, "server"},
		{"attach an attached volume", func() error {
			_, _, err := e.client.Volume.Attach(e.ctx, attached, minio)
			return err
		}, hcloud.ErrorCodeVolumeAlreadyAttached, ""},
		{"detach a detached volume", func() error {
			_, _, err := e.client.Volume.Detach(e.ctx, free.Volume)
			return err
		}, hcloud.ErrorCodeInvalidInput, ""},
		{"delete an attached volume", func() error {
			_, err := e.client.Volume.Delete(e.ctx, attached)
			return err
		}, hcloud.ErrorCodeServiceError, ""},
		{"attach to an unknown server", func() error {
			_, _, err := e.client.Volume.Attach(e.ctx, free.Volume, &hcloud.Server{ID: 1})
			return err
		}, hcloud.ErrorCodeNotFound, ""},
		{"delete an unknown volume", func() error {
			_, err := e.client.Volume.Delete(e.ctx, &hcloud.Volume{ID: 1})
			return err
		}, hcloud.ErrorCodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			herr := apiErr(t, tt.call(), tt.code)
			if tt.field != "" && tt.code == hcloud.ErrorCodeInvalidInput {
				details, ok := herr.Details.(hcloud.ErrorDetailsInvalidInput)
				require.True(t, ok, "details: %#v", herr.Details)
				require.Len(t, details.Fields, 1)
				assert.Equal(t, tt.field, details.Fields[0].Name)
			}
		})
	}
}

func TestProtectedVolumeCannotBeDeleted(t *testing.T) {
	e := start(t, fast("ph3-02"))
	v := e.volume(t, "keybuzz-archive-01")
	a, _, err := e.client.Volume.ChangeProtection(e.ctx, v, hcloud.VolumeChangeProtectionOpts{Delete: hcloud.Ptr(true)})
	require.NoError(t, err)
	assert.Equal(t, "change_protection", a.Command)
	e.wait(t, a)
	v = e.volume(t, "keybuzz-archive-01")
	assert.True(t, v.Protection.Delete)
	a, _, err = e.client.Volume.Detach(e.ctx, v)
	require.NoError(t, err)
	e.wait(t, a)
	r := e.api(t, "DELETE", "/volumes/"+itoa(v.ID), "")
	assert.Equal(t, http.StatusLocked, r.status)
	assert.Equal(t, "protected", errCode(r))
}

func TestLocks(t *testing.T) {
	e, clock := manual(t) // the clock moves only when told: running actions keep their locks
	srv := e.server(t, "k8s-worker-01")
	loc := srv.Location
	mk := func(name string) *hcloud.Volume {
		r := e.api(t, "POST", "/volumes", `{"name":"`+name+`","size":10,"location":"`+loc.Name+`"}`)
		require.Equal(t, http.StatusCreated, r.status)
		return &hcloud.Volume{ID: int64(r.body["volume"].(map[string]any)["id"].(float64))}
	}
	creating := mk("creating")
	// A volume whose create_volume runs is locked.
	_, _, err := e.client.Volume.Attach(e.ctx, creating, srv)
	apiErr(t, err, hcloud.ErrorCodeLocked)
	r := e.api(t, "DELETE", "/volumes/"+itoa(creating.ID), "")
	assert.Equal(t, http.StatusLocked, r.status)
	assert.Equal(t, "locked", errCode(r))

	// A server with a running detach is locked for attaches and detaches.
	old := e.volume(t, "vol-k8s-worker-01")
	_, _, err = e.client.Volume.Detach(e.ctx, old)
	require.NoError(t, err)
	e.sim.Store().SetActionTime(sim.CmdCreateVolume, 0)
	ready := mk("ready")
	clock.Advance(time.Millisecond) // ready's create ends; the detach (1 s) still runs
	_, _, err = e.client.Volume.Attach(e.ctx, ready, srv)
	herr := apiErr(t, err, hcloud.ErrorCodeLocked)
	assert.Contains(t, herr.Message, "server")
	_, _, err = e.client.Volume.Detach(e.ctx, old)
	apiErr(t, err, hcloud.ErrorCodeLocked)
	s := e.server(t, "k8s-worker-01")
	assert.True(t, s.Locked)
}

func TestListVolumesFilters(t *testing.T) {
	e := start(t, fast("ph3-02"))
	tests := []struct {
		name string
		opts hcloud.VolumeListOpts
		want []string
	}{
		{"by name", hcloud.VolumeListOpts{Name: "vol-haproxy-02"}, []string{"vol-haproxy-02"}},
		{"unknown name", hcloud.VolumeListOpts{Name: "nope"}, []string{}},
		{"label equals", hcloud.VolumeListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "purpose=archive"}}, []string{"keybuzz-archive-01"}},
		{"label in", hcloud.VolumeListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "purpose in (archive,x)"}}, []string{"keybuzz-archive-01"}},
		{"label exists and not", hcloud.VolumeListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "purpose,purpose!=archive"}}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vols, err := e.client.Volume.AllWithOpts(e.ctx, tt.opts)
			require.NoError(t, err)
			names := []string{}
			for _, v := range vols {
				names = append(names, v.Name)
			}
			assert.Equal(t, tt.want, names)
		})
	}
	notArchive, err := e.client.Volume.AllWithOpts(e.ctx, hcloud.VolumeListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "!purpose"}})
	require.NoError(t, err)
	assert.Len(t, notArchive, 40)

	byNameDesc, err := e.client.Volume.AllWithOpts(e.ctx, hcloud.VolumeListOpts{Sort: []string{"name:desc"}})
	require.NoError(t, err)
	require.Len(t, byNameDesc, 41)
	assert.Equal(t, "vol-vault-01", byNameDesc[0].Name)
	assert.Equal(t, "keybuzz-archive-01", byNameDesc[40].Name)

	available, err := e.client.Volume.AllWithOpts(e.ctx, hcloud.VolumeListOpts{Status: []hcloud.VolumeStatus{hcloud.VolumeStatusCreating}})
	require.NoError(t, err)
	assert.Empty(t, available)

	r := e.api(t, "GET", "/volumes?sort=size", "")
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	r = e.api(t, "GET", "/volumes?label_selector=a%20in%20b", "")
	assert.Equal(t, "invalid_input", errCode(r))
}
