package sim_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// manual starts a ph3-02 simulator on a clock that moves only when the test says.
func manual(t *testing.T) (*env, *simtest.ManualClock) {
	t.Helper()
	clock := simtest.NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg := fast("ph3-02")
	cfg.Clock = clock
	cfg.ActionTime = time.Second
	cfg.ActionTimes = map[string]time.Duration{sim.CmdDeleteVolume: 0}
	return start(t, cfg), clock
}

func (e *env) release(t *testing.T, body string, status int) []any {
	t.Helper()
	r := e.do(t, "POST", e.base()+"/_sim/actions/release", body, "")
	require.Equal(t, status, r.status, string(r.raw))
	if status != http.StatusOK {
		return nil
	}
	return r.body["actions"].([]any)
}

func (e *env) action(t *testing.T, id int64) *hcloud.Action {
	t.Helper()
	a, _, err := e.client.Action.GetByID(e.ctx, id)
	require.NoError(t, err)
	require.NotNil(t, a)
	return a
}

func TestReleaseStuckAttach(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		status   hcloud.ActionStatus
		attached bool
		code     string
	}{
		{"success attaches", `{"status":"success"}`, hcloud.ActionStatusSuccess, true, ""},
		{"empty body means success", ``, hcloud.ActionStatusSuccess, true, ""},
		{"error leaves it detached", `{"status":"error","code":"server_error","message":"host failed"}`, hcloud.ActionStatusError, false, "server_error"},
		{"error without a code", `{"status":"error"}`, hcloud.ActionStatusError, false, "action_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, clock := manual(t)
			v := e.volume(t, "vol-queue-01")
			srv := e.server(t, "queue-01")
			a, _, err := e.client.Volume.Detach(e.ctx, v)
			require.NoError(t, err)
			clock.Advance(time.Second)
			require.Equal(t, hcloud.ActionStatusSuccess, e.action(t, a.ID).Status)

			require.NoError(t, e.sim.AddFaults(sim.FaultRule{Method: "POST", Path: "/v1/volumes/*/actions/attach", Effect: sim.EffectActionStuck}))
			a, _, err = e.client.Volume.Attach(e.ctx, v, srv)
			require.NoError(t, err)
			clock.Advance(time.Hour)
			assert.Equal(t, hcloud.ActionStatusRunning, e.action(t, a.ID).Status, "stuck")
			assert.True(t, e.server(t, "queue-01").Locked)

			released := e.release(t, tt.body, http.StatusOK)
			require.Len(t, released, 1)
			assert.EqualValues(t, a.ID, released[0].(map[string]any)["id"])

			got := e.action(t, a.ID)
			assert.Equal(t, tt.status, got.Status)
			assert.Equal(t, 100, got.Progress)
			assert.Equal(t, tt.code, got.ErrorCode)
			if tt.code == "server_error" {
				assert.Equal(t, "host failed", got.ErrorMessage)
			}
			assert.Equal(t, tt.attached, e.volume(t, "vol-queue-01").Server != nil)
			assert.False(t, e.server(t, "queue-01").Locked, "the release frees the server")
			// And the volume: a detach (or attach) is accepted again.
			if tt.attached {
				_, _, err = e.client.Volume.Detach(e.ctx, v)
			} else {
				e.sim.ClearFaults()
				_, _, err = e.client.Volume.Attach(e.ctx, v, srv)
			}
			require.NoError(t, err)
		})
	}
}

