package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFleets(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []Fleet
		wantErr string
	}{
		{"500:1,2000:6", []Fleet{{500, 1}, {2000, 6}}, ""},
		{"50", []Fleet{{50, 1}}, ""},
		{" 100:4 , 20 ", []Fleet{{100, 4}, {20, 1}}, ""},
		{"none", nil, ""},
		{"", nil, ""},
		{"0", nil, "N from 1 to 10000"},
		{"x:2", nil, "N from 1 to 10000"},
		{"100:0", nil, "time scale"},
		{"100:1.5", nil, "time scale"},
		{"100:1,100:2", nil, "100 volumes twice"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseFleets(tc.in)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	// DefaultFleets is what -fleets shows and parses back to.
	var parts []string
	for _, f := range DefaultFleets {
		parts = append(parts, f.String())
	}
	back, err := ParseFleets(strings.Join(parts, ","))
	require.NoError(t, err)
	assert.Equal(t, DefaultFleets, back)
}

func TestRateLimitBound(t *testing.T) {
	api := RateLimit{Limit: 3600, Period: time.Hour}
	for _, tc := range []struct {
		name     string
		rl       RateLimit
		requests int
		want     time.Duration
	}{
		{"within the bucket", api, 2180, 0},
		{"exactly the bucket", api, 3600, 0},
		{"one past it waits one refill", api, 3601, time.Second},
		{"2000 volumes' bound", api, 8660, 5060 * time.Second},
		{"scaled by 6", api.Scaled(6), 8660, 5060 * time.Second / 6},
		{"small bucket", RateLimit{Limit: 10, Period: 10 * time.Second}, 25, 15 * time.Second},
		{"no limit", RateLimit{}, 100000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.rl.Bound(tc.requests))
		})
	}
	rl, err := ParseRateLimit("3600/10m0s")
	require.NoError(t, err)
	assert.Equal(t, api.Scaled(6), rl)
	for _, bad := range []string{"3600", "x/1h", "0/1h", "10/-1s", "10/x"} {
		_, err := ParseRateLimit(bad)
		assert.Error(t, err, bad)
	}
}

func TestScaledSimArgs(t *testing.T) {
	args := scaledSimArgs(defaultTimes, RateLimit{Limit: 3600, Period: time.Hour}, 6)
	assert.Equal(t, []string{
		"--action-time", "attach_volume=500ms",
		"--action-time", "create_volume=166.666666ms",
		"--action-time", "delete_volume=50ms",
		"--action-time", "detach_volume=500ms",
		"--rate-limit", "3600/10m0s",
	}, args)
	assert.Equal(t, defaultTimes, ScaleTimes(defaultTimes, 1), "scale 1 leaves the times")
}

// fleetRun is a generated fleet's result with the given measurements.
func fleetRun(n, scale int, wall time.Duration, requests, tooMany int) *WayResult {
	w := Work{Detach: n, Delete: n, Create: n, Attach: n, VolumesBefore: n, Servers: n, VolumesAfter: n}
	b := ComputeBound(w, 10, ScaleTimes(defaultTimes, scale))
	r := &WayResult{Name: Fleet{N: n}.Name(), Title: "fleet", Work: w, Bound: &b, Measure: Measure{Wall: wall},
		Fleet: &FleetRun{Fleet: Fleet{N: n, Scale: scale}, RateLimit: RateLimit{Limit: 3600, Period: time.Hour}.Scaled(scale)}}
	r.Stats.Requests.Total = requests
	if tooMany > 0 {
		r.Stats.Requests.ByStatus = map[string]int{"429": tooMany}
	}
	return r
}

func TestFleetFigures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		run        *WayResult
		wall       time.Duration
		action     time.Duration
		rate       time.Duration
		runFloor   time.Duration
		timeRatio  float64
		perVolume  float64
		boundRatio float64
	}{
		// 500: 4 × 50 waves, 365 s; bound 2180 requests fits the bucket: the actions set the pace.
		{"500 in real time", fleetRun(500, 1, 400*time.Second, 2616, 0), 400 * time.Second, 365 * time.Second, 0, 0, 400.0 / 365, 2616.0 / 500, 2616.0 / 2180},
		// 2000 at ÷6: bound 8000 mutations + 120 pages + 600 polls = 8720: (8720-3600) s of refill.
		{"2000 scaled", fleetRun(2000, 6, 900*time.Second, 9600, 0), 5400 * time.Second, 1460 * time.Second, 5120 * time.Second, 6000 * time.Second, 5400.0 / 5120, 4.8, 9600.0 / 8720},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := tc.run.Figures()
			require.True(t, ok)
			assert.Equal(t, tc.wall, f.Wall)
			assert.InDelta(t, tc.action.Seconds(), f.ActionBound.Seconds(), 0.01)
			assert.InDelta(t, tc.rate.Seconds(), f.RateBound.Seconds(), 0.01)
			assert.InDelta(t, tc.runFloor.Seconds(), f.RunRateFloor.Seconds(), 0.01)
			assert.InDelta(t, tc.timeRatio, f.TimeRatio, 0.005)
			assert.InDelta(t, tc.perVolume, f.PerVolume, 0.005)
			assert.InDelta(t, tc.boundRatio, f.RequestRatio, 0.005)
		})
	}
	_, ok := (&WayResult{Name: "kbv3"}).Figures()
	assert.False(t, ok, "a run that is no fleet has no fleet figures")
	skipped := fleetRun(500, 1, time.Second, 1, 0)
	skipped.Skipped = "not built"
	_, ok = skipped.Figures()
	assert.False(t, ok, "a skipped fleet has no figures")
}

