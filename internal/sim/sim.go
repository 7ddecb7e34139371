package sim

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"
)

// Config is everything a simulator starts from. The zero value is an empty project with the
// real API's action times and rate limit, accepting any token.
type Config struct {
	// Scenario is "empty" (default), "ph3-02" or "generated:N"; ScenarioData, when set, wins.
	Scenario     string
	ScenarioData *Scenario
	// Seed makes ids, addresses, locations of generated fleets and fault fractions repeatable.
	Seed int64
	// Token, when set, is the only token accepted; otherwise any bearer token is.
	Token string
	// ActionTime, when not zero, is the time of every command; ActionTimes overrides it per
	// command (keys: Commands).
	ActionTime  time.Duration
	ActionTimes map[string]time.Duration
	RateLimit   RateLimit
	Faults      []FaultRule
	// Logger receives the request log (one Info line per /v1 request); nil discards it.
	Logger *slog.Logger
	// Clock and IDs default to the system clock and seeded sequential ids.
	Clock Clock
	IDs   IDSource
	// Sleep waits out delays (DELETE's delete_volume time, fault delays); default time.Sleep
	// bounded by the request.
	Sleep func(time.Duration)
}

// Sim is one simulated Hetzner Cloud project behind an http.Handler.
type Sim struct {
	cfg     Config
	log     *slog.Logger
	limiter *limiter
	faults  *faults
	stats   *stats
	api     *http.ServeMux
	admin   *http.ServeMux

	mu    sync.RWMutex // guards store: Reset swaps it
	store *Store
}

// New builds a simulator from cfg; it fails on an unknown scenario, a bad fault rule or an
// unknown command in ActionTimes.
func New(cfg Config) (*Sim, error) {
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for c := range cfg.ActionTimes {
		if !isCommand(c) {
			return nil, fmt.Errorf("unknown command %q in action times (want one of %v)", c, Commands)
		}
	}
	s := &Sim{
		cfg:     cfg,
		log:     cfg.Logger,
		limiter: newLimiter(cfg.Clock, cfg.RateLimit),
		faults:  newFaults(cfg.Seed),
		stats:   newStats(),
	}
	if err := s.faults.add(cfg.Faults...); err != nil {
		return nil, err
	}
	store, err := s.newStore()
	if err != nil {
		return nil, err
	}
	s.store = store
	s.api = s.apiRoutes()
	s.admin = s.adminRoutes()
	return s, nil
}

func isCommand(c string) bool {
	for _, k := range Commands {
		if k == c {
			return true
		}
	}
	return false
}

// actionTimes merges the defaults, the global time and the per-command times of cfg.
func (c Config) actionTimes() map[string]time.Duration {
	times := DefaultActionTimes()
	if c.ActionTime > 0 {
		for k := range times {
			times[k] = c.ActionTime
		}
	}
	maps.Copy(times, c.ActionTimes)
	return times
}

// newStore builds a fresh store loaded with the configured scenario.
func (s *Sim) newStore() (*Store, error) {
	sc := s.cfg.ScenarioData
	if sc == nil {
		var err error
		if sc, err = BuiltinScenario(s.cfg.Scenario, s.cfg.Seed); err != nil {
			return nil, err
		}
	}
	ids := s.cfg.IDs
	if ids == nil {
		ids = NewSeqIDs(s.cfg.Seed)
	}
	st := newStore(s.cfg.Clock, ids, s.cfg.actionTimes())
	if err := st.load(sc, s.cfg.Seed); err != nil {
		return nil, err
	}
	return st, nil
}

// Store is the current state; Reset replaces it.
func (s *Sim) Store() *Store {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.store
}

// Reset reloads the scenario (same seed, so the same ids), and clears faults, counters and the
// rate-limit bucket. Action times set at run time are kept.
func (s *Sim) Reset() error {
	old := s.Store()
	st, err := s.newStore()
	if err != nil {
		return err
	}
	old.mu.Lock()
	st.times = maps.Clone(old.times)
	old.mu.Unlock()
	s.mu.Lock()
	s.store = st
	s.mu.Unlock()
	s.faults.clear()
	s.stats.reset()
	s.limiter.configure(s.limiterConfig())
	return nil
}

func (s *Sim) limiterConfig() RateLimit {
	s.limiter.mu.Lock()
	defer s.limiter.mu.Unlock()
	return s.limiter.cfg
}

// AddFaults adds rules at run time, after the ones already there.
func (s *Sim) AddFaults(rules ...FaultRule) error { return s.faults.add(rules...) }

// ClearFaults removes every rule.
func (s *Sim) ClearFaults() { s.faults.clear() }

// Faults lists the rules with their hit counts.
func (s *Sim) Faults() []FaultRule { return s.faults.list() }

// SetRateLimit replaces the bucket (full) with cfg.
func (s *Sim) SetRateLimit(cfg RateLimit) { s.limiter.configure(cfg) }

// Stats is what GET /_sim/stats answers.
func (s *Sim) Stats() Stats {
	st := s.stats.snapshot()
	st.RateLimit = s.limiter.peek()
	st.FaultsHit = s.faults.hitCount()
	return st
}

// ResetStats zeroes the request counters.
func (s *Sim) ResetStats() { s.stats.reset() }

// Handler serves /v1/... (the API) and /_sim/... (the admin API).
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Sim) sleep(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	if s.cfg.Sleep != nil {
		s.cfg.Sleep(d)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}
