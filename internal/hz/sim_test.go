package hz_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/batch"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/oplog"
	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// fixture is a simulator of the PH3-02 fleet and an hz.Client for it, with short times.
type fixture struct {
	sim     *sim.Sim
	client  *hz.Client
	logPath string
	agents  *agents
}

// agents records the User-Agent and Authorization headers the simulator received.
type agents struct {
	mu   sync.Mutex
	seen map[string]bool
}

func newFixture(t *testing.T, cfg sim.Config, tweak func(*hz.Options)) *fixture {
	t.Helper()
	if cfg.Scenario == "" {
		cfg.Scenario = "ph3-02"
	}
	if cfg.ActionTime == 0 {
		cfg.ActionTime = 20 * time.Millisecond
	}
	cfg.Token = simtest.Token
	s, err := sim.New(cfg)
	require.NoError(t, err)
	ag := &agents{seen: map[string]bool{}}
	h := s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ag.mu.Lock()
		ag.seen[r.Header.Get("User-Agent")] = true
		ag.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	logPath := filepath.Join(t.TempDir(), "ops.jsonl")
	log, err := oplog.Open(logPath, "kbv3_test", simtest.Token)
	require.NoError(t, err)
	t.Cleanup(func() { _ = log.Close() })
	opts := hz.Options{
		Token:        simtest.Token,
		Endpoint:     srv.URL + "/v1",
		PollInterval: 10 * time.Millisecond,
		Backoff:      hcloud.ConstantBackoff(5 * time.Millisecond),
		Log:          log,
	}
	if tweak != nil {
		tweak(&opts)
	}
	c, err := hz.New(opts)
	require.NoError(t, err)
	return &fixture{sim: s, client: c, logPath: logPath, agents: ag}
}

func (f *fixture) routes() map[string]int { return f.sim.Stats().Requests.ByRoute }

func (f *fixture) logLines(t *testing.T) []oplog.Entry {
	t.Helper()
	b, err := os.ReadFile(f.logPath)
	require.NoError(t, err)
	require.NotContains(t, string(b), simtest.Token, "the token never reaches the log")
	var out []oplog.Entry
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var e oplog.Entry
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		out = append(out, e)
	}
	return out
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSnapshotUsesListRequestsOnly(t *testing.T) {
	f := newFixture(t, sim.Config{}, nil)
	ctx := ctxTimeout(t, 10*time.Second)

	t.Run("many names: one page of each list", func(t *testing.T) {
		names := volumeNames(t, f)
		require.Len(t, names, 41)
		f.sim.ResetStats()
		s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: names, Servers: []string{"crm-01", "etl-01", "redis-01"}})
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1}, f.routes())
		v := s.Volume("vol-crm-01")
		require.NotNil(t, v)
		assert.Equal(t, "crm-01", s.ServerName(v))
		assert.True(t, s.Covers("no-such-volume"), "a full listing covers every name")
		assert.Nil(t, s.Volume("no-such-volume"))
		live := s.Live(v)
		assert.Equal(t, "vol-crm-01", live.Name)
		assert.Equal(t, 20, live.SizeGB)
		assert.Equal(t, "crm-01", live.Server)
		assert.NotEmpty(t, live.Location)
	})
	t.Run("one name: filtered lookups", func(t *testing.T) {
		f.sim.ResetStats()
		s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"vol-crm-01"}, Servers: []string{"crm-01"}})
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1}, f.routes())
		assert.Equal(t, "crm-01", s.ServerName(s.Volume("vol-crm-01")))
		assert.False(t, s.Covers("vol-etl-01"))
		_, err = f.client.Detach(ctx, s, hz.DetachOpts{Name: "vol-etl-01"})
		assert.ErrorIs(t, err, hz.ErrNotInSnapshot)
		_, err = f.client.Attach(ctx, s, hz.AttachOpts{Name: "vol-crm-01", Server: "etl-01"})
		assert.ErrorIs(t, err, hz.ErrNotInSnapshot)
		assert.Equal(t, 2, f.sim.Stats().Requests.Total)
	})
	t.Run("attached to a server not asked for: servers listed for its name", func(t *testing.T) {
		f.sim.ResetStats()
		s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"vol-crm-01"}})
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1}, f.routes())
		assert.Equal(t, "crm-01", s.ServerName(s.Volume("vol-crm-01")))
	})
	assert.Contains(t, strings.Join(keys(f.agents.seen), "|"), "kbv3-keybuzz.infra/")
}

func volumeNames(t *testing.T, f *fixture) []string {
	t.Helper()
	all, err := f.client.HCloud().Volume.All(t.Context())
	require.NoError(t, err)
	var names []string
	for _, v := range all {
		names = append(names, v.Name)
	}
	return names
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// detachAll detaches every named volume through the runner, as the detach module does.
func detachAll(ctx context.Context, t *testing.T, c *hz.Client, names []string, concurrency int) []batch.Outcome[hz.Result] {
	t.Helper()
	s, err := c.Snapshot(ctx, hz.SnapshotOpts{Volumes: names})
	require.NoError(t, err)
	return batch.Run(ctx, names, concurrency, func(ctx context.Context, name string) (hz.Result, error) {
		return c.Detach(ctx, s, hz.DetachOpts{Name: name})
	})
}

// manualTicks runs f's poller on clock, which f's simulator also reads, and records how many
// GET /v1/actions each tick of the poller sent. The clock stays put until ready reports that
// every item has sent its request and joined the wait (a bounded real-time wait), so that how
// many ticks the actions take depends on the simulated time alone, never on the scheduler.
func manualTicks(t *testing.T, f *fixture, clock *simtest.ManualClock, ready func() bool) func() []int {
	t.Helper()
	var mu sync.Mutex
	var perTick []int
	started, polls := false, 0
	hz.SetWaitClock(f.client, clock.Now, func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if !started {
			deadline := time.Now().Add(10 * time.Second)
			for !ready() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if !ready() {
				t.Errorf("the items did not all send their request and wait within 10 s")
			}
			started = true
		} else {
			total := f.routes()["GET /v1/actions"]
			perTick = append(perTick, total-polls)
			polls = total
		}
		clock.Advance(d)
	})
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(perTick)
	}
}

