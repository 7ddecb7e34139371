package sim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimit configures the token bucket: Limit requests, refilled evenly over Period (the
// API's 3600 per hour is one per second). The zero value is the API's default.
type RateLimit struct {
	Disabled bool
	Limit    int
	Period   time.Duration
}

func (rl RateLimit) withDefaults() RateLimit {
	if rl.Limit <= 0 {
		rl.Limit = 3600
	}
	if rl.Period <= 0 {
		rl.Period = time.Hour
	}
	return rl
}

// ParseRateLimit reads the --rate-limit flag: "N/PERIOD" (3600/1h, 10/1s) or "off".
func ParseRateLimit(s string) (RateLimit, error) {
	if s == "off" {
		return RateLimit{Disabled: true}, nil
	}
	n, p, ok := strings.Cut(s, "/")
	limit, err := strconv.Atoi(n)
	if !ok || err != nil || limit < 1 {
		return RateLimit{}, fmt.Errorf("rate limit %q: want N/PERIOD (like 3600/1h) or off", s)
	}
	period, err := time.ParseDuration(p)
	if err != nil || period <= 0 {
		return RateLimit{}, fmt.Errorf("rate limit %q: bad period: want N/PERIOD (like 3600/1h) or off", s)
	}
	return RateLimit{Limit: limit, Period: period}, nil
}

// limiter is the project's one token bucket, as the real API limits per project.
type limiter struct {
	mu     sync.Mutex
	clock  Clock
	cfg    RateLimit
	tokens float64
	last   time.Time
}

func newLimiter(clock Clock, cfg RateLimit) *limiter {
	l := &limiter{clock: clock}
	l.configure(cfg)
	return l
}

// configure sets the bucket's size and rate and fills it.
func (l *limiter) configure(cfg RateLimit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg.withDefaults()
	l.tokens = float64(l.cfg.Limit)
	l.last = l.clock.Now()
}

// RateLimitState is the bucket as GET /_sim/stats shows it.
type RateLimitState struct {
	Enabled   bool   `json:"enabled"`
	Limit     int    `json:"limit"`
	Period    string `json:"period"`
	Remaining int    `json:"remaining"`
	Reset     int64  `json:"reset"`
}

// refill adds the tokens earned since last. The caller holds l.mu.
func (l *limiter) refill(now time.Time) {
	perToken := float64(l.cfg.Period) / float64(l.cfg.Limit)
	if d := now.Sub(l.last); d > 0 {
		l.tokens = math.Min(float64(l.cfg.Limit), l.tokens+float64(d)/perToken)
	}
	l.last = now
}

// state reports the bucket; the caller holds l.mu. Reset is when the bucket will be full again.
func (l *limiter) state(now time.Time) RateLimitState {
	perToken := float64(l.cfg.Period) / float64(l.cfg.Limit)
	missing := float64(l.cfg.Limit) - l.tokens
	reset := now.Add(time.Duration(math.Ceil(missing * perToken)))
	return RateLimitState{
		Enabled: !l.cfg.Disabled, Limit: l.cfg.Limit, Period: l.cfg.Period.String(),
		Remaining: int(math.Floor(l.tokens)), Reset: int64(math.Ceil(float64(reset.UnixNano()) / 1e9)),
	}
}

// take spends one token if there is one; ok is false when the request must be refused.
func (l *limiter) take() (RateLimitState, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.refill(now)
	if l.cfg.Disabled {
		return l.state(now), true
	}
	ok := l.tokens >= 1
	if ok {
		l.tokens--
	}
	return l.state(now), ok
}

// peek reports the bucket without spending.
func (l *limiter) peek() RateLimitState {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.refill(now)
	return l.state(now)
}

// exhausted is the bucket as an injected 429 shows it: empty, full again after a whole
// period, whatever the limiter holds (so the headers agree with the refusal even when the
// limiter is off).
func (l *limiter) exhausted() RateLimitState {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	return RateLimitState{
		Enabled: true, Limit: l.cfg.Limit, Period: l.cfg.Period.String(),
		Remaining: 0, Reset: int64(math.Ceil(float64(now.Add(l.cfg.Period).UnixNano()) / 1e9)),
	}
}

// setHeaders writes the API's RateLimit-* headers; a disabled limiter writes none.
func (st RateLimitState) setHeaders(w http.ResponseWriter) {
	if !st.Enabled {
		return
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(st.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(st.Remaining))
	h.Set("RateLimit-Reset", strconv.FormatInt(st.Reset, 10))
}