// targetResult finds the result of the target whose name starts with prefix.
func targetResult(t *testing.T, ts []target, prefix string) target {
	t.Helper()
	for _, x := range ts {
		if strings.HasPrefix(x.name, prefix) {
			return x
		}
	}
	t.Fatalf("no target %q in %v", prefix, ts)
	return target{}
}

func TestTargets(t *testing.T) {
	work := Work{Detach: 40, Delete: 40, Create: 47, Attach: 47, VolumesBefore: 41, Servers: 47, VolumesAfter: 48}
	way := func(name string, wall time.Duration, requests int) *WayResult {
		w := &WayResult{Name: name, Title: name, Work: work, Measure: Measure{Wall: wall}}
		w.Stats.Requests.Total = requests
		if name == "kbv3" || name == "check" {
			b := ComputeBound(work, 10, defaultTimes)
			w.Bound = &b
		}
		return w
	}
	server := func(walls ...time.Duration) *ServerResult {
		s := &ServerResult{Create: time.Second, Attach: 3 * time.Second, Poll: 500 * time.Millisecond}
		for _, w := range walls {
			s.Runs = append(s.Runs, ServerRun{Volume: "v", Wall: w})
		}
		return s
	}
	type want map[string]string // target name prefix → "met" or "**missed**"
	for _, tc := range []struct {
		name string
		rep  *Report
		want want
	}{
		{"all met", &Report{
			Ways: []*WayResult{way("kbv3", 34*time.Second, 200), way("official", 93*time.Second, 1157), way("modern-hosts", 85*time.Second, 1100)},
			Extras: []*WayResult{way("check", 2*time.Second, 3), fleetRun(500, 1, 380*time.Second, 2500, 0),
				fleetRun(2000, 6, 5800*time.Second/6, 9000, 0)},
			Server: server(4300*time.Millisecond, 4400*time.Millisecond, 6*time.Second),
		}, want{"500": "met", "2000": "met", "`--check`": "met", "The PH3-02 reset: within 1.1": "met",
			"The PH3-02 reset: within 1.2": "met", "The PH3-02 reset: at least 2.4": "met", "The PH3-02 reset: at least 5": "met", "A create": "met"}},
		{"all missed", &Report{
			Ways: []*WayResult{way("kbv3", 38*time.Second, 240), way("official", 93*time.Second, 1157), way("modern", 80*time.Second, 1100)},
			Extras: []*WayResult{way("check", 2*time.Second, 22), fleetRun(500, 1, 380*time.Second, 3772, 0),
				fleetRun(2000, 6, 7000*time.Second/6, 17000, 0)},
			Server: server(6500*time.Millisecond, 6500*time.Millisecond),
		}, want{"500": "**missed**", "2000": "**missed**", "`--check`": "**missed**", "The PH3-02 reset: within 1.1": "**missed**",
			"The PH3-02 reset: within 1.2": "**missed**", "The PH3-02 reset: at least 2.4": "**missed**", "The PH3-02 reset: at least 5": "**missed**", "A create": "**missed**"}},
		// Requests within 1.2× but one 429: missed.
		{"a 429 misses the 500 target", &Report{Extras: []*WayResult{fleetRun(500, 1, 380*time.Second, 2500, 1)}},
			want{"500": "**missed**"}},
		{"nothing ran", &Report{}, want{"500": "**missed**", "2000": "**missed**", "`--check`": "**missed**",
			"The PH3-02 reset: at least 2.4": "**missed**", "A create": "**missed**"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := tc.rep.targets()
			require.Len(t, ts, 8, "issue 15's eight targets, whatever ran")
			for prefix, result := range tc.want {
				assert.Equal(t, result, targetResult(t, ts, prefix).result, prefix)
			}
		})
	}
	ts := (&Report{}).targets()
	assert.Contains(t, targetResult(t, ts, "500").measured, "not measured: the fleet of 500 did not run")
	assert.Contains(t, targetResult(t, ts, "A create").measured, "not measured")
}