// sentAndWaiting reports whether want detach requests were accepted and the poller waits for
// each of their actions.
func sentAndWaiting(f *fixture, want int) func() bool {
	return func() bool {
		st := f.sim.Stats().Requests
		accepted := st.ByRoute["POST /v1/volumes/{id}/actions/detach"] - st.ByStatus["423"]
		return accepted >= want && hz.PendingActions(f.client) == accepted
	}
}

func TestDetachFleetIsIdempotentAndBatchesWaits(t *testing.T) {
	// backup-01 has two volumes: its second detach meets `locked` until the first is done.
	clock := simtest.NewManualClock(time.Now().Truncate(time.Second))
	f := newFixture(t, sim.Config{Clock: clock, ActionTime: 100 * time.Millisecond}, func(o *hz.Options) {
		o.PollInterval = 50 * time.Millisecond
		o.Backoff = hcloud.ConstantBackoff(40 * time.Millisecond)
	})
	names := volumeNames(t, f)
	ticks := manualTicks(t, f, clock, sentAndWaiting(f, len(names)-1))
	ctx := ctxTimeout(t, 30*time.Second)
	f.sim.ResetStats()

	out := detachAll(ctx, t, f.client, names, 41)
	for i, o := range out {
		require.NoError(t, o.Err, names[i])
		assert.Equal(t, hz.OutcomeDetached, o.Value.Outcome)
		assert.Nil(t, o.Value.Volume.Server)
		assert.Empty(t, o.Value.Server)
	}
	r := f.routes()
	assert.Equal(t, 41, r["POST /v1/volumes/{id}/actions/detach"]-f.sim.Stats().Requests.ByStatus["423"])
	// 41 waits, 25 ids a poll: at most two requests a tick, not one per volume per tick.
	perTick := ticks()
	require.NotEmpty(t, perTick)
	for i, n := range perTick {
		assert.LessOrEqual(t, n, 2, "polls at tick %d: %v", i, perTick)
	}
	assert.Zero(t, r["GET /v1/actions/{id}"], "never one GET per action")
	assert.Equal(t, 1, r["GET /v1/volumes"])
	assert.Equal(t, 1, r["GET /v1/servers"], "one page of servers, for the names of the attached")

	// Again: nothing to do, and no request but the snapshot's.
	f.sim.ResetStats()
	out = detachAll(ctx, t, f.client, names, 10)
	for _, o := range out {
		require.NoError(t, o.Err)
		assert.Equal(t, hz.OutcomeAlreadyDetached, o.Value.Outcome)
	}
	assert.Equal(t, 0, f.sim.Stats().Requests.Mutating)
	assert.Equal(t, 1, f.sim.Stats().Requests.Total)
}

func TestWaitsAreBatchedPerTick(t *testing.T) {
	f := newFixture(t, sim.Config{ActionTime: 300 * time.Millisecond}, func(o *hz.Options) { o.PollInterval = 100 * time.Millisecond })
	names := volumeNames(t, f)[:20]
	ctx := ctxTimeout(t, 30*time.Second)
	f.sim.ResetStats()
	start := time.Now()
	out := detachAll(ctx, t, f.client, names, 20)
	elapsed := time.Since(start)
	for _, o := range out {
		require.NoError(t, o.Err)
	}
	polls := f.routes()["GET /v1/actions"]
	ticks := int(elapsed/(100*time.Millisecond)) + 1
	assert.LessOrEqual(t, polls, ticks, "at most one poll per tick for 20 concurrent waits")
	assert.GreaterOrEqual(t, polls, 2)
	assert.Zero(t, f.routes()["GET /v1/actions/{id}"], "never one GET per action")
}

func TestPollsFollowTheActionsProgress(t *testing.T) {
	// Actions of 1.2 s polled every 100 ms would cost about 12 polls; the progress seen at the
	// first poll tells when they end, so a few polls see them done. The clock is the
	// simulator's, stepped by the poller, and holds until all ten actions run: the count is
	// the same on any machine.
	clock := simtest.NewManualClock(time.Now().Truncate(time.Second))
	f := newFixture(t, sim.Config{Clock: clock, ActionTime: 1200 * time.Millisecond}, func(o *hz.Options) { o.PollInterval = 100 * time.Millisecond })
	names := volumeNames(t, f)[:10]
	ticks := manualTicks(t, f, clock, sentAndWaiting(f, len(names)))
	ctx := ctxTimeout(t, 30*time.Second)
	f.sim.ResetStats()
	out := detachAll(ctx, t, f.client, names, 10)
	for _, o := range out {
		require.NoError(t, o.Err)
	}
	assert.Zero(t, f.sim.Stats().Requests.ByStatus["423"], "ten volumes of ten servers")
	polls := f.routes()["GET /v1/actions"]
	assert.LessOrEqual(t, polls, 5, "polls for one wave of 1.2 s actions, per tick: %v", ticks())
	assert.GreaterOrEqual(t, polls, 2, "the first poll sees progress, not the end")
}

