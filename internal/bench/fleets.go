package bench

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fleet is a generated fleet of N servers with one old volume each, reset with the rate limit
// on. Scale divides the simulator's action times and its rate-limit period alike: a run at
// scale 6 lasts about a sixth of what it would against the real API, with the same requests
// and the same ratio of requests to refill, and the report multiplies its times back.
type Fleet struct {
	N     int
	Scale int
}

// DefaultFleets are `make bench`'s: 500 volumes in real time; 2000 at a third of it, where the
// real API's rate limit alone would hold the reset for well over an hour. Not faster: what does
// not scale (Ansible's own time, the first poll 1 s after an action starts) would then take
// longer than the scaled rate limit, and the run would measure the client, not the bound.
var DefaultFleets = []Fleet{{N: 500, Scale: 1}, {N: 2000, Scale: 3}}

// ParseFleets reads "N[:SCALE],..." (the -fleets flag).
func ParseFleets(s string) ([]Fleet, error) {
	var out []Fleet
	if s == "" || s == "none" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		n, sc, hasScale := strings.Cut(strings.TrimSpace(part), ":")
		f := Fleet{Scale: 1}
		var err error
		if f.N, err = strconv.Atoi(n); err != nil || f.N < 1 || f.N > 10000 {
			return nil, fmt.Errorf("fleet %q: want N[:SCALE] with N from 1 to 10000", part)
		}
		if hasScale {
			if f.Scale, err = strconv.Atoi(sc); err != nil || f.Scale < 1 || f.Scale > 100 {
				return nil, fmt.Errorf("fleet %q: the time scale must be a whole number from 1 to 100", part)
			}
		}
		for _, o := range out {
			if o.N == f.N {
				return nil, fmt.Errorf("fleet %q: %d volumes twice", part, f.N)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// String is the flag's form.
func (f Fleet) String() string { return fmt.Sprintf("%d:%d", f.N, f.Scale) }

// Name is the run's name in the report ("fleet-500").
func (f Fleet) Name() string { return fmt.Sprintf("fleet-%d", f.N) }

// RateLimit is a token bucket as the simulator reports it: Limit requests, refilled evenly
// over Period, full at the start of a run.
type RateLimit struct {
	Limit  int
	Period time.Duration
}

// ParseRateLimit reads the simulator's "N/PERIOD".
func ParseRateLimit(s string) (RateLimit, error) {
	n, p, ok := strings.Cut(s, "/")
	limit, err := strconv.Atoi(n)
	if !ok || err != nil || limit < 1 {
		return RateLimit{}, fmt.Errorf("rate limit %q: want N/PERIOD", s)
	}
	period, err := time.ParseDuration(p)
	if err != nil || period <= 0 {
		return RateLimit{}, fmt.Errorf("rate limit %q: bad period", s)
	}
	return RateLimit{Limit: limit, Period: period}, nil
}

// Bound is the least time n requests take under the limit: the bucket's Limit go at once,
// every further one waits for a refill of Period/Limit. A run that needs fewer than the
// bucket holds is not held back at all.
func (rl RateLimit) Bound(n int) time.Duration {
	if rl.Limit <= 0 || n <= rl.Limit {
		return 0
	}
	return time.Duration(n-rl.Limit) * rl.Period / time.Duration(rl.Limit)
}

// Scaled is the limit of a simulator running scale times faster: the same bucket, a period
// scale times shorter.
func (rl RateLimit) Scaled(scale int) RateLimit {
	return RateLimit{Limit: rl.Limit, Period: rl.Period / time.Duration(max(scale, 1))}
}

func (rl RateLimit) String() string { return fmt.Sprintf("%d/%s", rl.Limit, rl.Period) }

// ScaleTimes divides every action time by scale.
func ScaleTimes(times map[string]time.Duration, scale int) map[string]time.Duration {
	out := make(map[string]time.Duration, len(times))
	for k, d := range times {
		out[k] = d / time.Duration(max(scale, 1))
	}
	return out
}

// scaledSimArgs are the simulator flags of a fleet's run: every action time and the rate-limit
// period divided by the fleet's scale.
func scaledSimArgs(times map[string]time.Duration, rl RateLimit, scale int) []string {
	var args []string
	st := ScaleTimes(times, scale)
	for _, cmd := range slices.Sorted(maps.Keys(st)) {
		args = append(args, "--action-time", cmd+"="+st[cmd].String())
	}
	return append(args, "--rate-limit", rl.Scaled(scale).String())
}

// FleetRun is what the report knows of a fleet's run besides its WayResult: its scale and the
// rate limit it ran under (the scaled one).
type FleetRun struct {
	Fleet     Fleet
	RateLimit RateLimit
}

// Real is the real API's limit the run's scaled one stands for.
func (f *FleetRun) Real() RateLimit {
	return RateLimit{Limit: f.RateLimit.Limit, Period: f.RateLimit.Period * time.Duration(max(f.Fleet.Scale, 1))}
}

// FleetFigures are a fleet run's measurements beside its bounds, in the real API's time (the
// simulator's times multiplied by the scale).
type FleetFigures struct {
	Volumes                int
	Scale                  int
	Wall                   time.Duration // real-API equivalent
	Requests, RequestBound int
	PerVolume, BoundPerVol float64
	RequestRatio           float64
	TooMany                int
	// ActionBound is the time bound of the actions in waves; RateBound the least time the
	// rate limit allows the request bound's requests (RateLimit.Bound); RunRateFloor that of
	// the requests the run actually sent.
	ActionBound, RateBound, RunRateFloor time.Duration
	// TimeRatio is Wall over the larger of ActionBound and RateBound.
	TimeRatio float64
	Limit     RateLimit // the real API's (unscaled)
}

// Figures computes a fleet run's figures; ok is false when the run has no bound (not run).
func (r *WayResult) Figures() (FleetFigures, bool) {
	if !ran(r) || r.Bound == nil || r.Fleet == nil {
		return FleetFigures{}, false
	}
	sc := max(r.Fleet.Fleet.Scale, 1)
	real := r.Fleet.Real()
	n := max(r.Work.Create, 1)
	f := FleetFigures{
		Volumes: r.Work.Create, Scale: sc, Wall: r.Measure.Wall * time.Duration(sc),
		Requests: r.Stats.Requests.Total, RequestBound: r.Bound.Requests,
		PerVolume: float64(r.Stats.Requests.Total) / float64(n), BoundPerVol: float64(r.Bound.Requests) / float64(n),
		TooMany: r.Stats.TooMany(), ActionBound: r.Bound.Time * time.Duration(sc),
		RateBound: real.Bound(r.Bound.Requests), RunRateFloor: real.Bound(r.Stats.Requests.Total), Limit: real,
	}
	if r.Bound.Requests > 0 {
		f.RequestRatio = float64(f.Requests) / float64(f.RequestBound)
	}
	if b := max(f.ActionBound, f.RateBound); b > 0 {
		f.TimeRatio = f.Wall.Seconds() / b.Seconds()
	}
	return f, true
}
