package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/keybuzz/kbv3/internal/plan"
)

// Workspace holds the files of the runs of one fleet or test: plan, diff, inventory, and what
// runs write. The playbooks get every path with -e, so nothing is written in the repository.
type Workspace struct {
	Dir, Plan, Diff, Inventory, Snapshot, Report, Log string
}

// vars point the playbooks at the workspace's files.
func (w *Workspace) vars() map[string]any {
	return map[string]any{"plan_path": w.Plan, "diff_path": w.Diff, "snapshot_path": w.Snapshot,
		"report_path": w.Report, "log_path": w.Log}
}

// NewProjectWorkspace mirrors the project's layout under dir (PlanFile, DiffFile, ... and tmp/)
// with a copy of root's plan; the inventory is the repository's (ansible.cfg's).
func NewProjectWorkspace(dir, root string) (*Workspace, error) {
	w := &Workspace{Dir: dir, Plan: filepath.Join(dir, PlanFile), Diff: filepath.Join(dir, DiffFile),
		Snapshot: filepath.Join(dir, SnapshotFile), Report: filepath.Join(dir, ReportFile), Log: filepath.Join(dir, LogFile)}
	for _, d := range []string{"servers", "reports", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(filepath.Join(root, PlanFile))
	if err != nil {
		return nil, err
	}
	return w, os.WriteFile(w.Plan, data, 0o644)
}

// NewWorkspace writes the fleet's plan and inventory under dir.
func NewWorkspace(dir string, f Fleet) (*Workspace, error) {
	w := &Workspace{Dir: dir, Plan: filepath.Join(dir, "plan.json"), Diff: filepath.Join(dir, "diff.json"),
		Inventory: filepath.Join(dir, "hosts.yml"), Snapshot: filepath.Join(dir, "snapshot.json"),
		Report: filepath.Join(dir, "report.md"), Log: filepath.Join(dir, "oplog.jsonl")}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.Plan, f.PlanJSON(), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.Inventory, f.InventoryYAML(), 0o644); err != nil {
		return nil, err
	}
	return w, nil
}

// PlaybookOptions are the options of one Workspace.Playbook run.
type PlaybookOptions struct {
	Root, Playbook string // Playbook relative to Root (playbooks/volume_reset_v3.yml)
	// Env is added to the environment (the simulator's Sim.Env()); inherited ANSIBLE_* and
	// HCLOUD_* variables are dropped.
	Env  []string
	Vars map[string]any // extra vars (-e @file)
	Args []string       // more ansible-playbook arguments (-vvvv, --check)
	// Deadline kills the run's process group when it has not ended by then (required).
	Deadline time.Duration
	// KillAfter, when positive, SIGKILLs the process group after that long (the soak).
	KillAfter time.Duration
	// KillInTask, when set, SIGKILLs the process group KillDelay after the first task whose
	// name starts with it begins (the soak's kills aimed at a stage).
	KillInTask string
	KillDelay  time.Duration
	// KillLeaderOnly makes KillAfter and KillInTask SIGKILL ansible-playbook alone, as an OOM
	// kill would: its workers and the running module go on (Run.KillGroup ends them later).
	KillLeaderOnly bool
}

// Playbook runs ansible-playbook with the workspace's files as the playbook's variables, in
// its own process group, which is SIGKILLed at the deadline, at KillAfter or in KillInTask. The
// error is for a run that could not start or whose end could not be read; a run that failed or
// was killed is a Run.
func (w *Workspace) Playbook(ctx context.Context, o PlaybookOptions) (*Run, error) {
	if o.Deadline <= 0 {
		return nil, errors.New("e2e: PlaybookOptions.Deadline is required")
	}
	vars, err := w.writeVars(o.Vars)
	if err != nil {
		return nil, err
	}
	argv := append([]string{"ansible-playbook", "-i", w.Inventory, "-e", "@" + vars}, o.Args...)
	argv = append(argv, filepath.Join(o.Root, o.Playbook))
	tmp := filepath.Join(w.Dir, "tmp")
	env := append([]string{"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_LOCAL_TEMP=" + tmp, "ANSIBLE_REMOTE_TEMP=" + tmp,
		"ANSIBLE_HOME=" + filepath.Join(tmp, "ansible-home"), "PYTHONUNBUFFERED=1"}, o.Env...)
	aimed := make(chan struct{}, 1)
	onTask := func(name string) {
		if o.KillInTask != "" && strings.HasPrefix(name, o.KillInTask) {
			select {
			case aimed <- struct{}{}:
			default:
			}
		}
	}
	p, err := startProc(ctx, procSpec{dir: o.Root, env: env, onTask: onTask}, argv...)
	if err != nil {
		return nil, err
	}
	deadlined := o.watch(p, aimed)
	run := p.Wait()
	run.Deadline = deadlined
	var ee *exec.ExitError
	if run.Err != nil && !errors.As(run.Err, &ee) {
		return run, run.Err
	}
	return run, nil
}

// writeVars writes the playbook's variables, the workspace's paths and more, to a file for -e @.
func (w *Workspace) writeVars(more map[string]any) (string, error) {
	vars := w.vars()
	for k, v := range more {
		vars[k] = v
	}
	vb, err := json.Marshal(vars)
	if err != nil {
		return "", err
	}
	vf, err := os.CreateTemp(w.Dir, "vars-*.json")
	if err != nil {
		return "", err
	}
	_, err = vf.Write(vb)
	if cerr := vf.Close(); err == nil {
		err = cerr
	}
	return vf.Name(), err
}

// watch kills p as o says (KillAfter, or KillDelay after aimed, the first task of KillInTask,
// fires; at Deadline in any case) and returns once p has ended or been killed, saying whether
// the deadline killed it.
func (o PlaybookOptions) watch(p *Proc, aimed chan struct{}) (deadlined bool) {
	kill := p.Kill
	if o.KillLeaderOnly {
		kill = p.KillLeader
	}
	deadline := time.NewTimer(o.Deadline)
	defer deadline.Stop()
	var killC <-chan time.Time
	if o.KillAfter > 0 {
		t := time.NewTimer(o.KillAfter)
		defer t.Stop()
		killC = t.C
	}
	for {
		select {
		case <-aimed:
			aimed = nil // the first such task only
			t := time.NewTimer(o.KillDelay)
			defer t.Stop()
			killC = t.C
		case <-killC:
			_ = kill()
			return false
		case <-deadline.C:
			_ = p.Kill()
			return true
		case <-p.Done():
			return false
		}
	}
}

// ReadDiffDeletes reads the delete list of a diff file as it is, without the checks of
// plan.LoadDiff: a test may have edited it.
func ReadDiffDeletes(path string) ([]plan.DeleteEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d struct {
		Delete []plan.DeleteEntry `json:"delete"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d.Delete, nil
}
