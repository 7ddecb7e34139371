package volumes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
	"github.com/keybuzz/kbv3/internal/volumes"
)

// The helpers of the read-only modules' tests are prefixed ro, so that they cannot collide with
// the other modules' tests in this package.

// roPlan is the shipped ph3-02 plan: 47 volumes, 2800 GB.
func roPlan(t *testing.T) *plan.Plan {
	t.Helper()
	p, err := plan.Load("../../servers/volume_plan_v3.json")
	require.NoError(t, err)
	require.NoError(t, p.Validate())
	require.Len(t, p.Volumes, 47)
	return p
}

// roFleet is a simulated ph3-02 project and a plain hcloud-go client for arranging it.
type roFleet struct {
	endpoint string
	sim      *sim.Sim
	hc       *hcloud.Client
	servers  map[string]*hcloud.Server
}

func roStart(t *testing.T) *roFleet {
	t.Helper()
	endpoint, s := simtest.Start(t, sim.Config{Scenario: "ph3-02", Token: simtest.Token, ActionTime: time.Millisecond})
	f := &roFleet{endpoint: endpoint, sim: s, hc: simtest.Client(endpoint), servers: map[string]*hcloud.Server{}}
	all, err := f.hc.Server.All(context.Background())
	require.NoError(t, err)
	for _, sv := range all {
		f.servers[sv.Name] = sv
	}
	return f
}

// roMatching turns the fleet into what a finished reset leaves: the old vol-* volumes detached
// and deleted, the plan's 47 volumes created on their servers. It uses hcloud-go directly, so
// that verify is checked against a fleet the modules under test did not build.
func roMatching(t *testing.T, p *plan.Plan) *roFleet {
	t.Helper()
	f := roStart(t)
	ctx := context.Background()
	vols, err := f.hc.Volume.All(ctx)
	require.NoError(t, err)
	var old []*hcloud.Volume
	var actions []*hcloud.Action
	for _, v := range vols {
		if strings.HasPrefix(v.Name, "vol-") {
			old = append(old, v)
			a, _, err := f.hc.Volume.Detach(ctx, v)
			require.NoError(t, err, v.Name)
			actions = append(actions, a)
		}
	}
	require.Len(t, old, 40)
	require.NoError(t, f.hc.Action.WaitFor(ctx, actions...))
	for _, v := range old {
		_, err := f.hc.Volume.Delete(ctx, v)
		require.NoError(t, err, v.Name)
	}
	actions = nil
	for _, e := range p.Volumes {
		sv := f.servers[e.Hostname]
		require.NotNil(t, sv, e.Hostname)
		res, _, err := f.hc.Volume.Create(ctx, hcloud.VolumeCreateOpts{Name: e.Name(), Size: e.SizeGB, Server: sv, Labels: e.Labels})
		require.NoError(t, err, e.Name())
		actions = append(append(actions, res.Action), res.NextActions...)
	}
	require.NoError(t, f.hc.Action.WaitFor(ctx, actions...))
	return f
}

func (f *roFleet) volume(t *testing.T, name string) *hcloud.Volume {
	t.Helper()
	v, _, err := f.hc.Volume.GetByName(context.Background(), name)
	require.NoError(t, err)
	require.NotNil(t, v, name)
	return v
}

func (f *roFleet) wait(t *testing.T, a *hcloud.Action, _ *hcloud.Response, err error) {
	t.Helper()
	require.NoError(t, err)
	require.NoError(t, f.hc.Action.WaitFor(context.Background(), a))
}

// roExec runs a module function through the protocol, as the binary does, with args as the
// task's options, and decodes the printed JSON into out; it returns the printed text.
func roExec[T any](t *testing.T, spec ansible.Spec, run func(context.Context, *ansible.Module, *T) (*ansible.Result, error),
	args map[string]any, out any) string {
	t.Helper()
	data, err := json.Marshal(args)
	require.NoError(t, err)
	var buf bytes.Buffer
	ansible.Execute(context.Background(), spec, data, nil, &buf, run)
	require.NoError(t, json.Unmarshal(buf.Bytes(), out), buf.String())
	return buf.String()
}

type verifyOut struct {
	Changed  bool                 `json:"changed"`
	Failed   bool                 `json:"failed"`
	Msg      string               `json:"msg"`
	Rows     []volumes.Row        `json:"rows"`
	Problems []string             `json:"problems"`
	Sizes    []plan.SizeCount     `json:"sizes"`
	TotalGB  int                  `json:"total_gb"`
	Counts   volumes.VerifyCounts `json:"counts"`
}

