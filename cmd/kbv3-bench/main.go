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
	f, err := parseFlags(args)
	if err != nil {
		return 2
	}
	abs, err := repoDir(f.repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-bench:", err)
		return 2
	}
	if f.render != "" {
		return render(f, abs)
	}
	opts, err := f.options(abs, args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbv3-bench:", err)
		return 2
	}
	if opts.WorkDir, err = workDir(f.work); err != nil {
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

// flags are the command line, as given.
type flags struct {
	repo, simBin, ways, extras, fleets, modern, out, work, rpsWorkers, note, render string
	batch, serverRuns, startRuns                                                    int
	wayTimeout, bigTimeout, rpsDur                                                  time.Duration
}

func parseFlags(args []string) (*flags, error) {
	fs := flag.NewFlagSet("kbv3-bench", flag.ContinueOnError)
	f := &flags{}
	fs.StringVar(&f.repo, "repo", "", "the kbv3 checkout (default: the one around the working directory)")
	fs.StringVar(&f.simBin, "sim", "bin/hcloud-sim", "the simulator binary (relative to -repo)")
	fs.StringVar(&f.ways, "ways", strings.Join(bench.AllWays, ","), "ways to run: some of "+strings.Join(bench.AllWays, ",")+" (or none)")
	fs.StringVar(&f.extras, "extras", strings.Join(bench.AllExtras, ","), "extras: some of "+strings.Join(bench.AllExtras, ",")+" (or none)")
	fs.IntVar(&f.batch, "batch", 10, "batch size of every way")
	fs.StringVar(&f.fleets, "fleets", fleetsText(bench.DefaultFleets), "generated fleets of the big extra, N[:SCALE],...: N servers and volumes, action times and rate-limit period divided by SCALE")
	fs.StringVar(&f.modern, "modern", "", "directory of the modern toolchain, ansible-core 2.19 and hetzner.hcloud 5.x (default: $"+bench.ModernEnvVar+", else .cache/modern-ansible under -repo)")
	fs.IntVar(&f.serverRuns, "server-runs", 3, "creates with server measured")
	fs.StringVar(&f.out, "out", "docs/BENCHMARKS.md", "the report to write (relative to -repo; empty: none)")
	fs.StringVar(&f.work, "work", "", "work directory (default: a new temporary one, kept)")
	fs.DurationVar(&f.wayTimeout, "way-timeout", 30*time.Minute, "deadline of one run")
	fs.DurationVar(&f.bigTimeout, "big-timeout", 60*time.Minute, "deadline of the generated fleet's run")
	fs.DurationVar(&f.rpsDur, "rps-duration", 5*time.Second, "duration of each simulator throughput row")
	fs.StringVar(&f.rpsWorkers, "rps-clients", "1,2,4,8", "concurrent clients of the throughput rows")
	fs.IntVar(&f.startRuns, "startup-runs", 20, "runs of each module process for the start-up cost")
	fs.StringVar(&f.note, "note", "", "with -render: a note to add to the report (why a part was not measured, what else ran on the machine)")
	fs.StringVar(&f.render, "render", "", "only re-render the report from the results.json of an earlier run (several, comma-separated: one report of a bench run in parts)")
	return f, fs.Parse(args)
}

// repoDir is the checkout, absolute: -repo, else the one around the working directory.
func repoDir(repo string) (string, error) {
	if repo == "" {
		root, err := e2e.Root()
		if err != nil {
			return "", err
		}
		repo = root
	}
	return filepath.Abs(repo)
}

// render writes the report of saved results (-render), merged in the order given, and returns
// the exit code.
func render(f *flags, abs string) int {
	var parts []*bench.Report
	var err error
	for _, path := range strings.Split(f.render, ",") {
		var p *bench.Report
		if p, err = bench.Load(path); err != nil {
			break
		}
		parts = append(parts, p)
	}
	rep := bench.Merge(parts...)
	if f.note != "" {
		rep.Notes = append(rep.Notes, f.note)
	}
	if err == nil {
		out := f.out
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

// options are the harness's settings from the flags, paths made absolute against the checkout
// abs, all but the work directory.
func (f *flags) options(abs string, args []string) (bench.Options, error) {
	opts := bench.Options{
		Repo: abs, SimBin: filepath.Join(abs, f.simBin), Batch: f.batch, ServerRuns: f.serverRuns,
		WayTimeout: f.wayTimeout, BigTimeout: f.bigTimeout, RPSDuration: f.rpsDur, StartupRuns: f.startRuns,
		Invocation: "go run ./cmd/kbv3-bench " + strings.Join(args, " "),
		Modern:     bench.Modern{Dir: modernDir(f.modern, abs)},
	}
	if len(args) == 0 {
		opts.Invocation = "go run ./cmd/kbv3-bench"
	}
	if filepath.IsAbs(f.simBin) {
		opts.SimBin = f.simBin
	}
	if f.out != "" {
		opts.Out = f.out
		if !filepath.IsAbs(opts.Out) {
			opts.Out = filepath.Join(abs, opts.Out)
		}
	}
	// A bad -rps-clients is reported before any other bad flag.
	var err error
	if opts.RPSWorkers, err = parseClients(f.rpsWorkers); err != nil {
		return opts, err
	}
	if opts.Ways, err = pick(f.ways, bench.AllWays); err != nil {
		return opts, err
	}
	if opts.Extras, err = pick(f.extras, bench.AllExtras); err != nil {
		return opts, err
	}
	if opts.Fleets, err = bench.ParseFleets(f.fleets); err != nil {
		return opts, fmt.Errorf("-fleets: %w", err)
	}
	if f.batch < 1 || f.serverRuns < 1 || f.startRuns < 1 {
		return opts, fmt.Errorf("-batch, -server-runs and -startup-runs must be at least 1")
	}
	return opts, nil
}

// modernDir is the modern toolchain's directory, absolute: -modern, else the environment
// variable bench.ModernEnvVar, else .cache/modern-ansible in the checkout.
func modernDir(dir, abs string) string {
	if dir == "" {
		dir = os.Getenv(bench.ModernEnvVar)
	}
	if dir == "" {
		dir = filepath.Join(abs, ".cache", "modern-ansible")
	}
	if d, err := filepath.Abs(dir); err == nil {
		dir = d
	}
	return dir
}

// parseClients reads -rps-clients, a comma list of numbers of concurrent clients.
func parseClients(list string) ([]int, error) {
	var out []int
	for _, w := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("-rps-clients: %q is not a number of clients from 1 to 64", w)
		}
		out = append(out, n)
	}
	return out, nil
}

// workDir is the work directory, absolute: -work, else a new temporary one.
func workDir(work string) (string, error) {
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "kbv3-bench-"); err != nil {
			return "", err
		}
	}
	return filepath.Abs(work)
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
