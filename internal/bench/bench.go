// Package bench is `make bench`: it resets the PH3-02 fleet on hcloud-sim six ways (kbv3, the
// official collection hetzner.hcloud 1.11 and 5.x each written two ways, the report's hcloud
// CLI loop), measures each (wall time, requests by kind from the simulator's counters, 429s,
// peak memory, end state against the plan), measures the extras (no-op rerun, --check, a create
// with server, module start-up, generated fleets under the rate limit, the simulator's own
// throughput) and writes docs/BENCHMARKS.md.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/plan"
)

// Ways and extras, in the order they run.
var (
	AllWays   = []string{"kbv3", "official", "official-hosts", "modern", "modern-hosts", "cli"}
	AllExtras = []string{"noop", "check", "server", "startup", "big", "simrps"}
	// officialWays are the official collection's: the targets hold kbv3 to the fastest.
	officialWays = []string{"official", "official-hosts", "modern", "modern-hosts"}
)

// Token is the bearer token of every client: long and unlike any resource name, so that Ansible's
// no_log masking never rewrites a result.
const Token = "kbv3BenchToken0q8XwZr4Lm2Ns9Vt6Yp3Hc7Jd1Kf5Gb0Qe8Ua2Ri4Oo6Ww9Ee1Tt3"

// Options are the harness's settings.
type Options struct {
	Repo        string
	SimBin      string
	Ways        []string
	Extras      []string
	Batch       int
	Fleets      []Fleet // the generated fleets of the "big" extra
	Modern      Modern  // the toolchain of the hetzner.hcloud 5.x ways
	ServerRuns  int     // creates with server measured
	Out         string  // the Markdown report; "" writes none
	WorkDir     string
	WayTimeout  time.Duration
	BigTimeout  time.Duration
	RPSDuration time.Duration
	RPSWorkers  []int
	StartupRuns int
	Invocation  string // how the harness was started, for the report
}

// WayResult is one measured run.
type WayResult struct {
	Name     string
	Title    string
	Cmd      Cmd
	Measure  Measure
	Stats    Stats
	Problems []string
	Check    string // what the end state was checked against
	Skipped  string
	Bound    *Bound
	Work     Work
	Fleet    *FleetRun // set on a generated fleet's run
}

// OK reports whether the run ended well with the right end state.
func (r *WayResult) OK() bool {
	return r.Skipped == "" && r.Measure.ErrText == "" && r.Measure.ExitCode == 0 && len(r.Problems) == 0
}

// Report is everything measured.
type Report struct {
	Opts        Options
	Started     time.Time
	Machine     Machine
	SimArgs     []string
	ActionTimes map[string]time.Duration
	RateLimit   string
	Ways        []*WayResult
	Extras      []*WayResult
	Startup     []StartupResult
	RPS         *RPSResult
	Notes       []string
	Server      *ServerResult
	Elapsed     time.Duration
	Parts       []Part `json:",omitempty"` // the harness runs of a merged report
}

// Find returns the run of that name, nil when it did not run.
func (r *Report) Find(name string) *WayResult {
	for _, w := range slices.Concat(r.Ways, r.Extras) {
		if w.Name == name {
			return w
		}
	}
	return nil
}

// Run measures everything opts selects, prints the tables to out and writes opts.Out.
func Run(ctx context.Context, opts Options, out io.Writer) (*Report, error) {
	rep := &Report{Opts: opts, Started: time.Now()}
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return nil, err
	}
	rep.Machine = describe(ctx, opts)
	planPath := filepath.Join(opts.Repo, "servers", "volume_plan_v3.json")
	p, err := plan.Load(planPath)
	if err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(out, "kbv3-bench: "+format+"\n", a...) }

	needMain := len(opts.Ways) > 0 || has(opts.Extras, "noop") || has(opts.Extras, "check") || has(opts.Extras, "server")
	if needMain {
		if err := rep.runMain(ctx, p, planPath, logf); err != nil {
			return nil, err
		}
	}
	rep.runApart(ctx, logf)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("interrupted (%w): the report is not written", err)
	}
	rep.Elapsed = time.Since(rep.Started)
	rep.save(logf)
	return rep, rep.Write(out, opts.Out)
}

