package hz

import (
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
)

func TestEstimateIsNeverBeforeTheEnd(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		duration time.Duration // how long the action takes
		after    time.Duration // when it is polled
	}{
		{"3 s action at 500 ms", 3 * time.Second, 500 * time.Millisecond},
		{"1 s action at 500 ms", time.Second, 500 * time.Millisecond},
		{"3 s action at 2.9 s", 3 * time.Second, 2900 * time.Millisecond},
		{"10 min action at 500 ms", 10 * time.Minute, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The API truncates the progress to whole percents.
			progress := int(100 * tc.after / tc.duration)
			w := newWaiter(nil, 0, 500*time.Millisecond)
			w.pending[1] = &pending{joined: t0}
			w.estimate(&hcloud.Action{ID: 1, Progress: progress}, t0.Add(tc.after))
			eta := w.pending[1].eta.Sub(t0)
			if progress == 0 {
				assert.Zero(t, w.pending[1].eta, "no progress, no estimate")
				return
			}
			assert.GreaterOrEqual(t, eta, tc.duration, "never before the end")
			assert.LessOrEqual(t, eta, tc.duration+tc.duration/time.Duration(progress), "late by at most one percent's share")
		})
	}
	t.Run("the next poll waits for the estimate, within bounds", func(t *testing.T) {
		w := newWaiter(nil, 0, 500*time.Millisecond)
		w.pending[1] = &pending{joined: t0, eta: t0.Add(3 * time.Second)}
		assert.Equal(t, 2500*time.Millisecond, w.next(t0.Add(500*time.Millisecond)))
		assert.Equal(t, 100*time.Millisecond, w.next(t0.Add(2990*time.Millisecond)), "a fifth of the interval near the end")
		w.pending[1].eta = t0.Add(time.Hour)
		assert.Equal(t, maxWaitFactor*500*time.Millisecond, w.next(t0), "a wrong estimate holds the poll back boundedly")
		w.pending[2] = &pending{joined: t0}
		assert.Equal(t, 500*time.Millisecond, w.next(t0), "an action without estimate is polled at the interval")
	})
}