func TestLockedIsRetried(t *testing.T) {
	f := newFixture(t, sim.Config{Faults: []sim.FaultRule{{
		Method: "POST", Path: "/v1/volumes/*/actions/detach", Status: 423, Code: "locked", Message: "server is locked", Nth: 1, Count: 2,
	}}}, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	out := detachAll(ctx, t, f.client, []string{"vol-crm-01"}, 1)
	require.NoError(t, out[0].Err)
	assert.Equal(t, hz.OutcomeDetached, out[0].Value.Outcome)
	assert.Equal(t, 3, out[0].Value.Attempts)

	lines := f.logLines(t)
	var outcomes []string
	for _, e := range lines {
		if e.Volume == "vol-crm-01" {
			outcomes = append(outcomes, fmt.Sprintf("%s/%d", e.Outcome, e.Attempt))
			assert.Equal(t, "kbv3_test", e.Module)
			assert.NotZero(t, e.ID)
			assert.Equal(t, "crm-01", e.Server)
		}
	}
	assert.Equal(t, []string{"retry/1", "retry/2", "started/3", "detached/3"}, outcomes)
	assert.Contains(t, lines[0].Error, "locked")
}

func TestLockedGivesUpAfterTheRetryBudget(t *testing.T) {
	f := newFixture(t, sim.Config{Faults: []sim.FaultRule{{
		Method: "POST", Path: "/v1/volumes/*/actions/attach", Status: 423, Code: "locked", Message: "server is locked",
	}}}, func(o *hz.Options) { o.MaxRetries = 2 })
	ctx := ctxTimeout(t, 10*time.Second)
	_ = detachAll(ctx, t, f.client, []string{"vol-crm-01"}, 1)
	s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"vol-crm-01"}, Servers: []string{"crm-01"}})
	require.NoError(t, err)
	res, err := f.client.Attach(ctx, s, hz.AttachOpts{Name: "vol-crm-01", Server: "crm-01"})
	require.Error(t, err)
	assert.True(t, hz.IsLocked(err))
	assert.Equal(t, "attach: server is locked (locked) (after 3 attempts)", err.Error())
	assert.Equal(t, hz.OutcomeFailed, res.Outcome)
	assert.Equal(t, 3, res.Attempts)
}

func TestServerErrorsAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault sim.FaultRule
	}{
		{"503", sim.FaultRule{Status: 503, Code: "unavailable", Message: "try later"}},
		{"500", sim.FaultRule{Status: 500, Code: "server_error", Message: "oops"}},
		{"502 without envelope", sim.FaultRule{Status: 502, Code: "bad_gateway"}},
		{"conflict", sim.FaultRule{Status: 409, Code: "conflict", Message: "changed"}},
		{"dropped connection", sim.FaultRule{Effect: sim.EffectDrop}},
		{"429", sim.FaultRule{Status: 429, Code: "rate_limit_exceeded", Message: "slow down"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fault := tc.fault
			fault.Method, fault.Path, fault.Nth, fault.Count = "POST", "/v1/volumes/*/actions/detach", 1, 1
			f := newFixture(t, sim.Config{Faults: []sim.FaultRule{fault}}, nil)
			ctx := ctxTimeout(t, 10*time.Second)
			out := detachAll(ctx, t, f.client, []string{"vol-crm-01", "vol-etl-01"}, 1)
			for _, o := range out {
				require.NoError(t, o.Err)
				assert.Equal(t, hz.OutcomeDetached, o.Value.Outcome)
			}
			assert.Equal(t, 2, out[0].Value.Attempts)
			assert.Equal(t, 1, f.sim.Stats().FaultsHit)
		})
	}
}

func TestLostAnswerAfterTheChangeIsNotRepeated(t *testing.T) {
	// The API acts, but the answer is lost (drop_after: applied, then the connection dropped;
	// a delay beyond the request timeout would leave it to the machine's load whether the
	// change is made before the check): the retry must find the change made instead of
	// sending it again.
	delay := sim.FaultRule{Method: "POST", Effect: sim.EffectDropAfter, Nth: 1, Count: 1}
	t.Run("create", func(t *testing.T) {
		d := delay
		d.Path = "/v1/volumes"
		f := newFixture(t, sim.Config{Faults: []sim.FaultRule{d}}, nil)
		ctx := ctxTimeout(t, 10*time.Second)
		s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"kbv3-crm-01-data"}, Servers: []string{"crm-01"}})
		require.NoError(t, err)
		res, err := f.client.Create(ctx, s, hz.CreateOpts{Name: "kbv3-crm-01-data", SizeGB: 20, Server: "crm-01", Format: "xfs"})
		require.NoError(t, err)
		assert.Equal(t, hz.OutcomeCreated, res.Outcome)
		assert.Equal(t, "crm-01", res.Server)
		assert.Equal(t, 1, f.routes()["POST /v1/volumes"], "one create reached the API: %v", f.routes())
		v, _, err := f.client.HCloud().Volume.GetByName(ctx, "kbv3-crm-01-data")
		require.NoError(t, err)
		require.NotNil(t, v.Server, "attached (by the create's own attach action)")
	})
	t.Run("attach", func(t *testing.T) {
		d := delay
		d.Path = "/v1/volumes/*/actions/attach"
		f := newFixture(t, sim.Config{Faults: []sim.FaultRule{d}}, nil)
		ctx := ctxTimeout(t, 10*time.Second)
		_ = detachAll(ctx, t, f.client, []string{"vol-crm-01"}, 1)
		s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"vol-crm-01"}, Servers: []string{"crm-01"}})
		require.NoError(t, err)
		res, err := f.client.Attach(ctx, s, hz.AttachOpts{Name: "vol-crm-01", Server: "crm-01"})
		require.NoError(t, err)
		assert.Equal(t, hz.OutcomeAttached, res.Outcome)
		assert.Equal(t, "crm-01", res.Server)
	})
}

