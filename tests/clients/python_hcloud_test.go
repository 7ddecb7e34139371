package clients

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// pyVolume is a volume as testdata/volumes.py prints it.
type pyVolume struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Size       int    `json:"size"`
	Status     string `json:"status"`
	Location   string `json:"location"`
	ServerID   *int64 `json:"server_id"`
	ServerName string `json:"server_name"`
}

type pyAction struct {
	ID       int64  `json:"id"`
	Command  string `json:"command"`
	Status   string `json:"status"`
	Progress int    `json:"progress"`
}

type pyError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

type pyReport struct {
	List struct {
		Count int      `json:"count"`
		Names []string `json:"names"`
	} `json:"list"`
	Minio  pyVolume `json:"minio"`
	Create struct {
		Volume      pyVolume `json:"volume"`
		Action      pyAction `json:"action"`
		NextActions int      `json:"next_actions"`
		After       pyVolume `json:"after"`
	} `json:"create"`
	Attach struct {
		Action pyAction `json:"action"`
		After  pyVolume `json:"after"`
	} `json:"attach"`
	AttachAttached *pyError `json:"attach_attached"`
	Detach         struct {
		Action pyAction `json:"action"`
		After  pyVolume `json:"after"`
	} `json:"detach"`
	AttachElsewhere *pyError `json:"attach_elsewhere"`
	Delete          struct {
		Result bool `json:"result"`
	} `json:"delete"`
	AfterDelete bool `json:"after_delete"`
}

// TestPython3Hcloud runs testdata/volumes.py with Debian's python3-hcloud 1.18: list, create
// (location sent as an id), attach, detach, delete, each waiting for its action, plus the two
// refusals a user meets, and checks what it printed against the simulator's state.
func TestPython3Hcloud(t *testing.T) {
	t.Parallel()
	requirePythonHcloud(t)
	s := startSim(t)
	st := state(t, s)
	server, other := serversIn(t, st, "fsn1")
	const name = "py-lifecycle-01"

	script, err := filepath.Abs(filepath.Join("testdata", "volumes.py"))
	require.NoError(t, err)
	// Debian's interpreter with Debian's packages only: no PYTHONPATH/PYTHONHOME of another build.
	env := slices.DeleteFunc(clientEnv(t, s), func(kv string) bool {
		return strings.HasPrefix(kv, "PYTHONPATH=") || strings.HasPrefix(kv, "PYTHONHOME=")
	})
	r := run(t, env, debianPython, script, name, "fsn1", server.Name, other.Name)
	require.Equal(t, 0, r.code, r.String())
	var rep pyReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.String())

	// list
	assert.Equal(t, 41, rep.List.Count)
	var names []string
	for _, v := range st.Volumes {
		names = append(names, v.Name)
	}
	assert.ElementsMatch(t, names, rep.List.Names)
	minio, _ := st.Volume("vol-minio-01")
	minioServer, _ := st.Server("minio-01")
	assert.Equal(t, pyVolume{
		ID: minio.ID, Name: "vol-minio-01", Size: 200, Status: "available", Location: minioServer.Location.Name,
		ServerID: &minioServer.ID, ServerName: "minio-01",
	}, rep.Minio)

	// create: the answer shows the volume creating; once the action is done it is available
	id := rep.Create.Volume.ID
	require.NotZero(t, id)
	assert.Equal(t, pyVolume{ID: id, Name: name, Size: 10, Status: "creating", Location: "fsn1"}, rep.Create.Volume)
	assert.Equal(t, pyAction{ID: rep.Create.Action.ID, Command: "create_volume", Status: "success", Progress: 100}, rep.Create.Action)
	assert.Zero(t, rep.Create.NextActions)
	assert.Equal(t, pyVolume{ID: id, Name: name, Size: 10, Status: "available", Location: "fsn1"}, rep.Create.After)

	// attach
	assert.Equal(t, pyAction{ID: rep.Attach.Action.ID, Command: "attach_volume", Status: "success", Progress: 100}, rep.Attach.Action)
	assert.Equal(t, pyVolume{ID: id, Name: name, Size: 10, Status: "available", Location: "fsn1", ServerID: &server.ID}, rep.Attach.After)
	require.NotNil(t, rep.AttachAttached, "attaching an attached volume must fail")
	assert.Equal(t, "volume_already_attached", rep.AttachAttached.Code)
	assert.NotNil(t, rep.AttachAttached.Details, "details is an object")

	// detach
	assert.Equal(t, pyAction{ID: rep.Detach.Action.ID, Command: "detach_volume", Status: "success", Progress: 100}, rep.Detach.Action)
	assert.Equal(t, pyVolume{ID: id, Name: name, Size: 10, Status: "available", Location: "fsn1"}, rep.Detach.After)
	require.NotNil(t, rep.AttachElsewhere, "attaching to a server in another location must fail")
	assert.Equal(t, "invalid_input", rep.AttachElsewhere.Code)
	assert.Contains(t, rep.AttachElsewhere.Message, "a volume attaches only to a server in its location")
	assert.Equal(t, []any{map[string]any{"name": "server", "messages": []any{rep.AttachElsewhere.Message[len("invalid input in field 'server': "):]}}},
		rep.AttachElsewhere.Details["fields"])

	// delete
	assert.True(t, rep.Delete.Result)
	assert.True(t, rep.AfterDelete)

	// The simulator saw the same: the volume is gone, its three actions succeeded.
	pySimulatorAgrees(t, state(t, s), rep, name, server.Name)

	// python3-hcloud polls GET /actions/{id}; reading volume.server.name cost a GET /servers/{id}.
	stats, err := s.Stats()
	require.NoError(t, err)
	for _, route := range []string{"GET /v1/actions/{id}", "GET /v1/servers/{id}", "POST /v1/volumes", "DELETE /v1/volumes/{id}"} {
		assert.Positive(t, stats.Requests.ByRoute[route], route)
	}
	assert.Equal(t, 2, stats.Requests.ByStatus["422"], "two refused attaches")
}

