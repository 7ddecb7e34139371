package bench

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Kinds of requests, from the route names of the simulator's counters.
const (
	kindMutation = "mutations"
	kindVolume   = "volume reads"
	kindServer   = "server reads"
	kindPoll     = "action polls"
	kindOther    = "other reads"
)

var kinds = []string{kindMutation, kindVolume, kindServer, kindPoll, kindOther}

// KindOf classifies a route of the counters ("GET /v1/volumes/{id}").
func KindOf(route string) string {
	method, p, _ := strings.Cut(route, " ")
	switch {
	case method != "GET" && method != "HEAD":
		return kindMutation
	case strings.Contains(p, "/actions"):
		return kindPoll
	case strings.HasPrefix(p, "/v1/volumes"):
		return kindVolume
	case strings.HasPrefix(p, "/v1/servers"):
		return kindServer
	}
	return kindOther
}

// ByKind sums the counters by kind.
func (s Stats) ByKind() map[string]int {
	m := map[string]int{}
	for r, n := range s.Requests.ByRoute {
		m[KindOf(r)] += n
	}
	return m
}

// TooMany is the number of 429 answers.
func (s Stats) TooMany() int { return s.Requests.ByStatus["429"] }

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func mib(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func ratio(a, b float64) string {
	if b <= 0 || a <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func endState(r *WayResult) string {
	switch {
	case r.Skipped != "":
		return "not run: " + r.Skipped
	case len(r.Problems) > 0:
		return fmt.Sprintf("**WRONG**: %d problems, e.g. %s", len(r.Problems), r.Problems[0])
	case r.Measure.ErrText != "" || r.Measure.ExitCode != 0:
		return fmt.Sprintf("right, but the run failed (exit %d)", r.Measure.ExitCode)
	case r.Check == "unchanged":
		return "unchanged, as it should"
	}
	return "equal to the plan"
}

func ran(r *WayResult) bool { return r != nil && r.Skipped == "" }

// mainTable is the table of runs.
func mainTable(b *strings.Builder, runs []*WayResult) {
	b.WriteString("| run | wall time | requests | " + strings.Join(kinds, " | ") + " | 429s | avg req/s | peak RSS, whole tree | largest process | processes | CPU time | load before | end state |\n")
	b.WriteString("|---|---:|---:|" + strings.Repeat("---:|", len(kinds)) + "---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range runs {
		if !ran(r) {
			fmt.Fprintf(b, "| %s | – | – |%s – | – | – | – | – | – | – | %s |\n", r.Title, strings.Repeat(" – |", len(kinds)), endState(r))
			continue
		}
		k := r.Stats.ByKind()
		fmt.Fprintf(b, "| %s | %s | %d |", r.Title, secs(r.Measure.Wall), r.Stats.Requests.Total)
		for _, kind := range kinds {
			fmt.Fprintf(b, " %d |", k[kind])
		}
		fmt.Fprintf(b, " %d | %.1f | %s | %s | %d | %s | %s | %s |\n", r.Stats.TooMany(),
			float64(r.Stats.Requests.Total)/r.Measure.Wall.Seconds(), mib(r.Measure.PeakTreeRSS), mib(r.Measure.MaxRSS), r.Measure.Procs,
			secs(r.Measure.CPU), r.Measure.LoadAvg, endState(r))
	}
}

// boundTable puts each kbv3 figure beside its bound.
func boundTable(b *strings.Builder, runs []*WayResult) {
	b.WriteString("| run | wall time | time bound | ratio | requests | request bound | ratio |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range runs {
		if !ran(r) || r.Bound == nil {
			continue
		}
		tb := "0 s (no action)"
		if r.Bound.Time > 0 {
			tb = secs(r.Bound.Time)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %d | %s |\n", r.Title, secs(r.Measure.Wall), tb,
			ratio(r.Measure.Wall.Seconds(), r.Bound.Time.Seconds()), r.Stats.Requests.Total, r.Bound.Requests,
			ratio(float64(r.Stats.Requests.Total), float64(r.Bound.Requests)))
	}
	b.WriteString("\nThe bounds, per run:\n\n")
	for _, r := range runs {
		if !ran(r) || r.Bound == nil {
			continue
		}
		fmt.Fprintf(b, "* %s: time %s; requests %s.\n", r.Title, r.Bound.TimeFormula, r.Bound.RequestsFormula)
	}
}

type target struct{ name, measured, result string }

// official is the official collection's fastest way that ran and ended in the planned state:
// kbv3 is held to the strongest of the playbooks a user of that collection would write.
func (rep *Report) official() *WayResult {
	var best *WayResult
	for _, name := range []string{"official", "official-hosts"} {
		w := rep.Find(name)
		if !ran(w) || !w.OK() {
			continue
		}
		if best == nil || w.Measure.Wall < best.Measure.Wall {
			best = w
		}
	}
	return best
}

func passMiss(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (rep *Report) targets() []target {
	var ts []target
	k, off, cli, noop := rep.Find("kbv3"), rep.official(), rep.Find("cli"), rep.Find("noop")
	if ran(k) && k.Bound != nil {
		tr := k.Measure.Wall.Seconds() / k.Bound.Time.Seconds()
		rr := float64(k.Stats.Requests.Total) / float64(k.Bound.Requests)
		ts = append(ts,
			target{"kbv3 full reset within 1.25× its time bound", fmt.Sprintf("%s / %s = %.2f×", secs(k.Measure.Wall), secs(k.Bound.Time), tr), passMiss(tr <= 1.25 && k.OK())},
			target{"kbv3 full reset within 1.2× its request bound", fmt.Sprintf("%d / %d = %.2f×", k.Stats.Requests.Total, k.Bound.Requests, rr), passMiss(rr <= 1.2 && k.OK())})
	}
	if ran(k) && ran(off) {
		sp := off.Measure.Wall.Seconds() / k.Measure.Wall.Seconds()
		fr := float64(off.Stats.Requests.Total) / float64(max(k.Stats.Requests.Total, 1))
		ts = append(ts,
			target{"≥5× faster than the official collection", fmt.Sprintf("%s / %s = %.1f× (%s)", secs(off.Measure.Wall), secs(k.Measure.Wall), sp, off.Title), passMiss(sp >= 5 && k.OK())},
			target{"≥3× fewer requests than the official collection", fmt.Sprintf("%d / %d = %.1f× (%s)", off.Stats.Requests.Total, k.Stats.Requests.Total, fr, off.Title), passMiss(fr >= 3 && k.OK())})
	}
	if ran(k) && ran(cli) {
		fewer := k.Stats.Requests.Total < cli.Stats.Requests.Total
		noSlower := k.Measure.Wall <= cli.Measure.Wall
		ts = append(ts, target{"fewer requests than the CLI loop, at no more wall time",
			fmt.Sprintf("requests %d vs %d; wall %s vs %s", k.Stats.Requests.Total, cli.Stats.Requests.Total, secs(k.Measure.Wall), secs(cli.Measure.Wall)),
			passMiss(fewer && noSlower && k.OK())})
	}
	if ran(noop) {
		ts = append(ts, target{"no-op rerun in under 10 requests", fmt.Sprintf("%d requests (%s)", noop.Stats.Requests.Total, routesText(noop.Stats, 4)), passMiss(noop.Stats.Requests.Total < 10 && noop.OK())})
	}
	return ts
}

// missedReading explains, from the measurements, each target of targets that was missed and
// what a way of running the reset would have to give up to meet it.
func (rep *Report) missedReading() []string {
	k, off, cli := rep.Find("kbv3"), rep.official(), rep.Find("cli")
	if !ran(k) || k.Bound == nil || rep.ActionTimes == nil {
		return nil
	}
	var out []string
	batch := rep.Opts.Batch
	if ran(off) && off.Measure.Wall.Seconds() < 5*k.Measure.Wall.Seconds() {
		// The least time any schedule can take with at most batch actions at once, in any
		// order: the action time of all the work, shared among batch slots.
		w, t := k.Work, rep.ActionTimes
		total := time.Duration(w.Detach)*t["detach_volume"] + time.Duration(w.Delete)*t["delete_volume"] +
			time.Duration(w.Create)*t["create_volume"] + time.Duration(w.Attach)*t["attach_volume"]
		floor := total / time.Duration(batch)
		need := off.Measure.Wall / 5
		line := fmt.Sprintf("**≥5× faster than the official collection** means finishing in %s (a fifth of the %s of %s). kbv3's floor is its time bound, %s: the stages in the report's order, in waves of %d. ",
			secs(need), secs(off.Measure.Wall), off.Title, secs(k.Bound.Time), batch)
		if need < floor {
			line += fmt.Sprintf("Even with the stages overlapped in any order, at most %d actions at a time cannot take less than the work's action time shared among %d slots, %s, so %s is out of reach for any way that keeps the report's batches of %d; that playbook itself runs at %.1f× the time bound.",
				batch, batch, secs(floor), secs(need), batch, off.Measure.Wall.Seconds()/k.Bound.Time.Seconds())
		} else if need < k.Bound.Time {
			line += fmt.Sprintf("Finishing in %s would mean overlapping the stages (creating while the old volumes are still being detached and deleted), which kbv3 does not do: the old volumes are gone before any new one exists.", secs(need))
		}
		out = append(out, line)
	}
	if ran(cli) && k.Measure.Wall > cli.Measure.Wall {
		waves := ceilDiv(k.Work.Detach, batch) + ceilDiv(k.Work.Delete, batch) + ceilDiv(k.Work.Create, batch) + ceilDiv(k.Work.Attach, batch)
		out = append(out, fmt.Sprintf("**No more wall time than the CLI loop**: both wait out the same action times in the same waves; the CLI loop took %s over the %s bound, kbv3 %s. kbv3's extra is Ansible's own work: starting `ansible-playbook`, stage 0, the verification and report tasks, and one task per batch (%d), each starting a module process, which the Bash loop does not have. It sends far fewer requests: %d against %d.",
			secs(cli.Measure.Wall-k.Bound.Time), secs(k.Bound.Time), secs(k.Measure.Wall-k.Bound.Time), waves, k.Stats.Requests.Total, cli.Stats.Requests.Total))
	}
	return out
}

// routesText lists the n busiest routes.
func routesText(s Stats, n int) string {
	routes := slices.Collect(maps.Keys(s.Requests.ByRoute))
	slices.SortFunc(routes, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.Requests.ByRoute[b], s.Requests.ByRoute[a]), cmp.Compare(a, b))
	})
	var parts []string
	for i, r := range routes {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", r, s.Requests.ByRoute[r]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func targetTable(b *strings.Builder, ts []target) {
	b.WriteString("| target | measured | result |\n|---|---|---|\n")
	for _, t := range ts {
		fmt.Fprintf(b, "| %s | %s | %s |\n", t.name, t.measured, t.result)
	}
}

func routeTable(b *strings.Builder, runs []*WayResult) {
	var cols []*WayResult
	set := map[string]bool{}
	for _, r := range runs {
		if ran(r) {
			cols = append(cols, r)
			for route := range r.Stats.Requests.ByRoute {
				set[route] = true
			}
		}
	}
	if len(cols) == 0 {
		return
	}
	routes := slices.Sorted(maps.Keys(set))
	b.WriteString("| route |")
	for _, c := range cols {
		fmt.Fprintf(b, " %s |", c.Name)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(cols)) + "\n")
	for _, route := range routes {
		fmt.Fprintf(b, "| `%s` |", route)
		for _, c := range cols {
			fmt.Fprintf(b, " %d |", c.Stats.Requests.ByRoute[route])
		}
		b.WriteString("\n")
	}
	b.WriteString("| **status codes** |")
	for range cols {
		b.WriteString(" |")
	}
	b.WriteString("\n")
	statuses := map[string]bool{}
	for _, c := range cols {
		for s := range c.Stats.Requests.ByStatus {
			statuses[s] = true
		}
	}
	for _, s := range slices.Sorted(maps.Keys(statuses)) {
		fmt.Fprintf(b, "| %s |", s)
		for _, c := range cols {
			fmt.Fprintf(b, " %d |", c.Stats.Requests.ByStatus[s])
		}
		b.WriteString("\n")
	}
}