// describe is the machine with the modern toolchain's versions, or why it is missing.
func describe(ctx context.Context, opts Options) Machine {
	m := DescribeMachine(ctx, opts.Repo)
	if why := opts.Modern.Missing(); why != "" {
		m.Versions = append(m.Versions, [2]string{"modern toolchain (hetzner.hcloud 5.x ways)", why})
	} else {
		v, _ := opts.Modern.CollectionVersion()
		m.Versions = append(m.Versions,
			[2]string{"ansible-core of the 5.x ways", opts.Modern.CoreVersion() + " (" + opts.Modern.Dir + ")"},
			[2]string{"hetzner.hcloud of the 5.x ways", v})
	}
	return m
}

// runMain runs the ways and the extras of the PH3-02 fleet (the no-op rerun, --check, the create
// with server), all on one simulator.
func (rep *Report) runMain(ctx context.Context, p *plan.Plan, planPath string, logf func(string, ...any)) error {
	opts := rep.Opts
	sim, err := startSim(ctx, opts.SimBin, filepath.Join(opts.WorkDir, "hcloud-sim.log"), "ph3-02", "--log-level", "error")
	if err != nil {
		return err
	}
	defer sim.stop()
	rep.SimArgs = sim.Args
	logf("started %s %s", opts.SimBin, strings.Join(redact(rep.SimArgs), " "))
	if err := rep.readSimSettings(sim); err != nil {
		return err
	}
	r := &runner{opts: opts, sim: sim, plan: p, planPath: planPath, logf: logf, times: rep.ActionTimes}
	if err := rep.runWays(ctx, r); err != nil {
		return err
	}
	if has(opts.Extras, "check") {
		rep.Extras = append(rep.Extras, r.check(ctx))
	}
	if has(opts.Extras, "server") {
		rep.Server = r.serverCreate(ctx)
	}
	if err := sim.stop(); err != nil {
		logf("%v (log: %s)", err, filepath.Join(opts.WorkDir, "hcloud-sim.log"))
	}
	return nil
}

// readSimSettings records the main simulator's action times and rate limit: the bounds are
// computed from the times, and the report states both.
func (rep *Report) readSimSettings(sim *harnessSim) error {
	cfg, err := sim.Config()
	if err != nil {
		return err
	}
	if rep.ActionTimes, err = cfg.ActionDurations(); err != nil {
		return err
	}
	rep.RateLimit = fmt.Sprintf("%d/%s", cfg.RateLimit.Limit, cfg.RateLimit.Period)
	if !cfg.RateLimit.Enabled {
		rep.RateLimit = "off"
	}
	return nil
}

// runWays resets the fleet each way, the no-op reruns right after a kbv3 reset that went well:
// they rerun on the fleet it left.
func (rep *Report) runWays(ctx context.Context, r *runner) error {
	for _, way := range rep.Opts.Ways {
		if err := ctx.Err(); err != nil {
			return err
		}
		res := r.way(ctx, way)
		rep.Ways = append(rep.Ways, res)
		if way == "kbv3" && res.OK() && has(rep.Opts.Extras, "noop") {
			rep.Extras = append(rep.Extras, r.noop(ctx, res, false), r.noop(ctx, res, true))
		}
	}
	if has(rep.Opts.Extras, "noop") && !has(rep.Opts.Ways, "kbv3") {
		rep.Notes = append(rep.Notes, "The no-op rerun follows a kbv3 reset: run with the kbv3 way to measure it.")
	}
	return nil
}

