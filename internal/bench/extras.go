package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// StartupResult is the start-up cost of one module process.
type StartupResult struct {
	Name, Command       string
	Runs                int
	Median, Min, Mean   time.Duration
	MaxRSS              int64 // largest ru_maxrss of a run, bytes
	Answer, Err, Method string
}

// unknownOption is the only user option given to both modules: each must start, read its
// arguments, reject the option and print its JSON answer, with no API call.
const unknownOption = "kbv3_bench_unknown_option"

// measureStartup times one module process from exec to exit, the Go binary module against the
// Python module of the official collection, each run the way Ansible runs it on the controller:
// `plugins/modules/kbv3_volume_info ARGS_FILE` and `/usr/bin/python3 AnsiballZ_hcloud_volume_info.py`
// (the wrapper Ansible builds, kept with ANSIBLE_KEEP_REMOTE_FILES). Runs alternate between the
// two after one warm-up run each.
func measureStartup(ctx context.Context, opts Options, logf func(string, ...any)) []StartupResult {
	dir := filepath.Join(opts.WorkDir, "startup")
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return []StartupResult{{Name: "start-up", Err: err.Error()}}
	}
	goProc := goStartupProc(opts, dir)
	pyProc := pyStartupProc(ctx, opts, dir)
	goProc.res.Method = "exec to exit; the module reads its args file, rejects the unknown option " + unknownOption + " and prints its failed JSON answer; no API call"
	pyProc.res.Method = goProc.res.Method
	logf("startup: %d runs of each module process", opts.StartupRuns)
	alternate(ctx, dir, opts.StartupRuns, goProc, pyProc)
	goProc.summarize()
	pyProc.summarize()
	logf("startup: go median %s, python median %s", goProc.res.Median.Round(time.Microsecond), pyProc.res.Median.Round(time.Microsecond))
	return []StartupResult{goProc.res, pyProc.res}
}

// startupProc is one module process measured for its start-up cost.
type startupProc struct {
	argv    []string // nil when it cannot run; res.Err says why
	res     StartupResult
	samples []startupSample
}

type startupSample struct {
	wall   time.Duration
	maxrss int64
}

// goStartupProc writes the args file of kbv3_volume_info with the unknown option, for the
// binary module to run on as Ansible runs it.
func goStartupProc(opts Options, dir string) *startupProc {
	p := &startupProc{res: StartupResult{Name: "Go binary module (kbv3_volume_info)", Runs: opts.StartupRuns}}
	bin := filepath.Join(opts.Repo, "plugins", "modules", "kbv3_volume_info")
	args := filepath.Join(dir, "args")
	argsJSON, _ := json.Marshal(map[string]any{
		unknownOption: true, "_ansible_check_mode": false, "_ansible_diff": false, "_ansible_no_log": false,
		"_ansible_verbosity": 0, "_ansible_version": "2.14.18", "_ansible_module_name": "kbv3_volume_info",
		"_ansible_tmpdir": dir, "_ansible_debug": false, "_ansible_keep_remote_files": false,
	})
	if _, err := os.Stat(bin); err != nil {
		p.res.Err = "not built (make build)"
	} else if err := os.WriteFile(args, argsJSON, 0o644); err != nil {
		p.res.Err = err.Error()
	} else {
		p.argv = []string{bin, args}
		p.res.Command = "plugins/modules/kbv3_volume_info ARGS_FILE"
	}
	return p
}

// pyStartupProc has Ansible build the wrapper of the Python module, to run it as Ansible does.
func pyStartupProc(ctx context.Context, opts Options, dir string) *startupProc {
	p := &startupProc{res: StartupResult{Name: "Python module (hetzner.hcloud.hcloud_volume_info)", Runs: opts.StartupRuns}}
	py, err := buildAnsiballZ(ctx, opts, dir)
	if err != nil {
		p.res.Err = err.Error()
		return p
	}
	p.argv = []string{"/usr/bin/python3", py}
	p.res.Command = "/usr/bin/python3 AnsiballZ_hcloud_volume_info.py"
	return p
}

// alternate runs each process once to warm it up, then runs times, the processes in turn so
// that a change in the machine's load falls on all of them alike. A process stops at its
// first failure.
func alternate(ctx context.Context, dir string, runs int, procs ...*startupProc) {
	for _, p := range procs {
		if p.argv != nil {
			p.runOnce(ctx, dir)
		}
	}
	for i := 0; i < runs && ctx.Err() == nil; i++ {
		for _, p := range procs {
			if p.argv != nil && p.res.Err == "" {
				if s, ok := p.runOnce(ctx, dir); ok {
					p.samples = append(p.samples, s)
				}
			}
		}
	}
}

// runOnce runs the process, which must answer JSON; the first answer is kept in res.Answer.
func (p *startupProc) runOnce(ctx context.Context, dir string) (startupSample, bool) {
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, p.argv[0], p.argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HCLOUD_TOKEN="+Token)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, io.Discard
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ans map[string]any
	if jerr := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &ans); jerr != nil {
		p.res.Err = fmt.Sprintf("answer is not JSON (%v): %.200s", err, out.String())
		return startupSample{}, false
	}
	if p.res.Answer == "" {
		p.res.Answer = fmt.Sprintf("failed=%v msg=%.160q", ans["failed"], fmt.Sprint(ans["msg"]))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024
	}
	return startupSample{wall, rss}, true
}

