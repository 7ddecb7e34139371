// Package simproc runs the built hcloud-sim binary as a user would: a separate process on
// 127.0.0.1:0 whose first stdout line is the endpoint, stopped with SIGTERM. End-to-end tests
// (the hcloud CLI, python3-hcloud, ansible-playbook), the soak rig and the benchmark harness use
// it; in-process Go tests use simtest.
//
// The admin calls (Stats, State, AddFault, Reset, ...) speak HTTP to /_sim/ and decode the JSON
// shapes of docs/ARCHITECTURE.md into this package's own types, so they check that contract
// instead of sharing the simulator's Go types.
package simproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// Token is the default token: 64 characters (the hcloud CLI wants that many) unlike any
// resource name (Ansible masks no_log values everywhere in results). It equals simtest.Token,
// written out again because this package talks to the simulator only as a process.
const Token = "simtestQ7kP2xZr9LmW4vT8nB3cY6hJ1dF5gS0aE2uI7oK4pM9qR3wX8zV6tN1bH"

// Package is the import path Build compiles.
const Package = "github.com/keybuzz/kbv3/cmd/hcloud-sim"

// Build compiles cmd/hcloud-sim into dir and returns the binary's path. It runs `go build`
// ($GOROOT/bin/go when GOROOT is set, else go on PATH) and must be called from inside the
// module, as tests are.
func Build(dir string) (string, error) {
	out := filepath.Join(dir, "hcloud-sim")
	goBin := "go"
	if root := os.Getenv("GOROOT"); root != "" && fileExists(filepath.Join(root, "bin", "go")) {
		goBin = filepath.Join(root, "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-o", out, Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("simproc: go build %s: %v\n%s", Package, err, b)
	}
	return out, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Options is how to start one simulator.
type Options struct {
	// Binary is the path of hcloud-sim (from Build); required.
	Binary string
	// Scenario is --scenario (default "ph3-02"); ScenarioFile, when set, is --scenario-file.
	Scenario     string
	ScenarioFile string
	// Token is --token (default Token).
	Token string
	// ActionTime is --action-time; 0 leaves the realistic defaults.
	ActionTime time.Duration
	// Args are more flags, appended last (--fault ..., --rate-limit off, --seed N, ...). The
	// address stays 127.0.0.1: Start refuses an endpoint elsewhere.
	Args []string
	// StartTimeout bounds the wait for the endpoint line (default 10s).
	StartTimeout time.Duration
	// Stderr, when set, also receives the simulator's stderr as it comes, for a log that
	// outlives the caller (Sim.Stderr keeps it all the same). Writes to it have ended when
	// Start fails or Stop returns, so the caller may close it then.
	Stderr io.Writer
	// SysProcAttr, when set, is the process's attributes: Pdeathsig on Linux, for one, lets a
	// long-running caller that may be killed with SIGKILL take the simulator with it.
	SysProcAttr *syscall.SysProcAttr
}

// Sim is one running hcloud-sim process.
type Sim struct {
	// Endpoint is the API, http://127.0.0.1:PORT/v1, as printed by the simulator.
	Endpoint string
	// Base is the endpoint without /v1: the admin API is under Base + "/_sim/".
	Base  string
	Token string
	// Args are the flags the simulator was started with, the token included: the command line
	// to show whoever reproduces a run.
	Args []string

	cmd    *exec.Cmd
	stderr *syncBuffer
	http   *http.Client
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, once done is closed
	stop   sync.Once
}

// Start runs the simulator and returns once it has printed its endpoint. ctx bounds the
// start-up only; the process runs until Stop.
func Start(ctx context.Context, opts Options) (*Sim, error) {
	if opts.Binary == "" {
		return nil, errors.New("simproc: Options.Binary is required (see Build)")
	}
	if opts.Token == "" {
		opts.Token = Token
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	args := []string{"--addr", "127.0.0.1:0", "--token", opts.Token}
	switch {
	case opts.ScenarioFile != "":
		args = append(args, "--scenario-file", opts.ScenarioFile)
	case opts.Scenario != "":
		args = append(args, "--scenario", opts.Scenario)
	default:
		args = append(args, "--scenario", "ph3-02")
	}
	if opts.ActionTime > 0 {
		args = append(args, "--action-time", opts.ActionTime.String())
	}
	args = append(args, opts.Args...)

	s := &Sim{
		Token:  opts.Token,
		Args:   args,
		stderr: &syncBuffer{},
		http:   &http.Client{Timeout: 10 * time.Second},
		done:   make(chan struct{}),
	}
	lines := &firstLine{ch: make(chan string, 1)}
	s.cmd = exec.Command(opts.Binary, args...)
	s.cmd.Stdout = lines
	s.cmd.Stderr = s.stderr
	if opts.Stderr != nil {
		s.cmd.Stderr = io.MultiWriter(s.stderr, opts.Stderr)
	}
	s.cmd.SysProcAttr = opts.SysProcAttr
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("simproc: start %s: %w", opts.Binary, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()

	timer := time.NewTimer(opts.StartTimeout)
	defer timer.Stop()
	select {
	case line := <-lines.ch:
		s.Endpoint = strings.TrimSpace(line)
	case <-s.done:
		return nil, fmt.Errorf("simproc: hcloud-sim %s exited before printing its endpoint (%v); stderr:\n%s", strings.Join(args, " "), s.err, s.Stderr())
	case <-timer.C:
		_ = s.Stop()
		return nil, fmt.Errorf("simproc: no endpoint from hcloud-sim within %v; stderr:\n%s", opts.StartTimeout, s.Stderr())
	case <-ctx.Done():
		_ = s.Stop()
		return nil, ctx.Err()
	}
	if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") || !strings.HasSuffix(s.Endpoint, "/v1") {
		_ = s.Stop()
		return nil, fmt.Errorf("simproc: first stdout line %q is not http://127.0.0.1:PORT/v1", s.Endpoint)
	}
	s.Base = strings.TrimSuffix(s.Endpoint, "/v1")
	return s, nil
}

// StartT starts a simulator for a test: it fails t if the start fails, and stops it in
// t.Cleanup, failing t if it does not exit 0 on SIGTERM.
func StartT(t testing.TB, opts Options) *Sim {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("%v; stderr:\n%s", err, s.Stderr())
		}
	})
	return s
}

