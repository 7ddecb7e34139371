package sim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

func TestFaultSelection(t *testing.T) {
	tests := []struct {
		name string
		rule string
		want []int // statuses of six GET /v1/volumes
	}{
		{"nth alone hits one", "GET /v1/volumes status=503 nth=2", []int{200, 503, 200, 200, 200, 200}},
		{"nth with count", "GET /v1/volumes code=locked nth=2 count=3", []int{200, 423, 423, 423, 200, 200}},
		{"count alone", "GET /v1/* status=500 count=2", []int{500, 500, 200, 200, 200, 200}},
		{"every request", "* /v1/volumes code=conflict", []int{409, 409, 409, 409, 409, 409}},
		{"fraction 1", "GET /v1/volumes status=502 fraction=1", []int{502, 502, 502, 502, 502, 502}},
		{"other path", "GET /v1/servers status=500", []int{200, 200, 200, 200, 200, 200}},
		{"other method", "POST /v1/volumes status=500", []int{200, 200, 200, 200, 200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule, err := sim.ParseFaultRule(tt.rule)
			require.NoError(t, err)
			cfg := fast("empty")
			cfg.Faults = []sim.FaultRule{rule}
			e := start(t, cfg)
			var got []int
			for range tt.want {
				r := e.api(t, "GET", "/volumes", "")
				got = append(got, r.status)
				if r.status != http.StatusOK {
					assert.Equal(t, "application/json", r.header.Get("Content-Type"))
					assert.NotEmpty(t, errCode(r))
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFaultFractionIsSeeded(t *testing.T) {
	run := func() []int {
		cfg := fast("empty")
		cfg.Seed = 7
		cfg.Faults = []sim.FaultRule{{Method: "GET", Path: "/v1/volumes", Status: 500, Fraction: 0.5}}
		e := start(t, cfg)
		var got []int
		for range 40 {
			got = append(got, e.api(t, "GET", "/volumes", "").status)
		}
		return got
	}
	a, b := run(), run()
	assert.Equal(t, a, b)
	assert.Contains(t, a, 500)
	assert.Contains(t, a, 200)
}

func TestFaultDropAndDelay(t *testing.T) {
	e := start(t, fast("ph3-02"))
	require.NoError(t, e.sim.AddFaults(
		sim.FaultRule{Method: "GET", Path: "/v1/servers", Effect: sim.EffectDrop, Nth: 1},
		sim.FaultRule{Method: "GET", Path: "/v1/locations", Effect: sim.EffectDelay, Delay: sim.Duration(150 * time.Millisecond)},
	))
	req, err := http.NewRequestWithContext(e.ctx, "GET", e.endpoint+"/servers", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "a dropped connection answers nothing")
	assert.Equal(t, 1, e.sim.Stats().Requests.ByStatus["dropped"])

	start := time.Now()
	r := e.api(t, "GET", "/locations", "")
	assert.Equal(t, http.StatusOK, r.status)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	assert.Equal(t, 2, e.sim.Stats().FaultsHit)
}

func TestFaultErrorRetriedByClient(t *testing.T) {
	cfg := fast("ph3-02")
	cfg.Faults = []sim.FaultRule{{Method: "GET", Path: "/v1/volumes", Status: 502, Nth: 1, Count: 2}}
	e := start(t, cfg)
	// hcloud-go retries 502: the third attempt succeeds.
	vols, err := e.client.Volume.All(e.ctx)
	require.NoError(t, err)
	assert.Len(t, vols, 41)
	assert.Equal(t, 2, e.sim.Stats().Requests.ByStatus["502"])
}

func TestFaultActionErrorOnAttach(t *testing.T) {
	e := start(t, fast("ph3-02"))
	r := e.do(t, "POST", e.base()+"/_sim/faults", `{"method":"POST","path":"/v1/volumes/*/actions/attach","effect":"action_error","count":1}`, "")
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	v := e.volume(t, "vol-queue-01")
	srv := e.server(t, "queue-01")
	a, _, err := e.client.Volume.Detach(e.ctx, v)
	require.NoError(t, err)
	e.wait(t, a)
	a, _, err = e.client.Volume.Attach(e.ctx, v, srv)
	require.NoError(t, err)
	err = e.client.Action.WaitFor(e.ctx, a)
	var aerr hcloud.ActionError
	require.ErrorAs(t, err, &aerr)
	assert.Nil(t, e.volume(t, "vol-queue-01").Server, "a failed attach changes nothing")
	a, _, err = e.client.Volume.Attach(e.ctx, v, srv)
	require.NoError(t, err)
	e.wait(t, a)
	assert.NotNil(t, e.volume(t, "vol-queue-01").Server)

	r = e.do(t, "GET", e.base()+"/_sim/faults", "", "")
	require.Equal(t, http.StatusOK, r.status)
	r = e.do(t, "DELETE", e.base()+"/_sim/faults", "", "")
	require.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, e.sim.Faults())
}

func TestParseFaultRuleErrors(t *testing.T) {
	for _, bad := range []string{
		"GET",
		"GET volumes",
		"GET /v1/volumes effect=explode",
		"GET /v1/volumes effect=delay",
		"GET /v1/volumes nth=x",
		"GET /v1/volumes fraction=2",
		"GET /v1/volumes nth=1 fraction=0.5",
		"GET /v1/volumes status=200",
		"GET /v1/volumes bogus=1",
	} {
		_, err := sim.ParseFaultRule(bad)
		assert.Error(t, err, bad)
	}
	r, err := sim.ParseFaultRule("GET /v1/volumes delay=3s fraction=0.5")
	require.NoError(t, err)
	assert.Equal(t, sim.EffectDelay, r.Effect)
	assert.Equal(t, sim.Duration(3*time.Second), r.Delay)
	r, err = sim.ParseFaultRule("POST /v1/volumes/*/actions/attach status=423 code=locked nth=1 count=3")
	require.NoError(t, err)
	assert.Equal(t, sim.FaultRule{Method: "POST", Path: "/v1/volumes/*/actions/attach", Effect: "error", Status: 423, Code: "locked", Message: "simulated fault: locked", Nth: 1, Count: 3}, r)
}

func TestRateLimit(t *testing.T) {
	cfg := fast("empty")
	cfg.RateLimit = sim.RateLimit{Limit: 3, Period: time.Hour}
	e := start(t, cfg)
	var remaining []string
	for range 3 {
		r := e.api(t, "GET", "/volumes", "")
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "3", r.header.Get("RateLimit-Limit"))
		assert.NotEmpty(t, r.header.Get("RateLimit-Reset"))
		remaining = append(remaining, r.header.Get("RateLimit-Remaining"))
	}
	assert.Equal(t, []string{"2", "1", "0"}, remaining)
	r := e.api(t, "GET", "/volumes", "")
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, "rate_limit_exceeded", errCode(r))
	assert.Equal(t, "0", r.header.Get("RateLimit-Remaining"))
	st := e.sim.Stats()
	assert.Equal(t, 1, st.Requests.ByStatus["429"])
	assert.Equal(t, 0, st.RateLimit.Remaining)

	// The admin API is never limited, and can lift the limit.
	r = e.do(t, "POST", e.base()+"/_sim/config", `{"rate_limit":{"enabled":false}}`, "")
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = e.api(t, "GET", "/volumes", "")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.header.Get("RateLimit-Limit"))
}

func TestRateLimitRefills(t *testing.T) {
	cfg := fast("empty")
	cfg.RateLimit = sim.RateLimit{Limit: 2, Period: 100 * time.Millisecond}
	e := start(t, cfg)
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	client := simtest.Client(e.endpoint, hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(60 * time.Millisecond), MaxRetries: 5}))
	for range 10 {
		// hcloud-go retries rate_limit_exceeded, so every call gets through in the end.
		_, _, err := client.Volume.List(ctx, hcloud.VolumeListOpts{})
		require.NoError(t, err)
	}
	assert.Positive(t, e.sim.Stats().Requests.ByStatus["429"])
}