func TestCreateFindsAVolumeMadeSinceTheSnapshot(t *testing.T) {
	f := newFixture(t, sim.Config{}, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"kbv3-etl-01-data"}, Servers: []string{"etl-01"}})
	require.NoError(t, err)
	etl := s.Server("etl-01")
	require.NotNil(t, etl)
	_, _, err = f.client.HCloud().Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "kbv3-etl-01-data", Size: 20, Location: etl.Location})
	require.NoError(t, err)

	res, err := f.client.Create(ctx, s, hz.CreateOpts{Name: "kbv3-etl-01-data", SizeGB: 20, Location: etl.Location.Name})
	require.NoError(t, err, "uniqueness_error for a volume as asked for is not a failure")
	assert.Equal(t, hz.OutcomeExists, res.Outcome)

	_, err = f.client.Create(ctx, s, hz.CreateOpts{Name: "kbv3-etl-01-data", SizeGB: 30, Location: etl.Location.Name})
	require.NoError(t, err, "the snapshot now knows it: exists")

	s2, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"kbv3-other"}})
	require.NoError(t, err)
	_, _, err = f.client.HCloud().Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: "kbv3-other", Size: 50, Location: etl.Location})
	require.NoError(t, err)
	_, err = f.client.Create(ctx, s2, hz.CreateOpts{Name: "kbv3-other", SizeGB: 20, Location: etl.Location.Name})
	require.Error(t, err, "a different volume of that name is not ours")
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeUniquenessError), err.Error())
}

func TestActionEndingInError(t *testing.T) {
	f := newFixture(t, sim.Config{Faults: []sim.FaultRule{{Method: "POST", Path: "/v1/volumes/*/actions/detach", Effect: sim.EffectActionError}}}, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	out := detachAll(ctx, t, f.client, []string{"vol-crm-01"}, 1)
	err := out[0].Err
	require.Error(t, err)
	var ae *hz.ActionError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "detach_volume", ae.Action.Command)
	assert.Regexp(t, `^detach_volume action \d+ on volume vol-crm-01 failed: \w+: .+`, err.Error())
	assert.Equal(t, hz.OutcomeFailed, out[0].Value.Outcome)
}

func TestActionThatNeverFinishesEndsAtTheDeadline(t *testing.T) {
	f := newFixture(t, sim.Config{Faults: []sim.FaultRule{{Method: "POST", Path: "/v1/volumes/*/actions/detach", Effect: sim.EffectActionStuck, Nth: 1, Count: 1}}}, nil)
	names := []string{"vol-crm-01", "vol-etl-01"}
	// The snapshot has time of its own: the deadline under test is the wait's, and a loaded
	// machine must not spend it on the reads before.
	s, err := f.client.Snapshot(ctxTimeout(t, 10*time.Second), hz.SnapshotOpts{Volumes: names})
	require.NoError(t, err)
	ctx := ctxTimeout(t, time.Second)
	start := time.Now()
	out := batch.Run(ctx, names, 2, func(ctx context.Context, name string) (hz.Result, error) {
		return f.client.Detach(ctx, s, hz.DetachOpts{Name: name})
	})
	assert.Less(t, time.Since(start), 5*time.Second, "the deadline ends the wait")
	// The fault hits whichever detach comes first; the other is not held up by it.
	stuck, other := 0, 1
	if out[0].Err == nil {
		stuck, other = 1, 0
	}
	require.NoError(t, out[other].Err)
	err = out[stuck].Err
	require.Error(t, err)
	assert.True(t, hz.IsDeadline(err))
	var we *hz.WaitError
	require.ErrorAs(t, err, &we)
	name := []string{"vol-crm-01", "vol-etl-01"}[stuck]
	assert.Regexp(t, `^waiting for detach_volume action \d+ on volume `+name+`: deadline exceeded after (\d+ms|[\d.]+s)$`, err.Error())

	var failed []oplog.Entry
	for _, e := range f.logLines(t) {
		if e.Outcome == "failed" {
			failed = append(failed, e)
		}
	}
	require.Len(t, failed, 1)
	assert.Equal(t, name, failed[0].Volume)
	assert.Equal(t, we.Action.ID, failed[0].ActionID)
	assert.Equal(t, err.Error(), failed[0].Error)
}

func TestRateLimitIsPaced(t *testing.T) {
	// A budget of 20 requests refilled at 20 a second: 41 detaches, their snapshot and polls
	// need more than 20 requests, so they must be spread out rather than refused.
	f := newFixture(t, sim.Config{RateLimit: sim.RateLimit{Limit: 20, Period: time.Second}},
		func(o *hz.Options) { o.RateReserve = 5; o.PollInterval = 50 * time.Millisecond })
	names := volumeNames(t, f)
	ctx := ctxTimeout(t, 30*time.Second)
	out := detachAll(ctx, t, f.client, names, 10)
	for _, o := range out {
		require.NoError(t, o.Err)
	}
	st := f.sim.Stats()
	assert.LessOrEqual(t, st.Requests.ByStatus["429"], 3, "paced before the limit: %v", st.Requests.ByStatus)
}

func TestRateLimitExceededIsRetried(t *testing.T) {
	// Without pacing, the limit is hit; 429s are retried until the budget refills.
	f := newFixture(t, sim.Config{RateLimit: sim.RateLimit{Limit: 10, Period: 500 * time.Millisecond}},
		func(o *hz.Options) {
			o.RateReserve = -1
			o.MaxRetries = 20
			o.PollInterval = 100 * time.Millisecond
			// Growing, as in production: ten workers retrying at a constant pace can starve
			// each other of the refilled budget on a loaded machine.
			o.Backoff = func(n int) time.Duration { return min(50*time.Millisecond<<n, time.Second) }
		})
	names := volumeNames(t, f)[:20]
	ctx := ctxTimeout(t, 30*time.Second)
	out := detachAll(ctx, t, f.client, names, 10)
	for _, o := range out {
		require.NoError(t, o.Err)
	}
	assert.Positive(t, f.sim.Stats().Requests.ByStatus["429"])
	retries := 0
	for _, e := range f.logLines(t) {
		if e.Outcome == "retry" {
			retries++
			assert.Contains(t, e.Error, "rate_limit_exceeded")
		}
	}
	assert.Positive(t, retries)
}