// summarize puts the samples' figures into res.
func (p *startupProc) summarize() {
	res, ss := &p.res, p.samples
	if len(ss) == 0 {
		if res.Err == "" {
			res.Err = "no run"
		}
		return
	}
	walls := make([]time.Duration, len(ss))
	var sum time.Duration
	for i, s := range ss {
		walls[i] = s.wall
		sum += s.wall
		res.MaxRSS = max(res.MaxRSS, s.maxrss)
	}
	slices.Sort(walls)
	res.Runs = len(ss)
	res.Min, res.Median, res.Mean = walls[0], walls[len(walls)/2], sum/time.Duration(len(ss))
}

// buildAnsiballZ has Ansible build the wrapper of hetzner.hcloud.hcloud_volume_info with the
// unknown option as its arguments, keeps it, and returns its path.
func buildAnsiballZ(ctx context.Context, opts Options, dir string) (string, error) {
	remote := filepath.Join(dir, "remote")
	c, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	cmd := e2e.GroupCommand(c, "ansible", "localhost", "-m", "hetzner.hcloud.hcloud_volume_info", "-a", unknownOption+"=1")
	cmd.Dir = opts.Repo
	cmd.Env = append(os.Environ(), "ANSIBLE_KEEP_REMOTE_FILES=1", "ANSIBLE_REMOTE_TEMP="+remote,
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "local"), "ANSIBLE_NOCOLOR=1", "HCLOUD_TOKEN="+Token,
		"ANSIBLE_LOCALHOST_WARNING=0")
	out, _ := cmd.CombinedOutput() // the module fails, on purpose
	found, _ := filepath.Glob(filepath.Join(remote, "ansible-tmp-*", "AnsiballZ_hcloud_volume_info.py"))
	if len(found) == 0 {
		return "", fmt.Errorf("ansible kept no AnsiballZ_hcloud_volume_info.py: %.300s", strings.TrimSpace(string(out)))
	}
	return found[0], nil
}

// RPSResult is the request rate the simulator sustains, by number of concurrent clients.
type RPSResult struct {
	Workers  []int
	RPS      []float64
	Errors   []int64
	Duration time.Duration
	Max      float64
	Args     []string
}

// measureSimRPS starts a simulator with the rate limit off and has 1..8 keep-alive clients send
// GET /v1/volumes?per_page=50 and GET /v1/actions?id=A alternately for opts.RPSDuration each.
func measureSimRPS(ctx context.Context, opts Options, logf func(string, ...any)) (*RPSResult, error) {
	dir := filepath.Join(opts.WorkDir, "simrps")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sim, err := startSim(ctx, opts.SimBin, filepath.Join(dir, "hcloud-sim.log"), "ph3-02", "--rate-limit", "off", "--log-level", "off")
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	res := &RPSResult{Duration: opts.RPSDuration, Args: redact(sim.Args)}
	client := newRPSClient()
	actionID, err := startAction(ctx, client, sim)
	if err != nil {
		return nil, err
	}
	urls := []string{
		sim.Endpoint + "/volumes?page=1&per_page=50",
		fmt.Sprintf("%s/actions?id=%d", sim.Endpoint, actionID),
	}
	for _, n := range opts.RPSWorkers {
		rps, bad := rpsRow(ctx, client, urls, n, opts.RPSDuration)
		res.Workers = append(res.Workers, n)
		res.RPS = append(res.RPS, rps)
		res.Errors = append(res.Errors, bad)
		res.Max = max(res.Max, rps)
		logf("simrps: %d clients: %.0f requests/s (%d errors)", n, rps, bad)
	}
	return res, nil
}

// rpsClient sends requests with the harness's token over keep-alive connections, as many as the
// busiest row has clients.
type rpsClient struct{ http *http.Client }

func newRPSClient() rpsClient {
	return rpsClient{&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}}
}

// do sends one request and reads its whole answer, so that the connection is reused.
func (c rpsClient) do(ctx context.Context, method, url string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+Token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

// startAction detaches an attached volume for the id of an action, which the clients poll.
func startAction(ctx context.Context, client rpsClient, sim *harnessSim) (int64, error) {
	st, err := sim.State()
	if err != nil {
		return 0, err
	}
	var volID int64
	for _, v := range st.Volumes {
		if v.Server != nil {
			volID = v.ID
			break
		}
	}
	if volID == 0 {
		return 0, fmt.Errorf("no attached volume to start an action on")
	}
	body, code, err := client.do(ctx, http.MethodPost, fmt.Sprintf("%s/volumes/%d/actions/detach", sim.Endpoint, volID))
	if err != nil || code/100 != 2 {
		return 0, fmt.Errorf("detach for an action id: %d %v %.200s", code, err, body)
	}
	var ans struct {
		Action struct {
			ID int64 `json:"id"`
		} `json:"action"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.Action.ID == 0 {
		return 0, fmt.Errorf("detach answer without an action: %.200s", body)
	}
	return ans.Action.ID, nil
}

// rpsRow has n clients send urls in turn for dur, and returns the rate of answers 200 and the
// number of other answers; a request cut off by the end of the row counts as neither.
func rpsRow(ctx context.Context, client rpsClient, urls []string, n int, dur time.Duration) (float64, int64) {
	c, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; c.Err() == nil; i++ {
				_, code, err := client.do(c, http.MethodGet, urls[i%len(urls)])
				switch {
				case c.Err() != nil:
				case err == nil && code == http.StatusOK:
					ok.Add(1)
				default:
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(ok.Load()) / time.Since(start).Seconds(), bad.Load()
}