// runApart runs the extras that need no PH3-02 fleet, each on its own simulator or none: the
// generated fleets, the module start-up and the simulator's throughput.
func (rep *Report) runApart(ctx context.Context, logf func(string, ...any)) {
	opts := rep.Opts
	if has(opts.Extras, "big") {
		for _, f := range opts.Fleets {
			if ctx.Err() != nil {
				break
			}
			rep.Extras = append(rep.Extras, runFleet(ctx, opts, f, logf))
		}
	}
	if has(opts.Extras, "startup") {
		rep.Startup = measureStartup(ctx, opts, logf)
	}
	if has(opts.Extras, "simrps") {
		rps, err := measureSimRPS(ctx, opts, logf)
		if err != nil {
			rep.Notes = append(rep.Notes, "simulator throughput not measured: "+err.Error())
		}
		rep.RPS = rps
	}
}

// save writes the results as JSON into the work directory, for -render; a failure only loses
// the re-rendering, not the report.
func (rep *Report) save(logf func(string, ...any)) {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return
	}
	p := filepath.Join(rep.Opts.WorkDir, "results.json")
	if err := os.WriteFile(p, data, 0o644); err == nil {
		logf("results saved in %s (kbv3-bench -render %s re-renders the report)", p, p)
	}
}

// Write prints the tables to out and writes the Markdown report to path ("" : none).
func (rep *Report) Write(out io.Writer, path string) error {
	fmt.Fprintln(out)
	fmt.Fprint(out, rep.Summary())
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, []byte(rep.Markdown()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "kbv3-bench: wrote %s\n", path)
	return nil
}

// Merge puts the runs of several results together into one report, for a bench done in
// parts (-render a.json,b.json): the first gives the machine and settings; a run of the same
// name in a later part replaces the earlier one; the extras measured once (start-up, the
// simulator's throughput, the create with server) come from the last part that has them.
func Merge(parts ...*Report) *Report {
	if len(parts) == 0 {
		return &Report{}
	}
	out := *parts[0]
	out.Ways, out.Extras = slices.Clone(out.Ways), slices.Clone(out.Extras)
	out.Parts = []Part{{Invocation: out.Opts.Invocation, WorkDir: out.Opts.WorkDir, Started: out.Started, Elapsed: out.Elapsed}}
	put := func(list []*WayResult, r *WayResult) []*WayResult {
		for i, x := range list {
			if x.Name == r.Name {
				list[i] = r
				return list
			}
		}
		return append(list, r)
	}
	for _, p := range parts[1:] {
		for _, w := range p.Ways {
			out.Ways = put(out.Ways, w)
		}
		for _, e := range p.Extras {
			out.Extras = put(out.Extras, e)
		}
		if p.Server != nil {
			out.Server = p.Server
		}
		if len(p.Startup) > 0 {
			out.Startup = p.Startup
		}
		if p.RPS != nil {
			out.RPS = p.RPS
		}
		if out.ActionTimes == nil {
			out.ActionTimes, out.SimArgs, out.RateLimit = p.ActionTimes, p.SimArgs, p.RateLimit
		}
		out.Notes = append(out.Notes, p.Notes...)
		out.Elapsed += p.Elapsed
		out.Parts = append(out.Parts, Part{Invocation: p.Opts.Invocation, WorkDir: p.Opts.WorkDir, Started: p.Started, Elapsed: p.Elapsed})
	}
	if len(parts) == 1 {
		out.Parts = nil
	}
	return &out
}

// Part is one run of the harness among those a merged report puts together.
type Part struct {
	Invocation, WorkDir string
	Started             time.Time
	Elapsed             time.Duration
}

// Load reads results saved by Run.
func Load(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	return rep, json.Unmarshal(data, rep)
}

func has(list []string, s string) bool { return slices.Contains(list, s) }

// redact hides the token in a command line shown to people.
func redact(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if a == Token {
			out[i] = "$HCLOUD_TOKEN"
		}
	}
	return out
}

// runner runs the ways against the main simulator.
type runner struct {
	opts     Options
	sim      *harnessSim
	plan     *plan.Plan
	planPath string
	times    map[string]time.Duration
	logf     func(string, ...any)
}

