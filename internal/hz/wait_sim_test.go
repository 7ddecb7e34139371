package hz_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// The poller on the simulator's default action times (create 1 s, attach 3 s), its clock stepped
// with the simulator's: how many polls each call takes and when, in simulated time, it returns.
// A create with server waits for its create and for the attach in next_actions, which begins
// only once the create is done: it must end within one poll of the attach (about 4 s), not
// where an estimate counted from the request would put it (6.5 s).
func TestWaitPollsOnActionTimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(ctx context.Context, c *hz.Client, s *hz.Snapshot) (hz.Result, error)
		// work is the actions' total time; polls the GET /actions the poller needs: the
		// first at 1 s (DefaultFirstPoll), then at the interval until progress shows, then at
		// the estimate.
		work    time.Duration
		polls   int
		actions int
	}{
		{
			name: "create with server",
			call: func(ctx context.Context, c *hz.Client, s *hz.Snapshot) (hz.Result, error) {
				return c.Create(ctx, s, hz.CreateOpts{Name: "vol-wait-01", SizeGB: 10, Server: "crm-01"})
			},
			// 1 s: create done, attach at 0%; 1.5 s: attach 16%; 4.125 s: done.
			work: 4 * time.Second, polls: 3, actions: 2,
		},
		{
			name: "create by location",
			call: func(ctx context.Context, c *hz.Client, s *hz.Snapshot) (hz.Result, error) {
				return c.Create(ctx, s, hz.CreateOpts{Name: "vol-wait-01", SizeGB: 10, Location: "fsn1"})
			},
			// 1 s: done.
			work: time.Second, polls: 1, actions: 1,
		},
		{
			name: "attach",
			call: func(ctx context.Context, c *hz.Client, s *hz.Snapshot) (hz.Result, error) {
				return c.Attach(ctx, s, hz.AttachOpts{Name: "keybuzz-archive-01", Server: "crm-01"})
			},
			// 1 s: 33%; 3.03 s: done.
			work: 3 * time.Second, polls: 2, actions: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := simtest.NewManualClock(time.Now().Truncate(time.Second))
			f := newFixture(t, sim.Config{Clock: clock, ActionTimes: sim.DefaultActionTimes()}, func(o *hz.Options) {
				o.PollInterval, o.FirstPoll = 0, 0 // the defaults
			})
			// The poller reads the clock right after each poll; the last reading before the
			// call returns is its last poll. (Once done, it sleeps one more tick before it
			// notices that nobody waits: the clock after the call includes that.)
			var mu sync.Mutex
			var last time.Time
			hz.SetWaitClock(f.client, func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				last = clock.Now()
				return last
			}, clock.Advance)
			ctx := ctxTimeout(t, 30*time.Second)
			if tc.name == "attach" {
				// The scenario's archive volume is attached to backup-01: free it first.
				s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"keybuzz-archive-01"}})
				require.NoError(t, err)
				_, err = f.client.Detach(ctx, s, hz.DetachOpts{Name: "keybuzz-archive-01"})
				require.NoError(t, err)
			}
			s, err := f.client.Snapshot(ctx, hz.SnapshotOpts{Volumes: []string{"vol-wait-01", "keybuzz-archive-01"}, Servers: []string{"crm-01"}})
			require.NoError(t, err)
			f.sim.ResetStats()
			start := clock.Now()

			res, err := tc.call(ctx, f.client, s)
			require.NoError(t, err, "the wait ends in error when an action does")
			mu.Lock()
			elapsed := last.Sub(start)
			mu.Unlock()

			assert.Equal(t, tc.polls, f.routes()["GET /v1/actions"], "polls")
			assert.GreaterOrEqual(t, elapsed, tc.work, "returned before the actions ended")
			assert.Less(t, elapsed, tc.work+hz.DefaultPollInterval, "returned more than one poll after the actions ended")
			assert.Len(t, res.Actions, tc.actions)
		})
	}
}
