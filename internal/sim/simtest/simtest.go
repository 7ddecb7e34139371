// Package simtest starts hcloud-sim inside Go tests and gives them a client for it.
package simtest

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/keybuzz/kbv3/internal/sim"
)

// Token is a 64-character token unlike any resource name: the hcloud CLI wants 64 characters,
// and Ansible masks every occurrence of a no_log value in results.
const Token = "simtestQ7kP2xZr9LmW4vT8nB3cY6hJ1dF5gS0aE2uI7oK4pM9qR3wX8zV6tN1bH"

// Start runs a simulator built from cfg on 127.0.0.1:0 until the test ends, and returns its
// endpoint (http://127.0.0.1:PORT/v1) and the simulator, for its admin methods.
func Start(t testing.TB, cfg sim.Config) (string, *sim.Sim) {
	t.Helper()
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", s
}

// Client is an hcloud-go client for endpoint that polls actions every 10 ms, so tests with
// short action times do not wait the default 500 ms per poll. opts come last and win.
func Client(endpoint string, opts ...hcloud.ClientOption) *hcloud.Client {
	base := []hcloud.ClientOption{
		hcloud.WithEndpoint(endpoint),
		hcloud.WithToken(Token),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(10 * time.Millisecond)}),
		hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(10 * time.Millisecond), MaxRetries: 3}),
	}
	return hcloud.NewClient(append(base, opts...)...)
}

// ManualClock is a sim.Clock that moves only when told, for tests that step through an
// action's life.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock starts at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now implements sim.Clock.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