// clientEnv is the environment of every client: the simulator, and Ansible kept out of ~/.ansible.
func clientEnv(endpoint, work string) []string {
	return []string{
		"HCLOUD_TOKEN=" + Token,
		"HCLOUD_ENDPOINT=" + endpoint,
		"HCLOUD_CONFIG=" + filepath.Join(work, "hcloud-cli.toml"),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_ASYNC_DIR=" + filepath.Join(work, "ansible-async"),
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(work, "ansible-local"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(work, "ansible-remote"),
		"ANSIBLE_RETRY_FILES_ENABLED=0",
	}
}

// wayDir is a fresh directory for one run's files.
func (r *runner) wayDir(name string) (string, error) {
	dir := filepath.Join(r.opts.WorkDir, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// prepare resets the simulator, writes the reviewed diff and zeroes the counters.
func (r *runner) prepare(dir string, reset bool) (*plan.Diff, *State, error) {
	if reset {
		if err := r.sim.Reset(); err != nil {
			return nil, nil, err
		}
	}
	before, err := r.sim.state()
	if err != nil {
		return nil, nil, err
	}
	d, err := WriteDiff(r.plan, before, filepath.Join(dir, "volume_diff_v3.json"))
	if err != nil {
		return nil, nil, err
	}
	return d, before, r.sim.ResetStats()
}

func writeVars(dir string, vars map[string]any) (string, error) {
	data, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "vars.json")
	return p, os.WriteFile(p, data, 0o644)
}

// kbv3Missing reports which kbv3 module binaries are missing.
func kbv3Missing(repo string) []string {
	var missing []string
	for _, m := range e2e.Modules {
		if st, err := os.Stat(filepath.Join(repo, "plugins", "modules", m)); err != nil || st.Mode()&0o111 == 0 {
			missing = append(missing, m)
		}
	}
	return missing
}

// wayCmd is the command of a way, with its files in dir.
func (r *runner) wayCmd(way, dir string, extra ...string) (Cmd, error) {
	c := Cmd{Dir: r.opts.Repo, Env: clientEnv(r.sim.Endpoint, dir), Log: filepath.Join(dir, "output.log"), Timeout: r.opts.WayTimeout}
	diff := filepath.Join(dir, "volume_diff_v3.json")
	snapshot := filepath.Join(dir, "existing_volumes_hetzner.json")
	switch way {
	case "kbv3":
		vars, err := writeVars(dir, map[string]any{
			"diff_path": diff, "snapshot_path": snapshot, "batch_size": r.opts.Batch,
			"report_path": filepath.Join(dir, "volume_reset_v3.md"), "log_path": filepath.Join(dir, "volume-reset-v3.jsonl"),
		})
		if err != nil {
			return c, err
		}
		c.Argv = append([]string{"ansible-playbook", "playbooks/volume_reset_v3.yml", "-e", "@" + vars}, extra...)
	case "official", "official-hosts":
		vars, err := writeVars(dir, map[string]any{"diff_path": diff, "snapshot_path": snapshot, "batch_size": r.opts.Batch})
		if err != nil {
			return c, err
		}
		book := "bench/official/volume_reset_official.yml"
		if way == "official-hosts" {
			book = "bench/official/volume_reset_official_hosts.yml"
		}
		c.Argv = append([]string{"ansible-playbook", book, "-e", "@" + vars}, extra...)
	case "modern", "modern-hosts":
		vars, err := writeVars(dir, map[string]any{"diff_path": diff, "snapshot_path": snapshot, "batch_size": r.opts.Batch})
		if err != nil {
			return c, err
		}
		book := "bench/modern/volume_reset_modern.yml"
		if way == "modern-hosts" {
			book = "bench/modern/volume_reset_modern_hosts.yml"
		}
		c.Env = append(c.Env, r.opts.Modern.Env(filepath.Join(dir, "ansible-home"))...)
		// The harness resolves the command with its own PATH: the toolchain's, by its path.
		c.Argv = append([]string{filepath.Join(r.opts.Modern.Bin(), "ansible-playbook"), book, "-e", "@" + vars}, extra...)
	case "cli":
		c.Env = append(c.Env, fmt.Sprintf("BATCH_SIZE=%d", r.opts.Batch))
		c.Argv = []string{"bash", "bench/cli/volume_reset_cli.sh", r.planPath, diff, snapshot}
	default:
		return c, fmt.Errorf("unknown way %q (want %s)", way, strings.Join(AllWays, ", "))
	}
	return c, nil
}

var wayTitles = map[string]string{
	"kbv3":           "kbv3 (volume_reset_v3.yml)",
	"official":       "hetzner.hcloud 1.11, async batches",
	"official-hosts": "hetzner.hcloud 1.11, serial host batches",
	"modern":         "hetzner.hcloud 5.x (ansible-core 2.19), async batches",
	"modern-hosts":   "hetzner.hcloud 5.x (ansible-core 2.19), serial host batches",
	"cli":            "hcloud CLI Bash loop",
	"noop":           "kbv3 no-op rerun (same diff)",
	"noop-fresh":     "kbv3 no-op rerun (fresh diff)",
	"check":          "kbv3 --check, fresh fleet",
	"big":            "kbv3, generated fleet",
}

// measure runs c and reads the counters and the end state.
func (r *runner) measure(ctx context.Context, res *WayResult) *State {
	r.logf("%s: %s", res.Name, res.Cmd)
	res.Measure = RunCmd(ctx, res.Cmd)
	st, err := r.sim.stats()
	if err != nil {
		res.Problems = append(res.Problems, "stats: "+err.Error())
	}
	res.Stats = st
	after, err := r.sim.state()
	if err != nil {
		res.Problems = append(res.Problems, "state: "+err.Error())
		return nil
	}
	return after
}

func (r *runner) done(res *WayResult) *WayResult {
	status := "ok"
	if !res.OK() {
		status = fmt.Sprintf("FAILED (exit %d, err %v, %d problems; log %s)", res.Measure.ExitCode, res.Measure.Err, len(res.Problems), res.Cmd.Log)
	}
	if res.Skipped != "" {
		status = "skipped: " + res.Skipped
	}
	r.logf("%s: %s in %.1fs, %d requests", res.Name, status, res.Measure.Wall.Seconds(), res.Stats.Requests.Total)
	for i, p := range res.Problems {
		if i == 10 {
			r.logf("  ... %d more", len(res.Problems)-10)
			break
		}
		r.logf("  %s", p)
	}
	return res
}

// way resets the fleet one way.
func (r *runner) way(ctx context.Context, way string) *WayResult {
	res := &WayResult{Name: way, Title: wayTitles[way], Check: "plan"}
	if way == "kbv3" {
		if missing := kbv3Missing(r.opts.Repo); len(missing) > 0 {
			res.Skipped = "plugins/modules has no " + strings.Join(missing, ", ") + " (make build)"
			return r.done(res)
		}
	}
	if strings.HasPrefix(way, "modern") {
		if why := r.opts.Modern.Missing(); why != "" {
			res.Skipped = why
			return r.done(res)
		}
	}
	dir, err := r.wayDir(way)
	if err != nil {
		res.Skipped = err.Error()
		return r.done(res)
	}
	d, before, err := r.prepare(dir, true)
	if err != nil {
		res.Skipped = "prepare: " + err.Error()
		return r.done(res)
	}
	if res.Cmd, err = r.wayCmd(way, dir); err != nil {
		res.Skipped = err.Error()
		return r.done(res)
	}
	res.Work = WorkOf(d, before)
	if way == "kbv3" {
		b := ComputeBound(res.Work, r.opts.Batch, r.times)
		res.Bound = &b
	}
	if after := r.measure(ctx, res); after != nil {
		res.Problems = append(res.Problems, VerifyPlan(r.plan, d, before, after)...)
	}
	return r.done(res)
}

// noop reruns the kbv3 reset on the fleet it just reset: with the same diff file (the command
// run again as is), or with a diff computed afresh (nothing left to delete).
func (r *runner) noop(ctx context.Context, prev *WayResult, fresh bool) *WayResult {
	name := "noop"
	if fresh {
		name = "noop-fresh"
	}
	res := &WayResult{Name: name, Title: wayTitles[name], Check: "plan"}
	dir, err := r.wayDir(name)
	if err != nil {
		res.Skipped = err.Error()
		return r.done(res)
	}
	d, before, err := r.prepare(dir, false)
	if err != nil {
		res.Skipped = "prepare: " + err.Error()
		return r.done(res)
	}
	if !fresh {
		// The same reviewed diff as the reset it follows.
		data, err := os.ReadFile(filepath.Join(filepath.Dir(prev.Cmd.Log), "volume_diff_v3.json"))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "volume_diff_v3.json"), data, 0o644)
		}
		if err == nil {
			d, err = plan.ParseDiff(data)
		}
		if err != nil {
			res.Skipped = "diff: " + err.Error()
			return r.done(res)
		}
	}
	if res.Cmd, err = r.wayCmd("kbv3", dir); err != nil {
		res.Skipped = err.Error()
		return r.done(res)
	}
	res.Work = Work{VolumesBefore: len(before.Volumes), Servers: len(before.Servers), VolumesAfter: len(before.Volumes)}
	b := ComputeBound(res.Work, r.opts.Batch, r.times)
	res.Bound = &b
	if after := r.measure(ctx, res); after != nil {
		res.Problems = append(res.Problems, VerifyPlan(r.plan, d, before, after)...)
		res.Problems = append(res.Problems, VerifyUnchanged(before, after)...)
	}
	return r.done(res)
}

