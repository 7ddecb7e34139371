package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// The tests on today's Ansible (TestModern*): Debian trixie's ansible-core 2.19 and ansible 12,
// whose hetzner.hcloud 5.x vendors hcloud-python 2.x, unpacked by `make modern-ansible` into
// .cache/modern-ansible beside the system's ansible 2.14. The Makefile exports its location as
// KBV3_MODERN_ANSIBLE, so `make test` runs them; a bare `go test ./tests/` outside CI skips them
// saying so.

// modernEnvVar names the toolchain's directory (scripts/modern-ansible.sh DIR).
const modernEnvVar = "KBV3_MODERN_ANSIBLE"

// modernTimeout bounds one modern test: hetzner.hcloud 5.x waits at least a second per action.
const modernTimeout = 8 * time.Minute

// modernToolchain is the unpacked trixie ansible.
type modernToolchain struct {
	// Root holds usr/bin and usr/lib/python3/dist-packages of the two packages.
	Root string
	// Bin is the directory of ansible-playbook; PythonPath that of the ansible and
	// ansible_collections packages.
	Bin, PythonPath string
}

// Collection is the hetzner.hcloud collection of the toolchain.
func (m modernToolchain) Collection() string {
	return filepath.Join(m.PythonPath, "ansible_collections", "hetzner", "hcloud")
}

// Env is what a command needs to run the toolchain's ansible on /usr/bin/python3 with the
// toolchain's collections only, without the repository's ansible.cfg; home is a directory of
// the test for ANSIBLE_HOME. e2e.Env.Start lays these over its own settings.
func (m modernToolchain) Env(home string) []string {
	return append(m.PathEnv(home),
		"ANSIBLE_CONFIG=",
		"ANSIBLE_COLLECTIONS_PATH="+m.PythonPath,
		"ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3",
	)
}

// PathEnv puts the toolchain first on PATH and PYTHONPATH and keeps the other settings, the
// repository's ansible.cfg included; the system's collections (hetzner.hcloud 1.11 among them)
// are left out of the search.
func (m modernToolchain) PathEnv(home string) []string {
	return []string{
		"PATH=" + m.Bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PYTHONPATH=" + m.PythonPath,
		"ANSIBLE_HOME=" + home,
		"ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false",
	}
}

// requireModern finds the toolchain through KBV3_MODERN_ANSIBLE and checks it is the series the
// tests are written for. Unset, it fails under CI and skips otherwise, saying how to get it; set
// to something broken, it always fails.
func requireModern(t *testing.T) modernToolchain {
	t.Helper()
	dir := os.Getenv(modernEnvVar)
	if dir == "" {
		msg := modernEnvVar + " is not set: run `make modern` (or `make modern-ansible` and set " +
			modernEnvVar + "=$PWD/.cache/modern-ansible) to test on ansible-core 2.19 and hetzner.hcloud 5.x"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	m := modernToolchain{Root: filepath.Join(dir, "root")}
	m.Bin = filepath.Join(m.Root, "usr", "bin")
	m.PythonPath = filepath.Join(m.Root, "usr", "lib", "python3", "dist-packages")
	if _, err := os.Stat(filepath.Join(m.Bin, "ansible-playbook")); err != nil {
		t.Fatalf("%s=%s holds no ansible-playbook (%v): run make modern-ansible", modernEnvVar, dir, err)
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatalf("the toolchain runs on Debian's /usr/bin/python3: %v", err)
	}
	var manifest struct {
		Info struct {
			Version string `json:"version"`
		} `json:"collection_info"`
	}
	data, err := os.ReadFile(filepath.Join(m.Collection(), "MANIFEST.json"))
	require.NoError(t, err, "hetzner.hcloud in the toolchain")
	require.NoError(t, json.Unmarshal(data, &manifest))
	require.True(t, strings.HasPrefix(manifest.Info.Version, "5."), "hetzner.hcloud %s in %s, want 5.x", manifest.Info.Version, dir)
	return m
}

// modernStart is e2eStart for a modern test: the toolchain, the collection built, then the
// test's own simulator (fleet: a scenario file under testdata/modern, "" for ph3-02) with
// actions of 50 ms.
func modernStart(t *testing.T, fleet string) (modernToolchain, *e2e.Env, context.Context) {
	t.Helper()
	m := requireModern(t)
	opts := e2e.Options{}
	if fleet != "" {
		abs, err := filepath.Abs(filepath.Join("testdata", "modern", fleet))
		require.NoError(t, err)
		opts.SimArgs = []string{"--scenario-file", abs}
	}
	env, _ := e2eStart(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), modernTimeout)
	t.Cleanup(cancel)
	return m, env, ctx
}

