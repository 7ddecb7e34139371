package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// SoakOptions configure Soak.
type SoakOptions struct {
	Root  string
	Dir   string // work directory (created)
	Fleet Fleet
	Kills int
	Seed  uint64
	// BatchSize and StageTimeout are the playbook's batch_size and batch_timeout (defaults 10
	// and 60); the soak gives every stage twice the batch deadline.
	BatchSize, StageTimeout int
	// Logf reports progress (nil: silent).
	Logf func(format string, args ...any)
}

// Kill is what one kill-and-rerun did.
type Kill struct {
	N          int           `json:"n"`
	Target     string        `json:"target"`      // the stage the kill aimed at
	LeaderOnly bool          `json:"leader_only"` // ansible-playbook alone was killed, not its process group
	At         time.Duration `json:"at_ns"`       // when, from the start of that stage (of the run for start-up)
	Stage      string        `json:"stage"`       // the task running when the playbook was killed
	Ended      bool          `json:"ended"`       // the run ended by itself before the kill moment
	KillSafe   []string      `json:"kill_safe"`   // problems right after the kill
	Rerun      time.Duration `json:"rerun_ns"`    // how long the rerun took
	RerunOK    bool          `json:"rerun_ok"`    // the rerun succeeded
	Converged  []string      `json:"converged"`   // problems of the fleet after the rerun (none: converged)
	RerunFail  string        `json:"rerun_fail"`  // the rerun's failure account
}

// OK is a kill after which nothing unsafe happened and the rerun converged.
func (k Kill) OK() bool { return len(k.KillSafe) == 0 && k.RerunOK && len(k.Converged) == 0 }

// SoakReport is the soak's result.
type SoakReport struct {
	Fleet    string        `json:"fleet"`
	Seed     uint64        `json:"seed"`
	FullRun  time.Duration `json:"full_run_ns"`
	Kills    []Kill        `json:"kills"`
	Failures int           `json:"failures"`
}

// Soak measures one complete reset and each of its stages, then Kills times: resets the
// simulator to the fleet, starts the reset playbook, SIGKILLs it at a seeded random moment
// within one of its stages (the stages in a seeded order; every other kill hits
// ansible-playbook alone, the others its whole process group), checks that nothing unsafe
// happened (Safe), reruns to completion and checks that the fleet converged to the plan
// (CheckFleet). The same seed aims the kills at the same stages and moments.
func Soak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.BatchSize == 0 {
		o.BatchSize = 10
	}
	if o.StageTimeout == 0 {
		o.StageTimeout = 60
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	s, err := StartSim(ctx, o.Root, o.Dir, o.Fleet, simproc.Token)
	if err != nil {
		return nil, err
	}
	defer func() { _ = s.Stop() }()
	w, err := NewWorkspace(o.Dir, o.Fleet)
	if err != nil {
		return nil, err
	}
	sk := &soaker{o: o, sim: s, w: w, vars: map[string]any{"batch_size": o.BatchSize, "batch_timeout": o.StageTimeout, "stage_timeout": 2 * o.StageTimeout}}
	full, err := sk.uninterrupted(ctx)
	if err != nil {
		return nil, err
	}
	rep := &SoakReport{Fleet: o.Fleet.Name, Seed: o.Seed, FullRun: full.Duration}
	o.Logf("uninterrupted reset of %s: %v; %d kills follow (seed %d)", o.Fleet.Name, full.Duration.Round(time.Millisecond), o.Kills, o.Seed)
	targets := killTargets(full)
	var names []string
	for _, t := range targets {
		names = append(names, fmt.Sprintf("%s (%.1fs)", t.name, t.dur.Seconds()))
	}
	o.Logf("kill targets: %s", strings.Join(names, ", "))

	rng := rand.New(rand.NewPCG(o.Seed, 0x6b627633))
	order := rng.Perm(len(targets)) // every target once per len(targets) kills, in a seeded order
	for i := 1; i <= o.Kills; i++ {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		// Kill i aims at the next target: a random moment within that stage as long as it took
		// in the uninterrupted run, counted from when the stage starts in this run.
		t := targets[order[(i-1)%len(targets)]]
		k := Kill{N: i, Target: t.name, At: time.Duration(rng.Int64N(max(int64(t.dur), 1)))}
		// Every other kill hits ansible-playbook alone: its workers and the running module go on
		// while the rerun starts, as after an OOM kill of the controller process.
		k.LeaderOnly = i%2 == 0
		if err := sk.killAndRerun(ctx, &k, t.prefix); err != nil {
			return rep, err
		}
		if !k.OK() {
			rep.Failures++
		}
		rep.Kills = append(rep.Kills, k)
		o.Logf("%s", k.String())
	}
	return rep, nil
}

