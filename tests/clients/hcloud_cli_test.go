package clients

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// reportServers are the 47 hostnames of the PH3-02 report's table.
var reportServers = []string{
	"analytics-01", "analytics-db-01", "api-gateway-01", "backup-01", "baserow-01", "builder-01",
	"crm-01", "db-postgres-01", "db-postgres-02", "db-postgres-03", "etl-01", "haproxy-01",
	"haproxy-02", "k8s-master-01", "k8s-master-02", "k8s-master-03", "k8s-worker-01",
	"k8s-worker-02", "k8s-worker-03", "k8s-worker-04", "k8s-worker-05", "litellm-01",
	"mail-core-01", "mail-mx-01", "mail-mx-02", "maria-01", "maria-02", "maria-03", "minio-01",
	"minio-02", "minio-03", "ml-platform-01", "monitor-01", "nocodb-01", "proxysql-01",
	"proxysql-02", "queue-01", "queue-02", "queue-03", "redis-01", "redis-02", "redis-03",
	"siem-01", "temporal-01", "temporal-db-01", "vault-01", "vector-db-01",
}

// hcloud runs the CLI against s and returns what it did.
func hcloud(t *testing.T, s *simproc.Sim, args ...string) result {
	t.Helper()
	return run(t, clientEnv(t, s), hcloudCLI(t), args...)
}

// hcloudOK runs the CLI and requires exit 0 and nothing on stderr.
func hcloudOK(t *testing.T, s *simproc.Sim, args ...string) string {
	t.Helper()
	r := hcloud(t, s, args...)
	require.Equal(t, 0, r.code, "hcloud %s\n%s", strings.Join(args, " "), r)
	require.Empty(t, strings.TrimSpace(r.stderr), "hcloud %s\n%s", strings.Join(args, " "), r)
	return r.stdout
}

func state(t *testing.T, s *simproc.Sim) simproc.State {
	t.Helper()
	st, err := s.State()
	require.NoError(t, err)
	return st
}

// rows splits table output into lines of whitespace-separated fields.
func rows(out string) [][]string {
	var rs [][]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rs = append(rs, strings.Fields(line))
	}
	return rs
}

func TestHcloudCLIServerList(t *testing.T) {
	t.Parallel()
	s := startSim(t)

	out := hcloudOK(t, s, "server", "list")
	rs := rows(out)
	require.Equal(t, []string{"ID", "NAME", "STATUS", "IPV4", "IPV6", "PRIVATE", "NET", "DATACENTER"}, rs[0])
	require.Len(t, rs[1:], 47, out)
	var names []string
	st := state(t, s)
	for _, r := range rs[1:] {
		require.Len(t, r, 7, "row %v", r)
		names = append(names, r[1])
		sv, ok := st.Server(r[1])
		require.True(t, ok, r[1])
		assert.Equal(t, strconv.FormatInt(sv.ID, 10), r[0])
		assert.Equal(t, "running", r[2])
		assert.Equal(t, "-", r[5], "private net")
		assert.Equal(t, sv.Datacenter.Name, r[6])
	}
	slices.Sort(names)
	assert.Equal(t, reportServers, names)

	// The location column reads datacenter.location.
	out = hcloudOK(t, s, "server", "list", "-o", "noheader", "-o", "columns=name,location")
	for _, r := range rows(out) {
		require.Len(t, r, 2, "row %v", r)
		sv, _ := st.Server(r[0])
		assert.Equal(t, sv.Location.Name, r[1], r[0])
		assert.Contains(t, []string{"fsn1", "nbg1", "hel1"}, r[1])
	}
}

