package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault effects.
const (
	EffectError       = "error"
	EffectDrop        = "drop"
	EffectDropAfter   = "drop_after"
	EffectDelay       = "delay"
	EffectActionError = "action_error"
	EffectActionStuck = "action_stuck"
)

// Duration is a time.Duration written as "3s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts "3s" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration: want a string like \"3s\"")
		}
		*d = Duration(n)
		return nil
	}
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// FaultRule is one fault, in the JSON form of the admin API (docs/ARCHITECTURE.md).
type FaultRule struct {
	Method   string   `json:"method"`
	Path     string   `json:"path"`
	Effect   string   `json:"effect"`
	Status   int      `json:"status,omitempty"`
	Code     string   `json:"code,omitempty"`
	Message  string   `json:"message,omitempty"`
	Nth      int      `json:"nth,omitempty"`
	Count    int      `json:"count,omitempty"`
	Fraction float64  `json:"fraction,omitempty"`
	Delay    Duration `json:"delay,omitempty"`
	// Hits is how many requests the rule has hit so far (read-only).
	Hits int `json:"hits"`
}

// normalize fills defaults and checks the rule.
func (r *FaultRule) normalize() error {
	r.Method = strings.ToUpper(r.Method)
	if r.Method == "" {
		r.Method = "*"
	}
	if !strings.HasPrefix(r.Path, "/") {
		return fmt.Errorf("fault: path %q must start with /", r.Path)
	}
	if r.Effect == "" {
		r.Effect = EffectError
	}
	switch r.Effect {
	case EffectError:
		if r.Status == 0 && r.Code == "" {
			r.Status, r.Code = http.StatusInternalServerError, "server_error"
		}
		if r.Status == 0 {
			if r.Status = statusForCode[r.Code]; r.Status == 0 {
				r.Status = http.StatusUnprocessableEntity
			}
		}
		if r.Code == "" {
			if r.Code = codeForStatus[r.Status]; r.Code == "" {
				r.Code = "server_error"
			}
		}
		if r.Status < 400 || r.Status > 599 {
			return fmt.Errorf("fault: status %d is not an error status", r.Status)
		}
		if r.Message == "" {
			r.Message = "simulated fault: " + r.Code
		}
	case EffectDelay:
		if r.Delay <= 0 {
			return fmt.Errorf("fault: effect=delay needs delay=DURATION")
		}
	case EffectDrop, EffectDropAfter, EffectActionError, EffectActionStuck:
	default:
		return fmt.Errorf("fault: unknown effect %q (want error, drop, drop_after, delay, action_error or action_stuck)", r.Effect)
	}
	if r.Nth < 0 || r.Count < 0 || r.Fraction < 0 || r.Fraction > 1 {
		return fmt.Errorf("fault: nth and count must not be negative, fraction must be in 0..1")
	}
	if r.Nth > 0 && r.Fraction > 0 {
		return fmt.Errorf("fault: give nth or fraction, not both")
	}
	return nil
}

// ParseFaultRule reads the flag form: "METHOD PATH key=value ...".
func ParseFaultRule(line string) (FaultRule, error) {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return FaultRule{}, fmt.Errorf("fault %q: want METHOD PATH [key=value]", line)
	}
	r := FaultRule{Method: fields[0], Path: fields[1]}
	for _, kv := range fields[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return FaultRule{}, fmt.Errorf("fault %q: %q is not key=value", line, kv)
		}
		var err error
		switch k {
		case "effect":
			r.Effect = v
		case "status":
			r.Status, err = strconv.Atoi(v)
		case "code":
			r.Code = v
		case "message":
			r.Message = v
		case "nth":
			r.Nth, err = strconv.Atoi(v)
		case "count":
			r.Count, err = strconv.Atoi(v)
		case "fraction":
			r.Fraction, err = strconv.ParseFloat(v, 64)
		case "delay":
			var d time.Duration
			d, err = time.ParseDuration(v)
			r.Delay = Duration(d)
			if r.Effect == "" {
				r.Effect = EffectDelay
			}
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return FaultRule{}, fmt.Errorf("fault %q: %s: %v", line, k, err)
		}
	}
	if err := r.normalize(); err != nil {
		return FaultRule{}, fmt.Errorf("%w (in %q)", err, line)
	}
	return r, nil
}

// ReadFaultsFile reads one rule per line; blank lines and # comments are skipped.
func ReadFaultsFile(path string) ([]FaultRule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rules []FaultRule
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		r, err := ParseFaultRule(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		rules = append(rules, r)
	}
	return rules, sc.Err()
}

// pathMatches: "*" matches one segment, a trailing "/*" the rest (at least one segment).
func pathMatches(pattern, path string) bool {
	pat := strings.Split(strings.Trim(pattern, "/"), "/")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range pat {
		if p == "*" && i == len(pat)-1 && len(pat) > 1 {
			return len(segs) >= len(pat)
		}
		if i >= len(segs) || (p != "*" && p != segs[i]) {
			return false
		}
	}
	return len(segs) == len(pat)
}

type faultState struct {
	FaultRule
	matched int
}

// faults holds the rules and decides, request by request, which ones hit.
type faults struct {
	mu    sync.Mutex
	seed  int64
	rng   *rand.Rand
	rules []*faultState
	hits  int
}

func newFaults(seed int64) *faults {
	f := &faults{seed: seed}
	f.clear()
	return f
}

func (f *faults) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
	f.hits = 0
	f.rng = rand.New(rand.NewPCG(uint64(f.seed), 0x4641554c54))
}

func (f *faults) add(rules ...FaultRule) error {
	for i := range rules {
		if err := rules[i].normalize(); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rules {
		r.Hits = 0
		f.rules = append(f.rules, &faultState{FaultRule: r})
	}
	return nil
}

func (f *faults) list() []FaultRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FaultRule, len(f.rules))
	for i, r := range f.rules {
		out[i] = r.FaultRule
	}
	return out
}

func (f *faults) hitCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

// match returns the rules that hit this request, in the order they were added, and counts
// them. nth alone hits one request; with count, that many from the Nth on.
func (f *faults) match(method, path string) []FaultRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hit []FaultRule
	for _, r := range f.rules {
		if (r.Method != "*" && r.Method != method) || !pathMatches(r.Path, path) {
			continue
		}
		r.matched++
		limit := r.Count
		if r.Nth > 0 && limit == 0 {
			limit = 1
		}
		if limit > 0 && r.Hits >= limit {
			continue
		}
		switch {
		case r.Nth > 0 && r.matched < r.Nth:
			continue
		case r.Fraction > 0 && f.rng.Float64() >= r.Fraction:
			continue
		}
		r.Hits++
		f.hits++
		hit = append(hit, r.FaultRule)
	}
	return hit
}

type fateKey struct{}

// withFate marks the request so that the action it starts ends as the fault says.
func withFate(ctx context.Context, f fate) context.Context {
	return context.WithValue(ctx, fateKey{}, f)
}

func fateOf(ctx context.Context) fate {
	f, _ := ctx.Value(fateKey{}).(fate)
	return f
}