func TestReleaseByIDAndRefusals(t *testing.T) {
	e, clock := manual(t)
	require.NoError(t, e.sim.AddFaults(sim.FaultRule{Method: "POST", Path: "/v1/volumes/*/actions/resize", Effect: sim.EffectActionStuck}))
	var ids []int64
	for _, name := range []string{"vol-redis-01", "vol-redis-02"} {
		a, _, err := e.client.Volume.Resize(e.ctx, e.volume(t, name), 40)
		require.NoError(t, err)
		ids = append(ids, a.ID)
	}
	done, _, err := e.client.Volume.ChangeProtection(e.ctx, e.volume(t, "vol-vault-01"), hcloud.VolumeChangeProtectionOpts{Delete: hcloud.Ptr(true)})
	require.NoError(t, err)
	clock.Advance(time.Minute)

	e.release(t, `{"ids":[424242]}`, http.StatusNotFound)
	e.release(t, `{"ids":[`+strconv.FormatInt(done.ID, 10)+`]}`, http.StatusUnprocessableEntity)
	e.release(t, `{"ids":[`+strconv.FormatInt(ids[0], 10)+`],"status":"maybe"}`, http.StatusUnprocessableEntity)
	e.release(t, `{"ids":[`+strconv.FormatInt(ids[0], 10)+`,`+strconv.FormatInt(done.ID, 10)+`]}`, http.StatusUnprocessableEntity)
	assert.Equal(t, hcloud.ActionStatusRunning, e.action(t, ids[0]).Status, "a refused release changes nothing")

	require.Len(t, e.release(t, `{"ids":[`+strconv.FormatInt(ids[0], 10)+`]}`, http.StatusOK), 1)
	assert.Equal(t, 40, e.volume(t, "vol-redis-01").Size)
	assert.Equal(t, hcloud.ActionStatusRunning, e.action(t, ids[1]).Status, "only the one asked for")
	assert.Equal(t, 20, e.volume(t, "vol-redis-02").Size)

	require.Len(t, e.release(t, `{}`, http.StatusOK), 1)
	assert.Equal(t, 40, e.volume(t, "vol-redis-02").Size)
	assert.Empty(t, e.release(t, `{}`, http.StatusOK), "nothing left stuck")
}

func TestReleaseStuckCreateWithServer(t *testing.T) {
	for _, status := range []string{"success", "error"} {
		t.Run(status, func(t *testing.T) {
			e, clock := manual(t)
			require.NoError(t, e.sim.AddFaults(sim.FaultRule{Method: "POST", Path: "/v1/volumes", Effect: sim.EffectActionStuck}))
			srv := e.server(t, "builder-01")
			res, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "new-01", Size: 10, Server: srv})
			require.NoError(t, err)
			clock.Advance(time.Hour)
			assert.False(t, e.server(t, "builder-01").Locked, "the attach has not begun")

			// Releasing the create alone lets the stuck attach begin: now it locks the server.
			e.release(t, `{"ids":[`+strconv.FormatInt(res.Action.ID, 10)+`],"status":"`+status+`"}`, http.StatusOK)
			if status == "error" {
				v, _, err := e.client.Volume.GetByName(e.ctx, "new-01")
				require.NoError(t, err)
				assert.Nil(t, v, "a failed create removes the volume")
			} else {
				assert.True(t, e.server(t, "builder-01").Locked)
				assert.Equal(t, hcloud.VolumeStatusAvailable, e.volume(t, "new-01").Status)
			}
			e.release(t, `{}`, http.StatusOK)
			attach := e.action(t, res.NextActions[0].ID)
			assert.Equal(t, hcloud.ActionStatus(status), attach.Status)
			assert.False(t, e.server(t, "builder-01").Locked)
			if status == "success" {
				require.NotNil(t, e.volume(t, "new-01").Server)
				assert.Equal(t, srv.ID, e.volume(t, "new-01").Server.ID)
			}
		})
	}
}

func TestReleaseAttachBeforeItsCreate(t *testing.T) {
	e, clock := manual(t)
	require.NoError(t, e.sim.AddFaults(sim.FaultRule{Method: "POST", Path: "/v1/volumes", Effect: sim.EffectActionStuck}))
	res, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "new-02", Size: 10, Server: e.server(t, "siem-01")})
	require.NoError(t, err)
	attachID := res.NextActions[0].ID
	e.release(t, `{"ids":[`+strconv.FormatInt(attachID, 10)+`]}`, http.StatusOK)
	assert.Equal(t, hcloud.ActionStatusRunning, e.action(t, attachID).Status, "it waits for its create")
	e.release(t, `{}`, http.StatusOK)
	assert.Equal(t, hcloud.ActionStatusRunning, e.action(t, attachID).Status, "then takes its normal time")
	clock.Advance(time.Second)
	assert.Equal(t, hcloud.ActionStatusSuccess, e.action(t, attachID).Status)
	assert.NotNil(t, e.volume(t, "new-02").Server)
}

