package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// fast is a configuration whose actions end within a test's patience.
func fast(scenario string) sim.Config {
	return sim.Config{Scenario: scenario, ActionTime: 10 * time.Millisecond, ActionTimes: map[string]time.Duration{sim.CmdDeleteVolume: 0}}
}

type env struct {
	endpoint string
	sim      *sim.Sim
	client   *hcloud.Client
	ctx      context.Context
}

func start(t *testing.T, cfg sim.Config) *env {
	t.Helper()
	endpoint, s := simtest.Start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return &env{endpoint: endpoint, sim: s, client: simtest.Client(endpoint), ctx: ctx}
}

// base is the server's root, without /v1, for the admin API.
func (e *env) base() string { return strings.TrimSuffix(e.endpoint, "/v1") }

type rawResponse struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// do sends a raw request; token "" sends no Authorization header.
func (e *env) do(t *testing.T, method, url, body, token string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, url, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := rawResponse{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &out.body), string(raw))
	}
	return out
}

func (e *env) api(t *testing.T, method, path, body string) rawResponse {
	t.Helper()
	return e.do(t, method, e.endpoint+path, body, simtest.Token)
}

func (e *env) server(t *testing.T, name string) *hcloud.Server {
	t.Helper()
	s, _, err := e.client.Server.GetByName(e.ctx, name)
	require.NoError(t, err)
	require.NotNil(t, s, name)
	return s
}

func (e *env) volume(t *testing.T, name string) *hcloud.Volume {
	t.Helper()
	v, _, err := e.client.Volume.GetByName(e.ctx, name)
	require.NoError(t, err)
	require.NotNil(t, v, name)
	return v
}

func (e *env) wait(t *testing.T, actions ...*hcloud.Action) {
	t.Helper()
	require.NoError(t, e.client.Action.WaitFor(e.ctx, actions...))
}

// apiErr asserts err is an API error with code and returns it.
func apiErr(t *testing.T, err error, code hcloud.ErrorCode) hcloud.Error {
	t.Helper()
	require.Error(t, err)
	var herr hcloud.Error
	require.ErrorAs(t, err, &herr)
	require.Equal(t, code, herr.Code, herr.Message)
	return herr
}
