package simproc_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

var binary string

func TestMain(m *testing.M) { simproc.Main(m, &binary) }

// get sends one authorized GET to the API.
func get(t *testing.T, s *simproc.Sim, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.Endpoint+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestAdminCalls(t *testing.T) {
	s := simproc.StartT(t, simproc.Options{Binary: binary, ActionTime: 50 * time.Millisecond})
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/v1$`, s.Endpoint)
	assert.Contains(t, s.Env(), "HCLOUD_TOKEN="+simproc.Token)
	assert.Len(t, simproc.Token, 64)

	st := checkAdminState(t, s)
	checkAdminFaultAndStats(t, s)
	checkAdminConfig(t, s)
	checkAdminReset(t, s, st)

	_, err := s.AddFault(simproc.Fault{Method: "GET", Path: "no-slash"})
	assert.ErrorContains(t, err, "status 422")

	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "Stop twice is fine")
}

// checkAdminState reads the default fleet through /_sim/state and returns it.
func checkAdminState(t *testing.T, s *simproc.Sim) simproc.State {
	t.Helper()
	st, err := s.State()
	require.NoError(t, err)
	checkPH302State(t, st)

	return st
}

// checkAdminFaultAndStats adds a one-shot 503 and reads it back in the faults and the counters;
// it expects no request before it.
func checkAdminFaultAndStats(t *testing.T, s *simproc.Sim) {
	t.Helper()
	rules, err := s.AddFault(simproc.Fault{Method: "GET", Path: "/v1/servers", Status: 503, Nth: 1, Count: 1})
	require.NoError(t, err)
	require.Len(t, rules, 1)
	assert.Equal(t, "unavailable", rules[0].Code)
	code, body := get(t, s, "/servers")
	assert.Equal(t, 503, code, body)
	code, _ = get(t, s, "/servers")
	assert.Equal(t, 200, code)
	rules, err = s.Faults()
	require.NoError(t, err)
	assert.Equal(t, 1, rules[0].Hits)

	stats, err := s.Stats()
	require.NoError(t, err)
	assert.Equal(t, 2, stats.Requests.Total)
	assert.Equal(t, 2, stats.Requests.Read)
	assert.Equal(t, 2, stats.Requests.ByRoute["GET /v1/servers"])
	assert.Equal(t, map[string]int{"200": 1, "503": 1}, stats.Requests.ByStatus)
	assert.Equal(t, 1, stats.FaultsHit)
	assert.True(t, stats.RateLimit.Enabled)
	assert.Equal(t, 3600, stats.RateLimit.Limit)
	assert.Equal(t, 3598, stats.RateLimit.Remaining)
}

// checkAdminConfig resets the counters, sets an action time and clears the faults.
func checkAdminConfig(t *testing.T, s *simproc.Sim) {
	t.Helper()
	require.NoError(t, s.ResetStats())
	stats, err := s.Stats()
	require.NoError(t, err)
	assert.Zero(t, stats.Requests.Total)

	require.NoError(t, s.SetActionTimes(map[string]time.Duration{"attach_volume": 2 * time.Second}))
	cfg, err := s.Config()
	require.NoError(t, err)
	assert.Equal(t, simproc.RateLimitConfig{Enabled: true, Limit: 3600, Period: "1h0m0s"}, cfg.RateLimit)
	times, err := cfg.ActionDurations()
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, times["attach_volume"])
	assert.Equal(t, 50*time.Millisecond, times["detach_volume"])
	require.NoError(t, s.ClearFaults())
	rules, err := s.Faults()
	require.NoError(t, err)
	assert.Empty(t, rules)
}

// checkAdminReset checks that a reset clears faults and counters and reloads st's fleet.
func checkAdminReset(t *testing.T, s *simproc.Sim, st simproc.State) {
	t.Helper()
	_, err := s.AddFault(simproc.Fault{Method: "GET", Path: "/v1/volumes", Status: 500})
	require.NoError(t, err)
	get(t, s, "/servers")
	require.NoError(t, s.Reset())
	rules, err := s.Faults()
	require.NoError(t, err)
	assert.Empty(t, rules, "reset clears faults")
	stats, err := s.Stats()
	require.NoError(t, err)
	assert.Zero(t, stats.Requests.Total, "reset clears counters")
	after, err := s.State()
	require.NoError(t, err)
	assert.Equal(t, st.Volumes, after.Volumes, "reset reloads the same fleet")
}

// checkPH302State checks the fleet the simulator starts with by default, as /_sim/state shows
// it: its size, and vol-minio-01 attached to minio-01 in its location.
func checkPH302State(t *testing.T, st simproc.State) {
	t.Helper()
	assert.Len(t, st.Servers, 47)
	assert.Len(t, st.Volumes, 41)
	assert.Len(t, st.Locations, 6)
	assert.Len(t, st.Datacenters, 6)
	minio, ok := st.Volume("vol-minio-01")
	require.True(t, ok)
	sv, ok := st.ServerByID(*minio.Server)
	require.True(t, ok)
	assert.Equal(t, "minio-01", sv.Name)
	assert.Equal(t, sv.Location.Name, sv.Datacenter.Location.Name)
	assert.Equal(t, minio.Location.Name, sv.Location.Name)
	assert.Contains(t, sv.Volumes, minio.ID)
}

func TestStderrAndArgs(t *testing.T) {
	var log bytes.Buffer
	s := simproc.StartT(t, simproc.Options{Binary: binary, Args: []string{"--log-level", "info"}, Stderr: &log})
	assert.Equal(t, []string{"--addr", "127.0.0.1:0", "--token", simproc.Token, "--scenario", "ph3-02", "--log-level", "info"}, s.Args)
	code, _ := get(t, s, "/servers")
	require.Equal(t, 200, code)
	require.NoError(t, s.Stop())
	assert.Contains(t, log.String(), "/v1/servers")
	assert.Equal(t, s.Stderr(), log.String(), "the log gets all of stderr")
}

func TestActionDurationsRejectsBadValues(t *testing.T) {
	c := simproc.Config{ActionTimes: map[string]string{"attach_volume": "3s", "detach_volume": "soon"}}
	_, err := c.ActionDurations()
	assert.ErrorContains(t, err, "action time of detach_volume")
}

func TestStartFailsOnBadFlags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := simproc.Start(ctx, simproc.Options{Binary: binary, Scenario: "nope"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited before printing its endpoint")
	assert.True(t, strings.Contains(err.Error(), "nope"), err.Error())

	_, err = simproc.Start(ctx, simproc.Options{})
	assert.ErrorContains(t, err, "Binary is required")
}

func TestReleaseActions(t *testing.T) {
	s := simproc.StartT(t, simproc.Options{Binary: binary, ActionTime: 50 * time.Millisecond})
	_, err := s.AddFault(simproc.Fault{Method: "POST", Path: "/v1/volumes/*/actions/detach", Effect: "action_stuck"})
	require.NoError(t, err)
	st, err := s.State()
	require.NoError(t, err)
	v, ok := st.Volume("vol-vault-01")
	require.True(t, ok)
	req, err := http.NewRequest(http.MethodPost, s.Endpoint+"/volumes/"+strconv.FormatInt(v.ID, 10)+"/actions/detach", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	_, err = s.ReleaseActions(simproc.Release{IDs: []int64{1}})
	assert.ErrorContains(t, err, "status 404")
	released, err := s.ReleaseActions(simproc.Release{Status: "error", Code: "server_error", Message: "gone"})
	require.NoError(t, err)
	require.Len(t, released, 1)
	assert.Equal(t, "detach_volume", released[0].Command)
	assert.Equal(t, "error", released[0].Status)
	require.NotNil(t, released[0].Error)
	assert.Equal(t, "server_error", released[0].Error.Code)
	st, err = s.State()
	require.NoError(t, err)
	v, _ = st.Volume("vol-vault-01")
	assert.NotNil(t, v.Server, "a failed detach leaves it attached")
	sv, _ := st.Server("vault-01")
	assert.False(t, sv.Locked)
}