func (f *roFleet) verify(t *testing.T, p *plan.Plan, extra map[string]any) (verifyOut, string) {
	t.Helper()
	args := map[string]any{"api_token": simtest.Token, "api_endpoint": f.endpoint, "volumes": p.Volumes, "forbidden": []string{"vol-*"}}
	for k, v := range extra {
		args[k] = v
	}
	var out verifyOut
	text := roExec(t, volumes.VerifySpec, volumes.Verify, args, &out)
	return out, text
}

// The report's own numbers (2830 GB, 20 GB×23, 50 GB×10) do not add up; these are the plan's.
var ph302Sizes = []plan.SizeCount{
	{SizeGB: 10, Count: 2}, {SizeGB: 20, Count: 19}, {SizeGB: 30, Count: 5}, {SizeGB: 50, Count: 11},
	{SizeGB: 100, Count: 6}, {SizeGB: 200, Count: 3}, {SizeGB: 500, Count: 1},
}

func TestVerifyFreshFleetReportsEveryVolumeMissing(t *testing.T) {
	p := roPlan(t)
	f := roStart(t)

	out, text := f.verify(t, p, nil)
	assert.True(t, out.Failed)
	assert.False(t, out.Changed)
	assert.Equal(t, volumes.VerifyCounts{Planned: 47, ForbiddenLeft: 40}, out.Counts)
	assert.Len(t, out.Problems, 87, "47 missing, 40 vol-* left")
	assert.Contains(t, out.Problems, "Volume kbv3-crm-01-data (crm-01) does not exist.")
	assert.Contains(t, out.Problems, "Volume vol-db-master-01 (id "+
		fmt.Sprint(f.volume(t, "vol-db-master-01").ID)+", 100 GB, attached to db-postgres-01) matches the forbidden pattern vol-* and still exists.")
	for _, pr := range out.Problems {
		assert.NotContains(t, pr, "keybuzz-archive-01", "not forbidden, not planned")
	}
	assert.Empty(t, out.Sizes)
	assert.Zero(t, out.TotalGB)
	require.Len(t, out.Rows, 47)
	assert.Equal(t, volumes.Row{Volume: "kbv3-analytics-01-data", Hostname: "analytics-01"}, out.Rows[0])
	assert.True(t, strings.HasPrefix(out.Msg, "47 planned, 0 found, 0 attached as planned, 40 forbidden left; sizes none; total 0 GB; 87 problems: "), out.Msg)
	assert.NotContains(t, text, simtest.Token)

	out, _ = f.verify(t, p, map[string]any{"fail_on_problems": false})
	assert.False(t, out.Failed)
	assert.Len(t, out.Problems, 87)
}

func TestVerifyMatchingFleet(t *testing.T) {
	p := roPlan(t)
	f := roMatching(t, p)
	f.sim.ResetStats()

	out, text := f.verify(t, p, nil)
	// One snapshot: a page of volumes and a page of servers; never a GET per volume, never a write.
	st := f.sim.Stats().Requests
	assert.Zero(t, st.Mutating)
	assert.Equal(t, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1}, st.ByRoute)

	assert.False(t, out.Failed, out.Msg)
	assert.False(t, out.Changed)
	assert.Empty(t, out.Problems)
	assert.NotNil(t, out.Problems, "an empty list, not null, so playbooks can take its length")
	assert.Equal(t, ph302Sizes, out.Sizes)
	assert.Equal(t, 2800, out.TotalGB)
	assert.Equal(t, volumes.VerifyCounts{Planned: 47, Found: 47, Attached: 47, Matching: 47}, out.Counts)
	assert.Equal(t, "47 planned, 47 found, 47 attached as planned; sizes 2×10 GB, 19×20 GB, 5×30 GB, 11×50 GB, "+
		"6×100 GB, 3×200 GB, 1×500 GB; total 2800 GB; 0 problems", out.Msg)
	for i, r := range out.Rows {
		e := p.Volumes[i]
		assert.Equal(t, volumes.Row{
			Volume: e.Name(), Hostname: e.Hostname, ID: f.volume(t, e.Name()).ID, SizeGB: e.SizeGB,
			Location: f.servers[e.Hostname].Location.Name, Server: e.Hostname, OK: true, LinuxDevice: f.volume(t, e.Name()).LinuxDevice,
		}, r)
	}
	assert.NotContains(t, text, simtest.Token)
}