func TestDropAfterApplies(t *testing.T) {
	tests := []struct {
		effect string
		exists bool
	}{
		{sim.EffectDrop, false},
		{sim.EffectDropAfter, true},
	}
	for _, tt := range tests {
		t.Run(tt.effect, func(t *testing.T) {
			e := start(t, fast("ph3-02"))
			rule, err := sim.ParseFaultRule("POST /v1/volumes effect=" + tt.effect + " nth=1")
			require.NoError(t, err)
			require.NoError(t, e.sim.AddFaults(rule))
			req, err := http.NewRequestWithContext(e.ctx, "POST", e.endpoint+"/volumes", strings.NewReader(`{"name":"lost-01","size":10,"location":"fsn1"}`))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer x")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err, "no answer")
			v, _, err := e.client.Volume.GetByName(e.ctx, "lost-01")
			require.NoError(t, err)
			assert.Equal(t, tt.exists, v != nil)
			assert.Equal(t, 1, e.sim.Stats().Requests.ByStatus["dropped"])
		})
	}
}

func TestDropAfterLosesAnErrorWithoutApplying(t *testing.T) {
	e := start(t, fast("ph3-02"))
	require.NoError(t, e.sim.AddFaults(
		sim.FaultRule{Method: "POST", Path: "/v1/volumes", Effect: sim.EffectDropAfter},
		sim.FaultRule{Method: "POST", Path: "/v1/volumes", Status: 503},
	))
	_, _, err := e.client.Volume.Create(e.ctx, hcloud.VolumeCreateOpts{Name: "lost-02", Size: 10, Location: &hcloud.Location{Name: "fsn1"}})
	require.Error(t, err)
	v, _, err := e.client.Volume.GetByName(e.ctx, "lost-02")
	require.NoError(t, err)
	assert.Nil(t, v)
}

func TestTooManyRequestsHeaders(t *testing.T) {
	clock := simtest.NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	now := clock.Now().Unix()
	tests := []struct {
		name  string
		rate  sim.RateLimit
		fault string
		calls int
		reset int64 // seconds after now
	}{
		// Two of three tokens spent, the third refused: 3 tokens at 1200 s each to refill.
		{"limiter", sim.RateLimit{Limit: 3, Period: time.Hour}, "", 4, 3600},
		{"injected", sim.RateLimit{}, "GET /v1/volumes status=429 code=rate_limit_exceeded nth=1", 1, 3600},
		{"injected with the limiter off", sim.RateLimit{Disabled: true, Limit: 60, Period: time.Minute}, "GET /v1/volumes status=429", 1, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fast("empty")
			cfg.Clock = clock
			cfg.RateLimit = tt.rate
			if tt.fault != "" {
				rule, err := sim.ParseFaultRule(tt.fault)
				require.NoError(t, err)
				cfg.Faults = []sim.FaultRule{rule}
			}
			e := start(t, cfg)
			var r rawResponse
			for range tt.calls {
				r = e.api(t, "GET", "/volumes", "")
			}
			require.Equal(t, http.StatusTooManyRequests, r.status)
			assert.Equal(t, "rate_limit_exceeded", errCode(r))
			assert.Equal(t, "0", r.header.Get("RateLimit-Remaining"))
			assert.Equal(t, strconv.FormatInt(now+tt.reset, 10), r.header.Get("RateLimit-Reset"))
			assert.NotEmpty(t, r.header.Get("RateLimit-Limit"))
		})
	}
}

