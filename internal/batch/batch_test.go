package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunBoundsConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name        string
		items       int
		concurrency int
		wantMax     int
	}{
		{"bound below items", 30, 4, 4},
		{"bound of one is sequential", 5, 1, 1},
		{"bound above items", 3, 10, 3},
		{"default bound", 25, 0, DefaultConcurrency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inFlight, maxInFlight atomic.Int32
			items := make([]int, tc.items)
			for i := range items {
				items[i] = i
			}
			// The items hold until wantMax of them run at once, so the bound is reached
			// whatever the scheduler does; a Run that never lets that many run fails the
			// assertion after the gate's 10 s.
			full := make(chan struct{})
			var once sync.Once
			out := Run(t.Context(), items, tc.concurrency, func(_ context.Context, i int) (int, error) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for {
					m := maxInFlight.Load()
					if n <= m || maxInFlight.CompareAndSwap(m, n) {
						break
					}
				}
				if n == int32(tc.wantMax) {
					once.Do(func() { close(full) })
				}
				select {
				case <-full:
				case <-time.After(10 * time.Second):
				}
				return i * 2, nil
			})
			assert.Equal(t, int32(tc.wantMax), maxInFlight.Load())
			require.Len(t, out, tc.items)
			for i, o := range out {
				require.NoError(t, o.Err)
				assert.Equal(t, i*2, o.Value, "results are in input order")
				assert.Positive(t, o.Duration)
			}
		})
	}
}

func TestRunOrderWhenLaterItemsFinishFirst(t *testing.T) {
	items := []time.Duration{40 * time.Millisecond, 0, 20 * time.Millisecond, 5 * time.Millisecond}
	out := Run(t.Context(), items, 4, func(_ context.Context, d time.Duration) (time.Duration, error) {
		time.Sleep(d)
		return d, nil
	})
	for i, o := range out {
		assert.Equal(t, items[i], o.Value)
	}
}

func TestRunFailuresAndPanicsDoNotStopOthers(t *testing.T) {
	items := []string{"ok-1", "fail", "panic", "ok-2", "panic-err"}
	var ran atomic.Int32
	out := Run(t.Context(), items, 2, func(_ context.Context, s string) (string, error) {
		ran.Add(1)
		switch s {
		case "fail":
			return "partial", errors.New("boom")
		case "panic":
			panic("kaboom")
		case "panic-err":
			panic(fmt.Errorf("wrapped"))
		}
		return s + " done", nil
	})
	assert.Equal(t, int32(len(items)), ran.Load())
	assert.Equal(t, "ok-1 done", out[0].Value)
	assert.NoError(t, out[0].Err)
	assert.EqualError(t, out[1].Err, "boom")
	assert.Equal(t, "partial", out[1].Value, "a failed item keeps what fn returned")
	assert.EqualError(t, out[2].Err, "panic: kaboom")
	assert.Empty(t, out[2].Value)
	assert.Equal(t, "ok-2 done", out[3].Value)
	assert.EqualError(t, out[4].Err, "panic: wrapped")
}

// expiring is a context whose deadline passes when the test says so: the test decides which
// items have started by then, instead of racing a timer on a loaded machine.
type expiring struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (c *expiring) Done() <-chan struct{} { return c.done }

func (c *expiring) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *expiring) expire() { c.once.Do(func() { close(c.done) }) }

func TestRunDeadline(t *testing.T) {
	ctx := newExpiring()
	defer ctx.expire()
	// Items 0 and 1 finish at once; items 2 and 3 then take both slots and wait for the deadline,
	// which passes as soon as both are running: items 4 to 9 never get a slot.
	blocked := make(chan int, 2)
	go func() {
		<-blocked
		<-blocked
		ctx.expire()
	}()
	items := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	out := Run(ctx, items, 2, func(ctx context.Context, i int) (int, error) {
		if i < 2 {
			return 1, nil
		}
		blocked <- i
		<-ctx.Done()
		return 0, fmt.Errorf("waiting: %w", ctx.Err())
	})
	require.Len(t, out, len(items))
	for i, o := range out {
		switch {
		case i < 2:
			assert.NoError(t, o.Err, "item %d finished before the deadline", i)
			assert.Equal(t, 1, o.Value)
		case i < 4:
			assert.ErrorIs(t, o.Err, context.DeadlineExceeded, "item %d is cut at the deadline", i)
			assert.NotErrorIs(t, o.Err, ErrNotStarted, "item %d", i)
		default:
			// Not-started items are the tail of the list: items start in order.
			assert.ErrorIs(t, o.Err, ErrNotStarted, "item %d", i)
			assert.EqualError(t, o.Err, "not started: deadline exceeded")
			assert.ErrorIs(t, o.Err, context.DeadlineExceeded)
			assert.Zero(t, o.Duration)
		}
	}
}

func TestRunAlreadyExpired(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	out := Run(ctx, []int{1, 2}, 1, func(context.Context, int) (int, error) { called = true; return 0, nil })
	assert.False(t, called)
	for _, o := range out {
		assert.EqualError(t, o.Err, "not started: canceled")
	}
}

func TestRunAbandonsItemsIgnoringTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	release := make(chan struct{})
	defer close(release)
	start := time.Now()
	out := Run(ctx, []int{1, 2}, 2, func(_ context.Context, i int) (int, error) {
		if i == 1 {
			<-release // ignores its context
		}
		return i, nil
	})
	assert.Less(t, time.Since(start), abandonGrace+time.Second)
	assert.ErrorIs(t, out[0].Err, ErrAbandoned)
	assert.EqualError(t, out[0].Err, "still running at the deadline: deadline exceeded")
	assert.NoError(t, out[1].Err)
	assert.Equal(t, 2, out[1].Value)
}

func TestRunEmpty(t *testing.T) {
	assert.Empty(t, Run(t.Context(), []int(nil), 3, func(context.Context, int) (int, error) { return 0, nil }))
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "deadline exceeded"},
		{fmt.Errorf("wait: %w", context.DeadlineExceeded), "deadline exceeded"},
		{context.Canceled, "canceled"},
		{nil, "stopped"},
		{errors.New("token revoked"), "token revoked"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Reason(tt.err), "%v", tt.err)
	}
}
