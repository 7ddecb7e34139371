package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/oplog"
	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// The fault matrix: ansible-playbook playbooks/volume_reset_v3.yml on hcloud-sim (the small
// fleet, batches of 3, 50 ms actions), one case per fault in each stage where it applies. Every
// case checks that the run ends within its deadline, that a failure names the volumes affected
// and the cause, that nothing outside the diff is deleted and the unrelated volumes are intact,
// that retries are bounded and in the operation log, and that a rerun without the fault
// converges to the plan. With KBV3_RELIABILITY_JSON set, the results are written there for
// `make reliability-doc` (docs/RELIABILITY.md).

// Stages, by the request that singles them out.
const (
	stRead = "read (every stage's listing)"
	// The servers are read by stage 0 only: it hands their ids to the batches and to the
	// verification.
	stServers = "server read (stage 0)"
	// The detach of an old volume is sent by the delete stage, just before its delete.
	stDetach = "detach (in the delete stage)"
	stDelete = "delete"
	stCreate = "create"
	stAttach = "attach"
	stPoll   = "action polling"
	stAll    = "all"
)

type relExpect int

const (
	expRecover relExpect = iota // the run succeeds: the module retries through the fault
	expFail                     // the run fails cleanly, naming the volumes and the cause
)

// relCase is one cell of the matrix.
type relCase struct {
	fault, stage string
	rules        func(ids map[string]int64) []simproc.Fault
	expect       relExpect
	cause        *regexp.Regexp // the failure must say this (expFail)
	wantVolume   string         // the failure must name this volume (cases aimed at one volume)
	retries      bool           // the operation log must show retries
	stageTimeout int
	badToken     bool // the run's token is refused (401)
	stuck        bool // an action never finishes: the rerun is on a simulator restarted from the fleet as left
}

// relResult is one row of docs/RELIABILITY.md.
type relResult struct {
	Fault        string   `json:"fault"`
	Stage        string   `json:"stage"`
	Rule         string   `json:"rule"`
	Expect       string   `json:"expect"`
	Outcome      string   `json:"outcome"`
	Account      string   `json:"account,omitempty"`
	Seconds      float64  `json:"seconds"`
	Deadline     float64  `json:"deadline_seconds"`
	StageTimeout int      `json:"batch_timeout"`
	FaultHits    int      `json:"fault_hits"`
	Retries      int      `json:"retries"`
	MaxAttempt   int      `json:"max_attempt"`
	Rerun        string   `json:"rerun"`
	RerunSeconds float64  `json:"rerun_seconds"`
	Problems     []string `json:"problems,omitempty"`
}

// Routes of the stages. A fault aimed at one volume uses its id; "*" aims at every volume.
func relRoute(stage, id string) (method, path string) {
	switch stage {
	case stRead:
		return "GET", "/v1/volumes"
	case stServers:
		return "GET", "/v1/servers"
	case stDetach:
		return "POST", "/v1/volumes/" + id + "/actions/detach"
	case stDelete:
		return "DELETE", "/v1/volumes/" + id
	case stCreate:
		return "POST", "/v1/volumes"
	case stAttach:
		return "POST", "/v1/volumes/" + id + "/actions/attach"
	case stPoll:
		return "GET", "/v1/actions"
	}
	panic(stage)
}

// relTarget is the old volume the single-volume faults of detach and delete aim at.
const relTarget = "vol-db-01"