// check runs the kbv3 reset with --check on a fresh fleet: nothing may change.
func (r *runner) check(ctx context.Context) *WayResult {
	res := &WayResult{Name: "check", Title: wayTitles["check"], Check: "unchanged"}
	if missing := kbv3Missing(r.opts.Repo); len(missing) > 0 {
		res.Skipped = "plugins/modules has no " + strings.Join(missing, ", ") + " (make build)"
		return r.done(res)
	}
	dir, err := r.wayDir("check")
	if err != nil {
		res.Skipped = err.Error()
		return r.done(res)
	}
	_, before, err := r.prepare(dir, true)
	if err != nil {
		res.Skipped = "prepare: " + err.Error()
		return r.done(res)
	}
	if res.Cmd, err = r.wayCmd("kbv3", dir, "--check"); err != nil {
		res.Skipped = err.Error()
		return r.done(res)
	}
	res.Work = Work{VolumesBefore: len(before.Volumes), Servers: len(before.Servers), VolumesAfter: len(before.Volumes)}
	b := ComputeBound(res.Work, r.opts.Batch, r.times)
	res.Bound = &b
	if after := r.measure(ctx, res); after != nil {
		res.Problems = append(res.Problems, VerifyUnchanged(before, after)...)
	}
	return r.done(res)
}

