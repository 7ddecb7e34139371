package sim_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// TestSixteenVolumesPerServer: a server holds at most 16 volumes; attaches under way (also the
// one a create with server waits to begin) count, and a 17th is resource_limit_exceeded.
func TestSixteenVolumesPerServer(t *testing.T) {
	sc := &sim.Scenario{Servers: []sim.ScenarioServer{{Name: "full-01", Location: "fsn1"}}}
	for i := 1; i <= 15; i++ {
		sc.Volumes = append(sc.Volumes, sim.ScenarioVolume{Name: fmt.Sprintf("v-%02d", i), Size: 10, Server: "full-01"})
	}
	sc.Volumes = append(sc.Volumes, sim.ScenarioVolume{Name: "spare", Size: 10, Location: "fsn1"})
	clock := simtest.NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg := fast("")
	cfg.ScenarioData, cfg.Clock = sc, clock
	e := start(t, cfg)
	srv := e.server(t, "full-01")
	spare := e.volume(t, "spare")

	r := e.api(t, "POST", "/volumes", fmt.Sprintf(`{"name":"v-16","size":10,"server":%d}`, srv.ID))
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))

	// The 16th is not attached yet (its create has not even ended), but it counts.
	tooMany := func(r rawResponse) {
		t.Helper()
		require.Equal(t, http.StatusForbidden, r.status, string(r.raw))
		assert.Equal(t, "resource_limit_exceeded", r.body["error"].(map[string]any)["code"])
		assert.Contains(t, r.body["error"].(map[string]any)["message"], "maximum of 16 volumes")
	}
	tooMany(e.api(t, "POST", fmt.Sprintf("/volumes/%d/actions/attach", spare.ID), fmt.Sprintf(`{"server":%d}`, srv.ID)))
	tooMany(e.api(t, "POST", "/volumes", fmt.Sprintf(`{"name":"v-17","size":10,"server":%d}`, srv.ID)))

	clock.Advance(time.Minute)
	assert.Len(t, serverVolumes(t, e, srv.ID), 16)
	tooMany(e.api(t, "POST", fmt.Sprintf("/volumes/%d/actions/attach", spare.ID), fmt.Sprintf(`{"server":%d}`, srv.ID)))

	// One detached: room again.
	r = e.api(t, "POST", fmt.Sprintf("/volumes/%d/actions/detach", e.volume(t, "v-01").ID), "")
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	clock.Advance(time.Minute)
	r = e.api(t, "POST", fmt.Sprintf("/volumes/%d/actions/attach", spare.ID), fmt.Sprintf(`{"server":%d}`, srv.ID))
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	clock.Advance(time.Minute)
	assert.Len(t, serverVolumes(t, e, srv.ID), 16)

	// A scenario cannot start beyond the limit either.
	sc.Volumes = append(sc.Volumes, sim.ScenarioVolume{Name: "v-16", Size: 10, Server: "full-01"}, sim.ScenarioVolume{Name: "v-17", Size: 10, Server: "full-01"})
	_, err := sim.New(sim.Config{ScenarioData: sc})
	require.ErrorContains(t, err, `scenario: volume "v-17": server "full-01" already has the maximum of 16 volumes`)
}
