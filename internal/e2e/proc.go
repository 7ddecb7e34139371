package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// GroupAttr makes a command the leader of its own process group, so that KillGroup ends it with
// every process it started (ansible-playbook's workers and the modules they run).
func GroupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// KillGroup SIGKILLs the process group pgid, as an operator's kill -9 on a hung play would. A
// group already gone is not an error.
func KillGroup(pgid int) error {
	if pgid <= 0 {
		return errors.New("e2e: no process group to kill")
	}
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// GroupCommand is exec.CommandContext(ctx, argv...) in its own process group, which ctx's end
// kills whole (KillGroup); once the command has exited, its output is read for at most 10 s
// more: a killed group leaves nothing holding the pipe, and this bounds the wait if something
// escaped it.
func GroupCommand(ctx context.Context, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = GroupAttr()
	cmd.Cancel = func() error { return KillGroup(cmd.Process.Pid) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// Proc is a command running in its own process group.
type Proc struct {
	cmd    *exec.Cmd
	args   []string
	out    *output
	record string
	start  time.Time
	done   chan struct{}
	run    *Run
	killed atomic.Bool
}

// procSpec is what startProc needs besides argv.
type procSpec struct {
	dir string
	// env is added to the environment this process inherits, without its ANSIBLE_*, HCLOUD_*
	// and KBV3_RECORD (see mergeEnv).
	env []string
	// record is the recording callback's file ("" when it is not enabled).
	record string
	// onTask is called with the name of every task header the output shows.
	onTask func(name string)
}

// startProc starts argv in its own process group; ctx's end kills the group.
func startProc(ctx context.Context, spec procSpec, argv ...string) (*Proc, error) {
	if len(argv) == 0 {
		return nil, errors.New("e2e: no command")
	}
	cmd := GroupCommand(ctx, argv...)
	p := &Proc{cmd: cmd, args: argv, record: spec.record, done: make(chan struct{})}
	cmd.Dir = spec.dir
	cmd.Env = mergeEnv(os.Environ(), spec.env)
	cmd.Cancel = p.Kill // the same kill, noted in Run.Killed
	p.start = time.Now()
	p.out = &output{start: p.start, onTask: spec.onTask}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		err := cmd.Wait()
		r := &Run{Args: p.args, Output: p.out.String(), Err: err, Duration: time.Since(p.start),
			Killed: p.killed.Load(), PGID: cmd.Process.Pid, TaskStarts: p.out.tasks()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.Code = ee.ExitCode()
		} else if err != nil {
			r.Code = -1
		}
		r.Recap = parseRecap(r.Output)
		if p.record != "" {
			r.Tasks, r.Started = readRecord(p.record)
		}
		p.run = r
		close(p.done)
	}()
	return p, nil
}

// Kill SIGKILLs the command's whole process group (KillGroup).
func (p *Proc) Kill() error {
	p.killed.Store(true)
	return KillGroup(p.cmd.Process.Pid)
}

// KillLeader SIGKILLs the command alone, as an OOM kill of ansible-playbook would: its workers
// and the module they run go on (Run.KillGroup ends them later).
func (p *Proc) KillLeader() error {
	p.killed.Store(true)
	err := p.cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// Output is what the command printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Started names the tasks that have started so far, as the recording callback saw them.
func (p *Proc) Started() []string {
	_, started := readRecord(p.record)
	return started
}

// Done is closed when the command has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the command to end (its ctx bounds it) and returns what it did.
func (p *Proc) Wait() *Run {
	<-p.done
	return p.run
}

// mergeEnv is base without ANSIBLE_*, HCLOUD_* and KBV3_RECORD, then set (later entries win;
// "ANSIBLE_X=" with an empty value removes ANSIBLE_X): a run depends on nothing the caller's
// environment says about Ansible or the API.
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

// Failed are the hosts with a failed task, sorted.
func (r Recap) Failed() []string {
	var hosts []string
	for h, c := range r {
		if c.Failed > 0 {
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	return hosts
}

// rescued and ignored came with ansible 2.8; they are optional so that the parse does not
// depend on the version.
var recapLine = regexp.MustCompile(`^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)(?:\s+rescued=(\d+)\s+ignored=(\d+))?`)

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
			n[j], _ = strconv.Atoi(m[j+2]) // "" (an optional count absent) is 0
		}
		r[m[1]] = Counts{OK: n[0], Changed: n[1], Unreachable: n[2], Failed: n[3], Skipped: n[4], Rescued: n[5], Ignored: n[6]}
	}
	return r
}

// TaskStart is a task header of the output and when it appeared, from the start of the run.
type TaskStart struct {
	Name string
	At   time.Duration
}

// output collects a command's stdout and stderr, safe for the command's writes and the
// caller's reads, and notes when each task header ("TASK [name]") appears.
type output struct {
	mu      sync.Mutex
	b       bytes.Buffer
	start   time.Time
	scanned int // bytes of b already searched for task headers
	seen    []TaskStart
	onTask  func(name string)
}

func (s *output) Write(p []byte) (int, error) {
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
	if s.onTask != nil {
		for _, name := range started {
			s.onTask(name)
		}
	}
	return n, err
}

func (s *output) tasks() []TaskStart {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TaskStart(nil), s.seen...)
}

func (s *output) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
