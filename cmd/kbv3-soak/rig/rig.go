// Package rig runs the reset playbook end to end against hcloud-sim for the reliability tests
// (tests/reliability_*_test.go) and the kill-and-rerun soak (cmd/kbv3-soak): a fleet written as a
// scenario file with its plan and inventory, a workspace per run, ansible-playbook under a hard
// deadline in its own process group, and the checks every run must pass (each plan volume exactly
// once with its size, location and server; nothing deleted outside the diff; the unrelated volume
// intact).
//
// It depends only on the built binaries (make build) and internal/sim/simproc, so that the soak
// command and the tests share it.
package rig

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keybuzz/kbv3/internal/oplog"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// Root is the repository root: the nearest directory above the working directory with go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("rig: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Modules are the six module binaries make build puts in plugins/modules.
var Modules = []string{"kbv3_volume_attach", "kbv3_volume_create", "kbv3_volume_delete", "kbv3_volume_detach", "kbv3_volume_info", "kbv3_volume_verify"}

// CheckBuilt reports a missing module binary, simulator or collection link: make build.
func CheckBuilt(root string) error {
	need := []string{filepath.Join(root, "bin", "hcloud-sim"), filepath.Join(root, ".build", "collections", "ansible_collections", "keybuzz", "infra")}
	for _, m := range Modules {
		need = append(need, filepath.Join(root, "plugins", "modules", m))
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("rig: %s is missing: run make build first", p)
		}
	}
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		return errors.New("rig: ansible-playbook is not on PATH (make deps)")
	}
	return nil
}

// ---- the fleet ----

// Server and Volume are entries of a hcloud-sim scenario file (docs/SIMULATOR.md).
type Server struct {
	Name     string `json:"name"`
	Location string `json:"location"`
}