func TestOperationsDecideAgainstTheSnapshot(t *testing.T) {
	f := newFixture(t, sim.Config{}, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	names := []string{"vol-crm-01", "vol-etl-01", "keybuzz-archive-01", "absent-volume"}
	s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: names, Servers: []string{"crm-01", "etl-01", "redis-01"}})
	require.NoError(t, err)
	c := f.client
	f.sim.ResetStats()

	check := func(res hz.Result, err error) hz.Outcome {
		t.Helper()
		require.NoError(t, err)
		return res.Outcome
	}
	fail := func(res hz.Result, err error) error {
		t.Helper()
		require.Error(t, err)
		assert.Equal(t, hz.OutcomeFailed, res.Outcome)
		return err
	}

	// Check mode and no-ops: no request at all.
	assert.Equal(t, hz.OutcomeWouldDetach, check(c.Detach(ctx, s, hz.DetachOpts{Name: "vol-crm-01", Check: true})))
	assert.Equal(t, hz.OutcomeAbsent, check(c.Detach(ctx, s, hz.DetachOpts{Name: "absent-volume"})))
	assert.Equal(t, hz.OutcomeAbsent, check(c.Delete(ctx, s, hz.DeleteOpts{Name: "absent-volume"})))
	assert.Equal(t, hz.OutcomeAlreadyAttached, check(c.Attach(ctx, s, hz.AttachOpts{Name: "vol-crm-01", Server: "crm-01"})))
	assert.Equal(t, hz.OutcomeExists, check(c.Create(ctx, s, hz.CreateOpts{Name: "vol-crm-01", SizeGB: 20, Server: "crm-01"})))
	assert.Equal(t, hz.OutcomeOK, check(c.Resize(ctx, s, hz.ResizeOpts{Name: "vol-crm-01", SizeGB: 20})))
	assert.Equal(t, hz.OutcomeOK, check(c.ChangeProtection(ctx, s, hz.ProtectionOpts{Name: "vol-crm-01", Delete: false})))
	assert.Equal(t, hz.OutcomeWouldCreate, check(c.Create(ctx, s, hz.CreateOpts{Name: "absent-volume", SizeGB: 20, Server: "redis-01", Check: true})))
	assert.ErrorIs(t, fail(c.Delete(ctx, s, hz.DeleteOpts{Name: "vol-crm-01"})), hz.ErrStillAttached)
	assert.ErrorIs(t, fail(c.Attach(ctx, s, hz.AttachOpts{Name: "vol-crm-01", Server: "etl-01"})), hz.ErrAttachedElsewhere)
	assert.ErrorIs(t, fail(c.Resize(ctx, s, hz.ResizeOpts{Name: "vol-crm-01", SizeGB: 10})), hz.ErrShrink)
	assert.ErrorIs(t, fail(c.Attach(ctx, s, hz.AttachOpts{Name: "absent-volume", Server: "crm-01"})), hz.ErrVolumeNotFound)
	assert.Equal(t, hz.OutcomeAbsent, check(c.Detach(ctx, s, hz.DetachOpts{Name: "never-asked-for"})), "four names: every volume was listed")
	assert.ErrorIs(t, fail(c.Attach(ctx, s, hz.AttachOpts{Name: "vol-crm-01", Server: "no-such-server"})), hz.ErrServerNotFound)
	crm := s.Volume("vol-crm-01")
	assert.ErrorIs(t, fail(c.Delete(ctx, s, hz.DeleteOpts{Name: "vol-crm-01", ID: crm.ID + 1000})), hz.ErrMismatch)
	assert.Equal(t, 0, f.sim.Stats().Requests.Total, "decided without a request: %v", f.routes())

	// The full life of a volume.
	assert.Equal(t, hz.OutcomeDetached, check(c.Detach(ctx, s, hz.DetachOpts{Name: "vol-crm-01"})))
	assert.Equal(t, hz.OutcomeResized, check(c.Resize(ctx, s, hz.ResizeOpts{Name: "vol-crm-01", SizeGB: 30})))
	assert.Equal(t, hz.OutcomeProtectionChanged, check(c.ChangeProtection(ctx, s, hz.ProtectionOpts{Name: "vol-crm-01", Delete: true})))
	assert.ErrorIs(t, fail(c.Delete(ctx, s, hz.DeleteOpts{Name: "vol-crm-01"})), hz.ErrProtected)
	assert.Equal(t, hz.OutcomeProtectionChanged, check(c.ChangeProtection(ctx, s, hz.ProtectionOpts{Name: "vol-crm-01", Delete: false})))
	assert.Equal(t, hz.OutcomeWouldDelete, check(c.Delete(ctx, s, hz.DeleteOpts{Name: "vol-crm-01", ID: crm.ID, Check: true})))
	assert.Equal(t, hz.OutcomeDeleted, check(c.Delete(ctx, s, hz.DeleteOpts{Name: "vol-crm-01", ID: crm.ID})))
	assert.Nil(t, s.Volume("vol-crm-01"))
	assert.Equal(t, hz.OutcomeAbsent, check(c.Delete(ctx, s, hz.DeleteOpts{Name: "vol-crm-01"})))
	res, err := c.Create(ctx, s, hz.CreateOpts{Name: "vol-crm-01", SizeGB: 20, Server: "crm-01", Automount: true, Labels: map[string]string{"managed-by": "kbv3"}})
	require.NoError(t, err)
	assert.Equal(t, hz.OutcomeCreated, res.Outcome)
	assert.Equal(t, "crm-01", res.Server)
	assert.Len(t, res.Actions, 2, "create_volume and attach_volume")
	assert.Equal(t, hz.OutcomeAlreadyAttached, check(c.Attach(ctx, s, hz.AttachOpts{Name: "vol-crm-01", Server: "crm-01"})))
	// Only the changes and their polls were requests.
	for route := range f.routes() {
		assert.True(t, strings.HasPrefix(route, "POST ") || strings.HasPrefix(route, "DELETE ") || route == "GET /v1/actions", route)
	}
}