func relMatrix() []relCase {
	rule := func(stage string, f simproc.Fault, one bool) func(map[string]int64) []simproc.Fault {
		return func(ids map[string]int64) []simproc.Fault {
			id := "*"
			if one {
				id = fmt.Sprint(ids[relTarget])
			}
			f.Method, f.Path = relRoute(stage, id)
			return []simproc.Fault{f}
		}
	}
	var cases []relCase
	allStages := []string{stRead, stDetach, stDelete, stCreate, stAttach}
	// Transient faults, in bursts: the modules retry through them.
	for _, st := range allStages {
		cases = append(cases, relCase{fault: "429 burst (4)", stage: st, expect: expRecover, retries: true,
			rules: rule(st, simproc.Fault{Status: 429, Code: "rate_limit_exceeded", Nth: 1, Count: 4}, false)})
	}
	for _, st := range []string{stDetach, stAttach} {
		cases = append(cases, relCase{fault: "423 locked (3)", stage: st, expect: expRecover, retries: true,
			rules: rule(st, simproc.Fault{Status: 423, Code: "locked", Nth: 1, Count: 3}, false)})
	}
	for _, st := range []string{stDetach, stDelete, stCreate, stAttach} {
		cases = append(cases, relCase{fault: "409 conflict (3)", stage: st, expect: expRecover, retries: true,
			rules: rule(st, simproc.Fault{Status: 409, Code: "conflict", Nth: 1, Count: 3}, false)})
	}
	// Server errors that do not go away: the stage fails within its deadline, naming the volume.
	for _, code := range []struct {
		status int
		cause  string
	}{{500, `server_error|500`}, {502, `bad_gateway|502`}, {503, `unavailable|503`}, {504, `timeout|504`}} {
		for _, st := range allStages {
			c := relCase{fault: fmt.Sprintf("%d, every request", code.status), stage: st, expect: expFail,
				cause: regexp.MustCompile(code.cause), stageTimeout: 8, retries: true}
			one := st == stDetach || st == stDelete
			if one {
				c.wantVolume = relTarget
				c.fault = fmt.Sprintf("%d, every request for %s", code.status, relTarget)
			}
			c.rules = rule(st, simproc.Fault{Status: code.status}, one)
			cases = append(cases, c)
		}
	}
	for _, st := range append(allStages, stPoll) {
		cases = append(cases, relCase{fault: "dropped connection (3)", stage: st, expect: expRecover, retries: true,
			rules: rule(st, simproc.Fault{Effect: "drop", Nth: 1, Count: 3}, false)})
	}
	// The API applies the change and the answer is lost: the module finds the change made
	// instead of making it twice (no duplicate volume, no second detach or delete).
	for _, st := range []string{stDetach, stDelete, stCreate, stAttach} {
		cases = append(cases, relCase{fault: "answer lost after the change (1)", stage: st, expect: expRecover, retries: true,
			rules: rule(st, simproc.Fault{Effect: "drop_after", Nth: 2, Count: 1}, false)})
	}
	for _, st := range append(allStages, stPoll) {
		cases = append(cases, relCase{fault: "response slowed by 2 s (4)", stage: st, expect: expRecover,
			rules: rule(st, simproc.Fault{Effect: "delay", Delay: "2s", Nth: 1, Count: 4}, false)})
	}
	for _, st := range []string{stDetach, stCreate, stAttach} {
		cases = append(cases, relCase{fault: "action ends in error", stage: st, expect: expFail,
			cause: regexp.MustCompile(`action_failed|error`), stageTimeout: 20,
			rules: rule(st, simproc.Fault{Effect: "action_error", Nth: 1, Count: 1}, false)})
	}
	for _, st := range []string{stDetach, stCreate, stAttach} {
		cases = append(cases, relCase{fault: "action never finishes", stage: st, expect: expFail, stuck: true,
			cause: regexp.MustCompile(`(?i)deadline|timed out|timeout|still running`), stageTimeout: 8,
			rules: rule(st, simproc.Fault{Effect: "action_stuck", Nth: 1, Count: 1}, false)})
	}
	// Faults on the servers' listing: stage 0 retries through a burst, and when the listing
	// keeps failing the run stops there, before any change.
	cases = append(cases,
		relCase{fault: "429 burst (4)", stage: stServers, expect: expRecover, retries: true,
			rules: rule(stServers, simproc.Fault{Status: 429, Code: "rate_limit_exceeded", Nth: 1, Count: 4}, false)},
		relCase{fault: "500, every request", stage: stServers, expect: expFail, retries: true, stageTimeout: 8,
			cause: regexp.MustCompile(`server_error|500`), rules: rule(stServers, simproc.Fault{Status: 500}, false)},
		relCase{fault: "dropped connection (3)", stage: stServers, expect: expRecover, retries: true,
			rules: rule(stServers, simproc.Fault{Effect: "drop", Nth: 1, Count: 3}, false)})
	cases = append(cases, relCase{fault: "401, token refused", stage: stAll, expect: expFail, badToken: true,
		cause: regexp.MustCompile(`unauthorized|401`)})
	return cases
}

func (c relCase) name() string {
	return strings.NewReplacer(" ", "_", ",", "", "(", "", ")", "").Replace(c.fault + "/" + strings.Fields(c.stage)[0])
}