// soakDeadline bounds every run of the soak: a run still going then has hung.
const soakDeadline = 10 * time.Minute

// soaker is one soak's simulator, workspace and what every run is checked against.
type soaker struct {
	o    SoakOptions
	sim  *simproc.Sim
	w    *Workspace
	vars map[string]any
	// want and before are set by uninterrupted: the reviewed diff and the fleet before it.
	want   Want
	before simproc.State
}

// play runs a playbook of the soak with o's kills.
func (sk *soaker) play(ctx context.Context, playbook string, o PlaybookOptions) (*Run, error) {
	o.Root, o.Playbook, o.Env, o.Vars, o.Deadline = sk.o.Root, playbook, sk.sim.Env(), sk.vars, soakDeadline
	return sk.w.Playbook(ctx, o)
}

// uninterrupted computes the reviewed diff and runs one complete reset, whose stages' durations
// spread the kills, and checks that it reached the plan.
func (sk *soaker) uninterrupted(ctx context.Context) (*Run, error) {
	r, err := sk.play(ctx, "playbooks/volume_diff_v3.yml", PlaybookOptions{})
	if err != nil {
		return nil, err
	}
	if !r.Succeeded() {
		return nil, fmt.Errorf("the diff playbook failed:\n%s", r.Output)
	}
	deletes, err := ReadDiffDeletes(sk.w.Diff)
	if err != nil {
		return nil, err
	}
	sk.want = Want{Plan: sk.o.Fleet.Plan, Deletes: deletes, Old: []string{OldVolumes}}
	if sk.before, err = sk.sim.State(); err != nil {
		return nil, err
	}
	r, err = sk.play(ctx, "playbooks/volume_reset_v3.yml", PlaybookOptions{})
	if err != nil {
		return nil, err
	}
	if !r.Succeeded() {
		return nil, fmt.Errorf("the uninterrupted reset failed:\n%s", strings.Join(FailedLines(r.Output), "\n"))
	}
	after, err := sk.sim.State()
	if err != nil {
		return nil, err
	}
	if p := CheckFleet(sk.want, sk.before, after); len(p) > 0 {
		return nil, fmt.Errorf("the uninterrupted reset did not reach the plan: %s", strings.Join(p, "; "))
	}
	return r, nil
}

