package tests

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// The reset playbook killed with SIGKILL (the whole process group: ansible-playbook, its workers
// and the module running) in the middle of the attach stage, then run again: the rerun converges
// to the plan, with no duplicate volume and nothing deleted that the diff does not list.
func TestE2EKilledDuringAttachThenRerun(t *testing.T) {
	// Attaches take 300 ms here, so the stage lasts long enough to be caught in the middle.
	env, ctx := e2eStart(t, e2e.Options{SimArgs: []string{"--action-time", "attach_volume=300ms"}})
	e2eComputeDiff(t, ctx, env)
	diff := env.Diff()

	first, killed := e2eKillInTheAttachStage(t, ctx, env, 12)
	require.True(t, killed, "the playbook was not caught in the attach stage\n%s", first.Summary())
	require.Error(t, first.Err, "a killed ansible-playbook exits non-zero")
	assert.Empty(t, first.Recap, "a killed play prints no recap")
	assert.Contains(t, first.Output, "TASK [Stage 2, attach")

	mid := env.State()
	attached := plannedAttached(env, mid)
	// Settled attaches and the one batch in flight, not the whole stage.
	t.Logf("at the kill: %d of 47 volumes attached", attached)
	assert.Less(t, attached, 47, "the kill came after the attach stage")

	// The attaches already sent when the kill came run to their end in the API: the rerun has
	// exactly the rest to do, and nothing of the stages before.
	settled := e2eSettled(t, env)
	left := len(env.Plan().Volumes) - plannedAttached(env, settled)
	r := env.Playbook(ctx, e2e.ResetPlaybook)
	e2eRequireOK(t, r)
	acts := e2eActions(t, r)
	assert.Empty(t, acts["create"])
	// Deletes come after the attaches: the killed run never reached them.
	assert.Equal(t, map[string]int{"deleted": 40}, acts["delete"])
	require.Positive(t, left, "the kill left attaches to do")
	assert.Equal(t, map[string]int{"attached": left}, acts["attach"])
	assert.Empty(t, env.FleetProblems())

	// Nothing but the diff's delete list is gone.
	listed := map[int64]bool{}
	for _, d := range diff.Delete {
		listed[d.ID] = true
	}
	end := env.State()
	for _, v := range env.Initial.Volumes {
		if _, ok := end.Volume(v.Name); !ok {
			assert.True(t, listed[v.ID], "%s (id %d) was deleted but is not in the diff", v.Name, v.ID)
		}
	}
}

// e2eKillInTheAttachStage starts the reset and kills it once the simulator has seen attaches
// attach requests (killed is false if the run ended first or 3 minutes passed), and returns the
// killed run.
func e2eKillInTheAttachStage(t *testing.T, ctx context.Context, env *e2e.Env, attaches int) (*e2e.Run, bool) {
	t.Helper()
	p, err := env.StartPlaybook(ctx, e2e.ResetPlaybook)
	require.NoError(t, err)
	// Into the second batch of attaches: some volumes attached, others not yet.
	killed := e2eAwaitRequests(ctx, env, p, attachRoute, attaches)
	if killed {
		require.NoError(t, p.Kill())
	}
	return p.Wait(), killed
}

// attachRoute is the simulator's route of an attach request, as its stats count them.
const attachRoute = "POST /v1/volumes/{id}/actions/attach"

// e2eAwaitRequests waits until the simulator has seen n requests of route during the run p:
// false if p ended first, or ctx, or 3 minutes.
func e2eAwaitRequests(ctx context.Context, env *e2e.Env, p *e2e.Proc, route string, n int) bool {
	deadline := time.After(3 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.Done():
			return false
		case <-ctx.Done():
			return false
		case <-deadline:
			return false
		case <-tick.C:
			if env.Stats().Requests.ByRoute[route] >= n {
				return true
			}
		}
	}
}

// plannedAttached counts the plan volumes st shows attached to their host.
func plannedAttached(env *e2e.Env, st simproc.State) int {
	n := 0
	for _, e := range env.Plan().Volumes {
		if v, ok := st.Volume(e.Name()); ok && e2e.ServerName(st, v) == e.Hostname {
			n++
		}
	}
	return n
}

// e2eSettled waits (up to 10 s) until no action runs, and returns that state.
func e2eSettled(t *testing.T, env *e2e.Env) simproc.State {
	t.Helper()
	settled := env.State()
	for i := 0; i < 200 && running(settled) > 0; i++ {
		time.Sleep(50 * time.Millisecond)
		settled = env.State()
	}
	require.Zero(t, running(settled), "actions still running 10 s after the kill")
	return settled
}

// running counts the actions of the state still running.
func running(st simproc.State) int {
	n := 0
	for _, a := range st.Actions {
		if a.Status == "running" {
			n++
		}
	}
	return n
}