func TestAuth(t *testing.T) {
	cfg := fast("empty")
	cfg.Token = "the-one-token"
	e := start(t, cfg)
	tests := []struct {
		token  string
		status int
	}{{"", 401}, {"wrong", 401}, {"the-one-token", 200}}
	for _, tt := range tests {
		r := e.do(t, "GET", e.endpoint+"/volumes", "", tt.token)
		assert.Equal(t, tt.status, r.status, tt.token)
		if tt.status == 401 {
			assert.Equal(t, "unauthorized", errCode(r))
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			assert.NotNil(t, r.body["error"].(map[string]any)["details"])
		}
	}
	_, err := e.client.Volume.All(e.ctx)
	apiErr(t, err, hcloud.ErrorCodeUnauthorized)
	r := e.do(t, "GET", e.base()+"/_sim/stats", "", "")
	assert.Equal(t, http.StatusOK, r.status, "the admin API needs no token")
}

func TestMalformedRequests(t *testing.T) {
	e := start(t, fast("ph3-02"))
	v := e.volume(t, "vol-etl-01")
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"broken JSON", "POST", "/volumes", `{"name":`, 400, "json_error", ""},
		{"size as string", "POST", "/volumes", `{"name":"x","size":"ten","location":"fsn1"}`, 422, "invalid_input", "size"},
		{"missing name", "POST", "/volumes", `{"size":10,"location":"fsn1"}`, 422, "invalid_input", "name"},
		{"neither server nor location", "POST", "/volumes", `{"name":"x","size":10}`, 422, "invalid_input", "location"},
		{"bad format", "POST", "/volumes", `{"name":"x","size":10,"location":"fsn1","format":"zfs"}`, 422, "invalid_input", "format"},
		{"bad label", "PUT", "/volumes/" + itoa(v.ID), `{"labels":{"a b":"c"}}`, 422, "invalid_input", "labels"},
		{"attach without server", "POST", "/volumes/" + itoa(v.ID) + "/actions/attach", `{}`, 422, "invalid_input", "server"},
		{"resize without size", "POST", "/volumes/" + itoa(v.ID) + "/actions/resize", `{}`, 422, "invalid_input", "size"},
		{"unknown volume", "GET", "/volumes/424242", "", 404, "not_found", ""},
		{"id not a number", "GET", "/volumes/abc", "", 404, "not_found", ""},
		{"unknown route", "GET", "/floating_ips", "", 404, "not_found", ""},
		{"bad status filter", "GET", "/volumes?status=gone", "", 422, "invalid_input", "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.api(t, tt.method, tt.path, tt.body)
			assert.Equal(t, tt.status, r.status, string(r.raw))
			assert.Equal(t, tt.code, errCode(r))
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			errBody := r.body["error"].(map[string]any)
			require.Contains(t, errBody, "details")
			if tt.field != "" {
				fields := errBody["details"].(map[string]any)["fields"].([]any)
				assert.Equal(t, tt.field, fields[0].(map[string]any)["name"])
			}
		})
	}
}