// reading says, from the numbers, what limits each way.
func (rep *Report) reading() []string {
	var out []string
	var bound *Bound
	if k := rep.Find("kbv3"); ran(k) && k.Bound != nil {
		bound = k.Bound
	} else if len(rep.Ways) > 0 && rep.ActionTimes != nil {
		for _, w := range rep.Ways {
			if ran(w) {
				b := ComputeBound(w.Work, rep.Opts.Batch, rep.ActionTimes)
				bound = &b
				break
			}
		}
	}
	var pyStart, goStart time.Duration
	for _, s := range rep.Startup {
		if s.Err == "" && strings.HasPrefix(s.Name, "Python") {
			pyStart = s.Median
		}
		if s.Err == "" && strings.HasPrefix(s.Name, "Go") {
			goStart = s.Median
		}
	}
	for _, w := range rep.Ways {
		if !ran(w) {
			continue
		}
		k := w.Stats.ByKind()
		var s strings.Builder
		fmt.Fprintf(&s, "**%s**: %s", w.Title, secs(w.Measure.Wall))
		if bound != nil && bound.Time > 0 {
			fmt.Fprintf(&s, " (%.2f× the %s the action times alone take in batches of %d)", w.Measure.Wall.Seconds()/bound.Time.Seconds(), secs(bound.Time), rep.Opts.Batch)
		}
		fmt.Fprintf(&s, ", %d requests", w.Stats.Requests.Total)
		if bound != nil {
			fmt.Fprintf(&s, " (%.2f× the %d the work needs)", float64(w.Stats.Requests.Total)/float64(bound.Requests), bound.Requests)
		}
		fmt.Fprintf(&s, "; busiest routes: %s.", routesText(w.Stats, 3))
		if bound != nil {
			fmt.Fprintf(&s, " Above the bound: %+d mutations, %+d reads (volumes %d, servers %d, other %d, against %d list pages), %+d action polls (against %d).",
				k[kindMutation]-bound.Mutations, k[kindVolume]+k[kindServer]+k[kindOther]-bound.ListPages, k[kindVolume], k[kindServer], k[kindOther], bound.ListPages,
				k[kindPoll]-bound.Polls, bound.Polls)
		}
		switch w.Name {
		case "official":
			fmt.Fprintf(&s, " It started %d processes", w.Measure.Procs)
			if pyStart > 0 {
				fmt.Fprintf(&s, "; one Python module process costs %s before its first request", pyStart.Round(time.Millisecond))
			}
			s.WriteString(": every volume is one module run plus its async_status checks, each handled by the controller one after the other, and every module looks its volume (and server, location) up by name and polls its own action every second (python3-hcloud's interval).")
		case "official-hosts":
			fmt.Fprintf(&s, " It started %d processes", w.Measure.Procs)
			if pyStart > 0 {
				fmt.Fprintf(&s, "; one Python module process costs %s before its first request", pyStart.Round(time.Millisecond))
			}
			s.WriteString(": one play per stage, each over the inventory in `serial` batches of 10 hosts whose module runs go in parallel (forks = 10); a batch waits for its slowest host, and the hosts without an old volume still cost their batch a task each. Every module looks its volume (and server, location) up by name and polls its own action every second.")
		case "cli":
			fmt.Fprintf(&s, " It started %d processes: one hcloud process per volume and stage, each looking its volume or server up and polling its own action every 500 ms; the batch waits for its slowest command.", w.Measure.Procs)
		case "kbv3":
			s.WriteString(" " + kbv3Reading(w, rep.Opts.Batch, rep.ActionTimes, goStart))
		}
		if n := w.Stats.TooMany(); n > 0 {
			fmt.Fprintf(&s, " It met %d answers 429 (rate limit).", n)
		}
		out = append(out, s.String())
	}
	for _, name := range []string{"noop", "noop-fresh", "check"} {
		if r := rep.Find(name); ran(r) && r.Bound != nil {
			out = append(out, fmt.Sprintf("**%s**: %s, %d requests against a bound of %d (one snapshot and one final list): %s.",
				r.Title, secs(r.Measure.Wall), r.Stats.Requests.Total, r.Bound.Requests, routesText(r.Stats, 4)))
		}
	}
	if big := rep.Find("big"); ran(big) && big.Bound != nil {
		n := max(big.Work.Create, 1)
		line := fmt.Sprintf("**%s**: %s for %d volumes (%.2f× its %s bound), %d requests, %.2f per volume (bound %.2f); busiest routes: %s. %s",
			big.Title, secs(big.Measure.Wall), n, big.Measure.Wall.Seconds()/max(big.Bound.Time.Seconds(), 1e-9), secs(big.Bound.Time),
			big.Stats.Requests.Total, float64(big.Stats.Requests.Total)/float64(n), float64(big.Bound.Requests)/float64(n),
			routesText(big.Stats, 3), kbv3Reading(big, rep.Opts.Batch, rep.ActionTimes, 0))
		waves := fmt.Sprintf("The time grows with the waves, ceil(n/%d) per stage, so with a batch of %d the action times dominate.", rep.Opts.Batch, rep.Opts.Batch)
		switch lim := big.Stats.RateLimit; {
		case lim.Enabled && big.Stats.Requests.Total >= lim.Limit && lim.Remaining <= lowBucket:
			line += fmt.Sprintf(" The run needed more than the rate limit's bucket of %d: once it ran low (%d left at the end) the API allowed about one request a second, and kbv3 slowed down to that, so the limit, not the action times, set the pace.", lim.Limit, lim.Remaining)
		case lim.Enabled && big.Stats.Requests.Total >= lim.Limit:
			line += fmt.Sprintf(" It sent more requests than the rate limit's bucket of %d holds, but the bucket refills about one a second over the run and never ran low (%d left at the end). %s", lim.Limit, lim.Remaining, waves)
		default:
			line += " " + waves
		}
		out = append(out, line)
	}
	if rep.RPS != nil && rep.RPS.Max > 0 {
		busiest, name := 0.0, ""
		for _, r := range slices.Concat(rep.Ways, rep.Extras) {
			if ran(r) && r.Measure.Wall > 0 {
				if v := float64(r.Stats.Requests.Total) / r.Measure.Wall.Seconds(); v > busiest {
					busiest, name = v, r.Title
				}
			}
		}
		if name != "" {
			out = append(out, fmt.Sprintf("**The simulator** sustains %.0f requests/s on this machine; the busiest run (%s) averaged %.1f requests/s, %.0f× less: the simulator is not what limits any measurement.", rep.RPS.Max, name, busiest, rep.RPS.Max/busiest))
		}
	}
	return out
}