// runFleet resets a generated fleet of f.N servers with kbv3, on its own simulator with the
// rate limit on, its action times and rate-limit period divided by f.Scale.
func runFleet(ctx context.Context, opts Options, f Fleet, logf func(string, ...any)) *WayResult {
	name := f.Name()
	res := &WayResult{Name: name, Title: fmt.Sprintf("%s of %d", wayTitles["big"], f.N), Check: "plan", Fleet: &FleetRun{Fleet: f}}
	if f.Scale > 1 {
		res.Title += fmt.Sprintf(" (time ÷%d)", f.Scale)
	}
	if missing := kbv3Missing(opts.Repo); len(missing) > 0 {
		res.Skipped = "plugins/modules has no " + strings.Join(missing, ", ") + " (make build)"
		logf("%s: skipped: %s", name, res.Skipped)
		return res
	}
	dir := filepath.Join(opts.WorkDir, name)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.Skipped = err.Error()
		return res
	}
	sim, times, rl, err := startFleetSim(ctx, opts, f, filepath.Join(dir, "hcloud-sim.log"))
	if err != nil {
		res.Skipped = err.Error()
		return res
	}
	defer func() { _ = sim.stop() }()
	res.Fleet.RateLimit = rl
	logf("%s: started %s %s", name, opts.SimBin, strings.Join(redact(sim.Args), " "))
	before, err := sim.state()
	if err != nil {
		res.Skipped = err.Error()
		return res
	}
	p, planPath, inv, err := writeFleetPlan(dir, before)
	if err != nil {
		res.Skipped = err.Error()
		return res
	}
	r := &runner{opts: opts, sim: sim, plan: p, planPath: planPath, logf: logf, times: times}
	r.opts.WayTimeout = opts.BigTimeout
	d, _, err := r.prepare(dir, false)
	if err != nil {
		res.Skipped = "prepare: " + err.Error()
		return res
	}
	if res.Cmd, err = r.wayCmd("kbv3", dir, "-i", inv, "-e", "plan_path="+planPath); err != nil {
		res.Skipped = err.Error()
		return res
	}
	res.Work = WorkOf(d, before)
	b := ComputeBound(res.Work, opts.Batch, times)
	res.Bound = &b
	if after := r.measure(ctx, res); after != nil {
		res.Problems = append(res.Problems, VerifyPlan(p, d, before, after)...)
	}
	return r.done(res)
}

