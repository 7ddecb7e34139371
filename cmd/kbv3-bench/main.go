// Command kbv3-bench is `make bench`: it resets the PH3-02 fleet on hcloud-sim with kbv3, the
// official collection hetzner.hcloud (1.11 and 5.x) and the hcloud CLI, resets generated fleets
// under the rate limit, measures each, and writes docs/BENCHMARKS.md (see internal/bench).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keybuzz/kbv3/internal/bench"
	"github.com/keybuzz/kbv3/internal/e2e"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("kbv3-bench", flag.ContinueOnError)
	var (
		repo       = fs.String("repo", "", "the kbv3 checkout (default: the one around the working directory)")
		simBin     = fs.String("sim", "bin/hcloud-sim", "the simulator binary (relative to -repo)")
		ways       = fs.String("ways", strings.Join(bench.AllWays, ","), "ways to run: some of "+strings.Join(bench.AllWays, ",")+" (or none)")
		extras     = fs.String("extras", strings.Join(bench.AllExtras, ","), "extras: some of "+strings.Join(bench.AllExtras, ",")+" (or none)")
		batch      = fs.Int("batch", 10, "batch size of every way")
		fleets     = fs.String("fleets", fleetsText(bench.DefaultFleets), "generated fleets of the big extra, N[:SCALE],...: N servers and volumes, action times and rate-limit period divided by SCALE")
		modern     = fs.String("modern", "", "directory of the modern toolchain, ansible-core 2.19 and hetzner.hcloud 5.x (default: $"+bench.ModernEnvVar+", else .cache/modern-ansible under -repo)")
		serverRuns = fs.Int("server-runs", 3, "creates with server measured")
		out        = fs.String("out", "docs/BENCHMARKS.md", "the report to write (relative to -repo; empty: none)")
		work       = fs.String("work", "", "work directory (default: a new temporary one, kept)")
		wayTimeout = fs.Duration("way-timeout", 30*time.Minute, "deadline of one run")
		bigTimeout = fs.Duration("big-timeout", 60*time.Minute, "deadline of the generated fleet's run")
		rpsDur     = fs.Duration("rps-duration", 5*time.Second, "duration of each simulator throughput row")
		rpsWorkers = fs.String("rps-clients", "1,2,4,8", "concurrent clients of the throughput rows")
		startRuns  = fs.Int("startup-runs", 20, "runs of each module process for the start-up cost")
		note       = fs.String("note", "", "with -render: a note to add to the report (why a part was not measured, what else ran on the machine)")
		render     = fs.String("render", "", "only re-render the report from the results.json of an earlier run (several, comma-separated: one report of a bench run in parts)")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *repo == "" {
		root, err := e2e.Root()
		if err != nil {
			fmt.Fprintln(os.Stderr, "kbv3-bench:", err)
			return 2
		}
		*repo = root
	}
	abs, err := filepath.Abs(*repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-bench:", err)
		return 2
	}
	if *render != "" {
		var parts []*bench.Report
		var err error
		for _, path := range strings.Split(*render, ",") {
			var p *bench.Report
			if p, err = bench.Load(path); err != nil {
				break
			}
			parts = append(parts, p)
		}
		rep := bench.Merge(parts...)
		if *note != "" {
			rep.Notes = append(rep.Notes, *note)
		}
		if err == nil {
			out := *out
			if out != "" && !filepath.IsAbs(out) {
				out = filepath.Join(abs, out)
			}
			err = rep.Write(os.Stdout, out)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "kbv3-bench:", err)
			return 1
		}
		return 0
	}
	opts := bench.Options{
		Repo: abs, SimBin: filepath.Join(abs, *simBin), Batch: *batch, ServerRuns: *serverRuns,
		WayTimeout: *wayTimeout, BigTimeout: *bigTimeout, RPSDuration: *rpsDur, StartupRuns: *startRuns,
		Invocation: "go run ./cmd/kbv3-bench " + strings.Join(args, " "),
	}
	if len(args) == 0 {
		opts.Invocation = "go run ./cmd/kbv3-bench"
	}
	if filepath.IsAbs(*simBin) {
		opts.SimBin = *simBin
	}
	if opts.Ways, err = pick(*ways, bench.AllWays); err == nil {
		opts.Extras, err = pick(*extras, bench.AllExtras)
	}
	if err == nil {
		if opts.Fleets, err = bench.ParseFleets(*fleets); err != nil {
			err = fmt.Errorf("-fleets: %w", err)
		}
	}
	opts.Modern.Dir = *modern
	if opts.Modern.Dir == "" {
		opts.Modern.Dir = os.Getenv(bench.ModernEnvVar)
	}
	if opts.Modern.Dir == "" {
		opts.Modern.Dir = filepath.Join(abs, ".cache", "modern-ansible")
	}
	if d, aerr := filepath.Abs(opts.Modern.Dir); aerr == nil {
		opts.Modern.Dir = d
	}
	for _, w := range strings.Split(*rpsWorkers, ",") {
		n, cerr := strconv.Atoi(strings.TrimSpace(w))
		if cerr != nil || n < 1 || n > 64 {
			err = fmt.Errorf("-rps-clients: %q is not a number of clients from 1 to 64", w)
			break
		}
		opts.RPSWorkers = append(opts.RPSWorkers, n)
	}
	if err == nil && (*batch < 1 || *serverRuns < 1 || *startRuns < 1) {
		err = fmt.Errorf("-batch, -server-runs and -startup-runs must be at least 1")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-bench:", err)
		return 2
	}
	if *out != "" {
		opts.Out = *out
		if !filepath.IsAbs(opts.Out) {
			opts.Out = filepath.Join(abs, opts.Out)
		}
	}
	if *work == "" {
		if *work, err = os.MkdirTemp("", "kbv3-bench-"); err != nil {
			fmt.Fprintln(os.Stderr, "kbv3-bench:", err)
			return 1
		}
	}
	if opts.WorkDir, err = filepath.Abs(*work); err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-bench:", err)
		return 1
	}
	fmt.Printf("kbv3-bench: work directory %s\n", opts.WorkDir)
	rep, err := bench.Run(ctx, opts, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-bench:", err)
		return 1
	}
	for _, w := range rep.Ways {
		if w.Skipped == "" && !w.OK() {
			return 1
		}
	}
	return 0
}

func fleetsText(fs []bench.Fleet) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.String()
	}
	return strings.Join(parts, ",")
}

// pick parses a comma list against the known names; "none" is the empty list.
func pick(list string, known []string) ([]string, error) {
	if list == "none" || list == "" {
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		found := false
		for _, k := range known {
			if k == s {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown %q (want some of %s, or none)", s, strings.Join(known, ","))
		}
		out = append(out, s)
	}
	return out, nil
}
