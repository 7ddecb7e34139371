package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// The reliability, bad-input and secrets tests drive the built binaries (make build): the module
// binaries in plugins/modules, bin/hcloud-sim and the collection link ansible.cfg uses. Shared
// set-up lives here; the harness itself is internal/e2e, which the soak command and the
// benchmark use too.

var (
	relRootOnce sync.Once
	relRootDir  string
	relRootErr  error
)

// relRoot is the repository root, once the built binaries are checked to be there.
func relRoot(t testing.TB) string {
	t.Helper()
	relRootOnce.Do(func() {
		relRootDir, relRootErr = e2e.Root()
		if relRootErr == nil {
			relRootErr = e2e.CheckBuilt(relRootDir)
		}
	})
	if relRootErr != nil {
		t.Fatal(relRootErr)
	}
	return relRootDir
}

// relSim starts a simulator of fleet f for the test, stopped at its end.
func relSim(t testing.TB, f e2e.Fleet, token string, args ...string) *simproc.Sim {
	t.Helper()
	root := relRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := e2e.StartSim(ctx, root, t.TempDir(), f, token, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("hcloud-sim: %v\n%s", err, s.Stderr())
		}
	})
	return s
}

// relState reads the simulator's state or fails the test.
func relState(t testing.TB, s *simproc.Sim) simproc.State {
	t.Helper()
	st, err := s.State()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// relStats reads the simulator's counters or fails the test.
func relStats(t testing.TB, s *simproc.Sim) simproc.Stats {
	t.Helper()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// relModule runs one module binary with args (as Ansible writes them: the task's options and
// _ansible_* keys in one JSON object) and env, bounded by 60 s; it returns the parsed result and
// the raw output.
func relModule(t testing.TB, module string, args map[string]any, env []string) (map[string]any, string) {
	t.Helper()
	full := map[string]any{"_ansible_check_mode": false, "_ansible_diff": false, "_ansible_no_log": false,
		"_ansible_verbosity": 0, "_ansible_module_name": module, "_ansible_version": "2.14.18"}
	for k, v := range args {
		full[k] = v
	}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	return relModuleRaw(t, module, b, env)
}

// relModuleRaw runs a module with the given bytes as its args file.
func relModuleRaw(t testing.TB, module string, argsFile []byte, env []string) (map[string]any, string) {
	t.Helper()
	root := relRoot(t)
	p := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(p, argsFile, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "plugins", "modules", module), p)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	out, _ := cmd.Output()
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%s: output is not one JSON object (%v): %q", module, err, out)
	}
	return res, string(out)
}

var (
	relDiffMu    sync.Mutex
	relDiffCache = map[string][]byte{}
)

// relDiff is the diff file of fleet f as playbooks/volume_diff_v3.yml computes it against a fresh
// simulator (ids are deterministic for a scenario file), computed once per fleet name.
func relDiff(t testing.TB, f e2e.Fleet) []byte {
	t.Helper()
	relDiffMu.Lock()
	defer relDiffMu.Unlock()
	if b, ok := relDiffCache[f.Name]; ok {
		return b
	}
	root := relRoot(t)
	s := relSim(t, f, simproc.Token)
	w, err := e2e.NewWorkspace(t.TempDir(), f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.Playbook(context.Background(), e2e.PlaybookOptions{Root: root, Playbook: "playbooks/volume_diff_v3.yml", Env: s.Env(), Deadline: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Succeeded() {
		t.Fatalf("the diff playbook failed:\n%s", r.Output)
	}
	b, err := os.ReadFile(w.Diff)
	if err != nil {
		t.Fatal(err)
	}
	relDiffCache[f.Name] = b
	return b
}

// relWant is what a reset of fleet f with the diff's delete list deletes may do and must reach.
func relWant(f e2e.Fleet, deletes []plan.DeleteEntry) e2e.Want {
	return e2e.Want{Plan: f.Plan, Deletes: deletes, Old: []string{e2e.OldVolumes}}
}

// relProblems collects a case's problems, so that one failure message lists them all.
type relProblems struct {
	t    testing.TB
	list []string
}

func (p *relProblems) add(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// done fails the test with the problems, if any.
func (p *relProblems) done() {
	p.t.Helper()
	if len(p.list) > 0 {
		p.t.Error(strings.Join(p.list, "\n"))
	}
}