func (rep *Report) allRuns() []*WayResult { return slices.Concat(rep.Ways, rep.Extras) }

// Summary is what the harness prints: the tables.
func (rep *Report) Summary() string {
	var b strings.Builder
	b.WriteString("Runs (PH3-02 fleet unless said):\n\n")
	mainTable(&b, rep.allRuns())
	b.WriteString("\nkbv3 against its bound:\n\n")
	boundTable(&b, rep.allRuns())
	if ts := rep.targets(); len(ts) > 0 {
		b.WriteString("\nTargets:\n\n")
		targetTable(&b, ts)
	}
	if len(rep.Startup) > 0 {
		b.WriteString("\nModule start-up:\n\n")
		startupTable(&b, rep.Startup)
	}
	if rep.RPS != nil {
		b.WriteString("\nSimulator throughput:\n\n")
		rpsTable(&b, rep.RPS)
	}
	return b.String()
}

func startupTable(b *strings.Builder, rs []StartupResult) {
	b.WriteString("| module process | runs | median | min | mean | peak RSS | answer |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, s := range rs {
		if s.Err != "" {
			fmt.Fprintf(b, "| %s | – | – | – | – | – | not measured: %s |\n", s.Name, s.Err)
			continue
		}
		fmt.Fprintf(b, "| %s | %d | %.1f ms | %.1f ms | %.1f ms | %s | %s |\n", s.Name, s.Runs,
			float64(s.Median.Microseconds())/1000, float64(s.Min.Microseconds())/1000, float64(s.Mean.Microseconds())/1000, mib(s.MaxRSS), strings.ReplaceAll(s.Answer, "|", `\|`))
	}
	if len(rs) == 2 && rs[0].Err == "" && rs[1].Err == "" && rs[0].Median > 0 {
		fmt.Fprintf(b, "\nThe Python module process takes %.0f× the Go one to start.\n", rs[1].Median.Seconds()/rs[0].Median.Seconds())
	}
}

