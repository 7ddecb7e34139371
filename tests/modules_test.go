package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// mutModules are the four modules that change volumes.
var mutModules = []string{"kbv3_volume_detach", "kbv3_volume_delete", "kbv3_volume_create", "kbv3_volume_attach"}

// mutEnvWithout is the test's environment without the named variables.
func mutEnvWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(names, k) {
			env = append(env, kv)
		}
	}
	return env
}

// mutRun is one run of a module binary, as Ansible runs it.
type mutRun struct {
	res    map[string]any
	stdout string
	stderr string
	code   int
}

// mutExec runs the module binary in dir with an args file holding args and the controller's
// _ansible_* keys, with env added to an environment free of HCLOUD_*.
func mutExec(t *testing.T, dir, module string, args map[string]any, check bool, env ...string) mutRun {
	t.Helper()
	full := map[string]any{
		"_ansible_check_mode": check, "_ansible_diff": true, "_ansible_no_log": false, "_ansible_verbosity": 0,
		"_ansible_version": "2.14.18", "_ansible_module_name": module, "_ansible_tmpdir": t.TempDir(),
		"_ansible_debug": false, "_ansible_keep_remote_files": false,
	}
	for k, v := range args {
		full[k] = v
	}
	data, err := json.Marshal(full)
	require.NoError(t, err)
	argsFile := filepath.Join(t.TempDir(), "args")
	require.NoError(t, os.WriteFile(argsFile, data, 0o600))
	cmd := exec.Command(filepath.Join(dir, module), argsFile)
	cmd.Env = append(mutEnvWithout("HCLOUD_TOKEN", "HCLOUD_ENDPOINT"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := mutRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &r.res), "%s printed: %s", module, stdout.String())
	return r
}

// actions lists the items' actions.
func (r mutRun) actions() []string {
	var out []string
	vols, _ := r.res["volumes"].([]any)
	for _, v := range vols {
		out = append(out, v.(map[string]any)["action"].(string))
	}
	return out
}

func (r mutRun) moduleArgs() map[string]any {
	inv, _ := r.res["invocation"].(map[string]any)
	args, _ := inv["module_args"].(map[string]any)
	return args
}

func mutRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestMutatingModuleBinaries drives the four built binaries through the reset of a part of the
// PH3-02 fleet, as the playbook's stages call them: check mode first, then for real, then again.
func TestMutatingModuleBinaries(t *testing.T) {
	f := newMutFleet(t)
	t.Run("check mode predicts every stage without a mutating request", f.checkPredicts)
	t.Run("the stages for real, then again", f.realThenAgain)
	t.Run("the token from the environment", func(t *testing.T) {
		r := mutExec(t, f.dir, "kbv3_volume_detach", map[string]any{"name": "vol-crm-01"}, true,
			"HCLOUD_TOKEN="+simtest.Token, "HCLOUD_ENDPOINT="+f.endpoint)
		mutNoToken(t, r)
		assert.Equal(t, "absent: 1", r.res["msg"])
	})
	t.Run("a refused delete list deletes nothing and names the entry", f.refusedDelete)
	t.Run("a wrong token: failed, and neither token printed", f.wrongToken)
}

// mutFleet is the simulator the mutating modules run against, with the reset's lists for five
// servers: the old volumes as the reviewed diff lists them, and the plan entries.
type mutFleet struct {
	dir, endpoint    string
	sim              *sim.Sim
	conn             map[string]any
	hosts            []string
	serverIDs        map[string]int64
	deletes, entries []map[string]any
}

func newMutFleet(t *testing.T) *mutFleet {
	dir := t.TempDir()
	docBuildModules(t, dir, mutModules...)
	endpoint, s := simtest.Start(t, sim.Config{Scenario: "ph3-02", Token: simtest.Token, ActionTime: 20 * time.Millisecond})
	f := &mutFleet{
		dir: dir, endpoint: endpoint, sim: s,
		conn:      map[string]any{"api_token": simtest.Token, "api_endpoint": endpoint, "timeout": 60},
		hosts:     []string{"crm-01", "etl-01", "redis-01", "minio-01", "k8s-worker-01"},
		serverIDs: map[string]int64{},
	}
	state := s.Store().State()
	for _, sv := range state.Servers {
		f.serverIDs[sv.Name] = sv.ID
	}
	for _, v := range state.Volumes {
		for _, h := range f.hosts {
			if v.Name == "vol-"+h {
				f.deletes = append(f.deletes, map[string]any{"id": v.ID, "name": v.Name, "server": h, "size_gb": v.Size})
			}
		}
	}
	require.Len(t, f.deletes, 5)
	for _, h := range f.hosts {
		f.entries = append(f.entries, map[string]any{"hostname": h, "size_gb": 20, "role": "x", "mountpoint": "/data/x", "labels": map[string]any{"managed-by": "kbv3"}})
	}
	return f
}

