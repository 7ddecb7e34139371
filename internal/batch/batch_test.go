package batch

import (
	"context"
	"errors"
	"fmt"
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
			out := Run(t.Context(), items, tc.concurrency, func(_ context.Context, i int) (int, error) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for {
					m := maxInFlight.Load()
					if n <= m || maxInFlight.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(10 * time.Millisecond)
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

func TestRunDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	items := make([]int, 10)
	start := time.Now()
	out := Run(ctx, items, 2, func(ctx context.Context, _ int) (int, error) {
		select {
		case <-time.After(30 * time.Millisecond):
			return 1, nil
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting: %w", ctx.Err())
		}
	})
	assert.Less(t, time.Since(start), time.Second)
	var done, cut, notStarted int
	for _, o := range out {
		switch {
		case o.Err == nil:
			done++
		case errors.Is(o.Err, ErrNotStarted):
			notStarted++
			assert.EqualError(t, o.Err, "not started: deadline exceeded")
			assert.ErrorIs(t, o.Err, context.DeadlineExceeded)
			assert.Zero(t, o.Duration)
		default:
			cut++
			assert.ErrorIs(t, o.Err, context.DeadlineExceeded)
		}
	}
	assert.Equal(t, 2, done, "the first two items finish in 30ms")
	assert.Equal(t, 2, cut, "the next two are cut at 50ms")
	assert.Equal(t, 6, notStarted)
	// Not-started items are the tail of the list: items start in order.
	for i, o := range out {
		assert.Equal(t, i >= 4, errors.Is(o.Err, ErrNotStarted), "item %d", i)
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
