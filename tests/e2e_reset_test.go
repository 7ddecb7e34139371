package tests

import (
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/plan"
)

// A fresh ph3-02 fleet: the diff, then the reset, does exactly what the plan says; a rerun changes
// nothing and sends only read requests.
func TestE2EResetFreshFleetThenRerun(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	e2eComputeDiff(t, ctx, env)

	require.NoError(t, env.Sim.ResetStats())
	r := env.Playbook(ctx, e2e.ResetPlaybook)
	e2eRequireOK(t, r)
	routes := env.Stats().Requests.ByRoute
	t.Logf("reset: %s, requests %v", r.Duration, routes)
	// Stage 0, a read per delete batch (4: its one read serves the detach and the delete), the
	// verification: the create and attach stages read no volume (they act, and the API refuses
	// what a read would).
	assert.LessOrEqual(t, routes["GET /v1/volumes"], 1+4+1, "volume reads: %v", routes)
	// Each old volume is detached, then deleted, in the same batch.
	assert.Equal(t, 40, routes["POST /v1/volumes/{id}/actions/detach"], "detaches: %v", routes)
	assert.Equal(t, map[string]map[string]int{
		"delete": {"deleted": 40},
		"create": {"created": 47},
		"attach": {"attached": 47},
	}, e2eActions(t, r))
	require.Empty(t, env.FleetProblems())
	st := env.State()
	assert.Len(t, st.Volumes, 48, "47 plan volumes and the archive")

	// The verification's figures are the API's, and they are the plan's table.
	var verify struct {
		Sizes   []plan.SizeCount `json:"sizes"`
		TotalGB int              `json:"total_gb"`
		Counts  map[string]int   `json:"counts"`
		// problems is null or [] when there are none.
		Problems []string `json:"problems"`
	}
	require.NoError(t, e2eStage(t, r, 4).Decode(&verify))
	assert.Equal(t, 2800, verify.TotalGB)
	sizes := map[int]int{}
	for _, s := range verify.Sizes {
		sizes[s.SizeGB] = s.Count
	}
	assert.Equal(t, map[int]int{10: 2, 20: 19, 30: 5, 50: 11, 100: 6, 200: 3, 500: 1}, sizes)
	assert.Equal(t, map[string]int{"planned": 47, "found": 47, "attached": 47, "matching": 47, "forbidden_left": 0}, verify.Counts)
	assert.Empty(t, verify.Problems)

	report, err := os.ReadFile(env.Path(e2e.ReportFile))
	require.NoError(t, err, "the Markdown report")
	assert.Contains(t, string(report), "2800")
	for _, e := range env.Plan().Volumes {
		assert.Contains(t, string(report), e.Name())
	}
	// The snapshot holds the 41 volumes as they were before any change.
	var snapshot any
	data, err := os.ReadFile(env.Path(e2e.SnapshotFile))
	require.NoError(t, err, "the snapshot")
	require.NoError(t, json.Unmarshal(data, &snapshot))
	for _, v := range env.Initial.Volumes {
		assert.Contains(t, string(data), `"`+v.Name+`"`)
	}
	// One operation log line (at least) per change.
	logData, err := os.ReadFile(env.Path(e2e.LogFile))
	require.NoError(t, err, "the operation log")
	assert.GreaterOrEqual(t, strings.Count(string(logData), "\n"), 40+40+47+47)
	assert.NotContains(t, string(logData), env.Token)
	assert.NotContains(t, r.Output, env.Token)

	t.Run("rerun changes nothing and only reads", func(t *testing.T) {
		require.NoError(t, env.Sim.ResetStats())
		before := env.State()
		r := env.Playbook(ctx, e2e.ResetPlaybook)
		e2eRequireOK(t, r)
		t.Logf("rerun: %s", r.Duration)
		assert.Zero(t, r.Recap.Total().Changed, r.Summary())
		// Stage 0 finds nothing left to do, so no stage is sent a volume.
		assert.Equal(t, map[string]map[string]int{
			"delete": {}, "create": {}, "attach": {},
		}, e2eActions(t, r))
		assert.Contains(t, r.Output, "to do: create 0, attach 0, detach 0, delete 0")
		stats := env.Stats()
		assert.Zero(t, stats.Requests.Mutating, "mutating requests of the rerun: %v", stats.Requests.ByRoute)
		assert.Less(t, stats.Requests.Total, 10, "a rerun costs a few list requests: %v", stats.Requests.ByRoute)
		assert.Empty(t, e2e.Changed(before, env.State(), e2e.VolumeNames(before)...))
		assert.Empty(t, env.FleetProblems())
	})
}