type Volume struct {
	Name      string            `json:"name"`
	Size      int               `json:"size"`
	Server    string            `json:"server,omitempty"`
	Location  string            `json:"location,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Format    string            `json:"format,omitempty"`
	Protected bool              `json:"protected,omitempty"`
}

// Entry is a plan entry (docs/PLAN.md).
type Entry struct {
	Hostname   string            `json:"hostname"`
	Volume     string            `json:"volume,omitempty"`
	SizeGB     int               `json:"size_gb"`
	Location   string            `json:"location,omitempty"`
	Role       string            `json:"role,omitempty"`
	Mountpoint string            `json:"mountpoint,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// VolumeName is the entry's volume, given or derived.
func (e Entry) VolumeName() string {
	if e.Volume != "" {
		return e.Volume
	}
	return "kbv3-" + e.Hostname + "-data"
}

// Fleet is a scenario (servers and their volumes) with the plan for it. Unrelated names the
// volumes no reset may ever touch.
type Fleet struct {
	Name      string
	Servers   []Server
	Volumes   []Volume
	Plan      []Entry
	Unrelated []string
}

// Archive is the unrelated volume of the PH3-02 fleet, kept in every fleet of the rig.
const Archive = "keybuzz-archive-01"

// SmallFleet is six servers over three locations: four attached old volumes, one detached, the
// unrelated archive volume attached to backup-01, and a plan of one new volume per server.
func SmallFleet() Fleet {
	f := Fleet{Name: "small", Unrelated: []string{Archive, "scratch-01"}}
	for _, s := range []struct {
		name, loc string
		old, size int
	}{
		{"web-01", "fsn1", 20, 20}, {"web-02", "nbg1", 20, 20}, {"db-01", "hel1", 50, 50},
		{"db-02", "fsn1", 50, 100}, {"cache-01", "nbg1", 0, 10}, {"backup-01", "hel1", 0, 30},
	} {
		f.Servers = append(f.Servers, Server{Name: s.name, Location: s.loc})
		if s.old > 0 {
			f.Volumes = append(f.Volumes, Volume{Name: "vol-" + s.name, Size: s.old, Server: s.name, Format: "xfs"})
		}
		role := strings.SplitN(s.name, "-", 2)[0]
		f.Plan = append(f.Plan, Entry{Hostname: s.name, SizeGB: s.size, Role: role, Mountpoint: "/data/" + role,
			Labels: map[string]string{"managed-by": "kbv3", "role": role}})
	}
	f.Volumes = append(f.Volumes,
		Volume{Name: "vol-cache-01-old", Size: 10, Location: "nbg1"},
		Volume{Name: Archive, Size: 100, Server: "backup-01", Labels: map[string]string{"purpose": "archive"}},
		Volume{Name: "scratch-01", Size: 10, Location: "fsn1"},
	)
	return f
}

// ScenarioJSON is the fleet as a --scenario-file.
func (f Fleet) ScenarioJSON() []byte {
	b, _ := json.MarshalIndent(map[string]any{"servers": f.Servers, "volumes": f.Volumes}, "", "  ")
	return append(b, '\n')
}

// PlanJSON is the plan file.
func (f Fleet) PlanJSON() []byte {
	b, _ := json.MarshalIndent(map[string]any{"version": 1, "volumes": f.Plan}, "", "  ")
	return append(b, '\n')
}

// InventoryYAML is an inventory of the plan's hosts (never connected to).
func (f Fleet) InventoryYAML() []byte {
	var b bytes.Buffer
	b.WriteString("---\nall:\n  hosts:\n")
	for _, e := range f.Plan {
		fmt.Fprintf(&b, "    %s:\n      ansible_host: 192.0.2.1\n", e.Hostname)
	}
	return b.Bytes()
}

// ---- the simulator ----

// StartSim starts hcloud-sim (bin/hcloud-sim) with the fleet written to dir, 50 ms actions and
// the given extra flags.
func StartSim(ctx context.Context, root, dir string, f Fleet, token string, args ...string) (*simproc.Sim, error) {
	scen := filepath.Join(dir, "scenario.json")
	if f.Volumes == nil && f.Servers == nil {
		scen = ""
	} else if err := os.WriteFile(scen, f.ScenarioJSON(), 0o644); err != nil {
		return nil, err
	}
	opts := simproc.Options{Binary: filepath.Join(root, "bin", "hcloud-sim"), Token: token, ActionTime: 50 * time.Millisecond, Args: args}
	if scen != "" {
		opts.ScenarioFile = scen
	} else {
		opts.Scenario = f.Name
	}
	return simproc.Start(ctx, opts)
}

// FleetFromState is the fleet as the simulator holds it now, plan and unrelated names kept: the
// scenario to restart a simulator from (for example after an action that never finishes, whose
// change then never lands). Ids change with the restart; names, sizes, locations, attachments,
// labels and protection stay.
func FleetFromState(f Fleet, st simproc.State) Fleet {
	out := Fleet{Name: f.Name, Plan: f.Plan, Unrelated: f.Unrelated}
	for _, s := range st.Servers {
		out.Servers = append(out.Servers, Server{Name: s.Name, Location: s.Datacenter.Location.Name})
	}
	for _, v := range st.Volumes {
		nv := Volume{Name: v.Name, Size: v.Size, Location: v.Location.Name, Labels: v.Labels, Protected: v.Protection.Delete}
		if v.Server != nil {
			if s, ok := st.ServerByID(*v.Server); ok {
				nv.Server = s.Name
			}
		}
		if v.Format != nil {
			nv.Format = *v.Format
		}
		out.Volumes = append(out.Volumes, nv)
	}
	return out
}

// ---- a workspace and a run ----

// Workspace holds the files of runs of one fleet: plan, diff, inventory, and what runs write.
type Workspace struct {
	Dir, Plan, Diff, Inventory, Snapshot, Report, Log string
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

// Run is one ansible-playbook run.
type Run struct {
	Args     []string
	Output   string // stdout and stderr, interleaved
	Code     int    // exit code; -1 when killed
	Duration time.Duration
	Killed   bool // killed by the caller (KillAfter) or the hard deadline
	Deadline bool // the hard deadline killed it: the run did not end by itself
	Recap    Recap
	// Tasks are the tasks the run started, in order, with when their header was printed.
	Tasks []TaskStart
	// PGID is the run's process group (KillGroup).
	PGID int
}

// KillGroup SIGKILLs whatever is left of the run's process group (after KillLeaderOnly).
func (r *Run) KillGroup() {
	if r.PGID > 0 {
		_ = syscall.Kill(-r.PGID, syscall.SIGKILL)
	}
}

// TaskStart is a task header of the output and when it appeared, from the start of the run.
type TaskStart struct {
	Name string
	At   time.Duration
}

// Recap sums the play recap over hosts.
type Recap struct {
	Seen                                      bool
	OK, Changed, Unreachable, Failed, Skipped int
}

var recapLine = regexp.MustCompile(`(?m)^\S+\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)`)

func parseRecap(out string) Recap {
	var r Recap
	idx := strings.LastIndex(out, "PLAY RECAP")
	if idx < 0 {
		return r
	}
	for _, m := range recapLine.FindAllStringSubmatch(out[idx:], -1) {
		r.Seen = true
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		r.OK += n(1)
		r.Changed += n(2)
		r.Unreachable += n(3)
		r.Failed += n(4)
		r.Skipped += n(5)
	}
	return r
}

// Succeeded is a run that ended by itself, exit 0, no failed host.
func (r *Run) Succeeded() bool {
	return !r.Killed && r.Code == 0 && r.Recap.Seen && r.Recap.Failed == 0
}

// Options of one playbook run.
type Options struct {
	Root, Playbook string // Playbook relative to Root (playbooks/volume_reset_v3.yml)
	Env            []string
	Vars           map[string]any // extra vars (-e @file)
	Args           []string       // more ansible-playbook arguments (-vvvv, --check)
	// Deadline kills the run's process group when it has not ended by then (required).
	Deadline time.Duration
	// KillAfter, when positive, SIGKILLs the process group after that long (the soak).
	KillAfter time.Duration
	// KillInTask, when set, SIGKILLs the process group KillDelay after the first task whose
	// name starts with it begins (the soak's kills aimed at a stage).
	KillInTask string
	KillDelay  time.Duration
	// KillLeaderOnly makes KillAfter and KillInTask SIGKILL ansible-playbook alone, as an OOM
	// kill would: its workers and the running module go on (KillGroup ends them later).
	KillLeaderOnly bool
}

// Playbook runs ansible-playbook with the workspace's files as the playbook's variables
// (stage_timeout and batch_size from vars), in its own process group, which is SIGKILLed at
// the deadline or at KillAfter.
func (w *Workspace) Playbook(ctx context.Context, o Options) (*Run, error) {
	if o.Deadline <= 0 {
		return nil, errors.New("rig: Options.Deadline is required")
	}
	vars := map[string]any{"plan_path": w.Plan, "diff_path": w.Diff, "snapshot_path": w.Snapshot,
		"report_path": w.Report, "log_path": w.Log}
	for k, v := range o.Vars {
		vars[k] = v
	}
	vb, err := json.Marshal(vars)
	if err != nil {
		return nil, err
	}
	vf, err := os.CreateTemp(w.Dir, "vars-*.json")
	if err != nil {
		return nil, err
	}
	if _, err := vf.Write(vb); err != nil {
		return nil, err
	}
	_ = vf.Close()
	args := append([]string{"-i", w.Inventory, "-e", "@" + vf.Name()}, o.Args...)
	args = append(args, filepath.Join(o.Root, o.Playbook))
	cmd := exec.Command("ansible-playbook", args...)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(),
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(w.Dir, "tmp"), "ANSIBLE_REMOTE_TEMP="+filepath.Join(w.Dir, "tmp"),
		"ANSIBLE_HOME="+filepath.Join(w.Dir, "tmp", "ansible-home"), "PYTHONUNBUFFERED=1")
	cmd.Env = append(cmd.Env, o.Env...)
	start := time.Now()
	aimed := make(chan struct{}, 1)
	out := syncBuf{start: start, onTask: func(name string) {
		if o.KillInTask != "" && strings.HasPrefix(name, o.KillInTask) {
			select {
			case aimed <- struct{}{}:
			default:
			}
		}
	}}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Once the process has exited, its output is read for at most this long (a killed group
	// leaves nothing holding the pipe; this bounds the wait if something escaped it).
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	run := &Run{Args: args, PGID: cmd.Process.Pid}
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	killAimed := kill
	if o.KillLeaderOnly {
		killAimed = func() { _ = cmd.Process.Kill() }
	}
	deadline := time.NewTimer(o.Deadline)
	defer deadline.Stop()
	var killC <-chan time.Time
	if o.KillAfter > 0 {
		t := time.NewTimer(o.KillAfter)
		defer t.Stop()
		killC = t.C
	}
	var werr error
	for waiting := true; waiting; {
		select {
		case <-aimed:
			killC = time.After(o.KillDelay)
			continue
		case werr = <-done:
		case <-killC:
			run.Killed = true
			killAimed()
			werr = <-done
		case <-deadline.C:
			run.Killed, run.Deadline = true, true
			kill()
			werr = <-done
		case <-ctx.Done():
			run.Killed = true
			kill()
			werr = <-done
		}
		waiting = false
	}
	run.Duration = time.Since(start)
	run.Output = out.String()
	run.Tasks = out.tasks()
	run.Code = 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		run.Code = ee.ExitCode()
	} else if werr != nil {
		return run, werr
	}
	run.Recap = parseRecap(run.Output)
	return run, nil
}

// syncBuf collects a run's output and notes when each task header appears.
type syncBuf struct {
	mu      sync.Mutex
	b       bytes.Buffer
	start   time.Time
	scanned int // bytes of b already searched for task headers
	seen    []TaskStart
	onTask  func(name string)
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, err := s.b.Write(p)
	var started []string
	for {
		rest := s.b.Bytes()[s.scanned:]
		i := bytes.Index(rest, []byte("TASK ["))
		if i < 0 {
			s.scanned += max(0, len(rest)-len("TASK ["))
			break
		}
		j := bytes.IndexByte(rest[i:], '\n')
		if j < 0 {
			s.scanned += i
			break
		}
		line := string(rest[i+len("TASK [") : i+j])
		name, _, _ := strings.Cut(line, "]")
		s.seen = append(s.seen, TaskStart{Name: name, At: time.Since(s.start)})
		started = append(started, name)
		s.scanned += i + j
	}
	s.mu.Unlock()
	for _, name := range started {
		if s.onTask != nil {
			s.onTask(name)
		}
	}
	return n, err
}

func (s *syncBuf) tasks() []TaskStart {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TaskStart(nil), s.seen...)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ---- the diff ----

// DiffDelete is an entry of the diff's delete list.
type DiffDelete struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Server string `json:"server,omitempty"`
	SizeGB int    `json:"size_gb,omitempty"`
}

