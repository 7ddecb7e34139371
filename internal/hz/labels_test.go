package hz_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/sim"
)

func TestUpdateLabels(t *testing.T) {
	f := newFixture(t, sim.Config{}, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"keybuzz-archive-01"}})
	require.NoError(t, err)
	want := map[string]string{"purpose": "archive", "managed-by": "kbv3"}

	f.sim.ResetStats()
	res, err := f.client.UpdateLabels(ctx, s, hz.LabelsOpts{Name: "keybuzz-archive-01", Labels: want, Check: true})
	require.NoError(t, err)
	assert.Equal(t, hz.OutcomeWouldUpdate, res.Outcome)
	assert.True(t, res.Outcome.Changed())
	assert.Zero(t, f.sim.Stats().Requests.Mutating, "check mode sends nothing")

	res, err = f.client.UpdateLabels(ctx, s, hz.LabelsOpts{Name: "keybuzz-archive-01", Labels: want})
	require.NoError(t, err)
	assert.Equal(t, hz.OutcomeUpdated, res.Outcome)
	assert.Equal(t, want, res.Volume.Labels)
	assert.Equal(t, want, s.Volume("keybuzz-archive-01").Labels, "the snapshot records the change")
	assert.Equal(t, map[string]int{"PUT /v1/volumes/{id}": 1}, f.routes())

	res, err = f.client.UpdateLabels(ctx, s, hz.LabelsOpts{Name: "keybuzz-archive-01", Labels: want})
	require.NoError(t, err)
	assert.Equal(t, hz.OutcomeOK, res.Outcome)

	res, err = f.client.UpdateLabels(ctx, s, hz.LabelsOpts{Name: "keybuzz-archive-01", Labels: nil})
	require.NoError(t, err)
	assert.Equal(t, hz.OutcomeUpdated, res.Outcome, "nil clears the labels")
	live, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"keybuzz-archive-01"}})
	require.NoError(t, err)
	assert.Empty(t, live.Volume("keybuzz-archive-01").Labels)

	_, err = f.client.UpdateLabels(ctx, s, hz.LabelsOpts{Name: "no-such-volume", Labels: want})
	assert.ErrorIs(t, err, hz.ErrNotInSnapshot)
}