func rpsTable(b *strings.Builder, r *RPSResult) {
	b.WriteString("| concurrent clients | requests/s | errors |\n|---:|---:|---:|\n")
	for i, w := range r.Workers {
		fmt.Fprintf(b, "| %d | %.0f | %d |\n", w, r.RPS[i], r.Errors[i])
	}
}

// Markdown is docs/BENCHMARKS.md.
func (rep *Report) Markdown() string {
	var b strings.Builder
	m := rep.Machine
	b.WriteString("# Benchmarks\n\n")
	fmt.Fprintf(&b, "Generated by `make bench` (`cmd/kbv3-bench`, package `internal/bench`) on %s, in %s. Do not edit by hand: run `make bench` again.\n\n",
		rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Elapsed.Round(time.Second))
	b.WriteString("The PH3-02 reset (detach and delete the 40 old `vol-*` volumes, create the 47 `kbv3-<hostname>-data` volumes of `servers/volume_plan_v3.json`, attach each to its server, batches of " + fmt.Sprint(rep.Opts.Batch) + ") done four ways against one `hcloud-sim`, with the same settings for all: kbv3 (`playbooks/volume_reset_v3.yml`), the official collection hetzner.hcloud from Debian's `ansible` package, written the two ways a user of it would (`bench/official/volume_reset_official.yml`: loops of async module calls on the controller, ten at a time; `bench/official/volume_reset_official_hosts.yml`: a play per stage over the inventory in `serial` batches of ten hosts, forks 10; the targets hold kbv3 to the faster of the two), and the report's own way, the `hcloud` CLI in a Bash loop (`bench/cli/volume_reset_cli.sh`).\n\n")

	b.WriteString("## Machine and settings\n\n")
	fmt.Fprintf(&b, "* CPU: %s, `nproc` = %d; memory %s; %s.\n", m.CPU, m.NProc, m.Memory, m.Kernel)
	for _, v := range m.Versions {
		fmt.Fprintf(&b, "* %s: %s\n", v[0], v[1])
	}
	if rep.ActionTimes != nil {
		var ts []string
		for _, c := range slices.Sorted(maps.Keys(rep.ActionTimes)) {
			ts = append(ts, fmt.Sprintf("%s %s", c, rep.ActionTimes[c]))
		}
		fmt.Fprintf(&b, "* Simulator: `bin/hcloud-sim %s`: the default action times (%s) and the rate limit on (%s; the bucket is full at the start of each run, `POST /_sim/reset` refills it).\n",
			strings.Join(redact(rep.SimArgs), " "), strings.Join(ts, ", "), rep.RateLimit)
	}
	fmt.Fprintf(&b, "* Batch size %d for every way. Before each run the simulator is reset (`POST /_sim/reset`), the reviewed diff is computed from the live state with `plan.Compute` (what `playbooks/volume_diff_v3.yml` writes, selector `vol-*`) and the counters are zeroed (`POST /_sim/stats/reset`); every way reads the same plan and diff.\n", rep.Opts.Batch)
	b.WriteString("* Requests and their kinds come from `GET /_sim/stats` (`by_route`, `by_status`); the end state from `GET /_sim/state`: each plan volume exists once, with its size and its server's location, attached to its server; no `vol-*` is left; every other volume (`keybuzz-archive-01`) is untouched; nothing else exists.\n")
	b.WriteString("* Memory: *peak RSS, whole tree* is the largest sum of the resident sets of all the run's processes at one moment, sampled from `/proc` every 50 ms; processes are found by an environment variable they inherit, so Ansible's async jobs, which leave the process group, are counted. *Largest process* is `wait4`'s `ru_maxrss` of the run: the largest resident set of a single process among the command and the descendants it waited for (Linux gives the maximum, not a sum, and not the async jobs). *Processes* is how many distinct processes the sampler saw (a process living under 50 ms can be missed). *CPU time* is `wait4`'s user plus system time of the run (again without the async jobs); *load before* is the 1-minute load average just before the run, a sign of other work on the machine.\n\n")

	b.WriteString("## The reset, four ways\n\n")
	mainTable(&b, rep.Ways)
	if ts := rep.targets(); len(ts) > 0 {
		b.WriteString("\n### Targets\n\n")
		targetTable(&b, ts)
		if lines := rep.missedReading(); len(lines) > 0 {
			b.WriteString("\nWhy the missed targets are missed:\n\n")
			for _, l := range lines {
				b.WriteString("* " + l + "\n")
			}
		}
	}
	b.WriteString("\n## kbv3 beside its bound\n\n")
	b.WriteString("Time bound: the stages run one after the other, each in waves of at most the batch size, and a wave lasts at least its action time: the sum over detach, delete, create and attach of ceil(n / batch) × the simulator's action time (`delete_volume` is how long the simulator holds a DELETE). Request bound, the fewest requests the work allows: each mutation once, the list pages (50 a page) of one snapshot of volumes and servers and of one final volume list for the verification, and one poll per wave of actions (one `GET /actions?id=…` takes 25 ids; a delete has no action). Client start-up, Ansible's own work, retries and polls made before an action can have finished are all above it.\n\n")
	boundTable(&b, rep.allRuns())

	b.WriteString("\n## No-op rerun, --check, generated fleet\n\n")
	var extras []*WayResult
	extras = append(extras, rep.Extras...)
	mainTable(&b, extras)
	b.WriteString("\nThe no-op rerun runs the same command on the fleet kbv3 has just reset, once with the same reviewed diff (the 40 deletes it lists are gone) and once with a diff computed afresh (nothing to delete). `--check` runs on a fresh fleet, which must stay unchanged.\n")
	if big := rep.Find("big"); ran(big) && big.Bound != nil {
		n := max(big.Work.Create, 1)
		fmt.Fprintf(&b, "\nGenerated fleet (`--scenario generated:%d`, a plan with one volume per server written by the harness, an inventory of its %d hosts): %d requests for %d volumes, **%.2f requests per volume** (bound %.2f), %s for %d volumes (%.2f s per volume; bound %s, ratio %.2f×). On the PH3-02 fleet kbv3 made %s requests per volume.\n",
			rep.BigN, big.Work.Servers, big.Stats.Requests.Total, n, float64(big.Stats.Requests.Total)/float64(n), float64(big.Bound.Requests)/float64(n),
			secs(big.Measure.Wall), n, big.Measure.Wall.Seconds()/float64(n), secs(big.Bound.Time), big.Measure.Wall.Seconds()/max(big.Bound.Time.Seconds(), 1e-9), perVolume(rep.Find("kbv3")))
	}

	if len(rep.Startup) > 0 {
		b.WriteString("\n## Start-up cost of one module process\n\n")
		startupTable(&b, rep.Startup)
		fmt.Fprintf(&b, "\nMethod: %s. The Go module runs as Ansible runs a binary module (`plugins/modules/kbv3_volume_info ARGS_FILE`); the Python module runs as the `AnsiballZ_hcloud_volume_info.py` wrapper Ansible builds (kept with `ANSIBLE_KEEP_REMOTE_FILES=1`) under `/usr/bin/python3`. One warm-up run each, then the runs alternate. Neither figure includes Ansible's own per-task work on the controller.\n", rep.Startup[0].Method)
	}
	if rep.RPS != nil {
		b.WriteString("\n## The simulator's throughput\n\n")
		fmt.Fprintf(&b, "`bin/hcloud-sim %s`, keep-alive clients in the harness on the same %d-core machine alternating `GET /v1/volumes?page=1&per_page=50` (the 41 volumes) and `GET /v1/actions?id=A`, %s per row:\n\n", strings.Join(rep.RPS.Args, " "), m.NProc, rep.RPS.Duration)
		rpsTable(&b, rep.RPS)
	}

	b.WriteString("\n## What limits each way\n\n")
	for _, line := range rep.reading() {
		b.WriteString("* " + line + "\n")
	}
	for _, n := range rep.Notes {
		b.WriteString("* " + n + "\n")
	}

	b.WriteString("\n## Requests by route\n\n")
	routeTable(&b, rep.allRuns())

	b.WriteString("\n## Commands\n\n")
	b.WriteString("```sh\nmake bench        # deps, build, then:\n" + rep.Opts.Invocation + "\n```\n\n")
	b.WriteString("Each run, from the repository root, with `HCLOUD_TOKEN` set to the simulator's token, `HCLOUD_ENDPOINT=http://127.0.0.1:PORT/v1`, and Ansible's temporary and async directories in the run's work directory (`WORK`):\n\n```sh\n")
	for _, r := range rep.allRuns() {
		if ran(r) {
			cmd := r.Cmd.String()
			cmd = strings.ReplaceAll(cmd, rep.Opts.WorkDir, "WORK")
			cmd = strings.ReplaceAll(cmd, rep.Opts.Repo+"/", "")
			fmt.Fprintf(&b, "# %s\n%s\n", r.Title, cmd)
		}
	}
	b.WriteString("```\n\n`WORK/<run>/vars.json` sets `diff_path`, `snapshot_path`, `batch_size` (and for kbv3 `report_path`, `log_path`) to files of the run's directory, so that a benchmark never writes into `servers/`, `reports/` or `logs/`.\n")
	return b.String()
}

