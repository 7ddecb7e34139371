package bench

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// update rewrites the golden reports: go test ./internal/bench -run TestMarkdown -update.
var update = flag.Bool("update", false, "rewrite testdata/*.md from the current Markdown")

// reportWay is a PH3-02 run of name with its counters; kbv3's carries its bound.
func reportWay(name string, wall time.Duration, procs int, byRoute map[string]int) *WayResult {
	work := Work{Detach: 40, Delete: 40, Create: 47, Attach: 47, VolumesBefore: 41, Servers: 47, VolumesAfter: 48}
	w := &WayResult{Name: name, Title: wayTitles[name], Check: "plan", Work: work,
		Measure: Measure{Wall: wall, Procs: procs, PeakTreeRSS: 300 << 20, MaxRSS: 80 << 20, CPU: wall / 2, LoadAvg: "0.50"},
		Cmd:     Cmd{Argv: []string{"ansible-playbook", "/repo/playbooks/x.yml", "-e", "@/work/" + name + "/vars.json"}}}
	w.Stats.Requests.ByRoute = byRoute
	w.Stats.Requests.ByStatus = map[string]int{"200": 0}
	for _, n := range byRoute {
		w.Stats.Requests.Total += n
		w.Stats.Requests.ByStatus["200"] += n
	}
	return w
}

func resetRoutes(volumes, servers, polls, mutations int) map[string]int {
	return map[string]int{"GET /v1/volumes": volumes, "GET /v1/servers": servers, "GET /v1/actions": polls,
		"POST /v1/volumes": mutations, "GET /v1/locations": 1}
}

func withBound(w *WayResult, times map[string]time.Duration) *WayResult {
	b := ComputeBound(w.Work, 10, times)
	w.Bound = &b
	return w
}

// fullReport has every way, extra and section of the report.
func fullReport() *Report {
	rep := &Report{
		Opts:    Options{Batch: 10, Repo: "/repo", WorkDir: "/work", Invocation: "go run ./cmd/kbv3-bench"},
		Started: time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC), Elapsed: 42 * time.Minute,
		Machine: Machine{CPU: "Test CPU", Kernel: "Linux 6.1", Memory: "4 GiB", NProc: 2,
			Versions: [][2]string{{"go", "go1.24"}, {"ansible-core", "2.14.18"}}},
		SimArgs: []string{"--scenario", "ph3-02", "--token", Token}, ActionTimes: defaultTimes, RateLimit: "3600/1h0m0s",
		Ways: []*WayResult{
			withBound(reportWay("kbv3", 35*time.Second, 30, resetRoutes(12, 1, 40, 174)), defaultTimes),
			reportWay("official", 95*time.Second, 400, resetRoutes(300, 150, 500, 174)),
			reportWay("official-hosts", 88*time.Second, 380, resetRoutes(290, 140, 480, 174)),
			reportWay("modern", 90*time.Second, 390, resetRoutes(280, 100, 300, 174)),
			reportWay("modern-hosts", 85*time.Second, 370, resetRoutes(270, 100, 290, 174)),
			reportWay("cli", 60*time.Second, 500, resetRoutes(200, 90, 700, 174)),
		},
		Startup: []StartupResult{
			{Name: "Go binary module (kbv3_volume_info)", Runs: 20, Median: 4 * time.Millisecond, Min: 3 * time.Millisecond, Mean: 4500 * time.Microsecond, MaxRSS: 12 << 20, Answer: "failed=true msg=\"a|b\"", Method: "exec to exit"},
			{Name: "Python module (hetzner.hcloud.hcloud_volume_info)", Runs: 20, Median: 400 * time.Millisecond, Min: 380 * time.Millisecond, Mean: 410 * time.Millisecond, MaxRSS: 60 << 20, Answer: "failed=true", Method: "exec to exit"},
		},
		RPS: &RPSResult{Workers: []int{1, 2}, RPS: []float64{3000, 5000}, Errors: []int64{0, 1}, Duration: 5 * time.Second, Max: 5000, Args: []string{"--rate-limit", "off"}},
		Server: &ServerResult{Create: time.Second, Attach: 3 * time.Second, Poll: 500 * time.Millisecond, Command: "plugins/modules/kbv3_volume_create ARGS_FILE",
			Runs: []ServerRun{{Volume: "v1", Server: "s1", Wall: 4300 * time.Millisecond, ModuleMs: 4100, Action: "created", Requests: 9}}},
		Notes: []string{"The machine was quiet."},
	}
	rep.Ways[5].Stats.Requests.ByStatus["429"] = 2
	// A rerun and --check have nothing to do: their bound is the snapshot and the final list.
	noop := reportWay("noop", 2*time.Second, 5, map[string]int{"GET /v1/volumes": 2, "GET /v1/servers": 1})
	noop.Work = Work{VolumesBefore: 48, Servers: 47, VolumesAfter: 48}
	check := reportWay("check", time.Second, 4, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1})
	check.Check, check.Work = "unchanged", noop.Work
	noop, check = withBound(noop, defaultTimes), withBound(check, defaultTimes)
	rep.Extras = []*WayResult{noop, check, fleetRun(500, 1, 400*time.Second, 2616, 0), fleetRun(2000, 6, 900*time.Second, 9600, 0)}
	return rep
}