// relWorkers is how many cases run at once: each is mostly waiting (ansible's polling, 50 ms
// actions, backoffs), so six fit on two cores.
const relWorkers = 6

// TestReliabilityFaultMatrix runs the matrix, relWorkers cases at a time, then reports each
// case as a subtest.
func TestReliabilityFaultMatrix(t *testing.T) {
	root := relRoot(t)
	f := e2e.SmallFleet()
	diff := relDiff(t, f)
	deletes := []plan.DeleteEntry{}
	{
		var d struct {
			Delete []plan.DeleteEntry `json:"delete"`
		}
		if err := json.Unmarshal(diff, &d); err != nil {
			t.Fatal(err)
		}
		deletes = d.Delete
	}
	cases := relMatrix()
	if re := os.Getenv("KBV3_MATRIX_FILTER"); re != "" {
		keep := cases[:0]
		for _, c := range cases {
			if regexp.MustCompile(re).MatchString(c.name()) {
				keep = append(keep, c)
			}
		}
		cases = keep
	}
	results := make([]relResult, len(cases))
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, relWorkers)
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = relRunCase(root, t.TempDir(), f, diff, deletes, c)
		}()
	}
	wg.Wait()
	t.Logf("%d cases in %v", len(cases), time.Since(start).Round(time.Second))
	for i, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			r := results[i]
			t.Logf("%s / %s: %s in %.1fs (deadline %.0fs); retries %d, max attempt %d, fault hits %d; rerun: %s",
				r.Fault, r.Stage, r.Outcome, r.Seconds, r.Deadline, r.Retries, r.MaxAttempt, r.FaultHits, r.Rerun)
			if r.Account != "" {
				t.Logf("account: %s", r.Account)
			}
			if len(r.Problems) > 0 {
				t.Error(strings.Join(r.Problems, "\n"))
			}
		})
	}
	if p := os.Getenv("KBV3_RELIABILITY_JSON"); p != "" {
		b, _ := json.MarshalIndent(map[string]any{"generated": time.Now().UTC().Format(time.RFC3339),
			"fleet": relFleetDesc(f), "total_seconds": time.Since(start).Seconds(), "cases": results}, "", "  ")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func relFleetDesc(f e2e.Fleet) string {
	return fmt.Sprintf("%d servers, %d volumes before (%d unrelated), a plan of %d volumes; batches of 3, actions of 50 ms",
		len(f.Servers), len(f.Volumes), len(f.Unrelated), len(f.Plan))
}

// relRunCase runs one case: the faulted run, the checks, the rerun without the fault.
func relRunCase(root, dir string, f e2e.Fleet, diff []byte, deletes []plan.DeleteEntry, c relCase) (res relResult) {
	res = relResult{Fault: c.fault, Stage: c.stage, Expect: map[relExpect]string{expRecover: "recovers", expFail: "fails cleanly"}[c.expect]}
	rc := &relRun{root: root, dir: dir, f: f, deletes: deletes, c: c, res: &res}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := e2e.StartSim(ctx, root, dir, f, simproc.Token)
	if err != nil {
		rc.problem("start: %v", err)
		return res
	}
	defer func() {
		if err := s.Stop(); err != nil {
			rc.problem("hcloud-sim: %v", err)
		}
	}()
	w, before, ok := rc.prepare(s, diff)
	if !ok {
		return res
	}
	r, ok := rc.faultedRun(ctx, s, w)
	if !ok {
		return res
	}
	after, ok := rc.checkFaultedRun(s, w, r, before)
	if !ok {
		return res
	}
	rc.rerun(ctx, s, w, before, after)
	return res
}

// relRun is one case under way; problem adds to its result's problems.
type relRun struct {
	root, dir string
	f         e2e.Fleet
	deletes   []plan.DeleteEntry
	c         relCase
	res       *relResult
}

func (rc *relRun) problem(format string, args ...any) {
	rc.res.Problems = append(rc.res.Problems, fmt.Sprintf(format, args...))
}

// prepare writes the workspace and the reviewed diff, reads the fleet before the run and arms
// the case's faults.
func (rc *relRun) prepare(s *simproc.Sim, diff []byte) (*e2e.Workspace, simproc.State, bool) {
	w, err := e2e.NewWorkspace(rc.dir, rc.f)
	if err == nil {
		err = os.WriteFile(w.Diff, diff, 0o644)
	}
	if err != nil {
		rc.problem("workspace: %v", err)
		return nil, simproc.State{}, false
	}
	before, err := s.State()
	if err != nil {
		rc.problem("state: %v", err)
		return nil, simproc.State{}, false
	}
	ids := map[string]int64{}
	for _, v := range before.Volumes {
		ids[v.Name] = v.ID
	}
	if rc.c.rules != nil {
		rules := rc.c.rules(ids)
		var descs []string
		for _, r := range rules {
			descs = append(descs, relRuleString(r))
		}
		rc.res.Rule = strings.Join(descs, "; ")
		if _, err := s.AddFault(rules...); err != nil {
			rc.problem("fault: %v", err)
			return nil, simproc.State{}, false
		}
	}
	return w, before, true
}

// faultedRun runs the reset with the fault, under the deadline the playbook documents.
func (rc *relRun) faultedRun(ctx context.Context, s *simproc.Sim, w *e2e.Workspace) (*e2e.Run, bool) {
	env := s.Env()
	if rc.c.badToken {
		env = append(env, "HCLOUD_TOKEN=kbv3-refused-token-"+strings.Repeat("x", 45))
		rc.res.Rule = "the run's token is not the simulator's (--token)"
	}
	batchTimeout := rc.c.stageTimeout
	if batchTimeout == 0 {
		batchTimeout = 30
	}
	rc.res.StageTimeout = batchTimeout
	// A faulted stage has two batches here (batch_size 3 on the small fleet): stage_timeout
	// lets both run to their own deadline.
	vars := map[string]any{"batch_size": 3, "batch_timeout": batchTimeout, "stage_timeout": 2 * batchTimeout}
	// The run's deadline is the one the playbook documents: 2 x batch_timeout for stage 0 and
	// the verification, 3 x stage_timeout for the stages, plus a minute of Ansible.
	deadline := time.Duration(2*batchTimeout+3*2*batchTimeout+60) * time.Second
	rc.res.Deadline = deadline.Seconds()
	if err := s.ResetStats(); err != nil {
		rc.problem("stats: %v", err)
	}
	r, err := w.Playbook(ctx, e2e.PlaybookOptions{Root: rc.root, Playbook: "playbooks/volume_reset_v3.yml", Env: env, Vars: vars, Deadline: deadline})
	if err != nil {
		rc.problem("run: %v", err)
		return nil, false
	}
	rc.res.Seconds = r.Duration.Seconds()
	if r.Deadline {
		rc.problem("the run did not end within its deadline of %v: killed", deadline)
	}
	return r, true
}

// checkFaultedRun reads what the faulted run did (the fleet after it, the fault hits, the
// retries, the account of its failures) and checks it against the case; after is the fleet.
func (rc *relRun) checkFaultedRun(s *simproc.Sim, w *e2e.Workspace, r *e2e.Run, before simproc.State) (after simproc.State, ok bool) {
	after, err := s.State()
	if err != nil {
		rc.problem("state: %v", err)
		return after, false
	}
	stats, err := s.Stats()
	if err != nil {
		rc.problem("stats: %v", err)
		return after, false
	}
	faults, err := s.Faults()
	if err != nil {
		rc.problem("faults: %v", err)
	}
	for _, fr := range faults {
		rc.res.FaultHits += fr.Hits
	}
	if rc.c.badToken {
		rc.res.FaultHits = stats.Requests.ByStatus["401"]
	}
	if rc.res.FaultHits == 0 {
		rc.problem("the fault never hit: the case tests nothing")
	}
	entries, err := e2e.ReadOplog(w.Log)
	if err != nil {
		rc.problem("operation log: %v", err)
	}
	rc.res.Retries, rc.res.MaxAttempt = e2e.Retries(entries)
	account := e2e.FailedLines(r.Output)
	rc.res.Account = strings.Join(account, " | ")
	switch {
	case r.Succeeded():
		rc.res.Outcome = "succeeded"
		if rc.res.Retries > 0 {
			rc.res.Outcome = fmt.Sprintf("succeeded after %d retries", rc.res.Retries)
		}
	default:
		rc.res.Outcome = "failed: " + relAccountSummary(account, rc.f, rc.deletes)
	}
	if rc.c.expect == expRecover && !r.Succeeded() {
		rc.problem("the run failed, want it to retry through the fault: %s", rc.res.Account)
	}
	if rc.c.expect == expFail {
		if r.Succeeded() {
			rc.problem("the run succeeded, want a clean failure")
		} else {
			rc.checkAccount(account, entries)
		}
	}
	if rc.c.retries && rc.res.Retries == 0 && !rc.c.badToken {
		rc.problem("no retry in the operation log")
	}
	if rc.c.badToken && stats.Requests.Mutating > 0 {
		rc.problem("%d mutating requests with a refused token", stats.Requests.Mutating)
	}
	for _, p := range e2e.Safe(relWant(rc.f, rc.deletes), before, after) {
		rc.problem("after the faulted run: %s", p)
	}
	return after, true
}

// checkAccount checks a clean failure's account (its failed task lines): it gives the cause and
// names the volumes the operation log shows failing.
func (rc *relRun) checkAccount(account []string, entries []oplog.Entry) {
	joined := strings.Join(account, "\n")
	if len(account) == 0 {
		rc.problem("the failure has no account (no failed task in the output)")
	}
	if rc.c.cause != nil && !rc.c.cause.MatchString(joined) {
		rc.problem("the account does not give the cause (%s): %s", rc.c.cause, joined)
	}
	if rc.c.wantVolume != "" && !strings.Contains(joined, rc.c.wantVolume) {
		rc.problem("the account does not name %s: %s", rc.c.wantVolume, joined)
	}
	// Every volume the log shows failing is named in the account.
	for _, e := range entries {
		if e.Outcome == "failed" && e.Volume != "" && relIsVolume(e.Volume, rc.f, rc.deletes) && !strings.Contains(joined, e.Volume) {
			rc.problem("volume %s failed (operation log) but the account does not name it", e.Volume)
		}
	}
	// A listing that keeps failing stops the run before any volume is touched.
	if st := rc.c.stage; st != stRead && st != stServers && st != stAll && len(relAccountVolumes(joined, rc.f, rc.deletes)) == 0 {
		rc.problem("the account names no volume: %s", joined)
	}
}

// rerun runs the reset again without the fault and checks that the fleet converges to the plan.
func (rc *relRun) rerun(ctx context.Context, s *simproc.Sim, w *e2e.Workspace, before, after simproc.State) {
	rerunSim := s
	if rc.c.stuck {
		// The simulator keeps a stuck action running forever; the rerun is on a simulator
		// restarted from the fleet as the run left it (the action given up, its change not made),
		// with another seed so that no new id equals an id of the diff.
		s2, err := relRestart(ctx, rc.root, filepath.Join(rc.dir, "restart"), rc.f, after, rc.deletes)
		if err != nil {
			rc.problem("restart: %v", err)
			return
		}
		defer func() { _ = s2.Stop() }()
		rerunSim = s2
		before2, err := s2.State()
		if err != nil {
			rc.problem("state: %v", err)
			return
		}
		before = relMergeBefore(before, before2)
		// The restart gave every volume a new id: the reviewed diff's entries follow their
		// volumes (same name), as they would on the real API, where ids never change.
		if err := relRemapDiff(w.Diff, before2); err != nil {
			rc.problem("diff: %v", err)
			return
		}
	} else if err := s.ClearFaults(); err != nil {
		rc.problem("clear faults: %v", err)
		return
	}
	r2, err := w.Playbook(ctx, e2e.PlaybookOptions{Root: rc.root, Playbook: "playbooks/volume_reset_v3.yml", Env: rerunSim.Env(),
		Vars: map[string]any{"batch_size": 3, "batch_timeout": 30}, Deadline: 2 * time.Minute})
	if err != nil {
		rc.problem("rerun: %v", err)
		return
	}
	rc.res.RerunSeconds = r2.Duration.Seconds()
	final, err := rerunSim.State()
	if err != nil {
		rc.problem("state: %v", err)
		return
	}
	fleetProblems := e2e.CheckFleet(relWant(rc.f, rc.deletes), before, final)
	switch {
	case r2.Succeeded() && len(fleetProblems) == 0:
		rc.res.Rerun = "converged"
		if rc.c.stuck {
			rc.res.Rerun = "converged (simulator restarted: the stuck action given up)"
		}
	case !r2.Succeeded():
		rc.res.Rerun = "FAILED: " + strings.Join(e2e.FailedLines(r2.Output), " | ")
		rc.problem("the rerun failed: %s", strings.Join(e2e.FailedLines(r2.Output), "\n"))
	default:
		rc.res.Rerun = "did not converge: " + strings.Join(fleetProblems, "; ")
	}
	for _, p := range fleetProblems {
		rc.problem("after the rerun: %s", p)
	}
}

// relRestart starts a simulator from the fleet as st shows it, with a seed whose volume ids
// collide with none of the diff's.
func relRestart(ctx context.Context, root, dir string, f e2e.Fleet, st simproc.State, deletes []plan.DeleteEntry) (*simproc.Sim, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	taken := map[int64]bool{}
	for _, d := range deletes {
		taken[d.ID] = true
	}
	for seed := 2; seed < 10; seed++ {
		s, err := e2e.StartSim(ctx, root, dir, e2e.FleetFromState(f, st), simproc.Token, "--seed", fmt.Sprint(seed))
		if err != nil {
			return nil, err
		}
		st2, err := s.State()
		clash := err != nil
		for _, v := range st2.Volumes {
			clash = clash || taken[v.ID]
		}
		if !clash {
			return s, nil
		}
		_ = s.Stop()
	}
	return nil, fmt.Errorf("no seed without id clashes")
}

// relRemapDiff rewrites the ids of the diff's delete entries to the ids st gives their names.
func relRemapDiff(path string, st simproc.State) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	dels, _ := d["delete"].([]any)
	for _, e := range dels {
		m := e.(map[string]any)
		if v, ok := st.Volume(fmt.Sprint(m["name"])); ok {
			m["id"] = v.ID
		}
	}
	b, err = json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// relMergeBefore keeps the original state's volumes (for "nothing outside the diff deleted")
// but with the restarted simulator's servers and ids for the unrelated-volume checks.
func relMergeBefore(orig, restarted simproc.State) simproc.State {
	out := restarted
	have := map[string]bool{}
	for _, v := range restarted.Volumes {
		have[v.Name] = true
	}
	for _, v := range orig.Volumes {
		if !have[v.Name] {
			v.Server = nil
			out.Volumes = append(out.Volumes, v)
		}
	}
	return out
}

func relRuleString(r simproc.Fault) string {
	parts := []string{r.Method, r.Path}
	if r.Effect != "" {
		parts = append(parts, "effect="+r.Effect)
	}
	if r.Status != 0 {
		parts = append(parts, fmt.Sprintf("status=%d", r.Status))
	}
	if r.Code != "" {
		parts = append(parts, "code="+r.Code)
	}
	if r.Delay != "" {
		parts = append(parts, "delay="+r.Delay)
	}
	if r.Nth != 0 {
		parts = append(parts, fmt.Sprintf("nth=%d", r.Nth))
	}
	if r.Count != 0 {
		parts = append(parts, fmt.Sprintf("count=%d", r.Count))
	}
	return strings.Join(parts, " ")
}

// relFleetNames are the names of every volume the fleet has or plans.
func relFleetNames(f e2e.Fleet, deletes []plan.DeleteEntry) []string {
	var names []string
	for _, v := range f.Volumes {
		names = append(names, v.Name)
	}
	for _, e := range f.Plan {
		names = append(names, e.Name())
	}
	for _, d := range deletes {
		names = append(names, d.Name)
	}
	return names
}

func relIsVolume(name string, f e2e.Fleet, deletes []plan.DeleteEntry) bool {
	for _, n := range relFleetNames(f, deletes) {
		if n == name {
			return true
		}
	}
	return false
}

// relAccountVolumes are the fleet's volumes the account names.
func relAccountVolumes(account string, f e2e.Fleet, deletes []plan.DeleteEntry) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range e2e.Names(account, relFleetNames(f, deletes)) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// relAccountSummary is the failure in a few words: the task and its msg, shortened.
func relAccountSummary(account []string, f e2e.Fleet, deletes []plan.DeleteEntry) string {
	if len(account) == 0 {
		return "(no account)"
	}
	var msgs []string
	for _, l := range account {
		if _, msg, ok := strings.Cut(l, " => "); ok {
			l = msg
		}
		msgs = append(msgs, l)
	}
	out := strings.Join(msgs, " | ")
	if len(out) > 400 {
		out = out[:400] + "…"
	}
	return out
}
