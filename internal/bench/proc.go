package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// tagVar marks every process a measured command starts, even those that leave its process group
// (Ansible's async_wrapper daemonizes with setsid): the memory sampler and the clean-up find the
// tree by this variable in /proc/PID/environ.
const tagVar = "KBV3_BENCH_TAG"

// Cmd is one measured command.
type Cmd struct {
	Argv    []string
	Env     []string // added to the harness's environment
	Dir     string
	Log     string // stdout and stderr
	Timeout time.Duration
}

// String is the command as a shell would show it, with its added environment.
func (c Cmd) String() string {
	parts := make([]string, 0, len(c.Argv))
	for _, a := range c.Argv {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Measure is what one run of a command cost on this machine.
type Measure struct {
	Wall time.Duration
	// PeakTreeRSS is the largest sum of the resident memory of all the command's processes at one
	// moment, sampled every 50 ms (bytes).
	PeakTreeRSS int64
	// MaxRSS is wait4's ru_maxrss of the command: the largest resident set of any single process
	// among the command and the descendants it waited for (bytes); it is not a sum.
	MaxRSS int64
	// Procs is how many distinct processes the sampler saw.
	Procs    int
	CPU      time.Duration // user+system of the command and its waited-for descendants
	ExitCode int
	Err      error  `json:"-"`
	ErrText  string `json:"error,omitempty"` // Err, kept in the saved results
	Tag      string // the value of tagVar its processes carried
	// LoadAvg is the 1-minute load average just before the run: other work on the machine.
	LoadAvg string
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

var pageSize = int64(os.Getpagesize())

// RunCmd runs c, measuring it; the whole tree is killed when c's deadline passes or ctx ends.
func RunCmd(ctx context.Context, c Cmd) Measure {
	tag := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	logf, err := os.Create(c.Log)
	if err != nil {
		return Measure{Err: err, ErrText: err.Error(), ExitCode: -1}
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s\n", c)
	// ctx's end kills the process group; what left it (tagged) is killed once it has ended.
	cmd := e2e.GroupCommand(ctx, c.Argv...)
	cmd.Dir = c.Dir
	cmd.Env = append(append(os.Environ(), c.Env...), tagVar+"="+tag)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL

	load := loadAvg()
	sampler := newSampler(tag)
	stopSampling := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Measure{Err: err, ErrText: err.Error(), ExitCode: -1}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			sampler.sample()
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()
	werr := cmd.Wait()
	if ctx.Err() != nil {
		werr = fmt.Errorf("%w (%v)", ctx.Err(), werr)
	}
	m := Measure{Wall: time.Since(start), Tag: tag, LoadAvg: load}
	close(stopSampling)
	wg.Wait()
	// Whatever the command left running (async jobs) is ended too.
	killTagged(tag)
	m.PeakTreeRSS, m.Procs = sampler.peak, sampler.procs()
	if ps := cmd.ProcessState; ps != nil {
		m.ExitCode = ps.ExitCode()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			m.MaxRSS = ru.Maxrss * 1024
			m.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if werr != nil {
		m.Err, m.ErrText = werr, werr.Error()
	}
	return m
}

// killTagged kills every process carrying tag: those of the command's process group, and
// those that left it.
func killTagged(tag string) {
	for _, pid := range taggedPIDs(tag) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func taggedPIDs(tag string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(tagVar + "=" + tag + "\x00")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && bytes.Contains(env, want) {
			out = append(out, pid)
		}
	}
	return out
}

// sampler sums the resident memory of the tagged processes.
type sampler struct {
	want []byte
	seen map[string]bool // "pid/starttime" -> tagged
	peak int64
}

func newSampler(tag string) *sampler {
	return &sampler{want: []byte(tagVar + "=" + tag + "\x00"), seen: map[string]bool{}}
}

// sample reads /proc once. A process's environ is read only the first time it is seen (its
// identity is pid and start time), so a sample costs little more than listing /proc.
func (s *sampler) sample() {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	var sum int64
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		key, rss, ok := parseStat(e.Name(), stat)
		if !ok {
			continue
		}
		tagged, known := s.seen[key]
		if !known {
			env, err := os.ReadFile(filepath.Join(dir, "environ"))
			if err != nil {
				continue
			}
			tagged = bytes.Contains(env, s.want)
			s.seen[key] = tagged
		}
		if tagged {
			sum += rss * pageSize
		}
	}
	s.peak = max(s.peak, sum)
}

// procs is how many distinct tagged processes were seen.
func (s *sampler) procs() int {
	n := 0
	for _, tagged := range s.seen {
		if tagged {
			n++
		}
	}
	return n
}

// parseStat returns "pid/starttime" and the resident pages from /proc/PID/stat.
func parseStat(pid string, stat []byte) (string, int64, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	// After the command: state is field 3; starttime is field 22, rss field 24 (1-based).
	if len(f) < 22 {
		return "", 0, false
	}
	rss, err := strconv.ParseInt(f[21], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return pid + "/" + f[19], rss, true
}
