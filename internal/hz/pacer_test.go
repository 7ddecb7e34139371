package hz

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// budget answers like the API's rate limiter: a budget refilled one request per refill.
type budget struct {
	limit     int
	remaining float64
	last      time.Time
	refill    time.Duration
	answered  int
	refused   int
}

// answer takes a request from the budget at now: 200, or 429 when it is empty.
func (b *budget) answer(now time.Time) *http.Response {
	b.remaining = min(float64(b.limit), b.remaining+float64(now.Sub(b.last))/float64(b.refill))
	b.last = now
	status := http.StatusOK
	if b.remaining < 1 {
		status = http.StatusTooManyRequests
		b.refused++
	} else {
		b.remaining--
		b.answered++
	}
	h := http.Header{}
	h.Set("RateLimit-Limit", strconv.Itoa(b.limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(int(b.remaining)))
	missing := float64(b.limit) - b.remaining
	h.Set("RateLimit-Reset", strconv.FormatInt(now.Add(time.Duration(missing*float64(b.refill))).Unix(), 10))
	return &http.Response{StatusCode: status, Header: h, Body: http.NoBody}
}

// budgetAPI is a budget on a test's clock.
type budgetAPI struct {
	mu  sync.Mutex
	now *time.Time
	budget
}

func (b *budgetAPI) RoundTrip(*http.Request) (*http.Response, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.answer(*b.now), nil
}

func TestPacerSlowsDownBeforeTheLimit(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	api := &budgetAPI{now: &now, budget: budget{limit: 3600, remaining: 30, last: now, refill: time.Second}}
	p := newPacer(api, 10)
	p.now = func() time.Time { return now }
	var slept []time.Duration
	p.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		now = now.Add(d)
		return nil
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://x/v1/volumes", nil)
	require.NoError(t, err)
	for range 100 {
		resp, err := p.RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		now = now.Add(time.Millisecond) // the request's own time
	}
	assert.Zero(t, api.refused, "never a 429")
	assert.Equal(t, 100, api.answered)
	// The first ~20 requests spend the budget down to the reserve at once; the rest are spaced
	// at the refill rate.
	require.NotEmpty(t, slept)
	assert.InDelta(t, 80, len(slept), 3)
	for _, d := range slept[1:] {
		assert.InDelta(t, float64(time.Second), float64(d), float64(50*time.Millisecond))
	}
}

func TestPacerNeverSleepsPastTheDeadline(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	api := &budgetAPI{now: &now, budget: budget{limit: 3600, remaining: 0, last: now, refill: time.Second}}
	p := newPacer(api, 10)
	p.now = func() time.Time { return now }
	p.sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }

	ctx, cancel := context.WithDeadline(context.Background(), now.Add(1500*time.Millisecond))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://x/v1/volumes", nil)
	require.NoError(t, err)
	resp, err := p.RoundTrip(req) // learns the budget is empty (429)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	resp, err = p.RoundTrip(req) // the next slot, ~1s away, is before the deadline
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	_, err = p.RoundTrip(req) // the one after, ~2s away, is not
	require.ErrorIs(t, err, errPaceDeadline)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "rate limit: no request slot before the deadline")
}

func TestPacerWithoutHeadersDoesNotPace(t *testing.T) {
	p := newPacer(roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}, nil
	}), 10)
	p.sleep = func(context.Context, time.Duration) error { t.Fatal("slept"); return nil }
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://x/v1/volumes", nil)
	require.NoError(t, err)
	for range 20 {
		resp, err := p.RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A process that starts with a batch of requests at once, on a budget other processes have
// spent, sends one first and paces the others from its answer: one 429 at most, not one per
// request of the batch.
func TestPacerSendsOneRequestBeforeItKnowsTheBudget(t *testing.T) {
	for _, tc := range []struct {
		name      string
		remaining int
		refused   int // at most
	}{
		{name: "empty budget", remaining: 0, refused: 1},
		{name: "three left", remaining: 3, refused: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &clockedBudget{budget: budget{limit: 36000, remaining: float64(tc.remaining), last: time.Now(), refill: 5 * time.Millisecond}}
			p := newPacer(api, 0)
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://x/v1/volumes", nil)
					if !assert.NoError(t, err) {
						return
					}
					resp, err := p.RoundTrip(req)
					if assert.NoError(t, err) {
						assert.NoError(t, resp.Body.Close())
					}
				})
			}
			wg.Wait()
			assert.LessOrEqual(t, api.refused, tc.refused)
			assert.Equal(t, 10, api.answered+api.refused)
		})
	}
}

// clockedBudget is a budget on the real clock, for requests sent concurrently.
type clockedBudget struct {
	mu sync.Mutex
	budget
}

func (b *clockedBudget) RoundTrip(*http.Request) (*http.Response, error) {
	time.Sleep(20 * time.Millisecond) // the network: requests sent together overlap
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.answer(time.Now()), nil
}
