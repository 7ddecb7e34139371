package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// The python hcloud 2.x that hetzner.hcloud 5.x vendors, run by testdata/modern/hcloud_python.py
// with /usr/bin/python3 against hcloud-sim on the small fleet of testdata/modern/fleet.json.

type pyAction2 struct {
	ID       int64  `json:"id"`
	Command  string `json:"command"`
	Status   string `json:"status"`
	Progress int    `json:"progress"`
}

type pyVolume2 struct {
	ID        int64             `json:"id"`
	Name      string            `json:"name"`
	Size      int               `json:"size"`
	Location  string            `json:"location"`
	Server    *string           `json:"server"`
	Labels    map[string]string `json:"labels"`
	Protected bool              `json:"protected"`
	Format    *string           `json:"format"`
	Status    string            `json:"status"`
}

type pyStep struct {
	Action      pyAction2   `json:"action"`
	NextActions []pyAction2 `json:"next_actions"`
	Volume      pyVolume2   `json:"volume"`
}

type pyRefusal struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type pyVolumesReport struct {
	Version string   `json:"version"`
	Servers []string `json:"servers"`
	ServerA struct {
		ID         int64   `json:"id"`
		Location   string  `json:"location"`
		ServerType string  `json:"server_type"`
		Status     string  `json:"status"`
		Volumes    []int64 `json:"volumes"`
	} `json:"server_a"`
	Locations       []string   `json:"locations"`
	CreateLocation  pyStep     `json:"create_location"`
	CreateServer    pyStep     `json:"create_server"`
	Attach          pyStep     `json:"attach"`
	AttachAttached  *pyRefusal `json:"attach_attached"`
	Resize          pyStep     `json:"resize"`
	Update          pyVolume2  `json:"update"`
	Protect         pyStep     `json:"protect"`
	DeleteProtected *pyRefusal `json:"delete_protected"`
	Unprotect       pyStep     `json:"unprotect"`
	DeleteAttached  *pyRefusal `json:"delete_attached"`
	Detach          pyStep     `json:"detach"`
	BySelector      []string   `json:"by_selector"`
	Actions         []string   `json:"actions"`
	Delete          bool       `json:"delete"`
	AfterDelete     bool       `json:"after_delete"`
	DetachSrv       pyStep     `json:"detach_srv"`
	DeleteSrv       bool       `json:"delete_srv"`
	Missing         *pyRefusal `json:"missing"`
}

