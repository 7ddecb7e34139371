package tests

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// kbv3's own reset on ansible-core 2.19: the playbooks with the repository's ansible.cfg, as the
// TestE2E* tests run them on the system's 2.14, but with the modern toolchain first on PATH and
// PYTHONPATH. Any warning or deprecation that names kbv3 fails the test.

// kbv3Names matches what names kbv3 in a warning: the collection, its modules, its playbooks.
var kbv3Names = regexp.MustCompile(`(?i)kbv3|keybuzz[./]infra|volume_(diff|reset|plan)_v3`)

// warningStart begins a warning of ansible-core (2.14 and 2.19 alike).
var warningStart = regexp.MustCompile(`^\[(WARNING|DEPRECATION WARNING)\]`)

// outputLine begins a line that is not the continuation of a warning.
var outputLine = regexp.MustCompile(`^(TASK |PLAY|RUNNING HANDLER|ok:|changed:|skipping:|fatal:|failed:|included:|\[|\*|localhost\s*:|\S+\s*: ok=)`)

// ansibleWarnings are the warnings and deprecations of an ansible run's output, each with the
// lines Ansible wrapped it onto (and 2.19's Origin lines), joined by spaces.
func ansibleWarnings(out string) []string {
	var warnings []string
	cur := ""
	flush := func() {
		if cur != "" {
			warnings = append(warnings, strings.Join(strings.Fields(cur), " "))
		}
		cur = ""
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case warningStart.MatchString(line):
			flush()
			cur = line
		case cur != "" && strings.TrimSpace(line) != "" && !outputLine.MatchString(line):
			cur += " " + line
		default:
			flush()
		}
	}
	flush()
	return warnings
}

func TestModernAnsibleWarnings(t *testing.T) {
	out := "TASK [x] ***\n[WARNING]: first line\nwrapped line\nok: [localhost]\n" +
		"[DEPRECATION WARNING]: keybuzz.infra.kbv3_volume_info uses\n  something old.\n\n" +
		"[WARNING]: a\n[WARNING]: b\nPLAY RECAP ***\n"
	assert.Equal(t, []string{
		"[WARNING]: first line wrapped line",
		"[DEPRECATION WARNING]: keybuzz.infra.kbv3_volume_info uses something old.",
		"[WARNING]: a",
		"[WARNING]: b",
	}, ansibleWarnings(out))
}

// requireNoKbv3Warnings fails on a warning that names kbv3; other warnings are logged.
func requireNoKbv3Warnings(t *testing.T, r *e2e.Run) {
	t.Helper()
	for _, w := range ansibleWarnings(r.Output) {
		if kbv3Names.MatchString(w) {
			t.Errorf("a warning caused by kbv3 on ansible-core 2.19: %s", w)
		} else {
			t.Logf("warning (not kbv3's): %s", w)
		}
	}
}

// modernKbv3Playbook runs playbooks/<name> as env.Playbook does (the test's paths, the
// repository's ansible.cfg) on the modern toolchain.
func modernKbv3Playbook(t *testing.T, ctx context.Context, m modernToolchain, env *e2e.Env, name string, args ...string) *e2e.Run {
	t.Helper()
	vars, err := json.Marshal(map[string]string{
		"plan_path":     env.Path(e2e.PlanFile),
		"diff_path":     env.Path(e2e.DiffFile),
		"snapshot_path": env.Path(e2e.SnapshotFile),
		"report_path":   env.Path(e2e.ReportFile),
		"log_path":      env.Path(e2e.LogFile),
	})
	require.NoError(t, err)
	argv := append([]string{"ansible-playbook", filepath.Join(env.Root, "playbooks", name), "-e", string(vars)}, args...)
	r := env.Command(ctx, m.PathEnv(filepath.Join(env.Dir, "tmp", "ansible-home")), argv...)
	e2eRequireOK(t, r)
	requireNoKbv3Warnings(t, r)
	assert.NotContains(t, r.Output, env.Token)
	return r
}

// TestModernKbv3Reset: the diff, the reset, a --check rerun that changes nothing, and on the
// fleet reloaded a --limit run, all on ansible-core 2.19, with the same results as on 2.14.
func TestModernKbv3Reset(t *testing.T) {
	m, env, ctx := modernStart(t, "")

	version := env.Command(ctx, m.PathEnv(filepath.Join(env.Dir, "tmp", "ansible-home")), "ansible-playbook", "--version")
	require.NoError(t, version.Err, version.Summary())
	require.Contains(t, version.Output, "ansible-playbook [core 2.19.", "the modern toolchain runs")
	require.Contains(t, version.Output, m.PythonPath)

	diff := modernKbv3Playbook(t, ctx, m, env, e2e.DiffPlaybook)
	d := env.Diff()
	require.Len(t, d.Delete, 40, diff.Summary())
	require.Len(t, d.Create, 47, diff.Summary())

	r := modernKbv3Playbook(t, ctx, m, env, e2e.ResetPlaybook)
	assert.Equal(t, map[string]map[string]int{
		"delete": {"deleted": 40},
		"create": {"created": 47},
		"attach": {"attached": 47},
	}, e2eActions(t, r))
	require.Empty(t, env.FleetProblems())
	assert.Len(t, env.State().Volumes, 48, "47 plan volumes and the archive")

	t.Run("--check rerun changes nothing", func(t *testing.T) {
		require.NoError(t, env.Sim.ResetStats())
		before := env.State()
		r := modernKbv3Playbook(t, ctx, m, env, e2e.ResetPlaybook, "--check")
		assert.Zero(t, r.Recap.Total().Changed, r.Summary())
		assert.Contains(t, r.Output, "to do: create 0, attach 0, detach 0, delete 0")
		assert.Zero(t, env.Stats().Requests.Mutating)
		assert.Empty(t, e2e.Changed(before, env.State(), e2e.VolumeNames(before)...))
	})

	t.Run("--limit", func(t *testing.T) {
		require.NoError(t, env.Sim.Reset())
		modernKbv3Playbook(t, ctx, m, env, e2e.DiffPlaybook)
		workers := hostsMatching(t, env.Plan(), "k8s-worker-*")
		require.Len(t, workers, 5)
		r := modernKbv3Playbook(t, ctx, m, env, e2e.ResetPlaybook, "--limit", "k8s_workers")
		assert.Equal(t, map[string]map[string]int{
			"delete": {"deleted": 5},
			"create": {"created": 5},
			"attach": {"attached": 5},
		}, e2eActions(t, r))
		assert.Contains(t, r.Output, "limited run")
		e2eCheckOnlyHosts(t, env, workers)
	})
}