// pySimulatorAgrees checks the simulator's state after the script: the volume name is gone,
// its three actions succeeded, serverName no longer lists it.
func pySimulatorAgrees(t *testing.T, after simproc.State, rep pyReport, name, serverName string) {
	t.Helper()
	_, ok := after.Volume(name)
	assert.False(t, ok)
	byID := map[int64]string{}
	for _, a := range after.Actions {
		byID[a.ID] = a.Command + ":" + a.Status
	}
	assert.Equal(t, "create_volume:success", byID[rep.Create.Action.ID])
	assert.Equal(t, "attach_volume:success", byID[rep.Attach.Action.ID])
	assert.Equal(t, "detach_volume:success", byID[rep.Detach.Action.ID])
	sv, _ := after.Server(serverName)
	assert.NotContains(t, sv.Volumes, rep.Create.Volume.ID)
}

// pyServerReport is what testdata/servers.py prints.
type pyServerReport struct {
	ServerType struct {
		ID             int64    `json:"id"`
		Name           string   `json:"name"`
		PriceLocations []string `json:"price_locations"`
	} `json:"server_type"`
	Create struct {
		Status       string   `json:"status"`
		Action       string   `json:"action"`
		NextActions  []string `json:"next_actions"`
		RootPassword bool     `json:"root_password"`
		IPv4         string   `json:"ipv4"`
		IPv6         string   `json:"ipv6"`
	} `json:"create"`
	Waited []string `json:"waited"`
	Server struct {
		ID         int64             `json:"id"`
		Status     string            `json:"status"`
		Image      string            `json:"image"`
		ServerType string            `json:"server_type"`
		Location   string            `json:"location"`
		Labels     map[string]string `json:"labels"`
	} `json:"server"`
	VolumesBeforeDelete     int      `json:"volumes_before_delete"`
	Unsold                  *pyError `json:"unsold"`
	Delete                  string   `json:"delete"`
	AfterDelete             bool     `json:"after_delete"`
	VolumeServerAfterDelete bool     `json:"volume_server_after_delete"`
}

// TestPython3HcloudServers runs testdata/servers.py with Debian's python3-hcloud 1.18: a server
// type by name, a server created (status, actions, root password, addresses) and deleted with
// its volume detached, and the refusal of a type where it is not sold.
func TestPython3HcloudServers(t *testing.T) {
	t.Parallel()
	requirePythonHcloud(t)
	s := startSim(t)
	script, err := filepath.Abs(filepath.Join("testdata", "servers.py"))
	require.NoError(t, err)
	env := slices.DeleteFunc(clientEnv(t, s), func(kv string) bool {
		return strings.HasPrefix(kv, "PYTHONPATH=") || strings.HasPrefix(kv, "PYTHONHOME=")
	})
	r := run(t, env, debianPython, script, "py-server-01", "cx22", "debian-12", "nbg1", "ash")
	require.Equal(t, 0, r.code, r.String())
	var rep pyServerReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.String())

	assert.Equal(t, int64(104), rep.ServerType.ID)
	assert.Equal(t, []string{"fsn1", "hel1", "nbg1"}, rep.ServerType.PriceLocations)
	assert.Equal(t, "initializing", rep.Create.Status)
	assert.Equal(t, "create_server", rep.Create.Action)
	assert.Equal(t, []string{"start_server"}, rep.Create.NextActions)
	assert.True(t, rep.Create.RootPassword)
	assert.Regexp(t, `^168\.119\.\d+\.\d+$`, rep.Create.IPv4, "an nbg1 address")
	assert.Regexp(t, `^2a01:4f8:[0-9a-f]+:[0-9a-f]+::/64$`, rep.Create.IPv6)
	assert.Equal(t, []string{"create_server", "start_server"}, rep.Waited)
	assert.Equal(t, "running", rep.Server.Status)
	assert.Equal(t, "debian-12", rep.Server.Image)
	assert.Equal(t, "cx22", rep.Server.ServerType)
	assert.Equal(t, "nbg1", rep.Server.Location)
	assert.Equal(t, map[string]string{"purpose": "test"}, rep.Server.Labels)
	assert.Equal(t, 1, rep.VolumesBeforeDelete)
	require.NotNil(t, rep.Unsold)
	assert.Equal(t, "invalid_input", rep.Unsold.Code)
	assert.Equal(t, "delete_server", rep.Delete)
	assert.True(t, rep.AfterDelete)
	assert.False(t, rep.VolumeServerAfterDelete, "the volume of a deleted server is detached")

	st := state(t, s)
	_, ok := st.Server("py-server-01")
	assert.False(t, ok)
	stats, err := s.Stats()
	require.NoError(t, err)
	for _, route := range []string{"GET /v1/server_types", "POST /v1/servers", "DELETE /v1/servers/{id}"} {
		assert.Positive(t, stats.Requests.ByRoute[route], route)
	}
}