// --check on a fresh fleet predicts each stage exactly, per volume, without a mutating request;
// the real run then does what was predicted.
func TestE2ECheckPredictsTheRun(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	e2eComputeDiff(t, ctx, env)
	require.NoError(t, env.Sim.ResetStats())

	check := env.Playbook(ctx, e2e.ResetPlaybook, "--check")
	e2eRequireOK(t, check)
	predicted := e2eActions(t, check)
	assert.Equal(t, map[string]map[string]int{
		"delete": {"would_delete": 40},
		"create": {"would_create": 47},
		"attach": {"would_attach": 47},
	}, predicted)
	stats := env.Stats()
	assert.Zero(t, stats.Requests.Mutating, "mutating requests under --check: %v", stats.Requests.ByRoute)
	// Stage 0 reads once (a page of volumes, one of servers); the stages and the verification
	// predict from what it read.
	assert.Equal(t, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1}, nonZero(stats.Requests.ByRoute), "--check reads once")
	assert.Empty(t, e2e.Changed(env.Initial, env.State(), e2e.VolumeNames(env.Initial)...))
	assert.Len(t, env.State().Volumes, len(env.Initial.Volumes))
	_, err := os.Stat(env.Path(e2e.ReportFile))
	assert.True(t, os.IsNotExist(err), "no report is written in check mode")

	run := env.Playbook(ctx, e2e.ResetPlaybook)
	e2eRequireOK(t, run)
	did := e2eActions(t, run)
	past := map[string]string{"would_delete": "deleted", "would_create": "created", "would_attach": "attached"}
	for stage, counts := range predicted {
		want := map[string]int{}
		for action, n := range counts {
			want[past[action]] = n
		}
		assert.Equal(t, want, did[stage], "%s: predicted %v", stage, counts)
	}
	// The same volumes, in the same batches.
	for n := 1; n <= 3; n++ {
		assert.Equal(t, itemNames(e2eStage(t, check, n)), itemNames(e2eStage(t, run, n)), "stage %d", n)
	}
	assert.Empty(t, env.FleetProblems())
}

// --diff shows, for each created volume, its before (nothing) and after (name, size, location,
// server, labels).
func TestE2EDiffModeShowsEachCreate(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	e2eComputeDiff(t, ctx, env)

	r := env.Playbook(ctx, e2e.ResetPlaybook, "--diff")
	e2eRequireOK(t, r)
	out := r.Output
	i := strings.Index(out, "TASK [Stage 1")
	j := strings.Index(out, "TASK [Stage 2")
	require.True(t, i >= 0 && j > i, r.Summary())
	create := out[i:j]
	for _, e := range env.Plan().Volumes {
		name := e.Name()
		assert.Contains(t, create, "--- before: volume "+name, "no before of %s", name)
		k := strings.Index(create, "+++ after: volume "+name)
		if !assert.GreaterOrEqual(t, k, 0, "no after of %s", name) {
			continue
		}
		after := create[k:]
		if next := strings.Index(after[1:], "--- before:"); next > 0 {
			after = after[:next+1]
		}
		assert.Contains(t, after, `"name": "`+name+`"`)
		assert.Regexp(t, `"size(_gb)?": `+strconv.Itoa(e.SizeGB)+`\b`, after, "size of %s", name)
		assert.Contains(t, after, `"location": "`)
	}
	// The module's diff list has one entry per created volume.
	results, err := e2eStage(t, r, 1).Results()
	require.NoError(t, err)
	n := 0
	for _, res := range results {
		var diffs []map[string]any
		require.NoError(t, json.Unmarshal(res.Diff, &diffs), "diff of a create batch: %s", res.Diff)
		n += len(diffs)
	}
	assert.Equal(t, 47, n)
	assert.Empty(t, env.FleetProblems())
}

func itemNames(task e2e.Task) []string {
	var out []string
	for _, it := range task.Items() {
		out = append(out, it.Volume)
	}
	sort.Strings(out)
	return out
}

// nonZero drops the routes no request took.
func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
