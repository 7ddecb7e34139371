package hz

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// errPaceDeadline: the next request slot the rate limit allows comes after the deadline. It
// matches context.DeadlineExceeded, which is what it means for the caller.
var errPaceDeadline error = paceDeadline{}

type paceDeadline struct{}

func (paceDeadline) Error() string { return "rate limit: no request slot before the deadline" }

func (paceDeadline) Is(target error) bool { return target == context.DeadlineExceeded }

// defaultRefill is the API's documented refill (3600 an hour), used until the headers tell.
const defaultRefill = time.Second

// pacer is an http.RoundTripper that keeps the project's rate-limit budget from running out:
// while the budget it estimates is above the reserve, requests go at once; at or below it,
// requests are spaced at the refill interval, so that the budget stops falling and a 429 is
// not needed to learn that the limit is near. The estimate is the last RateLimit-Remaining,
// minus requests sent since, plus the refill since; the server's word wins when it is lower
// (other clients share the project's budget).
type pacer struct {
	next    http.RoundTripper
	reserve float64
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	known bool // a response with rate-limit headers was seen
	// probe is closed once the first request, sent alone, has its answer: until a response
	// tells the budget, a process that starts with ten requests at once (an attach batch)
	// would spend ten on an empty budget and get ten 429s, where one request learns it.
	probe    chan struct{}
	probed   bool      // the first request has its answer (with or without headers)
	avail    float64   // estimated remaining requests at time at
	at       time.Time //
	limit    float64
	refill   time.Duration // time for one request to come back into the budget
	nextSlot time.Time     // earliest start of the next paced request
}

func newPacer(next http.RoundTripper, reserve int) *pacer {
	if next == nil {
		next = http.DefaultTransport
	}
	return &pacer{next: next, reserve: float64(reserve), now: time.Now, sleep: sleepCtx, refill: defaultRefill}
}

func (p *pacer) RoundTrip(req *http.Request) (*http.Response, error) {
	first, err := p.firstOrWait(req.Context())
	if err != nil {
		return nil, err
	}
	if first {
		defer p.probeDone()
	}
	wait, err := p.slot(req.Context())
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		if err := p.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
	resp, err := p.next.RoundTrip(req)
	if resp != nil {
		p.observe(resp.Header)
	}
	return resp, err
}

// firstOrWait reports whether req is the first request, which goes alone; any other request
// waits, until ctx ends, for the first one's answer.
func (p *pacer) firstOrWait(ctx context.Context) (bool, error) {
	p.mu.Lock()
	if p.probed {
		p.mu.Unlock()
		return false, nil
	}
	if p.probe == nil {
		p.probe = make(chan struct{})
		p.mu.Unlock()
		return true, nil
	}
	probe := p.probe
	p.mu.Unlock()
	select {
	case <-probe:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// probeDone lets the requests held back by the first one go.
func (p *pacer) probeDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probed = true
	close(p.probe)
}

// slot takes a place in the budget and returns how long to wait before using it. It refuses,
// rather than sleeping, when the place lies past ctx's deadline.
func (p *pacer) slot(ctx context.Context) (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.known {
		return 0, nil
	}
	now := p.now()
	p.refillTo(now)
	if p.avail-1 >= p.reserve {
		p.avail--
		return 0, nil
	}
	start := now
	if p.avail < 1 {
		// Empty (others spent it, or a 429 told): the next request must wait for a refill.
		start = now.Add(time.Duration((1 - p.avail) * float64(p.refill)))
	}
	if p.nextSlot.After(start) {
		start = p.nextSlot
	}
	if dl, ok := ctx.Deadline(); ok && start.After(dl) {
		return 0, fmt.Errorf("%w: next slot in %s, deadline in %s",
			errPaceDeadline, start.Sub(now).Round(time.Millisecond), dl.Sub(now).Round(time.Millisecond))
	}
	p.nextSlot = start.Add(p.refill)
	p.avail--
	return start.Sub(now), nil
}

func (p *pacer) refillTo(now time.Time) {
	if d := now.Sub(p.at); d > 0 && p.refill > 0 {
		p.avail += float64(d) / float64(p.refill)
		if p.limit > 0 && p.avail > p.limit {
			p.avail = p.limit
		}
	}
	p.at = now
}

// observe takes in a response's RateLimit-* headers.
func (p *pacer) observe(h http.Header) {
	limit, errL := strconv.Atoi(h.Get("RateLimit-Limit"))
	remaining, errR := strconv.Atoi(h.Get("RateLimit-Remaining"))
	if errL != nil || errR != nil || limit <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	// RateLimit-Reset is when the budget is full again: the missing requests come back one
	// per refill interval until then. It is in whole seconds, up to one late: half a second
	// off is the best guess (negligible at the API's hour, not with a test's short period).
	if reset, err := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64); err == nil && remaining < limit {
		if d := time.Unix(reset, 0).Sub(now); d > 0 {
			if d > time.Second {
				d -= time.Second / 2
			}
			p.refill = clampDuration(d/time.Duration(limit-remaining), time.Millisecond, time.Minute)
		}
	}
	if !p.known {
		p.known, p.avail, p.at = true, float64(remaining), now
	} else {
		p.refillTo(now)
		p.avail = min(p.avail, float64(remaining))
	}
	p.limit = float64(limit)
}

// pace returns the refill interval while requests are being spaced, and 0 otherwise: the
// poller then polls no faster than every other slot, leaving the rest to the changes.
func (p *pacer) pace() time.Duration {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.known {
		return 0
	}
	p.refillTo(p.now())
	if p.avail-1 >= p.reserve {
		return 0
	}
	return p.refill
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
