package e2e

import (
	"bytes"
	"context"
	_ "embed" // the recording callback
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

//go:embed kbv3_record.py
var recordCallback []byte

// Run is what one ansible-playbook (or ansible, or any) command did.
type Run struct {
	// Args is the command line.
	Args []string
	// Output is stdout and stderr as they came.
	Output string
	// Recap is the PLAY RECAP by host (empty when the play never got there).
	Recap Recap
	// Tasks are the task results in the order they came, loop items folded into their task
	// (runs of an Env, which enable the recording callback; nil otherwise).
	Tasks []Task
	// Started names the tasks that started, in order, as the recording callback saw them (a
	// killed run has started more than it finished).
	Started []string
	// TaskStarts are the task headers of the output, with when each appeared.
	TaskStarts []TaskStart
	// Err is the command's error: nil when it exited 0.
	Err error
	// Code is the exit code: -1 when a signal ended the command.
	Code int
	// Duration is the command's wall time.
	Duration time.Duration
	// Killed says the run was killed: Proc.Kill or KillLeader, its context's end, or the
	// deadline or a kill of PlaybookOptions.
	Killed bool
	// Deadline says PlaybookOptions.Deadline killed it: the run did not end by itself.
	Deadline bool
	// PGID is the run's process group (KillGroup).
	PGID int
}

// Succeeded is a run that ended by itself, exit 0, with a recap and no failed host.
func (r *Run) Succeeded() bool {
	return !r.Killed && r.Code == 0 && r.Err == nil && len(r.Recap) > 0 && r.Recap.Total().Failed == 0
}

// KillGroup SIGKILLs whatever is left of the run's process group (after a KillLeader).
func (r *Run) KillGroup() {
	if r.PGID > 0 {
		_ = KillGroup(r.PGID)
	}
}

// Task is the result of one task on one host, as the recording callback saw it.
type Task struct {
	Name, Host string
	// Status is ok, changed, failed, ignored, skipped or unreachable.
	Status string
	// Result is the task's result: the module's JSON (loop tasks: with "results", one per item).
	Result json.RawMessage
}

// Item is one volume of a kbv3 module's result (docs/ARCHITECTURE.md, "Item result").
type Item struct {
	Volume     string `json:"volume"`
	ID         int64  `json:"id"`
	Server     string `json:"server"`
	Location   string `json:"location"`
	Size       int    `json:"size"`
	Action     string `json:"action"`
	Error      string `json:"error"`
	DurationMS int64  `json:"duration_ms"`
}

// ModuleResult is a kbv3 module's result (docs/ARCHITECTURE.md, "Module result"), plus the keys
// Ansible adds that tests read.
type ModuleResult struct {
	Changed  bool            `json:"changed"`
	Failed   bool            `json:"failed"`
	Skipped  bool            `json:"skipped"`
	Msg      string          `json:"msg"`
	Volumes  []Item          `json:"volumes"`
	Diff     json.RawMessage `json:"diff"`
	Warnings []string        `json:"warnings"`
}

// Decode unmarshals the task's result into v.
func (t Task) Decode(v any) error { return json.Unmarshal(t.Result, v) }

// Results is the module result of each loop item, or the task's single result.
func (t Task) Results() ([]ModuleResult, error) {
	var loop struct {
		Results []ModuleResult `json:"results"`
	}
	if err := json.Unmarshal(t.Result, &loop); err != nil {
		return nil, fmt.Errorf("task %q: %w", t.Name, err)
	}
	if loop.Results != nil {
		return loop.Results, nil
	}
	var one ModuleResult
	if err := json.Unmarshal(t.Result, &one); err != nil {
		return nil, fmt.Errorf("task %q: %w", t.Name, err)
	}
	return []ModuleResult{one}, nil
}

// Items are the volumes of every result of the task, in order.
func (t Task) Items() []Item {
	rs, _ := t.Results()
	var items []Item
	for _, r := range rs {
		items = append(items, r.Volumes...)
	}
	return items
}

// Actions counts the task's items by action ("created": 47).
func (t Task) Actions() map[string]int {
	n := map[string]int{}
	for _, it := range t.Items() {
		n[it.Action]++
	}
	return n
}

// Task is the first task whose name starts with prefix ("Stage 5"), and whether there is one.
func (r *Run) Task(prefix string) (Task, bool) {
	for _, t := range r.Tasks {
		if strings.HasPrefix(t.Name, prefix) {
			return t, true
		}
	}
	return Task{}, false
}

// Summary is the command line, how it ended, and the output's tail: for test failure messages.
func (r *Run) Summary() string {
	out := r.Output
	if lines := strings.Split(out, "\n"); len(lines) > 80 {
		out = "...\n" + strings.Join(lines[len(lines)-80:], "\n")
	}
	return fmt.Sprintf("$ %s\n(%v after %s)\n%s", strings.Join(r.Args, " "), r.Err, r.Duration.Round(time.Millisecond), out)
}

// Playbook runs playbooks/<name> to its end (or ctx's) with the test's paths and the given
// extra arguments (--check, --diff, --limit X, more -e ...; later -e values win).
func (e *Env) Playbook(ctx context.Context, name string, args ...string) *Run {
	e.t.Helper()
	p, err := e.StartPlaybook(ctx, name, args...)
	if err != nil {
		e.t.Fatalf("starting ansible-playbook: %v", err)
	}
	return p.Wait()
}

// StartPlaybook starts playbooks/<name> as Playbook does and returns at once: watch it, Kill it,
// Wait for it. ctx's end kills it (the whole process group).
func (e *Env) StartPlaybook(ctx context.Context, name string, args ...string) (*Proc, error) {
	vars, err := json.Marshal(e.Workspace.vars())
	if err != nil {
		return nil, err
	}
	argv := append([]string{"ansible-playbook", filepath.Join(e.Root, "playbooks", name), "-e", string(vars)}, args...)
	return e.Start(ctx, nil, argv...)
}

// Command runs any command (ansible, ansible-galaxy, hcloud, ...) the way Playbook does.
func (e *Env) Command(ctx context.Context, env []string, argv ...string) *Run {
	e.t.Helper()
	p, err := e.Start(ctx, env, argv...)
	if err != nil {
		e.t.Fatalf("starting %s: %v", argv[0], err)
	}
	return p.Wait()
}

// Start runs argv in Dir, in its own process group, with the simulator's HCLOUD_ENDPOINT and
// HCLOUD_TOKEN, ANSIBLE_CONFIG=<root>/ansible.cfg, the recording callback, no colours, and
// temporary directories under Dir; env entries come last and win (ANSIBLE_CONFIG= drops the
// repository's configuration). Inherited ANSIBLE_* and HCLOUD_* variables are dropped. ctx's
// end kills the whole process group.
func (e *Env) Start(ctx context.Context, env []string, argv ...string) (*Proc, error) {
	e.runsMu.Lock()
	e.runs++
	n := e.runs
	e.runsMu.Unlock()
	tmp := filepath.Join(e.Dir, "tmp")
	cb := filepath.Join(tmp, "callbacks")
	if err := os.MkdirAll(cb, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cb, "kbv3_record.py"), recordCallback, 0o644); err != nil {
		return nil, err
	}
	record := filepath.Join(tmp, fmt.Sprintf("run%02d.jsonl", n))
	base := []string{
		"HCLOUD_ENDPOINT=" + e.Endpoint,
		"HCLOUD_TOKEN=" + e.Token,
		"ANSIBLE_CONFIG=" + filepath.Join(e.Root, "ansible.cfg"),
		"ANSIBLE_CALLBACK_PLUGINS=" + cb,
		"ANSIBLE_CALLBACKS_ENABLED=kbv3_record",
		"KBV3_RECORD=" + record,
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(tmp, "ansible-local"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(tmp, "ansible-remote"),
		"ANSIBLE_GALAXY_CACHE_DIR=" + filepath.Join(tmp, "galaxy-cache"),
	}
	return startProc(ctx, procSpec{dir: e.Dir, env: append(base, env...), record: record}, argv...)
}

// readRecord reads the recording callback's file: task results (not loop items, which their
// task's "results" repeat) and the names of the tasks that started.
func readRecord(path string) (tasks []Task, started []string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev struct {
			Event  string          `json:"event"`
			Task   string          `json:"task"`
			Host   string          `json:"host"`
			Status string          `json:"status"`
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(line, &ev) != nil {
			continue // a line cut short by a kill
		}
		switch ev.Event {
		case "task_start":
			started = append(started, ev.Task)
		case "result":
			tasks = append(tasks, Task{Name: ev.Task, Host: ev.Host, Status: ev.Status, Result: ev.Result})
		}
	}
	return tasks, started
}