func perVolume(r *WayResult) string {
	if !ran(r) || r.Work.Create == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(r.Stats.Requests.Total)/float64(r.Work.Create))
}

// lowBucket is the rate limit's remaining requests below which a run counts as paced by the
// limit: hz spaces its requests once its reserve (50) is reached, so a paced run ends near it.
const lowBucket = 100

// kbv3Reading explains a kbv3 run's requests from its counters: how many module runs there were
// (one per batch and stage, plus stage 0 and the verification), how many list requests
// each made, and how the polls compare with the poll interval of hcloud-go.
func kbv3Reading(w *WayResult, batch int, times map[string]time.Duration, goStart time.Duration) string {
	waves := ceilDiv(w.Work.Detach, batch) + ceilDiv(w.Work.Delete, batch) + ceilDiv(w.Work.Create, batch) + ceilDiv(w.Work.Attach, batch)
	if w.Name == "noop" {
		// The same diff: the detach and delete stages still run, on volumes already gone.
		waves = 0
	}
	var s strings.Builder
	fmt.Fprintf(&s, "It started %d processes", w.Measure.Procs)
	if goStart > 0 {
		fmt.Fprintf(&s, " (one Go module process costs %s before its first request)", goStart.Round(time.Microsecond))
	}
	vl, sl := w.Stats.Requests.ByRoute["GET /v1/volumes"], w.Stats.Requests.ByRoute["GET /v1/servers"]
	if runs := waves + 2; waves > 0 {
		fmt.Fprintf(&s, "; with %d module runs (one per batch and stage, plus stage 0 and the verification) it sent %d `GET /v1/volumes`, %.1f per run (each batch decides against its volumes as they are then: one list page, or one lookup per name when the project's pages would cost more), and %d `GET /v1/servers` (stage 0 reads the servers once and hands their ids and locations to the stages)", runs, vl, float64(vl)/float64(runs), sl)
	} else {
		fmt.Fprintf(&s, "; it sent %d `GET /v1/volumes` and %d `GET /v1/servers`", vl, sl)
	}
	if times != nil {
		polls := 0
		for _, st := range []struct {
			n   int
			cmd string
		}{{w.Work.Detach, "detach_volume"}, {w.Work.Create, "create_volume"}, {w.Work.Attach, "attach_volume"}} {
			per := int((times[st.cmd] + 500*time.Millisecond - 1) / (500 * time.Millisecond))
			polls += ceilDiv(st.n, batch) * max(per, 1)
		}
		if polls > 0 {
			fmt.Fprintf(&s, ". Its %d action polls compare with %d, the waves times each action time over a 500 ms poll interval (hcloud-go's default), against the bound's one poll per wave", w.Stats.ByKind()[kindPoll], polls)
		}
	}
	s.WriteString(".")
	return s.String()
}
