package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// ServerRun is one kbv3_volume_create with server: one volume created in its server's location
// and attached to it in the same request (the attach comes back in next_actions).
type ServerRun struct {
	Volume, Server string
	// Wall is the module process from exec to exit; ModuleMs the duration_ms it reports.
	Wall     time.Duration
	ModuleMs int64
	Action   string // the module's action for the volume ("created")
	Requests int
	Problem  string // what went wrong, "" when the volume ended attached to its server
}

// ServerResult is the create-with-server measurement.
type ServerResult struct {
	Runs []ServerRun
	// Create and Attach are the simulator's action times; Poll the interval of kbv3's poller.
	Create, Attach, Poll time.Duration
	Command              string
	Err                  string
}

// ServerTarget compares the median run with the sum of the two action times: the attach can
// only progress once the create is done, so no client can be faster; a poller that follows
// the attach from when it started ends within one poll interval of that sum.
func (s *ServerResult) ServerTarget() (median, budget time.Duration, ok bool) {
	if s == nil || s.Err != "" || len(s.Runs) == 0 {
		return 0, 0, false
	}
	walls := make([]time.Duration, 0, len(s.Runs))
	for _, r := range s.Runs {
		if r.Problem != "" {
			return 0, 0, false
		}
		walls = append(walls, r.Wall)
	}
	slices.Sort(walls)
	median = walls[len(walls)/2]
	budget = s.Create + s.Attach + s.Poll
	return median, budget, median <= budget
}

// serverCreate runs kbv3_volume_create with name, size and server on the fresh PH3-02 fleet,
// opts.ServerRuns times, each on another server, the module process run as Ansible runs a
// binary module (plugins/modules/kbv3_volume_create ARGS_FILE).
func (r *runner) serverCreate(ctx context.Context) *ServerResult {
	res := &ServerResult{Create: r.times["create_volume"], Attach: r.times["attach_volume"], Poll: hz.DefaultPollInterval,
		Command: "plugins/modules/kbv3_volume_create ARGS_FILE (name, size 10, server, api_endpoint, api_token)"}
	fail := func(err error) *ServerResult {
		res.Err = err.Error()
		r.logf("server: %s", res.Err)
		return res
	}
	if missing := kbv3Missing(r.opts.Repo); len(missing) > 0 {
		return fail(fmt.Errorf("not built (make build)"))
	}
	dir, err := r.wayDir("server")
	if err != nil {
		return fail(err)
	}
	if err := r.sim.Reset(); err != nil {
		return fail(err)
	}
	st, err := r.sim.state()
	if err != nil {
		return fail(err)
	}
	servers := make([]string, 0, len(st.Servers))
	for _, s := range st.Servers {
		servers = append(servers, s.Name)
	}
	slices.Sort(servers)
	for i := range min(max(r.opts.ServerRuns, 1), len(servers)) {
		run, err := r.serverRun(ctx, dir, i+1, servers[i])
		if err != nil {
			return fail(err)
		}
		r.logf("server: %s on %s in %s (module %d ms, %d requests) %s", run.Volume, run.Server, run.Wall.Round(time.Millisecond), run.ModuleMs, run.Requests, run.Problem)
		res.Runs = append(res.Runs, run)
	}
	return res
}

// serverRun creates volume n with server, from zeroed counters, and checks it ended attached.
// Its error is the harness's; what went wrong with the module is in the run's Problem.
func (r *runner) serverRun(ctx context.Context, dir string, n int, server string) (ServerRun, error) {
	run := ServerRun{Volume: fmt.Sprintf("kbv3-bench-with-server-%d", n), Server: server}
	args := filepath.Join(dir, fmt.Sprintf("args-%d.json", n))
	data, _ := json.Marshal(map[string]any{
		"name": run.Volume, "size": 10, "server": run.Server, "api_endpoint": r.sim.Endpoint, "api_token": Token,
		"_ansible_check_mode": false, "_ansible_diff": false, "_ansible_no_log": false, "_ansible_verbosity": 0,
		"_ansible_module_name": "kbv3_volume_create", "_ansible_tmpdir": dir, "_ansible_debug": false,
		"_ansible_keep_remote_files": false,
	})
	if err := os.WriteFile(args, data, 0o600); err != nil {
		return run, err
	}
	if err := r.sim.ResetStats(); err != nil {
		return run, err
	}
	c, cancel := context.WithTimeout(ctx, r.opts.WayTimeout)
	cmd := exec.CommandContext(c, filepath.Join(r.opts.Repo, "plugins", "modules", "kbv3_volume_create"), args)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	runErr := cmd.Run()
	run.Wall = time.Since(start)
	cancel()
	_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("answer-%d.json", n)), out.Bytes(), 0o644)
	run.readAnswer(out.Bytes(), runErr)
	if stats, err := r.sim.stats(); err == nil {
		run.Requests = stats.Requests.Total
	}
	r.checkAttached(&run)
	return run, nil
}

// readAnswer takes the module's action and duration from its JSON answer, or the problem.
func (run *ServerRun) readAnswer(out []byte, runErr error) {
	var ans struct {
		Failed  bool   `json:"failed"`
		Msg     string `json:"msg"`
		Volumes []struct {
			Action     string `json:"action"`
			DurationMs int64  `json:"duration_ms"`
		} `json:"volumes"`
	}
	switch err := json.Unmarshal(bytes.TrimSpace(out), &ans); {
	case err != nil:
		run.Problem = fmt.Sprintf("answer is not JSON (%v, exit %v): %.200s", err, runErr, string(out))
	case ans.Failed || len(ans.Volumes) != 1:
		run.Problem = fmt.Sprintf("the module failed: %.200s", ans.Msg)
	default:
		run.Action, run.ModuleMs = ans.Volumes[0].Action, ans.Volumes[0].DurationMs
	}
}

// checkAttached reads the end state: the run's volume must exist, attached to its server. A
// problem the answer showed comes first.
func (r *runner) checkAttached(run *ServerRun) {
	if after, err := r.sim.state(); err != nil {
		run.Problem = "state: " + err.Error()
	} else if v, ok := simproc.State(*after).Volume(run.Volume); !ok {
		run.Problem = cmp.Or(run.Problem, "the volume does not exist")
	} else if s, ok := simproc.State(*after).Server(run.Server); !ok || v.Server == nil || *v.Server != s.ID {
		run.Problem = cmp.Or(run.Problem, "the volume is not attached to "+run.Server)
	}
}
