// Command kbv3-soak is the kill-and-rerun soak of the reset playbook (make soak), and the
// renderer of docs/RELIABILITY.md from the fault matrix's results (make reliability-doc).
//
//	kbv3-soak [-kills N] [-seed S] [-fleet ph3-02|small] [-batch-size B] [-stage-timeout T]
//	kbv3-soak -render-doc results.json [-o docs/RELIABILITY.md]
//
// The soak starts bin/hcloud-sim with the fleet, computes the diff with
// playbooks/volume_diff_v3.yml, times one uninterrupted reset and each of its stages, then N
// times: resets the simulator, SIGKILLs the reset playbook's process group at a seeded random
// moment of a stage (the start-up and every stage in turn, in a seeded order; every other kill
// hits ansible-playbook alone, leaving its workers and module running into the rerun), checks
// that nothing outside the diff was deleted or changed, reruns the reset to completion and
// checks that the fleet converged to the plan. It prints N, the seed and every outcome, and
// exits 1 when any kill went wrong. Run it after make build. The harness is internal/e2e (Soak).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
)

func main() {
	kills := flag.Int("kills", 12, "number of kills (N)")
	seed := flag.Uint64("seed", 1, "seed of the kill moments")
	fleet := flag.String("fleet", "ph3-02", "fleet: ph3-02 (the report's 47 servers, the shipped plan) or small (6 servers)")
	batch := flag.Int("batch-size", 10, "batch_size of the playbook")
	stageTimeout := flag.Int("stage-timeout", 60, "batch_timeout of the playbook, seconds (stage_timeout is twice it)")
	keep := flag.Bool("keep", false, "keep the work directory")
	render := flag.String("render-doc", "", "render the fault matrix results (JSON) as Markdown instead of soaking")
	out := flag.String("o", "", "with -render-doc: the Markdown file (default stdout)")
	flag.Parse()

	if *render != "" {
		if err := renderDoc(*render, *out); err != nil {
			fmt.Fprintln(os.Stderr, "kbv3-soak:", err)
			os.Exit(1)
		}
		return
	}
	if *kills < 0 || *batch < 1 || *stageTimeout < 1 {
		fmt.Fprintln(os.Stderr, "kbv3-soak: -kills must be ≥ 0, -batch-size and -stage-timeout ≥ 1")
		os.Exit(2)
	}
	root, err := e2e.Root()
	if err == nil {
		err = e2e.CheckBuilt(root)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-soak:", err)
		os.Exit(1)
	}
	var f e2e.Fleet
	switch *fleet {
	case "ph3-02":
		f, err = e2e.PH3Fleet(root)
	case "small":
		f = e2e.SmallFleet()
	default:
		err = fmt.Errorf("unknown fleet %q (ph3-02 or small)", *fleet)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-soak:", err)
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "kbv3-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-soak:", err)
		os.Exit(1)
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	// Bounded in all: a full rerun per kill, each under the playbook's own deadlines.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, time.Duration(*kills+2)*10*time.Minute)
	defer cancel2()
	start := time.Now()
	rep, err := e2e.Soak(ctx, e2e.SoakOptions{Root: root, Dir: dir, Fleet: f, Kills: *kills, Seed: *seed,
		BatchSize: *batch, StageTimeout: *stageTimeout,
		Logf: func(format string, args ...any) { fmt.Printf(format+"\n", args...) }})
	if rep != nil {
		fmt.Println(rep.Summary())
	}
	fmt.Printf("soak took %v (work directory %s)\n", time.Since(start).Round(time.Second), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-soak:", err)
		os.Exit(1)
	}
	if rep.Failures > 0 {
		os.Exit(1)
	}
}

// matrixResults is what TestReliabilityFaultMatrix writes (KBV3_RELIABILITY_JSON).
type matrixResults struct {
	Generated    string  `json:"generated"`
	Fleet        string  `json:"fleet"`
	TotalSeconds float64 `json:"total_seconds"`
	Cases        []struct {
		Fault        string   `json:"fault"`
		Stage        string   `json:"stage"`
		Rule         string   `json:"rule"`
		Expect       string   `json:"expect"`
		Outcome      string   `json:"outcome"`
		Seconds      float64  `json:"seconds"`
		Deadline     float64  `json:"deadline_seconds"`
		StageTimeout int      `json:"batch_timeout"`
		FaultHits    int      `json:"fault_hits"`
		Retries      int      `json:"retries"`
		MaxAttempt   int      `json:"max_attempt"`
		Rerun        string   `json:"rerun"`
		RerunSeconds float64  `json:"rerun_seconds"`
		Problems     []string `json:"problems"`
	} `json:"cases"`
}

