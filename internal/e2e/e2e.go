// Package e2e is kbv3's one end-to-end harness: it drives ansible-playbook against hcloud-sim
// for the tests in tests/, the kill-and-rerun soak (cmd/kbv3-soak) and the benchmark
// (internal/bench).
//
// It builds the collection (what `make build` does) and finds the repository (Root); starts
// simulators (StartSimulator) on the built-in scenarios or on a Fleet written as a scenario
// file; gives each run its own workspace (Env for a test: a copy of the project's servers/ area
// and a recording callback that reads back every task's module result; Workspace for a fleet:
// plan, diff and inventory); runs every command in its own process group (KillGroup is the one
// kill), under a deadline; parses the PLAY RECAP (Recap); and checks the fleet against the plan
// (CheckFleet, Safe, PlanProblems).
//
// Nothing here writes into the repository's servers/, reports/ or logs/: every path a playbook
// writes is passed with -e and lies under the workspace.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// MissingDeps ends every message about a missing tool: the tests fail, never skip, without them.
const MissingDeps = "run make deps (Debian packages ansible-core, ansible, yamllint, ansible-lint, hcloud-cli, python3-hcloud)"

// Paths of the project, relative to its root; Env.Dir mirrors them for one test.
const (
	PlanFile     = "servers/volume_plan_v3.json"
	DiffFile     = "servers/volume_diff_v3.json"
	SnapshotFile = "servers/existing_volumes_hetzner.json"
	ReportFile   = "reports/volume_reset_v3.md"
	LogFile      = "logs/volume-reset-v3.jsonl"
)

// Playbooks, by file name under playbooks/.
const (
	DiffPlaybook  = "volume_diff_v3.yml"
	ResetPlaybook = "volume_reset_v3.yml"
)

// Options is how to start one test's environment.
type Options struct {
	// Scenario of the simulator (default "ph3-02").
	Scenario string
	// ActionTime is how long every simulated action takes (default 50ms).
	ActionTime time.Duration
	// Token (default simproc.Token: long and unlike any resource name, since Ansible masks no_log
	// values wherever they occur in results).
	Token string
	// SimArgs are more hcloud-sim flags (--fault ..., --rate-limit off, --action-time CMD=D ...).
	SimArgs []string
}

// Env is one test's simulator and project area.
type Env struct {
	// Root is the repository (the collection keybuzz.infra through .build/collections).
	Root string
	// Dir is the test's project area: servers/ (with a copy of the plan), reports/, logs/.
	Dir string
	// Workspace names the files of Dir the playbooks read and write.
	Workspace *Workspace
	// Endpoint and Token are what the modules get as HCLOUD_ENDPOINT and HCLOUD_TOKEN.
	Endpoint string
	Token    string
	// Sim is the running simulator; Initial its state before the test did anything.
	Sim     *simproc.Sim
	Initial simproc.State

	t       testing.TB
	runs    int
	runsMu  sync.Mutex
	plan    *plan.Plan
	planErr error
}

// Start checks the tools (RequireTools), builds the collection if this process has not yet,
// starts a simulator (stopped by t.Cleanup) and prepares Dir. It fails t on any problem.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	RequireTools(t)
	b, err := Build()
	if err != nil {
		t.Fatalf("building the collection: %v", err)
	}
	if opts.Scenario == "" {
		opts.Scenario = "ph3-02"
	}
	if opts.ActionTime == 0 {
		opts.ActionTime = 50 * time.Millisecond
	}
	if opts.Token == "" {
		opts.Token = simproc.Token
	}
	dir := t.TempDir()
	ws, err := NewProjectWorkspace(dir, b.Root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartSimulator(ctx, SimOptions{Binary: b.Sim, Fleet: Fleet{Name: opts.Scenario}, Token: opts.Token,
		ActionTime: opts.ActionTime, Args: opts.SimArgs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("%v; stderr:\n%s", err, s.Stderr())
		}
	})
	initial, err := s.State()
	if err != nil {
		t.Fatalf("reading the simulator's state: %v", err)
	}
	e := &Env{Root: b.Root, Dir: dir, Workspace: ws, Endpoint: s.Endpoint, Token: s.Token, Sim: s, Initial: initial, t: t}
	e.plan, e.planErr = plan.Load(ws.Plan)
	return e
}

// RequireTools fails t, with a message saying to run make deps, unless ansible-playbook, ansible
// and ansible-galaxy are on PATH. End-to-end tests never skip for a missing tool.
func RequireTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ansible-playbook", "ansible", "ansible-galaxy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH (%v): %s", tool, err, MissingDeps)
		}
	}
}

// Path is a file of the test's project area, rel being one of PlanFile, DiffFile, ...
func (e *Env) Path(rel string) string { return filepath.Join(e.Dir, rel) }

// Plan is the test's plan: the shipped one, copied to PlanFile under Dir and loaded at Start.
func (e *Env) Plan() *plan.Plan {
	e.t.Helper()
	if e.planErr != nil {
		e.t.Fatalf("the plan: %v", e.planErr)
	}
	return e.plan
}

// Diff reads the test's diff file, as the reset playbook will.
func (e *Env) Diff() *plan.Diff {
	e.t.Helper()
	d, err := plan.LoadDiff(e.Path(DiffFile))
	if err != nil {
		e.t.Fatalf("the diff: %v", err)
	}
	return d
}

// WriteDiff replaces the test's diff file (for a test that edits the reviewed diff).
func (e *Env) WriteDiff(d *plan.Diff) {
	e.t.Helper()
	data, err := d.Encode()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.Path(DiffFile), data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// State and Stats read the simulator, failing the test on an error.
func (e *Env) State() simproc.State {
	e.t.Helper()
	st, err := e.Sim.State()
	if err != nil {
		e.t.Fatalf("reading the simulator's state: %v", err)
	}
	return st
}

// Stats reads the simulator's request counters.
func (e *Env) Stats() simproc.Stats {
	e.t.Helper()
	st, err := e.Sim.Stats()
	if err != nil {
		e.t.Fatalf("reading the simulator's stats: %v", err)
	}
	return st
}

// Built is what Build made.
type Built struct {
	// Root is the repository; Sim is bin/hcloud-sim.
	Root, Sim string
}

var (
	buildOnce sync.Once
	built     Built
	buildErr  error
)

// Build does what `make build` does, once per process: the module binaries into plugins/modules
// (static, -trimpath, stamped with galaxy.yml's version, so a binary `make build` left is
// already up to date and go build leaves it alone), bin/hcloud-sim, and the link
// .build/collections/ansible_collections/keybuzz/infra → the repository, through which
// ansible.cfg finds the collection.
func Build() (Built, error) {
	buildOnce.Do(func() { built, buildErr = build() })
	return built, buildErr
}

func build() (Built, error) {
	root, err := Root()
	if err != nil {
		return Built{}, err
	}
	// `make build` is the one definition of the build (flags, the multi-call module binary and
	// its hard links, the collection link): the tests run what users run.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := GroupCommand(ctx, "make", "--no-print-directory", "build")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return Built{}, fmt.Errorf("make build: %v\n%s", err, out)
	}
	return Built{Root: root, Sim: filepath.Join(root, "bin", "hcloud-sim")}, nil
}
