package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sim is one running bin/hcloud-sim process and a client of its admin API.
type Sim struct {
	Endpoint string // http://127.0.0.1:PORT/v1
	Args     []string
	cmd      *exec.Cmd
	done     chan struct{} // closed once the process is reaped
	stopOnce sync.Once
	http     *http.Client
}

// StartSim starts the simulator with args, waits (at most 15 s) for the endpoint it prints as its
// first stdout line, and checks that it listens on loopback. Its stderr goes to logPath.
func StartSim(ctx context.Context, bin, logPath string, args ...string) (*Sim, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	// The simulator dies with the harness even when the harness is killed with SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &Sim{Args: args, cmd: cmd, done: make(chan struct{}), http: &http.Client{Timeout: 30 * time.Second}}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		line := ""
		if sc.Scan() {
			line = sc.Text()
		}
		first <- line
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	select {
	case line := <-first:
		if !strings.HasPrefix(line, "http://127.0.0.1:") || !strings.HasSuffix(line, "/v1") {
			s.Stop()
			return nil, fmt.Errorf("hcloud-sim printed %q, want http://127.0.0.1:PORT/v1 (log: %s)", line, logPath)
		}
		s.Endpoint = line
	case <-timer.C:
		s.Stop()
		return nil, fmt.Errorf("hcloud-sim printed no endpoint within 15s (log: %s)", logPath)
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
	return s, nil
}

// Stop ends the simulator: SIGTERM, then SIGKILL after 5 s. It is safe to call twice.
func (s *Sim) Stop() {
	if s == nil {
		return
	}
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		timer := time.NewTimer(5 * time.Second)
		defer timer.Stop()
		select {
		case <-s.done:
		case <-timer.C:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// admin is the base of the admin API: the endpoint without /v1.
func (s *Sim) admin() string { return strings.TrimSuffix(s.Endpoint, "/v1") }

func (s *Sim) call(ctx context.Context, method, path string, body, into any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.admin()+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if into != nil {
		return json.Unmarshal(data, into)
	}
	return nil
}

// Reset reloads the scenario and clears counters, faults and the rate-limit bucket.
func (s *Sim) Reset(ctx context.Context) error {
	return s.call(ctx, http.MethodPost, "/_sim/reset", nil, nil)
}

// ResetStats zeroes the request counters.
func (s *Sim) ResetStats(ctx context.Context) error {
	return s.call(ctx, http.MethodPost, "/_sim/stats/reset", nil, nil)
}

// Stats is GET /_sim/stats.
type Stats struct {
	Requests struct {
		Total    int            `json:"total"`
		Mutating int            `json:"mutating"`
		Read     int            `json:"read"`
		ByRoute  map[string]int `json:"by_route"`
		ByStatus map[string]int `json:"by_status"`
	} `json:"requests"`
	RateLimit struct {
		Enabled   bool `json:"enabled"`
		Limit     int  `json:"limit"`
		Remaining int  `json:"remaining"`
	} `json:"rate_limit"`
}

// Stats reads the counters.
func (s *Sim) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.call(ctx, http.MethodGet, "/_sim/stats", nil, &st)
	return st, err
}

// State reads the whole project.
func (s *Sim) State(ctx context.Context) (*State, error) {
	st := &State{}
	err := s.call(ctx, http.MethodGet, "/_sim/state", nil, st)
	return st, err
}

// SimConfig is GET /_sim/config: action times (Go durations as strings) and the rate limit.
type SimConfig struct {
	ActionTimes map[string]string `json:"action_times"`
	RateLimit   struct {
		Limit   int    `json:"limit"`
		Period  string `json:"period"`
		Enabled bool   `json:"enabled"`
	} `json:"rate_limit"`
}

// Config reads the simulator's current settings.
func (s *Sim) Config(ctx context.Context) (SimConfig, error) {
	var c SimConfig
	err := s.call(ctx, http.MethodGet, "/_sim/config", nil, &c)
	return c, err
}

// ParsedActionTimes parses the action times of c.
func (c SimConfig) ParsedActionTimes() (map[string]time.Duration, error) {
	out := make(map[string]time.Duration, len(c.ActionTimes))
	var errs []error
	for k, v := range c.ActionTimes {
		d, err := parseDurationLoose(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("action time %s: %w", k, err))
			continue
		}
		out[k] = d
	}
	return out, errors.Join(errs...)
}

// parseDurationLoose accepts a Go duration string or a number of nanoseconds.
func parseDurationLoose(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	var n int64
	if _, err := fmt.Sscan(v, &n); err == nil {
		return time.Duration(n), nil
	}
	return 0, fmt.Errorf("bad duration %q", v)
}