func TestVerifyReportsDrift(t *testing.T) {
	p := roPlan(t)
	cases := []struct {
		name    string
		arrange func(t *testing.T, f *roFleet)
		want    func(f *roFleet) []string
		counts  volumes.VerifyCounts
		total   int
	}{
		{
			name: "wrong size",
			arrange: func(t *testing.T, f *roFleet) {
				a, r, err := f.hc.Volume.Resize(context.Background(), f.volume(t, "kbv3-crm-01-data"), 30)
				f.wait(t, a, r, err)
			},
			want:   func(*roFleet) []string { return []string{"Volume kbv3-crm-01-data is 30 GB; the plan says 20 GB."} },
			counts: volumes.VerifyCounts{Planned: 47, Found: 47, Attached: 47, Matching: 46},
			total:  2810,
		},
		{
			name: "detached",
			arrange: func(t *testing.T, f *roFleet) {
				a, r, err := f.hc.Volume.Detach(context.Background(), f.volume(t, "kbv3-crm-01-data"))
				f.wait(t, a, r, err)
			},
			want: func(*roFleet) []string {
				return []string{"Volume kbv3-crm-01-data is not attached; the plan attaches it to crm-01."}
			},
			counts: volumes.VerifyCounts{Planned: 47, Found: 47, Attached: 46, Matching: 46},
			total:  2800,
		},
		{
			name: "wrong server",
			arrange: func(t *testing.T, f *roFleet) {
				ctx := context.Background()
				v := f.volume(t, "kbv3-crm-01-data")
				a, r, err := f.hc.Volume.Detach(ctx, v)
				f.wait(t, a, r, err)
				a, r, err = f.hc.Volume.Attach(ctx, v, f.neighbour(t, "crm-01"))
				f.wait(t, a, r, err)
			},
			want: func(f *roFleet) []string {
				return []string{fmt.Sprintf("Volume kbv3-crm-01-data is attached to %s; the plan attaches it to crm-01.", f.neighbourName("crm-01"))}
			},
			counts: volumes.VerifyCounts{Planned: 47, Found: 47, Attached: 46, Matching: 46},
			total:  2800,
		},
		{
			name: "wrong location and detached",
			arrange: func(t *testing.T, f *roFleet) {
				ctx := context.Background()
				v := f.volume(t, "kbv3-crm-01-data")
				a, r, err := f.hc.Volume.Detach(ctx, v)
				f.wait(t, a, r, err)
				_, err = f.hc.Volume.Delete(ctx, v)
				require.NoError(t, err)
				res, _, err := f.hc.Volume.Create(ctx, hcloud.VolumeCreateOpts{
					Name: "kbv3-crm-01-data", Size: 20, Location: &hcloud.Location{Name: f.elsewhere("crm-01")},
				})
				require.NoError(t, err)
				f.wait(t, res.Action, nil, nil)
			},
			want: func(f *roFleet) []string {
				return []string{
					"Volume kbv3-crm-01-data is not attached; the plan attaches it to crm-01.",
					fmt.Sprintf("Volume kbv3-crm-01-data is in %s; its server crm-01 is in %s.", f.elsewhere("crm-01"), f.servers["crm-01"].Location.Name),
				}
			},
			counts: volumes.VerifyCounts{Planned: 47, Found: 47, Attached: 46, Matching: 46},
			total:  2800,
		},
		{
			name: "missing",
			arrange: func(t *testing.T, f *roFleet) {
				ctx := context.Background()
				v := f.volume(t, "kbv3-backup-01-data")
				a, r, err := f.hc.Volume.Detach(ctx, v)
				f.wait(t, a, r, err)
				_, err = f.hc.Volume.Delete(ctx, v)
				require.NoError(t, err)
			},
			want:   func(*roFleet) []string { return []string{"Volume kbv3-backup-01-data (backup-01) does not exist."} },
			counts: volumes.VerifyCounts{Planned: 47, Found: 46, Attached: 46, Matching: 46},
			total:  2300,
		},
		{
			name: "forbidden vol-* left",
			arrange: func(t *testing.T, f *roFleet) {
				res, _, err := f.hc.Volume.Create(context.Background(), hcloud.VolumeCreateOpts{Name: "vol-crm-01", Size: 20, Server: f.servers["crm-01"]})
				require.NoError(t, err)
				require.NoError(t, f.hc.Action.WaitFor(context.Background(), append(res.NextActions, res.Action)...))
			},
			want: func(f *roFleet) []string {
				return []string{fmt.Sprintf("Volume vol-crm-01 (id %d, 20 GB, attached to crm-01) matches the forbidden pattern vol-* and still exists.",
					f.volumeID("vol-crm-01"))}
			},
			counts: volumes.VerifyCounts{Planned: 47, Found: 47, Attached: 47, Matching: 47, ForbiddenLeft: 1},
			total:  2800,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := roMatching(t, p)
			tc.arrange(t, f)

			out, _ := f.verify(t, p, nil)
			assert.True(t, out.Failed)
			assert.False(t, out.Changed)
			assert.Equal(t, tc.want(f), out.Problems)
			assert.Equal(t, tc.counts, out.Counts)
			assert.Equal(t, tc.total, out.TotalGB)
			assert.Contains(t, out.Msg, tc.want(f)[0])

			out, _ = f.verify(t, p, map[string]any{"fail_on_problems": false})
			assert.False(t, out.Failed)
		})
	}
}