// Stop sends SIGTERM and waits (at most 10 s, then kills) for the process to exit. It returns
// an error unless the simulator exited 0, as its start-up contract says. Later calls return
// the same result.
func (s *Sim) Stop() error {
	s.stop.Do(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			s.err = fmt.Errorf("did not exit within 10s of SIGTERM (killed): %v", s.err)
		}
	})
	if s.err != nil {
		return fmt.Errorf("simproc: hcloud-sim: %w", s.err)
	}
	return nil
}

// Stderr is what the simulator wrote on stderr so far.
func (s *Sim) Stderr() string { return s.stderr.String() }

// Env is the environment a client needs: HCLOUD_ENDPOINT and HCLOUD_TOKEN.
func (s *Sim) Env() []string {
	return []string{"HCLOUD_ENDPOINT=" + s.Endpoint, "HCLOUD_TOKEN=" + s.Token}
}

// Stats is GET /_sim/stats.
type Stats struct {
	Requests  RequestStats   `json:"requests"`
	RateLimit RateLimitState `json:"rate_limit"`
	FaultsHit int            `json:"faults_hit"`
}

// RequestStats counts /v1 requests; ByRoute keys are router patterns ("GET /v1/volumes/{id}"),
// ByStatus keys status codes ("200") or "dropped".
type RequestStats struct {
	Total    int            `json:"total"`
	Mutating int            `json:"mutating"`
	Read     int            `json:"read"`
	ByRoute  map[string]int `json:"by_route"`
	ByStatus map[string]int `json:"by_status"`
}