// partialReport is a merged bench where kbv3 and some extras did not run or failed.
func partialReport() *Report {
	rep := fullReport()
	rep.Ways[0].Skipped, rep.Ways[0].Bound = "plugins/modules has no kbv3_volume_info (make build)", nil
	rep.Ways[2].Problems = []string{"vol-1 is left", "vol-2 is left"}
	rep.Ways = rep.Ways[:3]
	skipped := fleetRun(2000, 6, 0, 0, 0)
	skipped.Skipped = "not built"
	rep.Extras = []*WayResult{rep.Extras[1], fleetRun(500, 1, 420*time.Second, 4000, 3), skipped}
	rep.Startup[1].Err = "ansible kept no AnsiballZ_hcloud_volume_info.py"
	rep.RPS, rep.Server.Runs, rep.Server.Err = nil, nil, "not built (make build)"
	rep.Parts = []Part{
		{Invocation: "go run ./cmd/kbv3-bench -ways official", WorkDir: "/work", Started: rep.Started, Elapsed: 20 * time.Minute},
		{Invocation: "go run ./cmd/kbv3-bench -extras big", WorkDir: "/work2", Started: rep.Started.Add(time.Hour), Elapsed: 22 * time.Minute},
	}
	return rep
}

// TestMarkdown renders reports built in memory and compares them with testdata, byte for byte:
// docs/BENCHMARKS.md must not change unless the report is meant to.
func TestMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *Report
		want []string // lines the report must have, whatever the golden file says
	}{
		{"full", fullReport(), []string{
			"# Benchmarks",
			"Generated by `make bench` (`cmd/kbv3-bench`, package `internal/bench`) on 2026-11-30 01:02 UTC, in 42m0s. Do not edit by hand: run `make bench` again.",
			"* CPU: Test CPU, `nproc` = 2; memory 4 GiB; Linux 6.1.",
			"* Simulator: `bin/hcloud-sim --scenario ph3-02 --token $HCLOUD_TOKEN`: the default action times (attach_volume 3s, create_volume 1s, delete_volume 300ms, detach_volume 3s) and the rate limit on (3600/1h0m0s; the bucket is full at the start of each run, `POST /_sim/reset` refills it).",
			"## The reset, six ways", "### Targets", "## kbv3 beside its bound", "## No-op rerun, --check, generated fleets",
			"## A create with `server`", "## Generated fleets under the rate limit", "## Start-up cost of one module process",
			"## The simulator's throughput", "## What limits each way", "## Requests by route", "## Commands",
			"* The machine was quiet.",
			"# kbv3 (volume_reset_v3.yml)\nansible-playbook playbooks/x.yml -e @WORK/kbv3/vars.json",
			"make bench        # deps, build, then:\ngo run ./cmd/kbv3-bench\n",
		}},
		{"partial", partialReport(), []string{
			"| kbv3 (volume_reset_v3.yml) | – | – |",
			"not run: plugins/modules has no kbv3_volume_info (make build)",
			"Not measured: not built (make build)",
			"go run ./cmd/kbv3-bench -extras big    # 02:02 UTC, 22m0s",
		}},
		{"empty", &Report{}, []string{"# Benchmarks", "## What limits each way"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.rep.Markdown()
			for _, line := range tc.want {
				assert.Contains(t, got, line)
			}
			golden := filepath.Join("testdata", "report-"+tc.name+".md")
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), got)
		})
	}
	assert.NotContains(t, fullReport().Markdown(), Token, "the token never reaches the report")
}

