package tests

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// badFile is a bad plan or diff given to playbooks/volume_reset_v3.yml: the play must fail,
// naming the entry at fault, before any mutating request.
type badFile struct {
	name string
	// plan and diff edit the fleet's plan and diff (decoded JSON) or replace them (raw).
	plan    func(p map[string]any)
	diff    func(d map[string]any, st simproc.State)
	rawPlan string
	rawDiff string
	// noDiff runs the reset without a diff file, as before the diff playbook was ever run.
	noDiff bool
	// extra adds volumes to the fleet before the run (e.g. a plan volume that exists).
	extra []e2e.Volume
	want  []string
}

func badFiles() []badFile {
	vols := func(p map[string]any) []any { return p["volumes"].([]any) }
	entry := func(p map[string]any, i int) map[string]any { return vols(p)[i].(map[string]any) }
	dels := func(d map[string]any) []any { return d["delete"].([]any) }
	return []badFile{
		{name: "plan malformed JSON", rawPlan: `{"version": 1, "volumes": [{"hostname": "web-01", "size_gb": 20}`, want: []string{"plan"}},
		{name: "plan empty", plan: func(p map[string]any) { p["volumes"] = []any{} }, want: []string{"no volumes"}},
		{name: "plan duplicate hostnames in two batches", plan: func(p map[string]any) {
			entry(p, 4)["hostname"] = "web-01"
		}, want: []string{"web-01", "duplicate"}},
		{name: "plan duplicate volume names in two batches", plan: func(p map[string]any) {
			entry(p, 0)["volume"] = "shared-data"
			entry(p, 5)["volume"] = "shared-data"
		}, want: []string{"shared-data", "duplicate"}},
		{name: "plan size 9", plan: func(p map[string]any) { entry(p, 3)["size_gb"] = 9 }, want: []string{"db-02", "9"}},
		{name: "plan size 10241", plan: func(p map[string]any) { entry(p, 5)["size_gb"] = 10241 }, want: []string{"backup-01", "10241"}},
		{name: "plan unknown field", plan: func(p map[string]any) { entry(p, 1)["sise_gb"] = 20 }, want: []string{"sise_gb"}},
		{name: "plan server_id", plan: func(p map[string]any) { entry(p, 2)["server_id"] = 7 }, want: []string{"volumes[2]", "server_id"}},
		{name: "diff missing", noDiff: true, want: []string{"diff_path", "does not exist", "volume_diff_v3 playbook"}},
		{name: "diff deletes a plan volume", extra: []e2e.Volume{{Name: "kbv3-web-01-data", Size: 20, Server: "web-01"}},
			diff: func(d map[string]any, st simproc.State) {
				v, _ := st.Volume("kbv3-web-01-data")
				d["delete"] = append(dels(d), map[string]any{"id": v.ID, "name": v.Name, "server": "web-01", "size_gb": 20})
			}, want: []string{"kbv3-web-01-data", "plan"}},
		{name: "diff deletes a volume its selector does not select", diff: func(d map[string]any, st simproc.State) {
			v, _ := st.Volume(e2e.ArchiveVolume)
			d["delete"] = append(dels(d), map[string]any{"id": v.ID, "name": v.Name, "server": "backup-01", "size_gb": 100})
		}, want: []string{e2e.ArchiveVolume, "selector"}},
		{name: "diff malformed JSON", rawDiff: `{"version": 1, "delete": [`, want: []string{"diff"}},
		{name: "diff version 2", diff: func(d map[string]any, _ simproc.State) { d["version"] = 2 }, want: []string{"version"}},
		{name: "diff duplicate delete entries", diff: func(d map[string]any, _ simproc.State) {
			d["delete"] = append(dels(d), dels(d)[0])
		}, want: []string{"vol-cache-01-old", "duplicate"}},
		{name: "diff delete entry with unknown field", diff: func(d map[string]any, _ simproc.State) {
			dels(d)[1].(map[string]any)["force"] = true
		}, want: []string{"force"}},
		{name: "diff delete entry without id", diff: func(d map[string]any, _ simproc.State) {
			delete(dels(d)[2].(map[string]any), "id")
		}, want: []string{"vol-db-02", "id"}},
	}
}

// TestBadInputFiles runs the reset playbook with each bad plan or diff, in parallel, each
// against its own simulator.
func TestBadInputFiles(t *testing.T) {
	root := relRoot(t)
	base := e2e.SmallFleet()
	diff := relDiff(t, base)
	for _, c := range badFiles() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := base
			f.Volumes = append(append([]e2e.Volume{}, base.Volumes...), c.extra...)
			s := relSim(t, f, simproc.Token)
			w, err := e2e.NewWorkspace(t.TempDir(), f)
			if err != nil {
				t.Fatal(err)
			}
			st := relState(t, s)
			c.write(t, w, f.PlanJSON(), diff, st)
			if err := s.ResetStats(); err != nil {
				t.Fatal(err)
			}
			r, err := w.Playbook(context.Background(), e2e.PlaybookOptions{Root: root, Playbook: "playbooks/volume_reset_v3.yml", Env: s.Env(),
				Vars: map[string]any{"batch_size": 3, "batch_timeout": 30}, Deadline: 3 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			stats := relStats(t, s)
			p := &relProblems{t: t}
			if r.Succeeded() || r.Code == 0 {
				p.add("the reset did not fail (exit %d)", r.Code)
			}
			account := strings.Join(e2e.FailedLines(r.Output), "\n")
			for _, w := range c.want {
				if !strings.Contains(strings.ToLower(account), strings.ToLower(w)) {
					p.add("the failure does not name %q", w)
				}
			}
			if stats.Requests.Mutating != 0 {
				p.add("%d mutating requests reached the API: %v", stats.Requests.Mutating, stats.Requests.ByRoute)
			}
			for _, q := range e2e.Safe(relWant(f, nil), st, relState(t, s)) {
				p.add("fleet changed: %s", q)
			}
			if len(p.list) > 0 {
				t.Logf("output:\n%s", r.Output)
			} else {
				t.Logf("%s (%v)", account, r.Duration.Round(time.Millisecond))
			}
			p.done()
		})
	}
}

// write puts the case's plan and diff files into w: the raw text when the case gives one, else
// planJSON and diff with the case's edits (st is the fleet, for the ids).
func (c badFile) write(t *testing.T, w *e2e.Workspace, planJSON, diff []byte, st simproc.State) {
	t.Helper()
	planBytes := []byte(c.rawPlan)
	if c.rawPlan == "" {
		var p map[string]any
		if err := json.Unmarshal(planJSON, &p); err != nil {
			t.Fatal(err)
		}
		if c.plan != nil {
			c.plan(p)
		}
		planBytes, _ = json.MarshalIndent(p, "", "  ")
	}
	diffBytes := []byte(c.rawDiff)
	if c.rawDiff == "" {
		var d map[string]any
		if err := json.Unmarshal(diff, &d); err != nil {
			t.Fatal(err)
		}
		if c.diff != nil {
			c.diff(d, st)
		}
		diffBytes, _ = json.MarshalIndent(d, "", "  ")
	}
	if err := os.WriteFile(w.Plan, planBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.Diff, diffBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if c.noDiff {
		if err := os.Remove(w.Diff); err != nil {
			t.Fatal(err)
		}
	}
}