// startFleetSim starts the simulator of a generated fleet with its rate limit's period and its
// action times divided by f.Scale, and returns it with those times and that limit.
func startFleetSim(ctx context.Context, opts Options, f Fleet, logPath string) (*harnessSim, map[string]time.Duration, RateLimit, error) {
	scenario := fmt.Sprintf("generated:%d", f.N)
	sim, err := startSim(ctx, opts.SimBin, logPath, scenario, "--log-level", "error")
	if err != nil {
		return nil, nil, RateLimit{}, err
	}
	times, rl, err := fleetSimSettings(sim)
	// Restarted with the run's limit and times, so that its bucket is full at the start.
	_ = sim.stop()
	if err != nil {
		return nil, nil, RateLimit{}, err
	}
	if sim, err = startSim(ctx, opts.SimBin, logPath, scenario, append(scaledSimArgs(times, rl, f.Scale), "--log-level", "error")...); err != nil {
		return nil, nil, RateLimit{}, err
	}
	return sim, ScaleTimes(times, f.Scale), rl.Scaled(f.Scale), nil
}

// fleetSimSettings reads a simulator's unscaled action times and the rate limit a fleet runs
// under.
func fleetSimSettings(sim *harnessSim) (map[string]time.Duration, RateLimit, error) {
	cfg, err := sim.Config()
	if err != nil {
		return nil, RateLimit{}, err
	}
	times, err := cfg.ActionDurations()
	if err != nil {
		return nil, RateLimit{}, err
	}
	// The API's limit, whatever the simulator's default: these runs are about it.
	rl := RateLimit{Limit: 3600, Period: time.Hour}
	if cfg.RateLimit.Enabled {
		p, err := time.ParseDuration(cfg.RateLimit.Period)
		if err != nil {
			return nil, RateLimit{}, err
		}
		rl = RateLimit{Limit: cfg.RateLimit.Limit, Period: p}
	}
	return times, rl, nil
}

// writeFleetPlan writes into dir the plan of a generated fleet as the simulator made it and
// the inventory of its hosts, and returns the plan and both paths.
func writeFleetPlan(dir string, before *State) (p *plan.Plan, planPath, inv string, err error) {
	p = GeneratedPlan(before)
	planPath = filepath.Join(dir, "volume_plan_v3.json")
	inv = filepath.Join(dir, "hosts.yml")
	data, err := p.Encode()
	if err == nil {
		err = os.WriteFile(planPath, data, 0o644)
	}
	if err == nil {
		err = WriteInventory(p, inv)
	}
	return p, planPath, inv, err
}