// killAndRerun resets the simulator, runs the reset and kills it k.At after the first task
// whose name starts with prefix begins (after the run's start when prefix is ""), checks the
// fleet, reruns the reset to its end and checks the fleet again, filling in k.
func (sk *soaker) killAndRerun(ctx context.Context, k *Kill, prefix string) error {
	if err := sk.sim.Reset(); err != nil {
		return err
	}
	opts := PlaybookOptions{KillLeaderOnly: k.LeaderOnly}
	if prefix == "" {
		opts.KillAfter = max(k.At, time.Millisecond)
	} else {
		opts.KillInTask, opts.KillDelay = prefix, k.At
	}
	r, err := sk.play(ctx, "playbooks/volume_reset_v3.yml", opts)
	if err != nil {
		return err
	}
	k.Stage, k.Ended = lastTask(r.Output), !r.Killed
	mid, err := sk.sim.State()
	if err != nil {
		return err
	}
	k.KillSafe = Safe(sk.want, sk.before, mid)
	r2, err := sk.play(ctx, "playbooks/volume_reset_v3.yml", PlaybookOptions{})
	r.KillGroup() // what the leader-only kill left running has had the rerun's time to end
	if err != nil {
		return err
	}
	k.Rerun, k.RerunOK = r2.Duration, r2.Succeeded()
	if !k.RerunOK {
		k.RerunFail = strings.Join(FailedLines(r2.Output), " | ")
		if k.RerunFail == "" {
			k.RerunFail = tail(r2.Output, 1500)
		}
	}
	final, err := sk.sim.State()
	if err != nil {
		return err
	}
	k.Converged = CheckFleet(sk.want, sk.before, final)
	return nil
}

func (k Kill) String() string {
	victim := "group"
	if k.LeaderOnly {
		victim = "ansible-playbook alone"
	}
	what := fmt.Sprintf("aimed at %q +%.2fs, killed (%s) in %q", k.Target, k.At.Seconds(), victim, k.Stage)
	if k.Ended {
		what = fmt.Sprintf("aimed at %q +%.2fs, ended by itself first", k.Target, k.At.Seconds())
	}
	res := fmt.Sprintf("rerun converged in %.1fs", k.Rerun.Seconds())
	switch {
	case len(k.KillSafe) > 0:
		res = "UNSAFE after the kill: " + strings.Join(k.KillSafe, "; ")
	case !k.RerunOK:
		res = "RERUN FAILED: " + k.RerunFail
	case len(k.Converged) > 0:
		res = "DID NOT CONVERGE: " + strings.Join(k.Converged, "; ")
	}
	return fmt.Sprintf("kill %2d: %s; %s", k.N, what, res)
}

// Summary counts the kills by stage, and the failures.
func (r *SoakReport) Summary() string {
	by := map[string]int{}
	for _, k := range r.Kills {
		st := k.Stage
		if k.Ended {
			st = "(after the end)"
		}
		by[st]++
	}
	var keys []string
	for s := range by {
		keys = append(keys, s)
	}
	sort.Strings(keys)
	var parts []string
	for _, s := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", s, by[s]))
	}
	return fmt.Sprintf("N=%d kills on %s (seed %d, uninterrupted run %.1fs), %d failed; by stage: %s",
		len(r.Kills), r.Fleet, r.Seed, r.FullRun.Seconds(), r.Failures, strings.Join(parts, ", "))
}

// killTarget is a stage the soak aims kills at: prefix of its task name ("" for the start-up,
// before the first stage), and how long it took in the uninterrupted run.
type killTarget struct {
	name, prefix string
	dur          time.Duration
}

// killTargets are the start-up and every "Stage N" task of the uninterrupted run r.
func killTargets(r *Run) []killTarget {
	var out []killTarget
	for i, t := range r.TaskStarts {
		if !strings.HasPrefix(t.Name, "Stage ") {
			continue
		}
		if len(out) == 0 {
			out = append(out, killTarget{name: "start-up", dur: t.At})
		}
		end := r.Duration
		if i+1 < len(r.TaskStarts) {
			end = r.TaskStarts[i+1].At
		}
		prefix, _, _ := strings.Cut(t.Name, ",")
		out = append(out, killTarget{name: prefix, prefix: prefix, dur: end - t.At})
	}
	if len(out) == 0 {
		out = append(out, killTarget{name: "start-up", dur: r.Duration})
	}
	return out
}

// lastTask is the name of the last task the output started.
func lastTask(out string) string {
	i := strings.LastIndex(out, "TASK [")
	if i < 0 {
		return "(before the first task)"
	}
	rest := out[i+len("TASK ["):]
	if j := strings.Index(rest, "]"); j >= 0 {
		return rest[:j]
	}
	return rest
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