func renderDoc(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("%w (run make reliability-doc, which runs the matrix first)", err)
	}
	var m matrixResults
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(m.Cases) == 0 {
		return fmt.Errorf("%s: no cases", in)
	}
	var doc []byte
	p := func(format string, args ...any) { doc = fmt.Appendf(doc, format, args...) }
	p("# Reliability\n\n")
	p("<!-- Generated by `make reliability-doc` from the results of TestReliabilityFaultMatrix (tests/reliability_matrix_test.go); do not edit by hand. -->\n\n")
	p("What kbv3 promises under API failures, and the evidence: every row is a case of the fault matrix, ")
	p("run end to end with `ansible-playbook playbooks/volume_reset_v3.yml` against `hcloud-sim` with one fault rule ")
	p("(docs/SIMULATOR.md), then rerun without the fault. Fleet: %s. Generated %s; %d cases in %.0f s.\n\n",
		m.Fleet, m.Generated, len(m.Cases), m.TotalSeconds)
	p("Every case runs with `batch_size` 3, `batch_timeout` T and `stage_timeout` 2T, and checks: the run ends by itself within the ")
	p("deadline the playbook documents (2 × `batch_timeout` + 3 × `stage_timeout` + 60 s); one host's failure stays with that host; a failure names the ")
	p("volumes affected and the cause (every volume the operation log shows failing is named); nothing outside the ")
	p("diff's delete list is deleted and the unrelated volumes (`keybuzz-archive-01`, `scratch-01`) are intact; retries ")
	p("go on with backoff while the deadline allows, and are logged (`outcome: retry` lines of the operation log); the rerun ")
	p("without the fault converges: every plan volume exactly once, with its size and location, attached to its server, ")
	p("and no old volume of the diff left. `make test` runs the same matrix (`go test ./tests/ -run TestReliabilityFaultMatrix`).\n\n")
	p("| fault | stage | rule | outcome | time to end | faulted requests, retries logged (max attempt) | rerun |\n")
	p("|---|---|---|---|---|---|---|\n")
	failed := 0
	for _, c := range m.Cases {
		rerun := c.Rerun
		if c.RerunSeconds > 0 {
			rerun = fmt.Sprintf("%s (%.1f s)", rerun, c.RerunSeconds)
		}
		outcome := c.Outcome
		if len(c.Problems) > 0 {
			failed++
			outcome = "**CHECK FAILED**: " + joinEsc(c.Problems) + "<br>" + outcome
		}
		p("| %s | %s | `%s` | %s | %.1f s (deadline %.0f s, batch_timeout %d s) | %d, %d (%d) | %s |\n",
			esc(c.Fault), esc(c.Stage), esc(c.Rule), esc(outcome), c.Seconds, c.Deadline, c.StageTimeout, c.FaultHits, c.Retries, c.MaxAttempt, esc(rerun))
	}
	p("\n%d of %d cases passed every check.\n\n", len(m.Cases)-failed, len(m.Cases))
	p("Stages: *read* faults `GET /v1/volumes`, which every module's snapshot lists (stage 0 meets it first); *server read* faults `GET /v1/servers`, which only stage 0 sends here (it hands the servers' ids to the batches and to the verification, which lists the servers only to name one that no plan entry names); ")
	p("*detach* (sent by the delete stage, just before each delete), *delete*, *create*, *attach* fault that request (for every volume, or, for the persistent server ")
	p("errors of detach and delete, one volume: `vol-db-01`); *action polling* faults `GET /v1/actions`. ")
	p("A burst `(n)` hits the first n matching requests; *every request* never stops. An action that never finishes keeps ")
	p("its volume locked for good in hcloud-sim, so that case's rerun runs on a simulator restarted from the fleet as the ")
	p("run left it (the action given up, its change not made).\n\n")
	p("## Kill and rerun\n\n")
	p("`make soak` runs `cmd/kbv3-soak`: on the PH3-02 fleet it times one uninterrupted reset and each of its stages, then ")
	p("N times (default 12, `SOAK_KILLS`, seed `SOAK_SEED`) resets the simulator, SIGKILLs the playbook's process group ")
	p("(ansible-playbook, its workers and the running module) at a seeded random moment within a stage (the start-up and ")
	p("stages 0 to 5 in turn, in a seeded order, so that the kills spread over every stage; every other kill hits ")
	p("ansible-playbook alone, as an OOM kill would, and its workers and module go on while the rerun starts), checks that nothing outside the diff ")
	p("was deleted and `keybuzz-archive-01` is intact, reruns to completion and checks that each plan volume exists ")
	p("exactly once with its size, location and server. It prints N, where each kill landed and each outcome, then fuzzes ")
	p("each target for 60 s. `make test` runs a short version (`TestReliabilityKillAndRerun`, 3 kills on the small fleet, each in another stage, seed logged).\n\n")
	p("## Bad input, secrets, fuzzing\n\n")
	p("* `tests/badinput_modules_test.go`: bad options of every module binary against hcloud-sim; each fails naming the ")
	p("option or entry, with zero mutating requests. `tests/badinput_files_test.go`: bad plans and diffs through the reset playbook.\n")
	p("* `tests/secrets_token_test.go`: the diff and the reset at `-vvvv` with API faults, and a run with a refused token: ")
	p("neither token appears in any output or file the runs wrote.\n")
	p("* `make fuzz` (in `make test`, 5 s each; 60 s each in `make soak`): FuzzDecodeOptions (internal/ansible), FuzzParse and ")
	p("FuzzParseDiff (internal/plan).\n")
	if out == "" {
		_, err = os.Stdout.Write(doc)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, doc, 0o644)
}

func esc(s string) string {
	r := []rune{}
	for _, c := range s {
		switch c {
		case '|':
			r = append(r, '\\', '|')
		case '\n':
			r = append(r, ' ')
		default:
			r = append(r, c)
		}
	}
	return string(r)
}

func joinEsc(list []string) string {
	s := ""
	for i, l := range list {
		if i > 0 {
			s += "; "
		}
		s += esc(l)
	}
	return s
}