func TestHcloudCLIVolumeList(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	st := state(t, s)
	require.Len(t, st.Volumes, 41)

	out := hcloudOK(t, s, "volume", "list")
	rs := rows(out)
	require.Equal(t, []string{"ID", "NAME", "SIZE", "SERVER", "LOCATION"}, rs[0])
	require.Len(t, rs[1:], 41, out)

	out = hcloudOK(t, s, "volume", "list", "-o", "columns=name,size,server")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 42, out)
	assert.Equal(t, []string{"NAME", "SIZE", "SERVER"}, strings.Fields(lines[0]))
	seen := map[string]bool{}
	for _, r := range rows(out)[1:] {
		// The size is two words ("200 GB"); the server column holds the server's NAME.
		require.Len(t, r, 4, "row %v", r)
		v, ok := st.Volume(r[0])
		require.True(t, ok, r[0])
		seen[r[0]] = true
		assert.Equal(t, []string{strconv.Itoa(v.Size), "GB"}, r[1:3], r[0])
		require.NotNil(t, v.Server, r[0]) // every volume of the report's fleet is attached
		sv, ok := st.ServerByID(*v.Server)
		require.True(t, ok)
		assert.Equal(t, sv.Name, r[3], r[0])
	}
	assert.Len(t, seen, 41)
	// Lines as a user sees them.
	assert.Contains(t, lines, "vol-minio-01          200 GB   minio-01")
	assert.Contains(t, lines, "vol-db-master-01      100 GB   db-postgres-01")
	assert.Contains(t, lines, "keybuzz-archive-01    100 GB   backup-01")
	assert.Regexp(t, `(?m)^vol-haproxy-01\s+10 GB\s+haproxy-01$`, out)
}