// RateLimitState is the bucket: Period like "1h0m0s", Reset a unix time.
type RateLimitState struct {
	Enabled   bool   `json:"enabled"`
	Limit     int    `json:"limit"`
	Period    string `json:"period"`
	Remaining int    `json:"remaining"`
	Reset     int64  `json:"reset"`
}

// Config is GET /_sim/config: the action time of each command and the rate limit, durations
// as Go duration strings ("3s").
type Config struct {
	ActionTimes map[string]string `json:"action_times"`
	RateLimit   RateLimitConfig   `json:"rate_limit"`
}

// RateLimitConfig is the rate limit in force, from --rate-limit or POST /_sim/config.
type RateLimitConfig struct {
	Enabled bool   `json:"enabled"`
	Limit   int    `json:"limit"`
	Period  string `json:"period"`
}

// ActionDurations parses ActionTimes: the counterpart of Sim.SetActionTimes.
func (c Config) ActionDurations() (map[string]time.Duration, error) {
	out := make(map[string]time.Duration, len(c.ActionTimes))
	// Sorted, so that of several bad values the same one is reported every time.
	for _, cmd := range slices.Sorted(maps.Keys(c.ActionTimes)) {
		d, err := time.ParseDuration(c.ActionTimes[cmd])
		if err != nil {
			return nil, fmt.Errorf("simproc: action time of %s: %w", cmd, err)
		}
		out[cmd] = d
	}
	return out, nil
}

// Fault is a fault rule in its JSON form; Delay is a Go duration ("3s"). Hits is read-only.
type Fault struct {
	Method   string  `json:"method"`
	Path     string  `json:"path"`
	Effect   string  `json:"effect,omitempty"`
	Status   int     `json:"status,omitempty"`
	Code     string  `json:"code,omitempty"`
	Message  string  `json:"message,omitempty"`
	Nth      int     `json:"nth,omitempty"`
	Count    int     `json:"count,omitempty"`
	Fraction float64 `json:"fraction,omitempty"`
	Delay    string  `json:"delay,omitempty"`
	Hits     int     `json:"hits,omitempty"`
}

// State is GET /_sim/state: everything, each kind sorted by id, in the API's shapes.
type State struct {
	Servers     []Server          `json:"servers"`
	Volumes     []schema.Volume   `json:"volumes"`
	Actions     []schema.Action   `json:"actions"`
	Locations   []schema.Location `json:"locations"`
	Datacenters []Datacenter      `json:"datacenters"`
}

// Server is the part of the API's server that tests read.
type Server struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Status     string            `json:"status"`
	Locked     bool              `json:"locked"`
	Labels     map[string]string `json:"labels"`
	Volumes    []int64           `json:"volumes"`
	Location   schema.Location   `json:"location"`
	Datacenter Datacenter        `json:"datacenter"`
	ServerType NamedArch         `json:"server_type"`
	// Image is nil for a server without one.
	Image *NamedArch `json:"image"`
}

// NamedArch is the part of a server type or an image that tests read.
type NamedArch struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	Architecture string `json:"architecture"`
}

// Datacenter is the API's datacenter without its server types.
type Datacenter struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Location    schema.Location `json:"location"`
}

// Volume finds a volume by name.
func (st State) Volume(name string) (schema.Volume, bool) {
	for _, v := range st.Volumes {
		if v.Name == name {
			return v, true
		}
	}
	return schema.Volume{}, false
}

// Server finds a server by name.
func (st State) Server(name string) (Server, bool) {
	for _, sv := range st.Servers {
		if sv.Name == name {
			return sv, true
		}
	}
	return Server{}, false
}

// ServerByID finds a server by id.
func (st State) ServerByID(id int64) (Server, bool) {
	for _, sv := range st.Servers {
		if sv.ID == id {
			return sv, true
		}
	}
	return Server{}, false
}

// Stats reads the request counters and the rate-limit bucket.
func (s *Sim) Stats() (Stats, error) {
	var st Stats
	return st, s.admin(http.MethodGet, "/_sim/stats", nil, http.StatusOK, &st)
}