func TestDeleteServer(t *testing.T) {
	e, clock := manual(t)
	srv := e.server(t, "backup-01")
	require.Len(t, srv.Volumes, 2)
	res, _, err := e.client.Server.DeleteWithResult(e.ctx, srv)
	require.NoError(t, err)
	require.NotNil(t, res.Action)
	assert.Equal(t, "delete_server", res.Action.Command)
	assert.Equal(t, hcloud.ActionStatusRunning, res.Action.Status)
	assert.Equal(t, []*hcloud.ActionResource{{ID: srv.ID, Type: hcloud.ActionResourceTypeServer}}, res.Action.Resources)

	got, _, err := e.client.Server.GetByID(e.ctx, srv.ID)
	require.NoError(t, err)
	assert.Nil(t, got, "the server is gone at once")
	for _, name := range []string{"vol-backup-01", "keybuzz-archive-01"} {
		v := e.volume(t, name)
		assert.Nil(t, v.Server, "%s is detached", name)
		_, _, err := e.client.Volume.Resize(e.ctx, v, 600)
		apiErr(t, err, hcloud.ErrorCodeLocked)
	}
	clock.Advance(time.Second)
	assert.Equal(t, hcloud.ActionStatusSuccess, e.action(t, res.Action.ID).Status)
	_, _, err = e.client.Volume.Resize(e.ctx, e.volume(t, "vol-backup-01"), 600)
	require.NoError(t, err, "unlocked once the delete ends")

	_, _, err = e.client.Server.DeleteWithResult(e.ctx, srv)
	apiErr(t, err, hcloud.ErrorCodeNotFound)
}

func TestDeleteServerRefusedWhileLocked(t *testing.T) {
	e, clock := manual(t)
	a, _, err := e.client.Volume.Detach(e.ctx, e.volume(t, "vol-minio-01"))
	require.NoError(t, err)
	_, _, err = e.client.Server.DeleteWithResult(e.ctx, e.server(t, "minio-01"))
	apiErr(t, err, hcloud.ErrorCodeLocked)
	clock.Advance(time.Second)
	require.Equal(t, hcloud.ActionStatusSuccess, e.action(t, a.ID).Status)
	_, _, err = e.client.Server.DeleteWithResult(e.ctx, e.server(t, "minio-01"))
	require.NoError(t, err)
}

func TestDeleteServerFailedActionRestoresIt(t *testing.T) {
	e, clock := manual(t)
	require.NoError(t, e.sim.AddFaults(sim.FaultRule{Method: "DELETE", Path: "/v1/servers/*", Effect: sim.EffectActionError}))
	srv := e.server(t, "queue-02")
	res, _, err := e.client.Server.DeleteWithResult(e.ctx, srv)
	require.NoError(t, err)
	clock.Advance(time.Second)
	assert.Equal(t, hcloud.ActionStatusError, e.action(t, res.Action.ID).Status)
	back := e.server(t, "queue-02")
	assert.Equal(t, srv.ID, back.ID)
	require.Len(t, back.Volumes, 1)
	assert.Equal(t, srv.Volumes[0].ID, back.Volumes[0].ID)
}

func TestReleaseStuckCreateServer(t *testing.T) {
	e, _ := manual(t)
	require.NoError(t, e.sim.AddFaults(sim.FaultRule{Method: "POST", Path: "/v1/servers", Effect: sim.EffectActionStuck}))
	res, _, err := e.client.Server.Create(e.ctx, hcloud.ServerCreateOpts{Name: "stuck-01", ServerType: &hcloud.ServerType{Name: "cx22"}, Image: &hcloud.Image{Name: "debian-12"}})
	require.NoError(t, err)
	assert.True(t, e.server(t, "stuck-01").Locked)
	released, err := e.sim.Store().ReleaseActions(sim.ReleaseInput{})
	require.NoError(t, err)
	require.Len(t, released, 2, "create_server and the start_server waiting for it")
	srv := e.server(t, "stuck-01")
	assert.Equal(t, hcloud.ServerStatusRunning, srv.Status)
	assert.False(t, srv.Locked)
	assert.Equal(t, hcloud.ActionStatusSuccess, e.action(t, res.NextActions[0].ID).Status)
}