func TestHcloudCLIVolumeDescribeJSON(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	out := hcloudOK(t, s, "volume", "describe", "vol-minio-01", "-o", "json")
	var v struct {
		ID       int64  `json:"id"`
		Name     string `json:"name"`
		Size     int    `json:"size"`
		Server   *int64 `json:"server"`
		Status   string `json:"status"`
		Location struct {
			Name string `json:"name"`
		} `json:"location"`
		Protection struct {
			Delete bool `json:"delete"`
		} `json:"protection"`
		Format string `json:"format"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	require.NoError(t, dec.Decode(&v), out)

	st := state(t, s)
	want, ok := st.Volume("vol-minio-01")
	require.True(t, ok)
	sv, ok := st.Server("minio-01")
	require.True(t, ok)
	assert.Equal(t, want.ID, v.ID)
	assert.Equal(t, "vol-minio-01", v.Name)
	assert.Equal(t, 200, v.Size)
	require.NotNil(t, v.Server, "server is an integer id")
	assert.Equal(t, sv.ID, *v.Server)
	assert.Equal(t, sv.Location.Name, v.Location.Name)
	assert.Equal(t, "available", v.Status)
	assert.Equal(t, "xfs", v.Format)
	assert.False(t, v.Protection.Delete)
}

// serversIn picks, from st, a server in loc and one elsewhere (first by id each).
func serversIn(t *testing.T, st simproc.State, loc string) (here, elsewhere simproc.Server) {
	t.Helper()
	for _, sv := range st.Servers {
		if sv.Location.Name == loc && here.ID == 0 {
			here = sv
		}
		if sv.Location.Name != loc && elsewhere.ID == 0 {
			elsewhere = sv
		}
	}
	require.NotZero(t, here.ID, "no server in %s", loc)
	require.NotZero(t, elsewhere.ID, "no server outside %s", loc)
	return here, elsewhere
}

func TestHcloudCLIVolumeLifecycle(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	const name = "cli-lifecycle-01"
	server, other := serversIn(t, state(t, s), "fsn1")

	// create
	out := hcloudOK(t, s, "volume", "create", "--name", name, "--size", "10", "--location", "fsn1")
	v, ok := state(t, s).Volume(name)
	require.True(t, ok, "volume not in the simulator after create:\n%s", out)
	assert.Equal(t, fmt.Sprintf("Volume %d created\n", v.ID), out)
	assert.Equal(t, 10, v.Size)
	assert.Equal(t, "fsn1", v.Location.Name)
	assert.Equal(t, "available", v.Status, "the CLI waits for create_volume")
	assert.Nil(t, v.Server)

	// attach
	out = hcloudOK(t, s, "volume", "attach", "--server", server.Name, name)
	assert.Equal(t, fmt.Sprintf("Volume %d attached to server %s\n", v.ID, server.Name), out)
	st := state(t, s)
	v, _ = st.Volume(name)
	require.NotNil(t, v.Server, "the CLI waits for attach_volume")
	assert.Equal(t, server.ID, *v.Server)
	sv, _ := st.Server(server.Name)
	assert.Contains(t, sv.Volumes, v.ID)
	assert.False(t, sv.Locked)
	out = hcloudOK(t, s, "volume", "list", "-o", "noheader", "-o", "columns=name,size,server")
	assert.Regexp(t, `(?m)^`+name+`\s+10 GB\s+`+server.Name+`$`, out)

	// detach
	out = hcloudOK(t, s, "volume", "detach", name)
	assert.Equal(t, fmt.Sprintf("Volume %d detached\n", v.ID), out)
	v, _ = state(t, s).Volume(name)
	assert.Nil(t, v.Server, "the CLI waits for detach_volume")
	out = hcloudOK(t, s, "volume", "list", "-o", "noheader", "-o", "columns=name,server")
	assert.Regexp(t, `(?m)^`+name+`\s+-$`, out, "an unattached volume shows -")

	// attach to a server in another location: the API's error, exit non-zero, nothing changes
	r := hcloud(t, s, "volume", "attach", "--server", other.Name, name)
	assert.NotEqual(t, 0, r.code, r.String())
	assert.Empty(t, r.stdout)
	assert.Equal(t, fmt.Sprintf("hcloud: invalid input in field 'server': server is in %s, the volume in fsn1: a volume attaches only to a server in its location (invalid_input)\n", other.Location.Name), r.stderr)
	v, _ = state(t, s).Volume(name)
	assert.Nil(t, v.Server)

	// delete
	out = hcloudOK(t, s, "volume", "delete", name)
	assert.Equal(t, fmt.Sprintf("Volume %s deleted\n", name), out)
	_, ok = state(t, s).Volume(name)
	assert.False(t, ok, "volume still in the simulator after delete")
	r = hcloud(t, s, "volume", "describe", name)
	assert.NotEqual(t, 0, r.code)
	assert.Equal(t, "hcloud: volume not found: "+name+"\n", r.stderr)

	// What the CLI called, as FACTS.md describes it: waits poll /actions, delete does not wait.
	stats, err := s.Stats()
	require.NoError(t, err)
	for _, route := range []string{
		"POST /v1/volumes", "POST /v1/volumes/{id}/actions/attach", "POST /v1/volumes/{id}/actions/detach",
		"DELETE /v1/volumes/{id}", "GET /v1/actions",
	} {
		assert.Positive(t, stats.Requests.ByRoute[route], route)
	}
	assert.Equal(t, 1, stats.Requests.ByStatus["422"], "one refused attach")
	assert.Zero(t, stats.Requests.ByStatus["500"])
}

// TestHcloudCLIVolumeAttachedElsewhere: attaching an attached volume prints
// volume_already_attached and changes nothing.
func TestHcloudCLIVolumeAttachedElsewhere(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	st := state(t, s)
	minio, _ := st.Volume("vol-minio-01")
	here, _ := serversIn(t, st, minio.Location.Name)
	r := hcloud(t, s, "volume", "attach", "--server", here.Name, "vol-minio-01")
	assert.NotEqual(t, 0, r.code, r.String())
	assert.Regexp(t, `^hcloud: volume \d+ is already attached to server \d+, detach it first \(volume_already_attached\)\n$`, r.stderr)
	after, _ := state(t, s).Volume("vol-minio-01")
	assert.Equal(t, minio.Server, after.Server)
}

// TestHcloudCLIVolumeLimit: a 17th volume on a server is refused with the API's error.
func TestHcloudCLIVolumeLimit(t *testing.T) {
	t.Parallel()
	var sc struct {
		Servers []map[string]any `json:"servers"`
		Volumes []map[string]any `json:"volumes"`
	}
	sc.Servers = []map[string]any{{"name": "full-01", "location": "hel1"}}
	for i := 1; i <= 16; i++ {
		sc.Volumes = append(sc.Volumes, map[string]any{"name": fmt.Sprintf("vol-full-%02d", i), "size": 10, "server": "full-01"})
	}
	sc.Volumes = append(sc.Volumes, map[string]any{"name": "spare-01", "size": 10, "location": "hel1"})
	b, err := json.Marshal(sc)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "fleet.json")
	require.NoError(t, os.WriteFile(file, b, 0o600))
	s := simproc.StartT(t, simproc.Options{Binary: simBinary, ScenarioFile: file, ActionTime: actionTime})
	full, _ := state(t, s).Server("full-01")
	require.Len(t, full.Volumes, 16)

	r := hcloud(t, s, "volume", "attach", "--server", "full-01", "spare-01")
	assert.NotEqual(t, 0, r.code, r.String())
	assert.Equal(t, fmt.Sprintf("hcloud: server %d already has the maximum of 16 volumes attached (resource_limit_exceeded)\n", full.ID), r.stderr)
	spare, _ := state(t, s).Volume("spare-01")
	assert.Nil(t, spare.Server)

	hcloudOK(t, s, "volume", "detach", "vol-full-01")
	out := hcloudOK(t, s, "volume", "attach", "--server", "full-01", "spare-01")
	assert.Equal(t, fmt.Sprintf("Volume %d attached to server full-01\n", spare.ID), out)
}

// TestHcloudCLIServerLifecycle creates a server with the CLI (which waits for create_server and
// start_server), checks what the simulator holds, and deletes it; its volume ends up detached.
func TestHcloudCLIServerLifecycle(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	const name = "cli-server-01"

	out := hcloudOK(t, s, "server", "create", "--name", name, "--type", "cx22", "--image", "debian-12", "--location", "nbg1")
	sv, ok := state(t, s).Server(name)
	require.True(t, ok, "server not in the simulator after create:\n%s", out)
	assert.Contains(t, out, fmt.Sprintf("Server %d created\n", sv.ID))
	assert.Regexp(t, `(?m)^IPv4: \d+\.\d+\.\d+\.\d+$`, out)
	assert.Regexp(t, `(?m)^Root password: \S{20}$`, out)
	assert.Equal(t, "running", sv.Status, "the CLI waits for create_server and start_server")
	assert.Equal(t, "nbg1", sv.Location.Name)
	assert.Equal(t, simproc.NamedArch{ID: 104, Name: "cx22", Architecture: "x86"}, sv.ServerType)
	require.NotNil(t, sv.Image)
	assert.Equal(t, "debian-12", sv.Image.Name)

	hcloudOK(t, s, "volume", "create", "--name", name+"-data", "--size", "10", "--server", name)
	out = hcloudOK(t, s, "server", "delete", name)
	assert.Equal(t, fmt.Sprintf("Server %s deleted\n", name), out)
	st := state(t, s)
	_, ok = st.Server(name)
	assert.False(t, ok, "server still in the simulator after delete")
	v, ok := st.Volume(name + "-data")
	require.True(t, ok)
	assert.Nil(t, v.Server, "the volume of a deleted server is detached")

	// The CLI of Debian 12 picks an image by name alone, which gives the x86 one: with an Arm
	// type the API refuses it, as the real one does.
	r := hcloud(t, s, "server", "create", "--name", name, "--type", "cax11", "--image", "debian-12", "--location", "hel1")
	assert.NotEqual(t, 0, r.code, r.String())
	assert.Contains(t, r.stderr, "image has incompatible architecture")
	out = hcloudOK(t, s, "server-type", "list", "-o", "noheader", "-o", "columns=name,cores")
	assert.Regexp(t, `(?m)^cax11\s+2$`, out)
}
