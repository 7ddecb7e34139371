package e2e

import (
	"bufio"
	"bytes"
	"context"
	_ "embed" // the recording callback
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed kbv3_record.py
var recordCallback []byte

// Run is what one ansible-playbook (or ansible) command did.
type Run struct {
	// Args is the command line.
	Args []string
	// Output is stdout and stderr as they came.
	Output string
	// Recap is the PLAY RECAP by host (empty when the play never got there).
	Recap Recap
	// Tasks are the task results in the order they came, loop items folded into their task.
	Tasks []Task
	// Started names the tasks that started, in order (a killed run has started more than it finished).
	Started []string
	// Err is the command's error: nil when it exited 0.
	Err error
	// Duration is the command's wall time.
	Duration time.Duration
}

// Counts is one line of the PLAY RECAP.
type Counts struct {
	OK, Changed, Unreachable, Failed, Skipped, Rescued, Ignored int
}

// Recap is the PLAY RECAP, by host.
type Recap map[string]Counts

// Total adds up every host's counts.
func (r Recap) Total() Counts {
	var c Counts
	for _, h := range r {
		c.OK += h.OK
		c.Changed += h.Changed
		c.Unreachable += h.Unreachable
		c.Failed += h.Failed
		c.Skipped += h.Skipped
		c.Rescued += h.Rescued
		c.Ignored += h.Ignored
	}
	return c
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

// Proc is a running command.
type Proc struct {
	cmd    *exec.Cmd
	args   []string
	out    *syncBuffer
	record string
	start  time.Time
	done   chan struct{}
	run    *Run
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
	vars, err := json.Marshal(map[string]string{
		"plan_path":     e.Path(PlanFile),
		"diff_path":     e.Path(DiffFile),
		"snapshot_path": e.Path(SnapshotFile),
		"report_path":   e.Path(ReportFile),
		"log_path":      e.Path(LogFile),
	})
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
// repository's configuration). Inherited ANSIBLE_* and HCLOUD_* variables are dropped.
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

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = e.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
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
	cmd.Env = mergeEnv(os.Environ(), append(base, env...))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	p := &Proc{cmd: cmd, args: argv, out: out, record: record, start: time.Now(), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		err := cmd.Wait()
		r := &Run{Args: p.args, Output: out.String(), Err: err, Duration: time.Since(p.start)}
		r.Recap = parseRecap(r.Output)
		r.Tasks, r.Started = readRecord(record)
		p.run = r
		close(p.done)
	}()
	return p, nil
}

// mergeEnv is base without ANSIBLE_*, HCLOUD_* and KBV3_RECORD, then set (later entries win;
// "NAME=" with an empty value removes NAME).
func mergeEnv(base, set []string) []string {
	vals := map[string]string{}
	var order []string
	put := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ANSIBLE_") || strings.HasPrefix(k, "HCLOUD_") || k == "KBV3_RECORD" {
			continue
		}
		put(kv)
	}
	for _, kv := range set {
		put(kv)
	}
	var env []string
	for _, k := range order {
		if vals[k] == "" && strings.HasPrefix(k, "ANSIBLE_") {
			continue
		}
		env = append(env, k+"="+vals[k])
	}
	return env
}

// Output is what the command printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Started names the tasks that have started so far.
func (p *Proc) Started() []string {
	_, started := readRecord(p.record)
	return started
}

// Kill sends SIGKILL to the command's whole process group (ansible-playbook, its workers and the
// modules they run), as an operator's kill -9 on a hung play would.
func (p *Proc) Kill() error {
	err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Done is closed when the command has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the command to end (its ctx bounds it) and returns what it did.
func (p *Proc) Wait() *Run {
	<-p.done
	return p.run
}

var recapLine = regexp.MustCompile(`^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)`)

// parseRecap reads the host lines after the last "PLAY RECAP".
func parseRecap(out string) Recap {
	i := strings.LastIndex(out, "PLAY RECAP")
	if i < 0 {
		return Recap{}
	}
	r := Recap{}
	sc := bufio.NewScanner(strings.NewReader(out[i:]))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		m := recapLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		n := make([]int, 7)
		for j := range n {
			n[j], _ = strconv.Atoi(m[j+2])
		}
		r[m[1]] = Counts{OK: n[0], Changed: n[1], Unreachable: n[2], Failed: n[3], Skipped: n[4], Rescued: n[5], Ignored: n[6]}
	}
	return r
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

// syncBuffer is a bytes.Buffer safe for the command's writes and the test's reads.
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
