package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// The end-to-end tests of the playbooks: each starts its own hcloud-sim with the report's fleet
// (actions of 50 ms), runs playbooks/volume_diff_v3.yml and playbooks/volume_reset_v3.yml with
// ansible-playbook and the repository's ansible.cfg, and checks the modules' results, the play
// recap and the simulator's state and counters. internal/e2e builds the collection first (what
// `make build` does), so `go test ./tests/` works from a fresh clone once `make deps` has
// installed Ansible.

// e2eTimeout bounds one test; a reset with 50 ms actions takes seconds on a quiet machine, but
// the package runs its tests in parallel on two cores, where a reset has taken over 3 minutes.
const e2eTimeout = 8 * time.Minute

// e2eStart builds the collection (before t.Parallel, so no parallel test of the package runs a
// module binary while it is rebuilt), then starts the test's simulator and returns a context
// bounded by e2eTimeout.
func e2eStart(t *testing.T, opts e2e.Options) (*e2e.Env, context.Context) {
	t.Helper()
	e2e.RequireTools(t)
	if _, err := e2e.Build(); err != nil {
		t.Fatalf("building the collection: %v", err)
	}
	t.Parallel()
	env := e2e.Start(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	t.Cleanup(cancel)
	return env, ctx
}

// e2eRequireOK fails the test unless the run exited 0 with no failed task in its recap.
func e2eRequireOK(t *testing.T, r *e2e.Run) {
	t.Helper()
	require.NoError(t, r.Err, r.Summary())
	require.NotEmpty(t, r.Recap, "no PLAY RECAP\n%s", r.Summary())
	require.Zero(t, r.Recap.Total().Failed, r.Summary())
}

// e2eComputeDiff runs the diff playbook, which writes the test's servers/volume_diff_v3.json,
// and checks it against the ph3-02 fleet: 40 old volumes to delete, the 47 plan volumes to create.
func e2eComputeDiff(t *testing.T, ctx context.Context, env *e2e.Env) {
	t.Helper()
	r := env.Playbook(ctx, e2e.DiffPlaybook)
	e2eRequireOK(t, r)
	d := env.Diff()
	require.Len(t, d.Delete, 40, r.Summary())
	require.Len(t, d.Create, 47, r.Summary())
	require.Empty(t, d.Keep)
	require.Empty(t, d.Mismatch)
	for _, del := range d.Delete {
		require.True(t, strings.HasPrefix(del.Name, "vol-"), "delete entry %+v", del)
	}
}

// e2eStage is the task of the reset playbook whose name starts with "Stage <n>".
func e2eStage(t *testing.T, r *e2e.Run, n int) e2e.Task {
	t.Helper()
	prefix := "Stage " + string(rune('0'+n))
	task, ok := r.Task(prefix)
	require.True(t, ok, "no result of %q\n%s", prefix, r.Summary())
	return task
}

// e2eActions are the item actions of stages 1 to 3 (create, attach, and delete, which detaches
// first); a stage with nothing to do has none.
func e2eActions(t *testing.T, r *e2e.Run) map[string]map[string]int {
	t.Helper()
	return map[string]map[string]int{
		"create": e2eStageActions(r, 1),
		"attach": e2eStageActions(r, 2),
		"delete": e2eStageActions(r, 3),
	}
}

// e2eStageActions counts the items of stage n by action; a stage skipped for want of work (its
// loop is empty) counts none.
func e2eStageActions(r *e2e.Run, n int) map[string]int {
	task, ok := r.Task("Stage " + string(rune('0'+n)))
	if !ok {
		return map[string]int{}
	}
	return task.Actions()
}
