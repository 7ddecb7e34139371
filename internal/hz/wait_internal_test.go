package hz

import (
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
			w.pending[1] = &pending{idle: t0}
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
		w.pending[1] = &pending{idle: t0, eta: t0.Add(3 * time.Second)}
		assert.Equal(t, 2500*time.Millisecond, w.next(t0.Add(500*time.Millisecond)))
		assert.Equal(t, 100*time.Millisecond, w.next(t0.Add(2990*time.Millisecond)), "a fifth of the interval near the end")
		w.pending[1].eta = t0.Add(time.Hour)
		assert.Equal(t, maxWaitFactor*500*time.Millisecond, w.next(t0), "a wrong estimate holds the poll back boundedly")
		w.pending[2] = &pending{idle: t0}
		assert.Equal(t, 500*time.Millisecond, w.next(t0), "an action without estimate is polled at the interval")
	})
}

// An action that waits for another (the attach in a create's next_actions) reads 0% until its
// work begins: its end counts from the last poll that saw it idle, not from the request.
func TestEstimateCountsFromTheStartOfProgress(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	type poll struct {
		at       time.Duration // since the request
		progress int
	}
	for _, tc := range []struct {
		name  string
		polls []poll
		begin time.Duration // when the action's work began
		end   time.Duration // when it finishes
	}{
		{
			// The simulator's default times: create 1 s, then the attach 3 s. Counted from
			// the request, 16% at 1.5 s would put the end at 9.4 s.
			name:  "attach after a 1 s create, polled at 1 s and 1.5 s",
			polls: []poll{{1000 * time.Millisecond, 0}, {1500 * time.Millisecond, 16}},
			begin: time.Second, end: 4 * time.Second,
		},
		{
			name:  "attach after a slow create, idle over several polls",
			polls: []poll{{1000 * time.Millisecond, 0}, {1500 * time.Millisecond, 0}, {2000 * time.Millisecond, 0}, {2500 * time.Millisecond, 16}},
			begin: 2 * time.Second, end: 5 * time.Second,
		},
		{
			name:  "a plain attach progresses from the request",
			polls: []poll{{1000 * time.Millisecond, 33}},
			begin: 0, end: 3 * time.Second,
		},
		{
			// 0% at 1 s although the work began 25 ms before: the estimate allows for it.
			name:  "work begun just before the idle poll",
			polls: []poll{{1000 * time.Millisecond, 0}, {1500 * time.Millisecond, 17}},
			begin: 975 * time.Millisecond, end: 3975 * time.Millisecond,
		},
		{
			name:  "further polls refine the estimate",
			polls: []poll{{1000 * time.Millisecond, 0}, {1500 * time.Millisecond, 16}, {3500 * time.Millisecond, 83}},
			begin: time.Second, end: 4 * time.Second,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWaiter(nil, 0, 500*time.Millisecond)
			w.pending[1] = &pending{idle: t0}
			for _, p := range tc.polls {
				w.estimate(&hcloud.Action{ID: 1, Progress: p.progress}, t0.Add(p.at))
			}
			for _, p := range tc.polls {
				// The readings are those of the API: truncated, and 0% before the work began.
				want := max(0, int(100*(p.at-tc.begin)/(tc.end-tc.begin)))
				require.Equal(t, want, p.progress, "the case's own reading at %v", p.at)
			}
			eta := w.pending[1].eta.Sub(t0)
			assert.GreaterOrEqual(t, eta, tc.end, "never before the end")
			assert.Less(t, eta, tc.end+w.interval, "within one poll of the end")
		})
	}
	t.Run("0% clears the estimate and moves the start", func(t *testing.T) {
		w := newWaiter(nil, 0, 500*time.Millisecond)
		w.pending[1] = &pending{idle: t0, eta: t0.Add(time.Hour)}
		w.estimate(&hcloud.Action{ID: 1, Progress: 0}, t0.Add(time.Second))
		assert.Zero(t, w.pending[1].eta)
		assert.Equal(t, t0.Add(time.Second), w.pending[1].idle)
		w.estimate(&hcloud.Action{ID: 1, Progress: 0}, t0.Add(500*time.Millisecond))
		assert.Equal(t, t0.Add(time.Second), w.pending[1].idle, "a late answer never moves it back")
	})
}

func TestProjectEnd(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		idle     time.Duration
		now      time.Duration
		progress int
		idleRead bool
		want     time.Duration // from t0; -1: no estimate
	}{
		{"a quarter one second after the request", 0, time.Second, 25, false, 4 * time.Second},
		{"counted from the request", 2 * time.Second, 3 * time.Second, 50, false, 4 * time.Second},
		// The work may have begun 1% before the 0% reading: 34% after 1 s is at most 3.03 s of work.
		{"counted from a 0% reading", time.Second, 2 * time.Second, 34, true, 4 * time.Second},
		{"1% after 0% bounds nothing", time.Second, 2 * time.Second, 1, true, -1},
		{"no progress", 0, time.Second, 0, false, -1},
		{"done", 0, time.Second, 100, false, -1},
		{"no time since idle", time.Second, time.Second, 50, true, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := projectEnd(t0.Add(tc.idle), t0.Add(tc.now), tc.progress, tc.idleRead)
			if tc.want < 0 {
				assert.Zero(t, got)
				return
			}
			assert.Equal(t, t0.Add(tc.want), got)
		})
	}
}

// While the rate limit paces requests, the poller polls once, when the last pending action
// should be done, instead of as each one should: actions sent since the last poll are taken to
// last as long as the longest estimated so far.
func TestPacedPollWaitsForTheLastAction(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	w := newWaiter(nil, 0, ms(500))
	w.pending[3] = &pending{idle: t0.Add(ms(600))} // sent after the poll: no estimate
	assert.Equal(t, ms(500), w.nextPaced(t0.Add(ms(500))), "nothing estimated yet: the interval")

	w.pending[1] = &pending{idle: t0}
	w.pending[2] = &pending{idle: t0.Add(ms(300))}
	now := t0.Add(ms(500))
	w.estimate(&hcloud.Action{ID: 1, Progress: 50}, now) // a 1 s action, ends at 1.0 s
	w.estimate(&hcloud.Action{ID: 2, Progress: 20}, now) // ends at 1.3 s
	require.Equal(t, time.Second, w.longest)
	assert.Equal(t, ms(500), w.next(now), "unpaced: the interval, action 3 has no estimate")
	assert.Equal(t, ms(1100), w.nextPaced(now), "paced: when action 3, sent at 0.6 s, should end")

	delete(w.pending, 3)
	assert.Equal(t, ms(800), w.nextPaced(now), "the last estimate, action 2's")
	w.pending[4] = &pending{idle: t0, eta: t0.Add(time.Hour)}
	assert.Equal(t, 10*ms(500), w.nextPaced(now), "never more than ten intervals ahead")
}