// modernPlaybook runs testdata/modern/<name> with the toolchain on localhost, HCLOUD_ENDPOINT
// and HCLOUD_TOKEN pointing at the test's simulator (env entries win), after zeroing the
// simulator's counters so that the run's requests can be checked alone.
func modernPlaybook(t *testing.T, ctx context.Context, m modernToolchain, env *e2e.Env, name string, extra []string, args ...string) *e2e.Run {
	t.Helper()
	require.NoError(t, env.Sim.ResetStats())
	book, err := filepath.Abs(filepath.Join("testdata", "modern", name))
	require.NoError(t, err)
	argv := append([]string{"ansible-playbook", "-i", "localhost,", book}, args...)
	r := env.Command(ctx, append(m.Env(filepath.Join(env.Dir, "tmp", "ansible-home")), extra...), argv...)
	assert.NotContains(t, r.Output, env.Token, "the token in the output")
	return r
}

// wantStatuses checks that the run's tasks are exactly want, by name, with those statuses
// (ok, changed, failed, ignored): every result of the playbook is looked at.
func wantStatuses(t *testing.T, r *e2e.Run, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, task := range r.Tasks {
		_, seen := got[task.Name]
		require.False(t, seen, "task %q ran twice", task.Name)
		got[task.Name] = task.Status
	}
	assert.Equal(t, want, got, r.Summary())
}

// result decodes the result of the task of that exact name into a new T.
func result[T any](t *testing.T, r *e2e.Run, name string) T {
	t.Helper()
	for _, task := range r.Tasks {
		if task.Name == name {
			var v T
			require.NoError(t, task.Decode(&v), "task %q", name)
			return v
		}
	}
	t.Fatalf("no task %q\n%s", name, r.Summary())
	panic("unreachable")
}

// mutations are the run's requests that change something, by route, from the simulator's counters.
func mutations(t *testing.T, env *e2e.Env) map[string]int {
	t.Helper()
	out := map[string]int{}
	for route, n := range env.Stats().Requests.ByRoute {
		if !strings.HasPrefix(route, "GET ") {
			out[route] = n
		}
	}
	return out
}

// apiGet reads path of the simulator's API (e.g. "/servers?per_page=50") into out, as a client
// would, for the fields /_sim/state leaves out.
func apiGet(t *testing.T, env *e2e.Env, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.Endpoint+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+env.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", path, body)
	require.NoError(t, json.Unmarshal(body, out), "GET %s", path)
}

// modernPython runs a script of testdata/modern with /usr/bin/python3 and the toolchain's
// dist-packages on its path (the collection's vendored hcloud lives there), the simulator in
// HCLOUD_ENDPOINT and HCLOUD_TOKEN, and decodes the JSON object it prints last into out.
func modernPython(t *testing.T, ctx context.Context, m modernToolchain, env *e2e.Env, script string, out any, args ...string) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", "modern", script))
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", append([]string{path}, args...)...)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PYTHON") || strings.HasPrefix(kv, "HCLOUD_")
	}), "PYTHONPATH="+m.PythonPath, "HCLOUD_ENDPOINT="+env.Endpoint, "HCLOUD_TOKEN="+env.Token)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	summary := fmt.Sprintf("$ /usr/bin/python3 %s %s\nstdout:\n%s\nstderr:\n%s", script, strings.Join(args, " "), stdout.String(), stderr.String())
	require.NoError(t, err, summary)
	assert.NotContains(t, stdout.String()+stderr.String(), env.Token, "the token in the output")
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), out), summary)
}