// neighbour is another server in the same location as host, so that the volume can be attached
// to it.
func (f *roFleet) neighbour(t *testing.T, host string) *hcloud.Server {
	t.Helper()
	sv := f.servers[f.neighbourName(host)]
	require.NotNil(t, sv, "no other server in the location of %s", host)
	return sv
}

func (f *roFleet) neighbourName(host string) string {
	loc := f.servers[host].Location.Name
	for _, name := range slices.Sorted(maps.Keys(f.servers)) {
		if name != host && f.servers[name].Location.Name == loc {
			return name
		}
	}
	return ""
}

// elsewhere is a location of the fleet other than host's.
func (f *roFleet) elsewhere(host string) string {
	for _, name := range slices.Sorted(maps.Keys(f.servers)) {
		if loc := f.servers[name].Location.Name; loc != f.servers[host].Location.Name {
			return loc
		}
	}
	return ""
}

func (f *roFleet) volumeID(name string) int64 {
	v, _, err := f.hc.Volume.GetByName(context.Background(), name)
	if err != nil || v == nil {
		return 0
	}
	return v.ID
}

func TestVerifyRejectsBadOptionsBeforeAnyRequest(t *testing.T) {
	p := roPlan(t)
	cases := []struct {
		name  string
		args  map[string]any
		wants []string
	}{
		{
			name:  "plan entry",
			args:  map[string]any{"volumes": []map[string]any{{"hostname": "crm-01", "size_gb": 5}}},
			wants: []string{"volumes[0] (crm-01)", "size_gb"},
		},
		{
			name:  "forbidden glob",
			args:  map[string]any{"forbidden": []string{"vol-["}},
			wants: []string{`forbidden[0] "vol-["`},
		},
		{
			name:  "forbidden pattern matching the plan",
			args:  map[string]any{"forbidden": []string{"vol-*", "kbv3-*"}},
			wants: []string{`forbidden[1] "kbv3-*" matches kbv3-analytics-01-data, a volume of the plan (analytics-01)`},
		},
		{
			name:  "missing volumes",
			args:  map[string]any{"volumes": nil},
			wants: []string{"volumes"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := roStart(t)
			f.sim.ResetStats()
			args := map[string]any{"api_token": simtest.Token, "api_endpoint": f.endpoint, "volumes": p.Volumes}
			for k, v := range tc.args {
				args[k] = v
			}
			var out verifyOut
			text := roExec(t, volumes.VerifySpec, volumes.Verify, args, &out)
			assert.True(t, out.Failed)
			for _, w := range tc.wants {
				assert.Contains(t, out.Msg, w)
			}
			assert.NotContains(t, text, simtest.Token)
			assert.Zero(t, f.sim.Stats().Requests.Total)
		})
	}
}

func TestVerifyWritesTheMarkdownReport(t *testing.T) {
	p := roPlan(t)
	f := roMatching(t, p)
	dir := t.TempDir()
	report := filepath.Join(dir, "reports", "nested", "volume_reset_v3.md")

	out, _ := f.verify(t, p, map[string]any{"report_path": report, "_ansible_check_mode": true})
	assert.False(t, out.Changed)
	assert.NoFileExists(t, report, "check mode writes nothing")
	assert.NoDirExists(t, filepath.Dir(report))

	out, _ = f.verify(t, p, map[string]any{"report_path": report})
	assert.False(t, out.Changed, "verify never reports a change")
	data, err := os.ReadFile(report)
	require.NoError(t, err)
	md := string(data)
	backup := f.volume(t, "kbv3-backup-01-data")
	for _, want := range []string{
		"# Volume verification\n",
		"**Status:** ✅ as planned\n",
		"- Volumes planned: 47\n- Found: 47\n- Attached to their server: 47\n- Matching the plan: 47\n- Forbidden volumes left: 0\n",
		"| Hostname | Volume name | Role | Planned (GB) | Size (GB) | Location | Server attached | Device | Status |\n",
		fmt.Sprintf("| backup-01 | kbv3-backup-01-data | backup | 500 | 500 | %s | backup-01 | %s | ✅ |\n", backup.Location.Name, backup.LinuxDevice),
		"| Size (GB) | Volumes | Total (GB) |\n|----------:|--------:|-----------:|\n" +
			"| 10 | 2 | 20 |\n| 20 | 19 | 380 |\n| 30 | 5 | 150 |\n| 50 | 11 | 550 |\n| 100 | 6 | 600 |\n| 200 | 3 | 600 |\n| 500 | 1 | 500 |\n" +
			"| **Total** | **47** | **2800** |\n",
		"Patterns: `vol-*`.\n\nNone.\n",
		"## Problems\n\nNone.\n",
	} {
		assert.Contains(t, md, want)
	}
	assert.Equal(t, 47, strings.Count(md, "| ✅ |"))
	assert.NotContains(t, md, simtest.Token)
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(report), ".*"))
	assert.Empty(t, matches, "no temporary file left behind")
	info, err := os.Stat(report)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())
}

