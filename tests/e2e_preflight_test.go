package tests

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/plan"
)

// The reviewed diff no longer matches the live volumes: one old volume was renamed since, and one
// entry's id was edited to a volume that does not exist. The preflight refuses the whole run
// before any change, naming each entry and why.
func TestE2EPreflightRefusesAStaleDiff(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	e2eComputeDiff(t, ctx, env)

	// Renamed after the review, through the API.
	e2eAPI(t, ctx, env).rename("vol-redis-01", "vol-redis-01-renamed")

	// An id edited in the file: the name vol-queue-01 now belongs to another id than the entry's.
	d := env.Diff()
	var queueID int64
	for i := range d.Delete {
		if d.Delete[i].Name == "vol-queue-01" {
			queueID = d.Delete[i].ID
			d.Delete[i].ID = 999999
		}
	}
	require.NotZero(t, queueID)
	env.WriteDiff(d)

	before := env.State()
	require.NoError(t, env.Sim.ResetStats())
	r := env.Playbook(ctx, e2e.ResetPlaybook)
	require.Error(t, r.Err, r.Summary())
	assert.Equal(t, 1, r.Recap.Total().Failed, r.Summary())
	assert.Zero(t, r.Recap.Total().Changed, r.Summary())
	assert.Zero(t, env.Stats().Requests.Mutating, "no mutating request after a refused preflight")
	assert.Empty(t, e2e.Changed(before, env.State(), e2e.VolumeNames(before)...), "nothing changed")
	_, snap := r.Task("Stage 1")
	assert.False(t, snap, "no stage after the preflight ran")

	pre := e2eStage(t, r, 0)
	assert.Equal(t, "failed", pre.Status)
	var res struct {
		Msg      string   `json:"msg"`
		Problems []string `json:"problems"`
	}
	require.NoError(t, pre.Decode(&res))
	t.Logf("preflight: %s", res.Msg)
	assert.Contains(t, res.Msg, "2 problems")
	require.Len(t, res.Problems, 2)
	// Which, and why.
	msg := strings.Join(res.Problems, "; ")
	assert.Regexp(t, `vol-redis-01\b[^;]*vol-redis-01-renamed`, msg)
	assert.Regexp(t, `vol-queue-01\b[^;]*999999|999999[^;]*vol-queue-01\b`, msg)
	assert.Contains(t, r.Output, "vol-redis-01-renamed")
}

// A volume of the plan added by hand to the delete list is refused before any request: a rerun
// would otherwise delete the volume the reset created.
func TestE2EDeleteListNamingAPlanVolumeIsRefused(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	e2eComputeDiff(t, ctx, env)
	d := env.Diff()
	d.Delete = append(d.Delete, plan.DeleteEntry{ID: 4242, Name: "kbv3-redis-01-data"})
	// Written as JSON by hand, as an editor would: the diff's own validation would refuse it too.
	data, err := json.MarshalIndent(d, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(env.Path(e2e.DiffFile), data, 0o644))

	require.NoError(t, env.Sim.ResetStats())
	r := env.Playbook(ctx, e2e.ResetPlaybook)
	require.Error(t, r.Err, r.Summary())
	assert.Regexp(t, `delete\[\d+\] \(id 4242, kbv3-redis-01-data\): is a volume of the plan`, r.Output)
	assert.Zero(t, env.Stats().Requests.Total, "the files are validated before any request")
	_, ran := r.Task("Stage 1")
	assert.False(t, ran)
}
