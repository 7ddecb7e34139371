package sim_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

func TestWaitForSixtyActions(t *testing.T) {
	e := start(t, fast("ph3-02"))
	servers, err := e.client.Server.All(e.ctx)
	require.NoError(t, err)
	var actions []*hcloud.Action
	for i := range 60 {
		srv := servers[i%len(servers)]
		res, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: fmt.Sprintf("bulk-%02d", i), Size: 10, Location: srv.Location})
		require.NoError(t, err)
		actions = append(actions, res.Action)
	}
	e.wait(t, actions...)
	ids := make([]int64, len(actions))
	for i, a := range actions {
		ids[i] = a.ID
	}
	got, err := e.client.Action.AllWithOpts(e.ctx, hcloud.ActionListOpts{ID: ids})
	require.NoError(t, err)
	require.Len(t, got, 60)
	for _, a := range got {
		assert.Equal(t, hcloud.ActionStatusSuccess, a.Status)
		assert.Equal(t, 100, a.Progress)
		assert.False(t, a.Finished.IsZero())
	}
	st := e.sim.Stats()
	assert.Positive(t, st.Requests.ByRoute["GET /v1/actions"])
}

func TestActionProgressOnManualClock(t *testing.T) {
	clock := simtest.NewManualClock(time.Date(2024, 12, 1, 9, 0, 0, 0, time.UTC))
	cfg := fast("ph3-02")
	cfg.Clock = clock
	cfg.ActionTimes = map[string]time.Duration{sim.CmdDetachVolume: 4 * time.Second}
	e := start(t, cfg)
	v := e.volume(t, "vol-backup-01")
	a, _, err := e.client.Volume.Detach(e.ctx, v)
	require.NoError(t, err)
	assert.Equal(t, hcloud.ActionStatusRunning, a.Status)
	assert.Equal(t, 0, a.Progress)
	require.Len(t, a.Resources, 2)

	clock.Advance(time.Second)
	a, _, err = e.client.Action.GetByID(e.ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 25, a.Progress)
	assert.NotNil(t, e.volume(t, "vol-backup-01").Server, "the change lands when the action succeeds")

	clock.Advance(3 * time.Second)
	assert.Nil(t, e.volume(t, "vol-backup-01").Server)
	a, _, err = e.client.Volume.Action.GetByID(e.ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, hcloud.ActionStatusSuccess, a.Status)
	assert.Equal(t, time.Date(2024, 12, 1, 9, 0, 4, 0, time.UTC), a.Finished.UTC())

	all, err := e.client.Volume.Action.All(e.ctx, hcloud.ActionListOpts{Sort: []string{"id:desc"}})
	require.NoError(t, err)
	require.Len(t, all, 1)
	r := e.api(t, "GET", fmt.Sprintf("/volumes/%d/actions", v.ID), "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Len(t, r.body["actions"], 1)
	r = e.api(t, "GET", fmt.Sprintf("/volumes/%d/actions/%d", v.ID, a.ID), "")
	require.Equal(t, http.StatusOK, r.status)
	r = e.api(t, "GET", fmt.Sprintf("/volumes/actions/%d", a.ID), "")
	require.Equal(t, http.StatusOK, r.status)
	r = e.api(t, "GET", "/volumes/actions/1", "")
	assert.Equal(t, http.StatusNotFound, r.status)
	r = e.api(t, "GET", "/actions?status=running", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body["actions"])
}

func TestFailedCreateRemovesVolumeAndFailsAttach(t *testing.T) {
	cfg := fast("ph3-02")
	cfg.Faults = []sim.FaultRule{{Method: "POST", Path: "/v1/volumes", Effect: sim.EffectActionError}}
	e := start(t, cfg)
	srv := e.server(t, "vault-01")
	res, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "doomed", Size: 10, Server: srv})
	require.NoError(t, err)
	err = e.client.Action.WaitFor(e.ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...)
	require.Error(t, err)
	var aerr hcloud.ActionError
	require.ErrorAs(t, err, &aerr)
	v, _, err := e.client.Volume.GetByName(e.ctx, "doomed")
	require.NoError(t, err)
	assert.Nil(t, v)
}

func TestActionStuckNeverEnds(t *testing.T) {
	cfg := fast("ph3-02")
	cfg.Faults = []sim.FaultRule{{Method: "POST", Path: "/v1/volumes/*/actions/detach", Effect: sim.EffectActionStuck, Count: 1}}
	e := start(t, cfg)
	v := e.volume(t, "vol-crm-01")
	a, _, err := e.client.Volume.Detach(e.ctx, v)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
	defer cancel()
	err = e.client.Action.WaitFor(ctx, a)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	a, _, err = e.client.Action.GetByID(e.ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, hcloud.ActionStatusRunning, a.Status)
	_, err = e.client.Volume.Delete(e.ctx, v)
	apiErr(t, err, hcloud.ErrorCodeLocked)
}