// with is the connection options and extra.
func (f *mutFleet) with(extra map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range f.conn {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func (f *mutFleet) mutating() int { return f.sim.Stats().Requests.Mutating }

// mutNoToken checks that r printed no token and that its exit code follows failed.
func mutNoToken(t *testing.T, r mutRun) {
	t.Helper()
	assert.NotContains(t, r.stdout, simtest.Token)
	assert.NotContains(t, r.stderr, simtest.Token)
	assert.Equal(t, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", r.moduleArgs()["api_token"])
	assert.Equal(t, r.res["failed"] == true, r.code == 1, "exit code follows failed")
}

func (f *mutFleet) checkPredicts(t *testing.T) {
	before := f.mutating()
	for _, c := range []struct {
		module string
		args   map[string]any
		action string
	}{
		{"kbv3_volume_detach", map[string]any{"volumes": f.deletes}, "would_detach"},
		{"kbv3_volume_delete", map[string]any{"volumes": f.deletes, "detach": true}, "would_delete"},
		{"kbv3_volume_create", map[string]any{"volumes": f.entries}, "would_create"},
		{"kbv3_volume_attach", map[string]any{"volumes": f.entries}, "would_attach"},
	} {
		r := mutExec(t, f.dir, c.module, f.with(c.args), true)
		mutNoToken(t, r)
		assert.Equal(t, 0, r.code, r.stdout)
		assert.Equal(t, true, r.res["changed"], c.module)
		assert.Equal(t, mutRepeat(c.action, 5), r.actions(), c.module)
		assert.Equal(t, c.action+": 5", r.res["msg"])
		assert.Len(t, r.res["diff"], 5, "diff mode: one entry per changed volume")
	}
	assert.Equal(t, before, f.mutating(), "check mode sent no mutating request")
}

func (f *mutFleet) realThenAgain(t *testing.T) {
	for _, c := range []struct {
		module string
		args   map[string]any
		action string
		again  string
	}{
		{"kbv3_volume_detach", map[string]any{"volumes": f.deletes}, "detached", "already_detached"},
		{"kbv3_volume_delete", map[string]any{"volumes": f.deletes, "detach": true}, "deleted", "absent"},
		{"kbv3_volume_create", map[string]any{"volumes": f.entries}, "created", "exists"},
		{"kbv3_volume_attach", map[string]any{"volumes": f.entries}, "attached", "already_attached"},
	} {
		r := mutExec(t, f.dir, c.module, f.with(c.args), false)
		mutNoToken(t, r)
		assert.Equal(t, c.action+": 5", r.res["msg"], r.stdout)
		assert.Equal(t, true, r.res["changed"])

		before := f.mutating()
		r = mutExec(t, f.dir, c.module, f.with(c.args), false)
		mutNoToken(t, r)
		assert.Equal(t, c.again+": 5", r.res["msg"], r.stdout)
		assert.Equal(t, false, r.res["changed"])
		assert.Equal(t, before, f.mutating(), "%s: a second run changes nothing", c.module)
	}
	vols := map[string]int64{}
	for _, v := range f.sim.Store().State().Volumes {
		if v.Server != nil {
			vols[v.Name] = *v.Server
		}
	}
	for _, h := range f.hosts {
		assert.Equal(t, f.serverIDs[h], vols["kbv3-"+h+"-data"], h)
		assert.NotContains(t, vols, "vol-"+h)
	}
}

func (f *mutFleet) refusedDelete(t *testing.T) {
	ids := map[string]int64{}
	for _, v := range f.sim.Store().State().Volumes {
		ids[v.Name] = v.ID
	}
	// The second entry's id now belongs to another volume than the one reviewed.
	db := []map[string]any{
		{"id": ids["vol-db-master-01"], "name": "vol-db-master-01"},
		{"id": ids["vol-queue-01"], "name": "vol-db-slave-01"},
	}
	before := f.mutating()
	r := mutExec(t, f.dir, "kbv3_volume_delete", f.with(map[string]any{"volumes": db, "detach": true}), false)
	mutNoToken(t, r)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, []string{"skipped", "refused"}, r.actions())
	assert.Contains(t, r.res["msg"], "volumes[1] (vol-db-slave-01): the volume with id")
	assert.Contains(t, r.res["msg"], "is now named vol-queue-01, not vol-db-slave-01")
	assert.Equal(t, before, f.mutating())
	assert.Equal(t, ids, func() map[string]int64 {
		now := map[string]int64{}
		for _, v := range f.sim.Store().State().Volumes {
			now[v.Name] = v.ID
		}
		return now
	}(), "nothing deleted")
}

func (f *mutFleet) wrongToken(t *testing.T) {
	const wrong = "wrongQ7kP2xZr9LmW4vT8nB3cY6hJ1dF5gS0aE2uI7oK4pM9qR3wX8zV6tN1bH5"
	for _, module := range mutModules {
		args := map[string]any{"api_endpoint": f.endpoint, "api_token": wrong, "name": "vol-queue-01"}
		switch module {
		case "kbv3_volume_delete":
			args["id"] = 1
		case "kbv3_volume_create":
			args["size"], args["server"] = 10, "queue-01"
		case "kbv3_volume_attach":
			args["server"] = "queue-01"
		}
		r := mutExec(t, f.dir, module, args, false, "HCLOUD_TOKEN="+simtest.Token)
		assert.Equal(t, 1, r.code, module)
		assert.Equal(t, true, r.res["failed"], module)
		assert.Contains(t, r.res["msg"], "api_token: the API refused the token", module)
		for _, secret := range []string{wrong, simtest.Token} {
			assert.NotContains(t, r.stdout, secret, module)
			assert.NotContains(t, r.stderr, secret, module)
		}
		assert.Equal(t, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", r.moduleArgs()["api_token"], module)
		assert.True(t, strings.Contains(r.stdout, `"invocation"`), module)
	}
}