// TestModernPythonHcloudVolumes: list servers and locations, create a volume by location and one
// by server (its attach in next_actions), attach, a refused second attach, resize, rename and
// relabel, protect, a refused delete, unprotect, a refused delete while attached, detach, list by
// label selector, the volume's actions, delete; every action waited for and found in the
// simulator with the same command and outcome.
func TestModernPythonHcloudVolumes(t *testing.T) {
	m, env, ctx := modernStart(t, "fleet.json")
	var rep pyVolumesReport
	modernPython(t, ctx, m, env, "hcloud_python.py", &rep, "volumes")
	st := env.State()

	assert.Regexp(t, `^2\.`, rep.Version, "the collection's vendored hcloud")
	assert.Equal(t, []string{"modern-a", "modern-b", "modern-c"}, rep.Servers)
	a, ok := st.Server("modern-a")
	require.True(t, ok)
	assert.Equal(t, a.ID, rep.ServerA.ID)
	assert.Equal(t, "fsn1", rep.ServerA.Location)
	assert.Equal(t, "cx22", rep.ServerA.ServerType)
	assert.Equal(t, "running", rep.ServerA.Status)
	var locations []string
	for _, l := range st.Locations {
		locations = append(locations, l.Name)
	}
	assert.ElementsMatch(t, locations, rep.Locations)

	pyActionsSucceeded(t, rep, st)

	s := func(v string) *string { return &v }
	loc := rep.CreateLocation.Volume
	assert.Equal(t, pyVolume2{ID: loc.ID, Name: "py-loc", Size: 10, Location: "fsn1", Labels: map[string]string{"suite": "py"},
		Format: s("xfs"), Status: "available"}, loc)
	srv := rep.CreateServer.Volume
	assert.Equal(t, pyVolume2{ID: srv.ID, Name: "py-srv", Size: 11, Location: "fsn1", Server: s("modern-a"),
		Labels: map[string]string{"suite": "py"}, Status: "available"}, srv)

	after := func(v pyVolume2, change func(*pyVolume2)) pyVolume2 {
		change(&v)
		return v
	}
	attached := after(loc, func(v *pyVolume2) { v.Server = s("modern-b") })
	assert.Equal(t, attached, rep.Attach.Volume)
	require.NotNil(t, rep.AttachAttached)
	assert.Equal(t, "volume_already_attached", rep.AttachAttached.Code)
	resized := after(attached, func(v *pyVolume2) { v.Size = 25 })
	assert.Equal(t, resized, rep.Resize.Volume)
	updated := after(resized, func(v *pyVolume2) {
		v.Name, v.Labels = "py-renamed", map[string]string{"suite": "py", "stage": "updated"}
	})
	assert.Equal(t, updated, rep.Update)
	protected := after(updated, func(v *pyVolume2) { v.Protected = true })
	assert.Equal(t, protected, rep.Protect.Volume)
	require.NotNil(t, rep.DeleteProtected)
	assert.Equal(t, "protected", rep.DeleteProtected.Code)
	assert.Equal(t, updated, rep.Unprotect.Volume)
	require.NotNil(t, rep.DeleteAttached)
	assert.Equal(t, "service_error", rep.DeleteAttached.Code, "a volume is deleted only when detached")
	assert.Equal(t, after(updated, func(v *pyVolume2) { v.Server = nil }), rep.Detach.Volume)
	assert.Equal(t, []string{"py-renamed", "py-srv"}, rep.BySelector)
	assert.Equal(t, []string{"attach_volume", "change_protection", "change_protection", "create_volume", "detach_volume", "resize_volume"}, rep.Actions)
	assert.True(t, rep.Delete)
	assert.True(t, rep.AfterDelete, "get_by_name of a deleted volume is None")
	assert.Equal(t, after(srv, func(v *pyVolume2) { v.Server = nil }), rep.DetachSrv.Volume)
	assert.True(t, rep.DeleteSrv)
	require.NotNil(t, rep.Missing)
	assert.Equal(t, "not_found", rep.Missing.Code)

	_, found := st.Volume("py-renamed")
	assert.False(t, found)
	_, found = st.Volume("py-srv")
	assert.False(t, found)
	assert.Len(t, st.Volumes, len(env.Initial.Volumes))
	a, _ = st.Server("modern-a")
	assert.Empty(t, a.Volumes)
	assert.False(t, a.Locked)
}

// pyActionsSucceeded checks that every action the script waited for ended in success, in the
// report and in the simulator's state st.
func pyActionsSucceeded(t *testing.T, rep pyVolumesReport, st simproc.State) {
	t.Helper()
	actions := map[int64]string{}
	for _, a := range st.Actions {
		actions[a.ID] = a.Command + " " + a.Status
	}
	steps := map[string]pyStep{
		"create by location": rep.CreateLocation, "create by server": rep.CreateServer, "attach": rep.Attach,
		"resize": rep.Resize, "protect": rep.Protect, "unprotect": rep.Unprotect, "detach": rep.Detach, "detach py-srv": rep.DetachSrv,
	}
	wantCommand := map[string]string{
		"create by location": "create_volume", "create by server": "create_volume", "attach": "attach_volume",
		"resize": "resize_volume", "protect": "change_protection", "unprotect": "change_protection",
		"detach": "detach_volume", "detach py-srv": "detach_volume",
	}
	for name, s := range steps {
		assert.Equal(t, pyAction2{ID: s.Action.ID, Command: wantCommand[name], Status: "success", Progress: 100}, s.Action, name)
		assert.Equal(t, wantCommand[name]+" success", actions[s.Action.ID], "%s: action %d in the simulator", name, s.Action.ID)
	}
	assert.Empty(t, rep.CreateLocation.NextActions)
	require.Len(t, rep.CreateServer.NextActions, 1, "the attach of a create with server")
	next := rep.CreateServer.NextActions[0]
	assert.Equal(t, pyAction2{ID: next.ID, Command: "attach_volume", Status: "success", Progress: 100}, next)
	assert.Equal(t, "attach_volume success", actions[next.ID])
}