func TestVerifyReportShowsProblems(t *testing.T) {
	p := roPlan(t)
	f := roStart(t)
	report := filepath.Join(t.TempDir(), "report.md")
	out, _ := f.verify(t, p, map[string]any{"report_path": report, "fail_on_problems": false})
	require.False(t, out.Failed)
	data, err := os.ReadFile(report)
	require.NoError(t, err)
	md := string(data)
	assert.Contains(t, md, "**Status:** ❌ 87 problems\n")
	assert.Contains(t, md, "| crm-01 | kbv3-crm-01-data | apps_misc | 20 | — | — | — | — | ❌ missing |\n")
	assert.Contains(t, md, "| **Total** | **0** | **0** |\n")
	assert.Contains(t, md, "| vol-crm-01 | ")
	assert.Contains(t, md, "- Volume kbv3-crm-01-data (crm-01) does not exist.\n")
	assert.Equal(t, 87, strings.Count(md, "\n- Volume "))
}

// Entries that carry their server's id, as the reset's stage 0 hands them on, spare
// the verification the servers' listing; a plan volume found on a server no entry names still
// gets that server's name, from the listing read for it.
func TestVerifyReadsNoServerStage0Resolved(t *testing.T) {
	p := roPlan(t)
	f := roMatching(t, p)
	// As stage 0 hands them on: the server's id, the plan's location (none here).
	resolved := make([]plan.Entry, len(p.Volumes))
	for i, e := range p.Volumes {
		e.ServerID = f.servers[e.Hostname].ID
		resolved[i] = e
	}
	for _, tc := range []struct {
		name    string
		arrange func(t *testing.T)
		servers int
		problem string
	}{
		{name: "every volume on a known server", servers: 0},
		{name: "a volume moved to a server outside the plan", servers: 1, arrange: func(t *testing.T) {
			ctx := context.Background()
			v := f.volume(t, resolved[0].Name())
			a, r, err := f.hc.Volume.Detach(ctx, v)
			f.wait(t, a, r, err)
			sv, _, err := f.hc.Server.Create(ctx, hcloud.ServerCreateOpts{Name: "outsider-01", ServerType: &hcloud.ServerType{Name: "cx22"},
				Image: &hcloud.Image{Name: "debian-12"}, Location: f.servers[resolved[0].Hostname].Location})
			require.NoError(t, err)
			require.NoError(t, f.hc.Action.WaitFor(ctx, append([]*hcloud.Action{sv.Action}, sv.NextActions...)...))
			a, r, err = f.hc.Volume.Attach(ctx, v, sv.Server)
			f.wait(t, a, r, err)
		}, problem: "Volume " + resolved[0].Name() + " is attached to outsider-01; the plan attaches it to " + resolved[0].Hostname + "."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.arrange != nil {
				tc.arrange(t)
			}
			f.sim.ResetStats()
			out, _ := f.verify(t, plan.New(resolved), map[string]any{"volumes": resolved})
			st := f.sim.Stats().Requests
			assert.Equal(t, tc.servers, st.ByRoute["GET /v1/servers"], "server listings: %v", st.ByRoute)
			assert.Equal(t, 1, st.ByRoute["GET /v1/volumes"], "volume listings: %v", st.ByRoute)
			if tc.problem == "" {
				assert.Empty(t, out.Problems)
				assert.Equal(t, 47, out.Counts.Matching)
				return
			}
			assert.Equal(t, []string{tc.problem}, out.Problems)
		})
	}
}