// TestReading checks what the report says limits each run, one line per run that ran.
func TestReading(t *testing.T) {
	full := fullReport().reading()
	partial := partialReport().reading()
	line := func(lines []string, prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		return ""
	}
	for _, tc := range []struct {
		name, prefix string
		lines        []string
		want         []string
	}{
		{"kbv3 against its bound", "**kbv3 (volume_reset_v3.yml)**", full, []string{
			// 4 detach waves × 3 s + 4 delete × 0.3 s + 5 create × 1 s + 5 attach × 3 s; 174 mutations,
			// 3 list pages and 14 polls.
			"35.0 s (1.05× the 33.2 s the action times alone take in batches of 10)", "228 requests (1.19× the 191 the work needs)",
			"Above the bound: +0 mutations", "It started 30 processes (one Go module process costs 4ms before its first request)",
			"with 16 module runs"}},
		{"official", "**hetzner.hcloud 1.11, async batches**", full, []string{
			"It started 400 processes; one Python module process costs 400ms before its first request: every volume is one module run"}},
		{"official-hosts", "**hetzner.hcloud 1.11, serial host batches**", full, []string{"one play per stage, each over the inventory"}},
		{"modern", "**hetzner.hcloud 5.x (ansible-core 2.19), async batches**", full, []string{
			"It started 390 processes: every volume is one module run plus its async_status checks; `volume_attachment`"}},
		{"modern-hosts", "**hetzner.hcloud 5.x (ansible-core 2.19), serial host batches**", full, []string{
			"It started 370 processes: one play per stage over the inventory", "hcloud-python 2.x's backoff"}},
		{"cli with 429s", "**hcloud CLI Bash loop**", full, []string{"It started 500 processes: one hcloud process", "It met 2 answers 429 (rate limit)."}},
		{"no-op", "**kbv3 no-op rerun (same diff)**", full, []string{"2.0 s, 3 requests against a bound of 3 (one snapshot and one final list)"}},
		{"check", "**kbv3 --check, fresh fleet**", full, []string{"1.0 s, 2 requests against a bound of 3"}},
		{"fleet paced by actions", "**fleet**: 400.0 s for 500 volumes", full, []string{"The actions set the pace"}},
		{"fleet paced by the rate limit", "**fleet**: 5400.0 s (real-API time; measured at ÷6) for 2000 volumes", full, []string{"The rate limit sets the pace"}},
		{"simulator", "**The simulator**", full, []string{"sustains 5000 requests/s"}},
		{"bound from the first way that ran", "**hetzner.hcloud 1.11, async batches**", partial, []string{"the 33.2 s the action times alone take", "the 191 the work needs",
			"It started 400 processes: every volume"}},
		{"fleet paced by its own requests", "**fleet**: 420.0 s for 500 volumes", partial, []string{"The actions would set the pace", "It met 3 answers 429."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := line(tc.lines, tc.prefix)
			require.NotEmpty(t, got, "no line starts with %s", tc.prefix)
			for _, w := range tc.want {
				assert.Contains(t, got, w)
			}
		})
	}
	assert.Len(t, full, 11, "six ways, the no-op rerun, --check, two fleets and the simulator")
	assert.Empty(t, line(partial, "**kbv3 ("), "a skipped run has no line")
	assert.Empty(t, line(partial, "**The simulator**"), "no throughput measured, no line")
}
