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

// The targets of issue 15, as factors.
const (
	fleetRequestFactor = 1.2  // a fleet of 500: requests against the request bound
	fleetTimeFactor    = 1.15 // a fleet of 2000: time against the larger of the two bounds
	checkMaxRequests   = 5    // --check on the fresh PH3-02 fleet
	resetTimeFactor    = 1.1  // the PH3-02 reset against its time bound
	resetRequestFactor = 1.2  // and against its request bound
	speedFactor        = 2.4  // faster than the fastest official way
	fewerFactor        = 5.0  // fewer requests than the fastest official way
)

// official is the official collection's fastest way (1.11 or 5.x, async or host batches) that
// ran and ended in the planned state: kbv3 is held to the strongest of the playbooks a user of
// either version would write.
func (rep *Report) official() *WayResult {
	var best *WayResult
	for _, name := range officialWays {
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

// notMeasured is the row of a target whose run is missing or failed: not met.
func notMeasured(name, why string) target {
	return target{name, "not measured: " + why, "**missed**"}
}

// whyNot says why a run gives no figure.
func whyNot(r *WayResult, what string) string {
	switch {
	case r == nil:
		return what + " did not run (see -ways, -extras, -fleets)"
	case r.Skipped != "":
		return what + " was skipped: " + r.Skipped
	case !r.OK():
		return endState(r)
	}
	return what + " has no bound"
}

// fleet is the run of the generated fleet of n volumes.
func (rep *Report) fleet(n int) *WayResult {
	for _, r := range rep.Extras {
		if r.Fleet != nil && r.Fleet.Fleet.N == n {
			return r
		}
	}
	return nil
}

// targets are issue 15's, each computed from the measurements.
func (rep *Report) targets() []target {
	var ts []target
	t500 := fmt.Sprintf("500 volumes: at most %.1f× the request bound, with zero 429 answers", fleetRequestFactor)
	if f, ok := rep.fleet(500).Figures(); ok && rep.fleet(500).OK() {
		ts = append(ts, target{t500, fmt.Sprintf("%d / %d = %.2f×; %d answers 429", f.Requests, f.RequestBound, f.RequestRatio, f.TooMany),
			passMiss(f.RequestRatio <= fleetRequestFactor && f.TooMany == 0)})
	} else {
		ts = append(ts, notMeasured(t500, whyNot(rep.fleet(500), "the fleet of 500")))
	}
	t2000 := fmt.Sprintf("2000 volumes: duration within %.2f× of the larger of the action-time bound and the rate-limit bound", fleetTimeFactor)
	if f, ok := rep.fleet(2000).Figures(); ok && rep.fleet(2000).OK() {
		ts = append(ts, target{t2000, fmt.Sprintf("%s / max(%s, %s) = %.2f×%s", secs(f.Wall), secs(f.ActionBound), secs(f.RateBound), f.TimeRatio, scaleNote(f.Scale)),
			passMiss(f.TimeRatio <= fleetTimeFactor)})
	} else {
		ts = append(ts, notMeasured(t2000, whyNot(rep.fleet(2000), "the fleet of 2000")))
	}
	tc := fmt.Sprintf("`--check` on the fresh PH3-02 fleet: at most %d requests", checkMaxRequests)
	if c := rep.Find("check"); ran(c) && c.OK() {
		ts = append(ts, target{tc, fmt.Sprintf("%d requests (%s)", c.Stats.Requests.Total, routesText(c.Stats, 4)), passMiss(c.Stats.Requests.Total <= checkMaxRequests)})
	} else {
		ts = append(ts, notMeasured(tc, whyNot(c, "--check")))
	}
	k, off := rep.Find("kbv3"), rep.official()
	tt := fmt.Sprintf("The PH3-02 reset: within %.1f× its time bound", resetTimeFactor)
	tr := fmt.Sprintf("The PH3-02 reset: within %.1f× its request bound", resetRequestFactor)
	if ran(k) && k.OK() && k.Bound != nil {
		t := k.Measure.Wall.Seconds() / k.Bound.Time.Seconds()
		r := float64(k.Stats.Requests.Total) / float64(k.Bound.Requests)
		ts = append(ts,
			target{tt, fmt.Sprintf("%s / %s = %.2f×", secs(k.Measure.Wall), secs(k.Bound.Time), t), passMiss(t <= resetTimeFactor)},
			target{tr, fmt.Sprintf("%d / %d = %.2f×", k.Stats.Requests.Total, k.Bound.Requests, r), passMiss(r <= resetRequestFactor)})
	} else {
		ts = append(ts, notMeasured(tt, whyNot(k, "the kbv3 reset")), notMeasured(tr, whyNot(k, "the kbv3 reset")))
	}
	tf := fmt.Sprintf("The PH3-02 reset: at least %.1f× faster than the fastest official way, 1.11 or 5.x", speedFactor)
	tn := fmt.Sprintf("The PH3-02 reset: at least %.0f× fewer requests than the fastest official way, 1.11 or 5.x", fewerFactor)
	switch {
	case !ran(k) || !k.OK():
		ts = append(ts, notMeasured(tf, whyNot(k, "the kbv3 reset")), notMeasured(tn, whyNot(k, "the kbv3 reset")))
	case off == nil:
		ts = append(ts, notMeasured(tf, "no official way ran to the plan"), notMeasured(tn, "no official way ran to the plan"))
	default:
		sp := off.Measure.Wall.Seconds() / k.Measure.Wall.Seconds()
		fr := float64(off.Stats.Requests.Total) / float64(max(k.Stats.Requests.Total, 1))
		ts = append(ts,
			target{tf, fmt.Sprintf("%s / %s = %.2f× (fastest: %s%s)", secs(off.Measure.Wall), secs(k.Measure.Wall), sp, off.Title, rep.officialNotRun()), passMiss(sp >= speedFactor)},
			target{tn, fmt.Sprintf("%d / %d = %.1f× (%s)", off.Stats.Requests.Total, k.Stats.Requests.Total, fr, off.Title), passMiss(fr >= fewerFactor)})
	}
	tsv := "A create with `server`: within one poll interval of the sum of its two action times"
	if med, budget, ok := rep.Server.ServerTarget(); rep.Server != nil && (ok || med > 0) {
		ts = append(ts, target{tsv, fmt.Sprintf("median %s against %s + %s + %s = %s", secs3(med), secs3(rep.Server.Create), secs3(rep.Server.Attach), secs3(rep.Server.Poll), secs3(budget)), passMiss(ok)})
	} else {
		why := "the create-with-server extra did not run"
		if rep.Server != nil {
			why = rep.Server.failure()
		}
		ts = append(ts, notMeasured(tsv, why))
	}
	return ts
}

// officialNotRun names the official ways that did not run or failed: the fastest is then the
// fastest of fewer.
func (rep *Report) officialNotRun() string {
	var out []string
	for _, name := range officialWays {
		if w := rep.Find(name); !ran(w) || !w.OK() {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; not run or failed: " + strings.Join(out, ", ")
}

func scaleNote(scale int) string {
	if scale <= 1 {
		return ""
	}
	return fmt.Sprintf(" (real-API time; measured at ÷%d)", scale)
}

func secs3(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// failure says why the create-with-server measurement gives no figure.
func (s *ServerResult) failure() string {
	if s.Err != "" {
		return s.Err
	}
	for _, r := range s.Runs {
		if r.Problem != "" {
			return r.Volume + ": " + r.Problem
		}
	}
	return "no run"
}

// missedReading explains, from the measurements, the speed target against the official ways
// when it was missed, and what any way of running the reset would have to give up to meet it.
func (rep *Report) missedReading() []string {
	k, off := rep.Find("kbv3"), rep.official()
	if !ran(k) || k.Bound == nil || rep.ActionTimes == nil {
		return nil
	}
	var out []string
	batch := rep.Opts.Batch
	if ran(off) && off.Measure.Wall.Seconds() < speedFactor*k.Measure.Wall.Seconds() {
		// The least time any schedule can take with at most batch actions at once, in any
		// order: the action time of all the work, shared among batch slots.
		w, t := k.Work, rep.ActionTimes
		total := time.Duration(w.Detach)*t["detach_volume"] + time.Duration(w.Delete)*t["delete_volume"] +
			time.Duration(w.Create)*t["create_volume"] + time.Duration(w.Attach)*t["attach_volume"]
		floor := total / time.Duration(batch)
		need := time.Duration(float64(off.Measure.Wall) / speedFactor)
		line := fmt.Sprintf("**%.1f× faster than the fastest official way** means finishing in %s (the %s of %s over %.1f). kbv3's floor is its time bound, %s: the stages in the report's order, in waves of %d. ",
			speedFactor, secs(need), secs(off.Measure.Wall), off.Title, speedFactor, secs(k.Bound.Time), batch)
		switch {
		case need < floor:
			line += fmt.Sprintf("Even with the stages overlapped in any order, at most %d actions at a time cannot take less than the work's action time shared among %d slots, %s, so %s is out of reach for any way that keeps the report's batches of %d; that playbook itself runs at %.1f× the time bound.",
				batch, batch, secs(floor), secs(need), batch, off.Measure.Wall.Seconds()/k.Bound.Time.Seconds())
		case need < k.Bound.Time:
			line += fmt.Sprintf("Finishing in %s would mean overlapping the stages (the actions of one stage running while those of another still run), which kbv3 does not do: each stage starts once the one before it has ended.", secs(need))
		default:
			line += fmt.Sprintf("It took %s, %s over that bound.", secs(k.Measure.Wall), secs(k.Measure.Wall-k.Bound.Time))
		}
		out = append(out, line)
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
	bound := rep.readingBound()
	pyStart, goStart := rep.startupMedians()
	for _, w := range rep.Ways {
		if ran(w) {
			out = append(out, rep.wayReading(w, bound, pyStart, goStart))
		}
	}
	for _, name := range []string{"noop", "noop-fresh", "check"} {
		if r := rep.Find(name); ran(r) && r.Bound != nil {
			out = append(out, fmt.Sprintf("**%s**: %s, %d requests against a bound of %d (one snapshot and one final list): %s.",
				r.Title, secs(r.Measure.Wall), r.Stats.Requests.Total, r.Bound.Requests, routesText(r.Stats, 4)))
		}
	}
	for _, big := range rep.Extras {
		if line := fleetReading(big, rep.Opts.Batch); line != "" {
			out = append(out, line)
		}
	}
	if line := rep.simReading(); line != "" {
		out = append(out, line)
	}
	return out
}

// readingBound is the bound every way of the PH3-02 reset is read against: kbv3's, or, when
// kbv3 did not run, that of the work of the first way that did (all ways share one diff).
func (rep *Report) readingBound() *Bound {
	if k := rep.Find("kbv3"); ran(k) && k.Bound != nil {
		return k.Bound
	}
	if len(rep.Ways) == 0 || rep.ActionTimes == nil {
		return nil
	}
	for _, w := range rep.Ways {
		if ran(w) {
			b := ComputeBound(w.Work, rep.Opts.Batch, rep.ActionTimes)
			return &b
		}
	}
	return nil
}

// startupMedians are the measured start-up costs of one Python and one Go module process,
// zero when not measured.
func (rep *Report) startupMedians() (python, golang time.Duration) {
	for _, s := range rep.Startup {
		if s.Err == "" && strings.HasPrefix(s.Name, "Python") {
			python = s.Median
		}
		if s.Err == "" && strings.HasPrefix(s.Name, "Go") {
			golang = s.Median
		}
	}
	return python, golang
}

// wayReading is one way's line: its figures against the bound, then what its client does.
func (rep *Report) wayReading(w *WayResult, bound *Bound, pyStart, goStart time.Duration) string {
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
	s.WriteString(rep.clientReading(w, pyStart, goStart))
	if n := w.Stats.TooMany(); n > 0 {
		fmt.Fprintf(&s, " It met %d answers 429 (rate limit).", n)
	}
	return s.String()
}

// clientReading says how a way's client spends its requests and processes ("" for a way it
// knows nothing of), with a leading space.
func (rep *Report) clientReading(w *WayResult, pyStart, goStart time.Duration) string {
	var s strings.Builder
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
	case "modern", "modern-hosts":
		fmt.Fprintf(&s, " It started %d processes", w.Measure.Procs)
		if w.Name == "modern" {
			s.WriteString(": every volume is one module run plus its async_status checks")
		} else {
			s.WriteString(": one play per stage over the inventory in `serial` batches of 10 hosts (forks = 10), a batch waiting for its slowest host")
		}
		s.WriteString("; `volume_attachment` looks the volume and the server up by name or id, `volume` the volume (and location) by name, and each module waits for its own action with hcloud-python 2.x's backoff: a poll at once, then after 2 s, 4 s and every 5 s (base 1 s doubled from the first retry, capped at 5 s), so a 3 s attach or detach is seen done about 6 s after its request and a 1 s create after 2 s.")
	case "cli":
		fmt.Fprintf(&s, " It started %d processes: one hcloud process per volume and stage, each looking its volume or server up and polling its own action every 500 ms; the batch waits for its slowest command.", w.Measure.Procs)
	case "kbv3":
		s.WriteString(" " + kbv3Reading(w, rep.Opts.Batch, rep.ActionTimes, goStart))
	}
	return s.String()
}

// simReading compares the simulator's throughput with the busiest run's request rate, to show
// the simulator limits no measurement; "" when either is missing.
func (rep *Report) simReading() string {
	if rep.RPS == nil || rep.RPS.Max <= 0 {
		return ""
	}
	busiest, name := 0.0, ""
	for _, r := range slices.Concat(rep.Ways, rep.Extras) {
		if ran(r) && r.Measure.Wall > 0 {
			if v := float64(r.Stats.Requests.Total) / r.Measure.Wall.Seconds(); v > busiest {
				busiest, name = v, r.Title
			}
		}
	}
	if name == "" {
		return ""
	}
	return fmt.Sprintf("**The simulator** sustains %.0f requests/s on this machine; the busiest run (%s) averaged %.1f requests/s, %.0f× less: the simulator is not what limits any measurement.", rep.RPS.Max, name, busiest, rep.RPS.Max/busiest)
}

func (rep *Report) allRuns() []*WayResult { return slices.Concat(rep.Ways, rep.Extras) }

// Summary is what the harness prints: the tables.
func (rep *Report) Summary() string {
	var b strings.Builder
	b.WriteString("Runs (PH3-02 fleet unless said):\n\n")
	mainTable(&b, rep.allRuns())
	b.WriteString("\nkbv3 against its bound:\n\n")
	boundTable(&b, rep.allRuns())
	if fleets := rep.fleetRuns(); len(fleets) > 0 {
		b.WriteString("\nGenerated fleets (real-API time):\n\n")
		fleetTable(&b, fleets)
	}
	if rep.Server != nil {
		b.WriteString("\nCreate with server:\n\n")
		serverTable(&b, rep.Server)
	}
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
	rep.writeIntro(&b)
	rep.writeSettings(&b)
	rep.writeResets(&b)
	rep.writeBounds(&b)
	rep.writeExtras(&b)
	rep.writeServer(&b)
	rep.writeFleets(&b)
	rep.writeStartup(&b)
	rep.writeThroughput(&b)
	rep.writeLimits(&b)
	b.WriteString("\n## Requests by route\n\n")
	routeTable(&b, rep.allRuns())
	rep.writeCommands(&b)
	return b.String()
}

// writeIntro is the title, when the report was made and what the reset is.
func (rep *Report) writeIntro(b *strings.Builder) {
	b.WriteString("# Benchmarks\n\n")
	fmt.Fprintf(b, "Generated by `make bench` (`cmd/kbv3-bench`, package `internal/bench`) on %s, in %s. Do not edit by hand: run `make bench` again.\n\n",
		rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Elapsed.Round(time.Second))
	b.WriteString("The PH3-02 reset (detach and delete the 40 old `vol-*` volumes, create the 47 `kbv3-<hostname>-data` volumes of `servers/volume_plan_v3.json`, attach each to its server, batches of " + fmt.Sprint(rep.Opts.Batch) + ") done six ways against one `hcloud-sim`, with the same settings for all: kbv3 (`playbooks/volume_reset_v3.yml`); the official collection hetzner.hcloud in two versions, 1.11 from Debian 12's `ansible` package on its ansible-core 2.14 and 5.x from Debian 13's `ansible` 12 on ansible-core 2.19 (`make modern-ansible` unpacks it into `.cache/modern-ansible`), each written the two ways a user of it would (`bench/official/volume_reset_official.yml` and `bench/modern/volume_reset_modern.yml`: loops of async module calls on the controller, ten at a time; `bench/official/volume_reset_official_hosts.yml` and `bench/modern/volume_reset_modern_hosts.yml`: a play per stage over the inventory in `serial` batches of ten hosts, forks 10; 1.11 with its `hcloud_volume` module, 5.x with `volume_attachment` to detach and attach and `volume` to delete and create; the targets hold kbv3 to the fastest of the four); and the report's own way, the `hcloud` CLI in a Bash loop (`bench/cli/volume_reset_cli.sh`).\n\n")
}

// writeSettings describes the machine, the simulator and how every run is prepared and measured.
func (rep *Report) writeSettings(b *strings.Builder) {
	m := rep.Machine
	b.WriteString("## Machine and settings\n\n")
	fmt.Fprintf(b, "* CPU: %s, `nproc` = %d; memory %s; %s.\n", m.CPU, m.NProc, m.Memory, m.Kernel)
	for _, v := range m.Versions {
		fmt.Fprintf(b, "* %s: %s\n", v[0], v[1])
	}
	if rep.ActionTimes != nil {
		var ts []string
		for _, c := range slices.Sorted(maps.Keys(rep.ActionTimes)) {
			ts = append(ts, fmt.Sprintf("%s %s", c, rep.ActionTimes[c]))
		}
		fmt.Fprintf(b, "* Simulator: `bin/hcloud-sim %s`: the default action times (%s) and the rate limit on (%s; the bucket is full at the start of each run, `POST /_sim/reset` refills it).\n",
			strings.Join(redact(rep.SimArgs), " "), strings.Join(ts, ", "), rep.RateLimit)
	}
	fmt.Fprintf(b, "* Batch size %d for every way. Before each run the simulator is reset (`POST /_sim/reset`), the reviewed diff is computed from the live state with `plan.Compute` (what `playbooks/volume_diff_v3.yml` writes, selector `vol-*`) and the counters are zeroed (`POST /_sim/stats/reset`); every way reads the same plan and diff.\n", rep.Opts.Batch)
	b.WriteString("* Requests and their kinds come from `GET /_sim/stats` (`by_route`, `by_status`); the end state from `GET /_sim/state`: each plan volume exists once, with its size and its server's location, attached to its server; no `vol-*` is left; every other volume (`keybuzz-archive-01`) is untouched; nothing else exists.\n")
	b.WriteString("* Memory: *peak RSS, whole tree* is the largest sum of the resident sets of all the run's processes at one moment, sampled from `/proc` every 50 ms; processes are found by an environment variable they inherit, so Ansible's async jobs, which leave the process group, are counted. *Largest process* is `wait4`'s `ru_maxrss` of the run: the largest resident set of a single process among the command and the descendants it waited for (Linux gives the maximum, not a sum, and not the async jobs). *Processes* is how many distinct processes the sampler saw (a process living under 50 ms can be missed). *CPU time* is `wait4`'s user plus system time of the run (again without the async jobs); *load before* is the 1-minute load average just before the run, a sign of other work on the machine.\n\n")
}

// writeResets is the table of the six ways and the targets they are held to.
func (rep *Report) writeResets(b *strings.Builder) {
	b.WriteString("## The reset, six ways\n\n")
	mainTable(b, rep.Ways)
	if ts := rep.targets(); len(ts) > 0 {
		b.WriteString("\n### Targets\n\n")
		targetTable(b, ts)
		if lines := rep.missedReading(); len(lines) > 0 {
			b.WriteString("\nWhy the missed targets are missed:\n\n")
			for _, l := range lines {
				b.WriteString("* " + l + "\n")
			}
		}
	}
}

// writeBounds puts kbv3's runs beside their bounds.
func (rep *Report) writeBounds(b *strings.Builder) {
	b.WriteString("\n## kbv3 beside its bound\n\n")
	b.WriteString("Time bound: the stages run one after the other, each in waves of at most the batch size, and a wave lasts at least its action time: the sum over detach, delete, create and attach of ceil(n / batch) × the simulator's action time (`delete_volume` is how long the simulator holds a DELETE). Request bound, the fewest requests the work allows: each mutation once, the list pages (50 a page) of one snapshot of volumes and servers and of one final volume list for the verification, and one poll per wave of actions (one `GET /actions?id=…` takes 25 ids; a delete has no action). Client start-up, Ansible's own work, retries and polls made before an action can have finished are all above it.\n\n")
	boundTable(b, rep.allRuns())
}

// writeExtras is the table of the no-op reruns, --check and the generated fleets.
func (rep *Report) writeExtras(b *strings.Builder) {
	b.WriteString("\n## No-op rerun, --check, generated fleets\n\n")
	mainTable(b, rep.Extras)
	b.WriteString("\nThe no-op rerun runs the same command on the fleet kbv3 has just reset, once with the same reviewed diff (the 40 deletes it lists are gone) and once with a diff computed afresh (nothing to delete). `--check` runs on a fresh fleet, which must stay unchanged.\n")
}

// writeServer is the create-with-server section, when it ran.
func (rep *Report) writeServer(b *strings.Builder) {
	if rep.Server == nil {
		return
	}
	b.WriteString("\n## A create with `server`\n\n")
	fmt.Fprintf(b, "`%s` on the fresh PH3-02 fleet, %d times, each a new volume on another server: the API creates the volume and attaches it in the same request, the attach coming back in `next_actions`; it can only progress once the create is done, so the least any client can take is the sum of the two action times, %s + %s = %s, and a client that polls every %s ends within one poll interval of it. *Module process*, the figure the target takes (the median of the runs), is exec to exit of the Go binary module as Ansible runs it, without Ansible's own work around it: it includes the process's start and the lookups before the create request, so it overstates the wait; *duration_ms* is the module's own figure for the volume.\n\n",
		rep.Server.Command, len(rep.Server.Runs), secs3(rep.Server.Create), secs3(rep.Server.Attach), secs3(rep.Server.Create+rep.Server.Attach), rep.Server.Poll)
	serverTable(b, rep.Server)
}

// writeFleets is the generated fleets' section, when any ran.
func (rep *Report) writeFleets(b *strings.Builder) {
	fleets := rep.fleetRuns()
	if len(fleets) == 0 {
		return
	}
	b.WriteString("\n## Generated fleets under the rate limit\n\n")
	b.WriteString(fleetMethod)
	fleetTable(b, fleets)
	b.WriteString("\n")
	for _, r := range fleets {
		if ran(r) {
			fmt.Fprintf(b, "* %s: `bin/hcloud-sim --scenario generated:%d`, rate limit %s (the real API's %s ÷%d); time bound %s; requests %s.\n",
				r.Title, r.Fleet.Fleet.N, r.Fleet.RateLimit, r.Fleet.Real(), r.Fleet.Fleet.Scale, r.Bound.TimeFormula, r.Bound.RequestsFormula)
		}
	}
	fmt.Fprintf(b, "\nOn the PH3-02 fleet kbv3 made %s requests per volume.\n", perVolume(rep.Find("kbv3")))
}

// writeStartup is the start-up cost section, when it was measured.
func (rep *Report) writeStartup(b *strings.Builder) {
	if len(rep.Startup) == 0 {
		return
	}
	b.WriteString("\n## Start-up cost of one module process\n\n")
	startupTable(b, rep.Startup)
	fmt.Fprintf(b, "\nMethod: %s. The Go module runs as Ansible runs a binary module (`plugins/modules/kbv3_volume_info ARGS_FILE`); the Python module runs as the `AnsiballZ_hcloud_volume_info.py` wrapper Ansible builds (kept with `ANSIBLE_KEEP_REMOTE_FILES=1`) under `/usr/bin/python3`. One warm-up run each, then the runs alternate. Neither figure includes Ansible's own per-task work on the controller.\n", rep.Startup[0].Method)
}

// writeThroughput is the simulator's throughput section, when it was measured.
func (rep *Report) writeThroughput(b *strings.Builder) {
	if rep.RPS == nil {
		return
	}
	b.WriteString("\n## The simulator's throughput\n\n")
	fmt.Fprintf(b, "`bin/hcloud-sim %s`, keep-alive clients in the harness on the same %d-core machine alternating `GET /v1/volumes?page=1&per_page=50` (the 41 volumes) and `GET /v1/actions?id=A`, %s per row:\n\n", strings.Join(rep.RPS.Args, " "), rep.Machine.NProc, rep.RPS.Duration)
	rpsTable(b, rep.RPS)
}

// writeLimits is what limits each way, with the notes of the run.
func (rep *Report) writeLimits(b *strings.Builder) {
	b.WriteString("\n## What limits each way\n\n")
	for _, line := range rep.reading() {
		b.WriteString("* " + line + "\n")
	}
	for _, n := range rep.Notes {
		b.WriteString("* " + n + "\n")
	}
}

// writeCommands is how to run the bench again and the command of every run, with the work
// directories written WORK.
func (rep *Report) writeCommands(b *strings.Builder) {
	b.WriteString("\n## Commands\n\n")
	if len(rep.Parts) > 1 {
		b.WriteString("This report puts together the runs of several invocations of the harness (`kbv3-bench -render A/results.json,B/results.json`), one after the other on the same machine; WORK is each one's work directory:\n\n```sh\nmake deps build modern-ansible\n")
		for _, p := range rep.Parts {
			fmt.Fprintf(b, "%s    # %s, %s\n", p.Invocation, p.Started.UTC().Format("15:04 MST"), p.Elapsed.Round(time.Second))
		}
		b.WriteString("```\n\n")
	} else {
		b.WriteString("```sh\nmake bench        # deps, build, then:\n" + rep.Opts.Invocation + "\n```\n\n")
	}
	b.WriteString("Each run, from the repository root, with `HCLOUD_TOKEN` set to the simulator's token, `HCLOUD_ENDPOINT=http://127.0.0.1:PORT/v1`, and Ansible's temporary and async directories in the run's work directory (`WORK`):\n\n```sh\n")
	for _, r := range rep.allRuns() {
		if ran(r) {
			cmd := r.Cmd.String()
			cmd = strings.ReplaceAll(cmd, rep.Opts.WorkDir, "WORK")
			for _, p := range rep.Parts {
				if p.WorkDir != "" {
					cmd = strings.ReplaceAll(cmd, p.WorkDir, "WORK")
				}
			}
			cmd = strings.ReplaceAll(cmd, rep.Opts.Repo+"/", "")
			fmt.Fprintf(b, "# %s\n%s\n", r.Title, cmd)
		}
	}
	b.WriteString("```\n\n`WORK/<run>/vars.json` sets `diff_path`, `snapshot_path`, `batch_size` (and for kbv3 `report_path`, `log_path`) to files of the run's directory, so that a benchmark never writes into `servers/`, `reports/` or `logs/`.\n")
}

func perVolume(r *WayResult) string {
	if !ran(r) || r.Work.Create == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(r.Stats.Requests.Total)/float64(r.Work.Create))
}

// kbv3Reading explains a kbv3 run's requests from its counters: how many module runs there were
// (one per batch and stage, plus stage 0 and the verification; the delete stage detaches too),
// how many list requests
// each made, and how the polls compare with the poll interval of hcloud-go.
func kbv3Reading(w *WayResult, batch int, times map[string]time.Duration, goStart time.Duration) string {
	batch = max(batch, 1)
	// The delete stage's batches detach their volumes too: no module run of its own for a detach.
	waves := ceilDiv(w.Work.Delete, batch) + ceilDiv(w.Work.Create, batch) + ceilDiv(w.Work.Attach, batch)
	if w.Name == "noop" {
		// The same diff: the delete stage still runs, on volumes already gone.
		waves = 0
	}
	var s strings.Builder
	fmt.Fprintf(&s, "It started %d processes", w.Measure.Procs)
	if goStart > 0 {
		fmt.Fprintf(&s, " (one Go module process costs %s before its first request)", goStart.Round(time.Microsecond))
	}
	vl, sl := w.Stats.Requests.ByRoute["GET /v1/volumes"], w.Stats.Requests.ByRoute["GET /v1/servers"]
	if runs := waves + 2; waves > 0 {
		fmt.Fprintf(&s, "; with %d module runs (one per batch and stage, plus stage 0 and the verification) it sent %d `GET /v1/volumes`, %.1f per run (each delete batch decides against its volumes as they are then, with one read for its detaches and its deletes: the first page of the id-ordered listing, and a lookup by name for any it did not show; the create and attach stages read none), and %d `GET /v1/servers` (stage 0 reads the servers once and hands their ids and locations to the stages)", runs, vl, float64(vl)/float64(runs), sl)
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

// fleetReading explains a generated fleet's run from its figures: what its requests went to,
// and whether the actions or the rate limit set its pace.
func fleetReading(r *WayResult, batch int) string {
	f, ok := r.Figures()
	if !ok {
		return ""
	}
	var s strings.Builder
	fmt.Fprintf(&s, "**%s**: %s%s for %d volumes, %d requests, %.2f per volume (bound %.2f, %.2f×); busiest routes: %s. %s",
		r.Title, secs(f.Wall), scaleNote(f.Scale), f.Volumes, f.Requests, f.PerVolume, f.BoundPerVol, f.RequestRatio,
		routesText(r.Stats, 3), kbv3Reading(r, batch, nil, 0))
	switch {
	case f.RateBound > f.ActionBound:
		fmt.Fprintf(&s, " The rate limit sets the pace: the %d requests of the bound need %s beyond the bucket's %d at %s each, more than the %s the actions take in waves of %d; the %d requests it sent need %s.",
			f.RequestBound, secs(f.RateBound), f.Limit.Limit, f.Limit.Period/time.Duration(max(f.Limit.Limit, 1)), secs(f.ActionBound), batch, f.Requests, secs(f.RunRateFloor))
	case f.RunRateFloor > f.ActionBound:
		fmt.Fprintf(&s, " The actions would set the pace (%s in waves of %d; the bound's %d requests fit the bucket and its refill in %s), but the %d requests it sent need %s under the rate limit.",
			secs(f.ActionBound), batch, f.RequestBound, secs(f.RateBound), f.Requests, secs(f.RunRateFloor))
	default:
		fmt.Fprintf(&s, " The actions set the pace (%s in waves of %d); the rate limit would allow its %d requests in %s.", secs(f.ActionBound), batch, f.Requests, secs(f.RunRateFloor))
	}
	if f.TooMany > 0 {
		fmt.Fprintf(&s, " It met %d answers 429.", f.TooMany)
	}
	return s.String()
}

// fleetTable puts each generated fleet's figures beside its bounds, in real-API time.
func fleetTable(b *strings.Builder, runs []*WayResult) {
	b.WriteString("| fleet | time scale | wall time (real API) | requests | per volume | request bound | per volume | ratio | 429s | action-time bound | rate-limit bound | rate floor of its requests | time / larger bound | end state |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range runs {
		if r.Fleet == nil {
			continue
		}
		f, ok := r.Figures()
		if !ok {
			fmt.Fprintf(b, "| %d volumes | ÷%d | – | – | – | – | – | – | – | – | – | – | – | %s |\n", r.Fleet.Fleet.N, r.Fleet.Fleet.Scale, endState(r))
			continue
		}
		wall := secs(f.Wall)
		if f.Scale > 1 {
			wall += fmt.Sprintf(" (%s measured)", secs(r.Measure.Wall))
		}
		fmt.Fprintf(b, "| %d volumes | ÷%d | %s | %d | %.2f | %d | %.2f | %.2f× | %d | %s | %s | %s | %.2f× | %s |\n",
			f.Volumes, f.Scale, wall, f.Requests, f.PerVolume, f.RequestBound, f.BoundPerVol, f.RequestRatio, f.TooMany,
			secs(f.ActionBound), secs(f.RateBound), secs(f.RunRateFloor), f.TimeRatio, endState(r))
	}
}

// serverTable lists the creates with server.
func serverTable(b *strings.Builder, s *ServerResult) {
	if s.Err != "" {
		fmt.Fprintf(b, "Not measured: %s\n", s.Err)
		return
	}
	b.WriteString("| volume | server | module process | duration_ms it reports | requests | end state |\n|---|---|---:|---:|---:|---|\n")
	for _, r := range s.Runs {
		state := "created and attached"
		if r.Problem != "" {
			state = "**WRONG**: " + r.Problem
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %d | %s |\n", r.Volume, r.Server, secs3(r.Wall), r.ModuleMs, r.Requests, state)
	}
}

// fleetRuns are the runs of the generated fleets.
func (rep *Report) fleetRuns() []*WayResult {
	var out []*WayResult
	for _, r := range rep.Extras {
		if r.Fleet != nil {
			out = append(out, r)
		}
	}
	return out
}

// fleetMethod says how the fleets are run and what their bounds mean.
const fleetMethod = "Each fleet runs on its own simulator, `--scenario generated:N`: N servers with one old volume each, attached; the harness writes a plan with one `kbv3-<host>-data` volume per server and an inventory of the N hosts, and kbv3 resets it in batches like the PH3-02 fleet. The rate limit is on, the API's 3600 requests an hour, its bucket full at the start. A fleet at time scale ÷S runs with every action time and the rate limit's period divided by S (`--action-time COMMAND=…`, `--rate-limit 3600/PERIOD`): the same bucket of 3600, refilled S times faster, so the requests, the 429s and the ratio of requests to refill are those of the real API, and its times are given multiplied back by S, in the real API's seconds (the measured wall time in brackets). What does not scale is the client's own time (Ansible, module start-up, kbv3's first poll 1 s after an action starts and its 500 ms interval), which a scaled run therefore overstates. *Action-time bound*: the stages in waves of the batch size, as for PH3-02. *Rate-limit bound*: the least time the rate limit allows the request bound's requests, (requests − 3600) × 1 s, the bucket's 3600 going at once and every further request waiting for its refill; *rate floor of its requests* is the same for the requests the run sent. *Time / larger bound* is the wall time over the larger of the action-time and rate-limit bounds.\n\n"