func TestChangeMadeBySomeoneElseSinceTheSnapshot(t *testing.T) {
	f := newFixture(t, sim.Config{}, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"vol-crm-01"}})
	require.NoError(t, err)
	hc := f.client.HCloud()
	a, _, err := hc.Volume.Detach(ctx, s.Volume("vol-crm-01"))
	require.NoError(t, err)
	require.NoError(t, f.client.Wait(ctx, "vol-crm-01", a))

	res, err := f.client.Detach(ctx, s, hz.DetachOpts{Name: "vol-crm-01"})
	require.NoError(t, err)
	assert.Equal(t, hz.OutcomeAlreadyDetached, res.Outcome)
	assert.Nil(t, s.Volume("vol-crm-01").Server, "the snapshot learned it")
}

func TestSnapshotCostFollowsTheCheaperWay(t *testing.T) {
	// Ten volumes of a batch: in a small project the listing (one or two pages) is cheapest; in
	// a project of 1000 volumes (20 pages), the first page and one lookup per name it lacked, never all the
	// pages, so that a fleet's reset costs requests in proportion to its size.
	for _, tc := range []struct {
		scenario string
		max      int
	}{
		{"ph3-02", 2},
		{"generated:1000", 1 + 10},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			f := newFixture(t, sim.Config{Scenario: tc.scenario}, nil)
			ctx := ctxTimeout(t, 30*time.Second)
			all, err := f.client.HCloud().Volume.All(ctx)
			require.NoError(t, err)
			var names []string
			for _, v := range all[len(all)-10:] {
				names = append(names, v.Name)
			}
			f.sim.ResetStats()
			s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: names})
			require.NoError(t, err)
			for _, n := range names {
				require.NotNil(t, s.Volume(n), n)
			}
			assert.LessOrEqual(t, f.routes()["GET /v1/volumes"], tc.max, "volume reads: %v", f.routes())
		})
	}
}

func TestKnownServersAreNotReadAgain(t *testing.T) {
	f := newFixture(t, sim.Config{}, nil)
	ctx := ctxTimeout(t, 30*time.Second)
	known := func(names ...string) []hz.KnownServer {
		var out []hz.KnownServer
		for _, n := range names {
			sv, _, err := f.client.HCloud().Server.GetByName(ctx, n)
			require.NoError(t, err)
			require.NotNil(t, sv, n)
			out = append(out, hz.KnownServer{ID: sv.ID, Name: sv.Name, Location: sv.Location.Name})
		}
		return out
	}
	three := []string{"vol-crm-01", "vol-etl-01", "vol-redis-01"}
	for _, tc := range []struct {
		name    string
		opts    hz.SnapshotOpts
		servers int // GET /v1/servers
	}{
		{"attached volumes named by their known servers", hz.SnapshotOpts{Volumes: three, Known: known("crm-01", "etl-01", "redis-01")}, 0},
		// The other volumes of the page are attached too, to servers nobody named: their
		// servers' names are not needed, so not read.
		{"no known servers: one page of servers, for the asked volumes only", hz.SnapshotOpts{Volumes: three}, 1},
		{"a known server that is not the volume's: read after all", hz.SnapshotOpts{Volumes: three, Known: known("crm-01", "etl-01", "minio-01"), ServerHints: []string{"redis-01"}}, 1},
		{"servers to attach to, all known", hz.SnapshotOpts{Volumes: []string{"kbv3-crm-01-data"}, Servers: []string{"crm-01"}, Known: known("crm-01")}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.sim.ResetStats()
			s, err := f.client.Snapshot(ctx, tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.servers, f.routes()["GET /v1/servers"], "%v", f.routes())
			for _, n := range tc.opts.Volumes {
				if v := s.Volume(n); v != nil {
					assert.Equal(t, strings.TrimSuffix(strings.TrimPrefix(n, "vol-"), "-data"), s.ServerName(v), n)
				}
			}
		})
	}

	t.Run("attach to a known server uses its id", func(t *testing.T) {
		s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"vol-crm-01"}})
		require.NoError(t, err)
		_, err = f.client.Detach(ctx, s, hz.DetachOpts{Name: "vol-crm-01"})
		require.NoError(t, err)
		// Another server in the volume's location.
		svs, err := f.client.HCloud().Server.All(ctx)
		require.NoError(t, err)
		var other string
		for _, sv := range svs {
			if sv.Name != "crm-01" && sv.Location.Name == s.Live(s.Volume("vol-crm-01")).Location {
				other = sv.Name
				break
			}
		}
		require.NotEmpty(t, other)
		k := known(other)
		f.sim.ResetStats()
		s, err = f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"vol-crm-01"}, Known: k})
		require.NoError(t, err)
		res, err := f.client.Attach(ctx, s, hz.AttachOpts{Name: "vol-crm-01", Server: other})
		require.NoError(t, err)
		assert.Equal(t, hz.OutcomeAttached, res.Outcome)
		assert.Zero(t, f.routes()["GET /v1/servers"])
		v, _, err := f.client.HCloud().Volume.GetByName(ctx, "vol-crm-01")
		require.NoError(t, err)
		require.NotNil(t, v.Server)
		assert.Equal(t, k[0].ID, v.Server.ID)
	})
}