// ResetStats zeroes the counters.
func (s *Sim) ResetStats() error {
	return s.admin(http.MethodPost, "/_sim/stats/reset", nil, http.StatusNoContent, nil)
}

// State reads the whole project.
func (s *Sim) State() (State, error) {
	var st State
	return st, s.admin(http.MethodGet, "/_sim/state", nil, http.StatusOK, &st)
}

// AddFault adds rules after the ones there and returns all rules.
func (s *Sim) AddFault(rules ...Fault) ([]Fault, error) {
	var all []Fault
	return all, s.admin(http.MethodPost, "/_sim/faults", rules, http.StatusCreated, &all)
}

// Faults lists the rules with their hits.
func (s *Sim) Faults() ([]Fault, error) {
	var all []Fault
	return all, s.admin(http.MethodGet, "/_sim/faults", nil, http.StatusOK, &all)
}

// ClearFaults removes every rule.
func (s *Sim) ClearFaults() error {
	return s.admin(http.MethodDelete, "/_sim/faults", nil, http.StatusNoContent, nil)
}

// Reset reloads the scenario (same ids) and clears faults, counters and the bucket.
func (s *Sim) Reset() error {
	return s.admin(http.MethodPost, "/_sim/reset", nil, http.StatusNoContent, nil)
}

// SetActionTimes changes how long future actions of the given commands take
// ("attach_volume": 2*time.Second).
func (s *Sim) SetActionTimes(times map[string]time.Duration) error {
	body := map[string]map[string]string{"action_times": {}}
	for c, d := range times {
		body["action_times"][c] = d.String()
	}
	return s.admin(http.MethodPost, "/_sim/config", body, http.StatusOK, nil)
}

// Config reads the action times and the rate limit in force.
func (s *Sim) Config() (Config, error) {
	var c Config
	return c, s.admin(http.MethodGet, "/_sim/config", nil, http.StatusOK, &c)
}

// Release says which stuck actions (fault effect action_stuck) ReleaseActions ends, and how.
type Release struct {
	// IDs are the actions to end; none ends every stuck action.
	IDs []int64 `json:"ids,omitempty"`
	// Status is "success" (the default: the action's change lands) or "error" (it fails and
	// changes nothing, as an action_error fault would).
	Status string `json:"status,omitempty"`
	// Code and Message are the action's error when Status is "error" (default action_failed).
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ReleaseActions ends stuck actions now and returns them as they are afterwards. Nothing
// changes when an id is unknown or not stuck.
func (s *Sim) ReleaseActions(r Release) ([]schema.Action, error) {
	var out struct {
		Actions []schema.Action `json:"actions"`
	}
	return out.Actions, s.admin(http.MethodPost, "/_sim/actions/release", r, http.StatusOK, &out)
}

// admin makes one admin call: body (when not nil) as JSON, want as the only accepted status,
// the answer decoded into out (when not nil).
func (s *Sim) admin(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("simproc: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("simproc: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("simproc: %s %s: status %d (want %d): %s", method, path, resp.StatusCode, want, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("simproc: %s %s: decoding %T: %w", method, path, out, err)
		}
	}
	return nil
}

// firstLine is the simulator's stdout: it hands the first line over and drops the rest.
type firstLine struct {
	mu   sync.Mutex
	buf  []byte
	sent bool
	ch   chan string
}

func (f *firstLine) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sent {
		return len(p), nil
	}
	f.buf = append(f.buf, p...)
	if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
		f.sent = true
		f.ch <- string(f.buf[:i])
		f.buf = nil
	}
	return len(p), nil
}

// syncBuffer is a bytes.Buffer safe for the copying goroutine and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Main is the TestMain of a package whose tests run the simulator as a process: it builds the
// binary once into a temporary directory, sets *binary, runs the tests, removes the directory
// and exits with the tests' code.
func Main(m *testing.M, binary *string) {
	dir, err := os.MkdirTemp("", "kbv3-sim-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*binary, err = Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