func TestServerTarget(t *testing.T) {
	base := ServerResult{Create: time.Second, Attach: 3 * time.Second, Poll: 500 * time.Millisecond}
	for _, tc := range []struct {
		name   string
		walls  []time.Duration
		broken bool
		median time.Duration
		ok     bool
	}{
		{"median within a poll", []time.Duration{4200 * time.Millisecond, 9 * time.Second, 4400 * time.Millisecond}, false, 4400 * time.Millisecond, true},
		{"exactly one poll over", []time.Duration{4500 * time.Millisecond}, false, 4500 * time.Millisecond, true},
		{"the old waiter's 6.5 s", []time.Duration{6500 * time.Millisecond, 6400 * time.Millisecond, 6600 * time.Millisecond}, false, 6500 * time.Millisecond, false},
		{"a wrong end state", []time.Duration{4 * time.Second}, true, 0, false},
		{"no run", nil, false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			for _, w := range tc.walls {
				r := ServerRun{Volume: "v", Wall: w}
				if tc.broken {
					r.Problem = "not attached"
				}
				s.Runs = append(s.Runs, r)
			}
			median, budget, ok := s.ServerTarget()
			assert.Equal(t, tc.median, median)
			assert.Equal(t, tc.ok, ok)
			if len(tc.walls) > 0 && !tc.broken {
				assert.Equal(t, 4500*time.Millisecond, budget)
			}
		})
	}
	var none *ServerResult
	_, _, ok := none.ServerTarget()
	assert.False(t, ok)
}

func TestModernMissing(t *testing.T) {
	dir := t.TempDir()
	m := Modern{Dir: dir}
	assert.Contains(t, m.Missing(), "is missing: no "+filepath.Join(dir, "root/usr/bin/ansible-playbook"))
	assert.Contains(t, m.Missing(), "make modern-ansible")
	assert.Contains(t, Modern{}.Missing(), "has no directory")

	require.NoError(t, os.MkdirAll(m.Bin(), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(m.Bin(), "ansible-playbook"), []byte("#!/bin/sh\n"), 0o755))
	assert.Contains(t, m.Missing(), "no readable hetzner.hcloud")

	coll := filepath.Join(m.PythonPath(), "ansible_collections", "hetzner", "hcloud")
	require.NoError(t, os.MkdirAll(coll, 0o755))
	manifest := func(v string) {
		data, err := json.Marshal(map[string]any{"collection_info": map[string]any{"version": v}})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(coll, "MANIFEST.json"), data, 0o644))
	}
	manifest("1.11.0")
	assert.Contains(t, m.Missing(), "hetzner.hcloud 1.11.0, not 5.x")
	manifest("5.2.0")
	assert.Empty(t, m.Missing())
	require.NoError(t, os.MkdirAll(filepath.Join(m.PythonPath(), "ansible_core-2.19.11.dist-info"), 0o755))
	assert.Equal(t, "2.19.11", m.CoreVersion())

	env := strings.Join(m.Env("/h"), "\n")
	assert.Contains(t, env, "ANSIBLE_COLLECTIONS_PATH="+m.PythonPath())
	assert.Contains(t, env, "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false")
	assert.Contains(t, env, "PATH="+m.Bin()+":")
}

func TestMerge(t *testing.T) {
	run := func(name string, wall time.Duration) *WayResult {
		return &WayResult{Name: name, Title: name, Measure: Measure{Wall: wall}}
	}
	a := &Report{Opts: Options{Invocation: "kbv3-bench -ways kbv3", WorkDir: "/w/a"}, Elapsed: time.Minute,
		ActionTimes: defaultTimes, Ways: []*WayResult{run("kbv3", 35*time.Second), run("cli", 34*time.Second)},
		Extras: []*WayResult{run("check", 2*time.Second)}}
	b := &Report{Opts: Options{Invocation: "kbv3-bench -ways cli -extras big", WorkDir: "/w/b"}, Elapsed: 2 * time.Minute,
		Ways: []*WayResult{run("cli", 33*time.Second)}, Extras: []*WayResult{fleetRun(500, 1, time.Minute, 2500, 0)},
		Server: &ServerResult{Create: time.Second}}
	m := Merge(a, b)
	require.Len(t, m.Ways, 2)
	assert.Equal(t, 33*time.Second, m.Find("cli").Measure.Wall, "a later part's run of the same name wins")
	assert.Equal(t, 35*time.Second, m.Find("kbv3").Measure.Wall)
	assert.NotNil(t, m.Find("check"))
	assert.NotNil(t, m.fleet(500))
	assert.NotNil(t, m.Server)
	assert.Equal(t, 3*time.Minute, m.Elapsed)
	require.Len(t, m.Parts, 2)
	assert.Equal(t, "/w/b", m.Parts[1].WorkDir)
	assert.Len(t, a.Ways, 2, "the parts are left as they were")
	assert.Equal(t, 34*time.Second, a.Ways[1].Measure.Wall)
	assert.Nil(t, Merge(a).Parts, "one part is no merge")
	assert.Contains(t, m.Markdown(), "kbv3-bench -ways cli -extras big    #")
}