// An attach without a read sends the attach at once, by id, to a known server; the API's own
// refusals stand in for the snapshot's checks, and only volume_already_attached costs a read,
// which tells an attach made already from a volume in use elsewhere.
func TestAttachWithoutRead(t *testing.T) {
	f := newFixture(t, sim.Config{}, nil)
	ctx := ctxTimeout(t, 30*time.Second)
	crm, etl := knownServer(ctx, t, f, "crm-01"), knownServer(ctx, t, f, "etl-01")
	create := func(name, loc string) int64 { return createDetached(ctx, t, f, name, loc) }
	otherLoc := "hel1"
	if crm.Location == otherLoc {
		otherLoc = "fsn1"
	}
	fresh := create("kbv3-unread-fresh", crm.Location)
	twice := create("kbv3-unread-twice", crm.Location)
	elsewhere := create("kbv3-unread-elsewhere", etl.Location)
	faraway := create("kbv3-unread-faraway", otherLoc)
	for _, tc := range []struct {
		name    string
		volume  string
		id      int64
		server  hz.KnownServer
		before  func(t *testing.T)
		outcome hz.Outcome
		errCode hcloud.ErrorCode
		reads   int // GET /v1/volumes
	}{
		{name: "a fresh volume: attached without a read", volume: "kbv3-unread-fresh", id: fresh, server: crm, outcome: hz.OutcomeAttached},
		{name: "attached there already: one read says so", volume: "kbv3-unread-twice", id: twice, server: crm,
			before: func(t *testing.T) {
				a, _, err := f.client.HCloud().Volume.Attach(ctx, &hcloud.Volume{ID: twice}, &hcloud.Server{ID: crm.ID})
				require.NoError(t, err)
				require.NoError(t, f.client.Wait(ctx, "kbv3-unread-twice", a))
			}, outcome: hz.OutcomeAlreadyAttached, reads: 1},
		{name: "attached to another server: the API's refusal stands", volume: "kbv3-unread-elsewhere", id: elsewhere, server: crm,
			before: func(t *testing.T) {
				a, _, err := f.client.HCloud().Volume.Attach(ctx, &hcloud.Volume{ID: elsewhere}, &hcloud.Server{ID: etl.ID})
				require.NoError(t, err)
				require.NoError(t, f.client.Wait(ctx, "kbv3-unread-elsewhere", a))
			}, outcome: hz.OutcomeFailed, errCode: hcloud.ErrorCodeVolumeAlreadyAttached, reads: 1},
		{name: "in another location: refused by the API", volume: "kbv3-unread-faraway", id: faraway, server: crm,
			outcome: hz.OutcomeFailed, errCode: hcloud.ErrorCodeInvalidInput},
		{name: "gone: refused by the API", volume: "kbv3-unread-gone", id: 987654321, server: crm,
			outcome: hz.OutcomeFailed, errCode: hcloud.ErrorCodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Known: []hz.KnownServer{tc.server}})
			require.NoError(t, err)
			f.sim.ResetStats()
			res, err := f.client.Attach(ctx, s, hz.AttachOpts{Name: tc.volume, Server: tc.server.Name, ID: tc.id, SizeGB: 10, Location: tc.server.Location, Unread: true})
			assert.Equal(t, tc.outcome, res.Outcome)
			if tc.errCode != "" {
				require.Error(t, err)
				assert.True(t, hcloud.IsError(err, tc.errCode), err.Error())
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.server.Name, res.Server)
			}
			routes := f.routes()
			assert.Equal(t, tc.reads, routes["GET /v1/volumes"], "%v", routes)
			assert.Zero(t, routes["GET /v1/servers"], "%v", routes)
			assert.Equal(t, 1, routes["POST /v1/volumes/{id}/actions/attach"], "%v", routes)
			v, _, err := f.client.HCloud().Volume.GetByID(ctx, tc.id)
			require.NoError(t, err)
			if tc.outcome != hz.OutcomeFailed {
				require.NotNil(t, v)
				require.NotNil(t, v.Server)
				assert.Equal(t, tc.server.ID, v.Server.ID)
			}
		})
	}
}

// An unread attach needs an id; a volume the snapshot read, and check mode, go the reading way.
func TestAttachWithoutReadOnlyWhenItMay(t *testing.T) {
	f := newFixture(t, sim.Config{}, nil)
	ctx := ctxTimeout(t, 30*time.Second)
	crm := knownServer(ctx, t, f, "crm-01")
	attached := createDetached(ctx, t, f, "kbv3-unread-attached", crm.Location)
	other := createDetached(ctx, t, f, "kbv3-unread-other", crm.Location)
	a, _, err := f.client.HCloud().Volume.Attach(ctx, &hcloud.Volume{ID: attached}, &hcloud.Server{ID: crm.ID})
	require.NoError(t, err)
	require.NoError(t, f.client.Wait(ctx, "kbv3-unread-attached", a))

	s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"kbv3-unread-attached"}, Known: []hz.KnownServer{crm}})
	require.NoError(t, err)
	f.sim.ResetStats()
	res, err := f.client.Attach(ctx, s, hz.AttachOpts{Name: "kbv3-unread-attached", Server: "crm-01", ID: attached, Unread: true})
	require.NoError(t, err)
	assert.Equal(t, hz.OutcomeAlreadyAttached, res.Outcome, "decided from the snapshot")
	_, err = f.client.Attach(ctx, s, hz.AttachOpts{Name: "kbv3-x", Server: "crm-01", Unread: true})
	require.Error(t, err, "an unread attach needs an id")
	_, err = f.client.Attach(ctx, s, hz.AttachOpts{Name: "kbv3-unread-other", Server: "crm-01", ID: other, Unread: true, Check: true})
	require.ErrorIs(t, err, hz.ErrNotInSnapshot, "check mode predicts from what was read, never unread")
	assert.Zero(t, f.sim.Stats().Requests.Total, "no request")
}

func knownServer(ctx context.Context, t *testing.T, f *fixture, name string) hz.KnownServer {
	t.Helper()
	sv, _, err := f.client.HCloud().Server.GetByName(ctx, name)
	require.NoError(t, err)
	require.NotNil(t, sv, name)
	return hz.KnownServer{ID: sv.ID, Name: sv.Name, Location: sv.Location.Name}
}

// createDetached creates a volume of 10 GB in loc behind the client's back and waits for it.
func createDetached(ctx context.Context, t *testing.T, f *fixture, name, loc string) int64 {
	t.Helper()
	r, _, err := f.client.HCloud().Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: name, Size: 10, Location: &hcloud.Location{Name: loc}})
	require.NoError(t, err)
	require.NoError(t, f.client.Wait(ctx, name, r.Action))
	return r.Volume.ID
}