// ReadDiffDeletes reads the delete list of a diff file.
func ReadDiffDeletes(path string) ([]DiffDelete, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d struct {
		Delete []DiffDelete `json:"delete"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d.Delete, nil
}

// ---- the checks ----

// CheckFleet compares the simulator's state with the plan after a complete run: every plan
// volume exactly once with the planned size and location, attached to its server; no volume the
// diff lists left; and the invariants of Safe.
func CheckFleet(f Fleet, before, after simproc.State, deletes []DiffDelete) []string {
	problems := Safe(f, before, after, deletes)
	count := map[string]int{}
	for _, v := range after.Volumes {
		count[v.Name]++
	}
	for _, e := range f.Plan {
		name := e.VolumeName()
		if count[name] != 1 {
			problems = append(problems, fmt.Sprintf("plan volume %s exists %d times, want once", name, count[name]))
			continue
		}
		v, _ := after.Volume(name)
		srv, _ := after.Server(e.Hostname)
		wantLoc := e.Location
		if wantLoc == "" {
			wantLoc = srv.Datacenter.Location.Name
		}
		if v.Size != e.SizeGB {
			problems = append(problems, fmt.Sprintf("plan volume %s: size %d, want %d", name, v.Size, e.SizeGB))
		}
		if v.Location.Name != wantLoc {
			problems = append(problems, fmt.Sprintf("plan volume %s: location %s, want %s", name, v.Location.Name, wantLoc))
		}
		if v.Server == nil || *v.Server != srv.ID {
			got := "none"
			if v.Server != nil {
				if s, ok := after.ServerByID(*v.Server); ok {
					got = s.Name
				}
			}
			problems = append(problems, fmt.Sprintf("plan volume %s: attached to %s, want %s", name, got, e.Hostname))
		}
	}
	for _, d := range deletes {
		if count[d.Name] > 0 {
			problems = append(problems, fmt.Sprintf("old volume %s (diff delete list) still exists", d.Name))
		}
	}
	return problems
}

// Safe checks what must hold after any run, complete or not, killed or not: no volume that was
// there before and is not in the diff's delete list is gone; the unrelated volumes are intact
// (same id, size, location, server, labels); no plan volume exists twice.
func Safe(f Fleet, before, after simproc.State, deletes []DiffDelete) []string {
	var problems []string
	allowed := map[string]bool{}
	for _, d := range deletes {
		allowed[d.Name] = true
	}
	now := map[string]int{}
	for _, v := range after.Volumes {
		now[v.Name]++
	}
	for _, v := range before.Volumes {
		if now[v.Name] == 0 && !allowed[v.Name] {
			problems = append(problems, fmt.Sprintf("volume %s (id %d) was deleted but is not in the diff's delete list", v.Name, v.ID))
		}
	}
	for _, e := range f.Plan {
		if now[e.VolumeName()] > 1 {
			problems = append(problems, fmt.Sprintf("plan volume %s exists %d times", e.VolumeName(), now[e.VolumeName()]))
		}
	}
	for _, name := range f.Unrelated {
		b, ok := before.Volume(name)
		if !ok {
			continue
		}
		a, ok := after.Volume(name)
		if !ok {
			problems = append(problems, fmt.Sprintf("unrelated volume %s is gone", name))
			continue
		}
		bs, as := serverName(before, b.Server), serverName(after, a.Server)
		if a.Size != b.Size || a.Location.Name != b.Location.Name || bs != as || !sameLabels(a.Labels, b.Labels) || a.Protection.Delete != b.Protection.Delete {
			problems = append(problems, fmt.Sprintf("unrelated volume %s changed: size %d→%d, location %s→%s, server %s→%s, labels %v→%v",
				name, b.Size, a.Size, b.Location.Name, a.Location.Name, bs, as, b.Labels, a.Labels))
		}
	}
	return problems
}

func serverName(st simproc.State, id *int64) string {
	if id == nil {
		return "-"
	}
	if s, ok := st.ServerByID(*id); ok {
		return s.Name
	}
	return fmt.Sprint(*id)
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// ---- the operation log ----

// ReadOplog reads the operation log; a missing file is empty.
func ReadOplog(path string) ([]oplog.Entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []oplog.Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e oplog.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return out, fmt.Errorf("%s: line %d is not an entry: %w", path, len(out)+1, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// Retries counts the log's retry lines and the highest attempt number seen.
func Retries(entries []oplog.Entry) (retries, maxAttempt int) {
	for _, e := range entries {
		if e.Outcome == "retry" {
			retries++
		}
		if e.Attempt > maxAttempt {
			maxAttempt = e.Attempt
		}
	}
	return retries, maxAttempt
}

// FailedLines are the failed tasks and items of a run's output (the account a person reads),
// one line each: the task's header line and its result's msg. The default callback prints a
// result on the header line or, with -v and more, as indented JSON on the lines after it.
func FailedLines(out string) []string {
	var lines []string
	all := strings.Split(out, "\n")
	for i := 0; i < len(all); i++ {
		l := all[i]
		if !strings.HasPrefix(l, "failed: ") && !strings.HasPrefix(l, "fatal: ") {
			continue
		}
		head, body, found := strings.Cut(l, " => ")
		if found && strings.TrimSpace(body) == "{" {
			var b strings.Builder
			b.WriteString("{")
			for i++; i < len(all); i++ {
				b.WriteString(all[i])
				if all[i] == "}" {
					break
				}
			}
			body = b.String()
		}
		var res struct {
			Msg any `json:"msg"`
		}
		if found && json.Unmarshal([]byte(body), &res) == nil && res.Msg != nil {
			lines = append(lines, fmt.Sprintf("%s => %v", head, res.Msg))
		} else {
			lines = append(lines, l)
		}
	}
	return lines
}

// Names returns the sorted names among candidates that occur in s.
func Names(s string, candidates []string) []string {
	var out []string
	for _, c := range candidates {
		if strings.Contains(s, c) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}
