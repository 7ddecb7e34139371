package tests

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// A fleet that is not PH3-02 (examples/small-fleet), run the way a new user runs it: the
// collection built into a tarball and installed into a fresh collections path, the playbooks
// called by their FQCN from a working directory outside the checkout, with the example's own
// inventory (sizes in group_vars, no plan file), old volumes named data-*, two on one server, a
// detached one, a protected one, an unrelated volume, one delete line removed in review, a growth
// allowed by allow_grow, --check before and after, and a --limit on one group. The end state is
// read with the hcloud CLI, and nothing is written inside the installed collection.
func TestE2EExampleFleetFromTheInstalledCollection(t *testing.T) {
	e2e.RequireTools(t)
	built, err := e2e.Build()
	require.NoError(t, err)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	example := filepath.Join(built.Root, "examples", "small-fleet")
	sim := simproc.StartT(t, simproc.Options{Binary: built.Sim, ScenarioFile: filepath.Join(example, "scenario.json"),
		Token: simproc.Token, ActionTime: 50 * time.Millisecond})

	tmp := t.TempDir()
	collections := filepath.Join(tmp, "collections")
	work := filepath.Join(tmp, "work")
	require.NoError(t, os.MkdirAll(work, 0o755))
	run := func(args ...string) (string, error) {
		cmd := e2e.GroupCommand(ctx, args...)
		cmd.Dir = work
		cmd.Env = append(exampleEnv(), "HCLOUD_ENDPOINT="+sim.Endpoint, "HCLOUD_TOKEN="+sim.Token,
			"ANSIBLE_COLLECTIONS_PATH="+collections, "ANSIBLE_NOCOLOR=1", "PWD="+work,
			"ANSIBLE_LOCAL_TEMP="+filepath.Join(tmp, "ansible-local"), "ANSIBLE_HOME="+filepath.Join(tmp, "ansible-home"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// Build and install the collection as a user would.
	exampleInstall(t, run, built.Root, tmp, collections)
	installed := filepath.Join(collections, "ansible_collections", "keybuzz", "infra")
	before := treeOf(t, installed)
	require.NoError(t, os.CopyFS(filepath.Join(work, "inventory"), os.DirFS(filepath.Join(example, "inventory"))))
	inv := []string{"-i", "inventory/hosts.yml"}

	// The diff, from the inventory's variables, and the review: one delete line removed.
	exampleReview(t, run, filepath.Join(work, "servers", "volume_diff_v3.json"), inv)

	// Without allow_grow the growth is refused at stage 0, naming the variable; with it, --check
	// predicts the run and sends no mutating request.
	require.NoError(t, sim.ResetStats())
	out, err := run(append([]string{"ansible-playbook", "keybuzz.infra.volume_reset_v3", "--check"}, inv...)...)
	require.Error(t, err, out)
	assert.Contains(t, out, "run with -e allow_grow=true to grow it")
	out, err = run(append([]string{"ansible-playbook", "keybuzz.infra.volume_reset_v3", "--check", "-e", "allow_grow=true"}, inv...)...)
	require.NoError(t, err, out)
	stats, err := sim.Stats()
	require.NoError(t, err)
	assert.Zero(t, stats.Requests.Mutating, "--check sends no mutating request")

	// A limited run: only the web group's volumes.
	out, err = run(append([]string{"ansible-playbook", "keybuzz.infra.volume_reset_v3", "--limit", "web", "-e", "allow_grow=true"}, inv...)...)
	require.NoError(t, err, out)
	fleet := exampleFleet(t, run)
	assert.Contains(t, fleet, "kbv3-web-01-data")
	assert.NotContains(t, fleet, "kbv3-db-01-data", "the limited run leaves the other groups alone")
	assert.NotContains(t, fleet, "data-web-01", "the web group's reviewed old volume is deleted")
	assert.Contains(t, fleet, "data-db-01a")

	// The full run, then --check changes nothing.
	out, err = run(append([]string{"ansible-playbook", "keybuzz.infra.volume_reset_v3", "-e", "allow_grow=true"}, inv...)...)
	require.NoError(t, err, out)
	out, err = run(append([]string{"ansible-playbook", "keybuzz.infra.volume_reset_v3", "--check", "-e", "allow_grow=true"}, inv...)...)
	require.NoError(t, err, out)
	assert.Regexp(t, `(?m)^localhost\s+: ok=\d+\s+changed=0|changed=0`, out)
	assert.NotRegexp(t, `changed=[1-9]`, out)

	exampleEndState(t, exampleFleet(t, run), sim)

	// Everything was written under the working directory, nothing inside the collection.
	assert.Equal(t, before, treeOf(t, installed), "the installed collection is unchanged")
	for _, f := range []string{"servers/volume_diff_v3.json", "servers/existing_volumes_hetzner.json", "reports/volume_reset_v3.md", "logs/volume-reset-v3.jsonl"} {
		assert.FileExists(t, filepath.Join(work, f))
	}
}

// exampleInstall builds the collection's tarball from root and installs it into collections,
// as a user would.
func exampleInstall(t *testing.T, run func(...string) (string, error), root, tmp, collections string) {
	t.Helper()
	out, err := run("ansible-galaxy", "collection", "build", "--force", "--output-path", filepath.Join(tmp, "dist"), root)
	require.NoError(t, err, out)
	tarballs, err := filepath.Glob(filepath.Join(tmp, "dist", "keybuzz-infra-*.tar.gz"))
	require.NoError(t, err)
	require.Len(t, tarballs, 1)
	out, err = run("ansible-galaxy", "collection", "install", "-p", collections, tarballs[0])
	require.NoError(t, err, out)
}

// exampleReview computes the diff from the inventory's variables and reviews it: one delete
// line removed.
func exampleReview(t *testing.T, run func(...string) (string, error), diffPath string, inv []string) {
	t.Helper()
	out, err := run(append([]string{"ansible-playbook", "keybuzz.infra.volume_diff_v3", "-e", `{"delete_patterns": ["data-*"]}`}, inv...)...)
	require.NoError(t, err, out)
	d, err := plan.LoadDiff(diffPath)
	require.NoError(t, err, out)
	var deletes, protected []string
	for _, e := range d.Delete {
		deletes = append(deletes, e.Name)
	}
	for _, e := range d.Protected {
		protected = append(protected, e.Name)
	}
	assert.ElementsMatch(t, []string{"data-cache-01", "data-db-01a", "data-db-01b", "data-web-01", "data-web-02"}, deletes)
	assert.Equal(t, []string{"data-db-02"}, protected)
	require.Len(t, d.Mismatch, 1, out)
	assert.Equal(t, "kbv3-cache-02-data", d.Mismatch[0].Volume)
	assert.Contains(t, out, "delete   data-db-01a (id ")
	assert.Contains(t, out, "protected, kept data-db-02")
	d.Delete = slices.DeleteFunc(d.Delete, func(e plan.DeleteEntry) bool { return e.Name == "data-web-02" })
	data, err := d.Encode()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(diffPath, data, 0o644))
}

// exampleEndState checks the fleet after the full run: every host has its volume, the reviewed
// old volumes are gone, the kept ones are there.
func exampleEndState(t *testing.T, fleet map[string]exampleVolume, sim *simproc.Sim) {
	t.Helper()
	// The CLI's JSON leaves the format out: it is read from the simulator's state.
	st, err := sim.State()
	require.NoError(t, err)
	for _, v := range st.Volumes {
		if ev, ok := fleet[v.Name]; ok && v.Format != nil {
			ev.Format = *v.Format
			fleet[v.Name] = ev
		}
	}
	for host, want := range map[string]exampleVolume{
		"web-01": {Size: 20, Format: "ext4"}, "web-02": {Size: 20, Format: "ext4"},
		"db-01": {Size: 100, Format: "xfs"}, "db-02": {Size: 100, Format: "xfs"},
		"cache-01": {Size: 15}, "cache-02": {Size: 15},
	} {
		got, ok := fleet[plan.DefaultVolumeName(host)]
		if assert.True(t, ok, "%s has its volume", host) {
			want.Server = host
			assert.Equal(t, want, got, host)
		}
	}
	for _, gone := range []string{"data-web-01", "data-db-01a", "data-db-01b", "data-cache-01"} {
		assert.NotContains(t, fleet, gone)
	}
	assert.Equal(t, exampleVolume{Size: 20, Format: "ext4", Server: "web-02"}, fleet["data-web-02"], "the line removed in review is kept")
	assert.Equal(t, exampleVolume{Size: 50, Format: "xfs", Server: "db-02"}, fleet["data-db-02"], "the protected volume is kept")
	assert.Equal(t, exampleVolume{Size: 100, Server: "db-02"}, fleet["backups-keep"], "the unrelated volume survives")
}

// exampleVolume is a volume as the hcloud CLI shows it.
type exampleVolume struct {
	Size   int
	Format string
	Server string
}

// exampleFleet lists the volumes with the hcloud CLI (-o json), with their servers' names.
func exampleFleet(t *testing.T, run func(...string) (string, error)) map[string]exampleVolume {
	t.Helper()
	out, err := run("hcloud", "server", "list", "-o", "json")
	require.NoError(t, err, out)
	var servers []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &servers), out)
	names := map[int64]string{}
	for _, s := range servers {
		names[s.ID] = s.Name
	}
	out, err = run("hcloud", "volume", "list", "-o", "json")
	require.NoError(t, err, out)
	var vols []struct {
		Name   string  `json:"name"`
		Size   int     `json:"size"`
		Format *string `json:"format"`
		Server *int64  `json:"server"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &vols), out)
	fleet := map[string]exampleVolume{}
	for _, v := range vols {
		ev := exampleVolume{Size: v.Size}
		if v.Format != nil {
			ev.Format = *v.Format
		}
		if v.Server != nil {
			ev.Server = names[*v.Server]
		}
		fleet[v.Name] = ev
	}
	return fleet
}

// exampleEnv is this process's environment without ANSIBLE_*, HCLOUD_* and PWD, so that the
// commands see only what the test sets.
func exampleEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ANSIBLE_") && !strings.HasPrefix(kv, "HCLOUD_") && !strings.HasPrefix(kv, "PWD=") {
			env = append(env, kv)
		}
	}
	return env
}

// treeOf maps every file under dir to its size and modification time.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		tree[path] = fi.ModTime().String() + " " + fi.Mode().String()
		return nil
	}))
	return tree
}