// Volumes asked for with their ids are sought on the pages of the id-ordered listing that hold
// them: ten neighbours cost page 1 and one or two pages, in a project of any size. Whatever
// the pages do not show is looked up by name, so a guess that misses costs at most two
// requests more than the lookups, and nothing is ever taken as absent because of it.
func TestSnapshotSeeksThePagesOfKnownIDs(t *testing.T) {
	f := newFixture(t, sim.Config{Scenario: "generated:1000"}, nil)
	ctx := ctxTimeout(t, 30*time.Second)
	all, err := f.client.HCloud().Volume.All(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1000)
	slices.SortFunc(all, func(a, b *hcloud.Volume) int { return cmp.Compare(a.ID, b.ID) })
	pick := func(idx ...int) (names []string, ids []int64) {
		for _, i := range idx {
			names, ids = append(names, all[i].Name), append(ids, all[i].ID)
		}
		return names, ids
	}
	span := func(from, n, step int) []int {
		var out []int
		for i := range n {
			out = append(out, from+i*step)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		idx   []int
		ids   bool // the ids are given
		reads int  // at most
	}{
		{name: "ten neighbours in the middle", idx: span(512, 10, 1), ids: true, reads: 2},
		{name: "ten neighbours across two pages", idx: span(545, 10, 1), ids: true, reads: 3},
		{name: "ten neighbours at the end", idx: span(990, 10, 1), ids: true, reads: 2},
		{name: "ten spread over the project: the pages that hold some, then lookups", idx: span(100, 10, 97), ids: true, reads: 1 + 2 + 10},
		{name: "without ids: page 1 and lookups, as before", idx: span(512, 10, 1), reads: 1 + 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, ids := pick(tc.idx...)
			opts := hz.SnapshotOpts{Volumes: names}
			if tc.ids {
				opts.IDs = ids
			}
			f.sim.ResetStats()
			s, err := f.client.Snapshot(ctx, opts)
			require.NoError(t, err)
			for i, n := range names {
				v := s.Volume(n)
				require.NotNil(t, v, n)
				assert.Equal(t, ids[i], v.ID, n)
			}
			assert.LessOrEqual(t, f.routes()["GET /v1/volumes"], tc.reads, "volume reads: %v", f.routes())
		})
	}

	t.Run("a volume gone or renamed since is never taken as absent by the pages", func(t *testing.T) {
		names, ids := pick(span(600, 10, 1)...)
		a, _, err := f.client.HCloud().Volume.Detach(ctx, &hcloud.Volume{ID: ids[3]})
		require.NoError(t, err)
		require.NoError(t, f.client.Wait(ctx, names[3], a))
		_, err = f.client.HCloud().Volume.Delete(ctx, &hcloud.Volume{ID: ids[3]})
		require.NoError(t, err)
		_, _, err = f.client.HCloud().Volume.Update(ctx, &hcloud.Volume{ID: ids[5]}, hcloud.VolumeUpdateOpts{Name: "renamed-since"})
		require.NoError(t, err)
		s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: names, IDs: ids})
		require.NoError(t, err)
		assert.Nil(t, s.Volume(names[3]), "deleted")
		assert.Nil(t, s.Volume(names[5]), "renamed: no volume of that name")
		assert.NotNil(t, s.Volume("renamed-since"), "the renamed volume is found by its id (every volume is listed)")
		for _, i := range []int{0, 1, 2, 4, 6, 7, 8, 9} {
			assert.NotNil(t, s.Volume(names[i]), names[i])
		}
	})
}

// An earlier listing's positions send a batch straight to the pages that hold its volumes: one
// page for ten neighbours anywhere in the project. A position that is no longer right (volumes
// before it were deleted since) costs a few requests more, never a volume taken as absent.
func TestSnapshotReadsThePagesItIsGiven(t *testing.T) {
	f := newFixture(t, sim.Config{Scenario: "generated:1000"}, nil)
	ctx := ctxTimeout(t, 30*time.Second)
	full, err := f.client.Snapshot(ctx, hz.SnapshotOpts{AllVolumes: true})
	require.NoError(t, err)
	all := full.Volumes()
	require.Len(t, all, 1000)
	slices.SortFunc(all, func(a, b *hcloud.Volume) int { return cmp.Compare(a.ID, b.ID) })
	for i, v := range all {
		require.Equal(t, i+1, full.Position(v.ID), v.Name)
	}
	assert.Zero(t, full.Position(1), "not a volume of the project")

	for _, tc := range []struct {
		name  string
		from  int // index of the first of ten neighbours
		shift int // added to each position given
		reads int // at most
	}{
		{name: "ten neighbours on one page", from: 512, reads: 1},
		{name: "ten neighbours across two pages", from: 545, reads: 2},
		{name: "the last ten", from: 990, reads: 1},
		{name: "positions a page too far: then as without them", from: 512, shift: 50, reads: 1 + 1 + 2}, // the page given, page 1, the page sought
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := hz.SnapshotOpts{}
			for i := tc.from; i < tc.from+10; i++ {
				opts.Volumes = append(opts.Volumes, all[i].Name)
				opts.IDs = append(opts.IDs, all[i].ID)
				opts.Positions = append(opts.Positions, i+1+tc.shift)
			}
			f.sim.ResetStats()
			s, err := f.client.Snapshot(ctx, opts)
			require.NoError(t, err)
			for i, n := range opts.Volumes {
				v := s.Volume(n)
				require.NotNil(t, v, n)
				assert.Equal(t, opts.IDs[i], v.ID, n)
			}
			assert.LessOrEqual(t, f.routes()["GET /v1/volumes"], tc.reads, "volume reads: %v", f.routes())
		})
	}

	t.Run("a selector's snapshot gives no positions", func(t *testing.T) {
		s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{AllVolumes: true, LabelSelector: "absent-label"})
		require.NoError(t, err)
		assert.Zero(t, s.Position(all[0].ID))
	})
}
