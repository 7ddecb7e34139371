package volumes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// TestResetPH302 runs the stages of playbooks/volume_reset_v3.yml on the PH3-02 fleet, in
// batches of 10 as the playbook does: first all in check mode (no mutating request), then for
// real, each stage doing exactly what check mode said; then again, changing nothing.
func TestResetPH302(t *testing.T) {
	r := newRig(t, sim.Config{})
	p, err := plan.Load("../../servers/volume_plan_v3.json")
	require.NoError(t, err)
	require.Len(t, p.Volumes, 47)
	var entries []map[string]any
	b, err := json.Marshal(p.Volumes)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &entries))
	var deletes []map[string]any
	for _, name := range keys(r.volumes()) {
		if name != "keybuzz-archive-01" {
			deletes = append(deletes, r.entryOf(name))
		}
	}
	require.Len(t, deletes, 40)

	type stage struct {
		name string
		run  func(args map[string]any, check bool) outcome
		list []map[string]any
		args map[string]any
	}
	// The playbook's order: the new volumes are attached before the old ones are detached, by
	// the delete stage.
	stages := []stage{
		{"create", r.create, entries, nil},
		{"attach", r.attach, entries, nil},
		{"delete", r.delete, deletes, map[string]any{"detach": true}},
	}
	runStage := func(s stage, check bool) outcome {
		var all outcome
		for i := 0; i < len(s.list); i += 10 {
			args := map[string]any{"volumes": s.list[i:min(i+10, len(s.list))]}
			for k, v := range s.args {
				args[k] = v
			}
			out := s.run(args, check)
			require.False(t, out.Failed, "%s: %s", s.name, out.Msg)
			all.Changed = all.Changed || out.Changed
			all.Volumes = append(all.Volumes, out.Volumes...)
			all.Diff = append(all.Diff, out.Diff...)
			all.mutating += out.mutating
		}
		return all
	}

	checks := make([]outcome, len(stages))
	for i, s := range stages {
		checks[i] = runStage(s, true)
	}
	want := map[string]string{"delete": "deleted", "create": "created", "attach": "attached"}
	for i, s := range stages {
		out := runStage(s, false)
		assertPredicts(t, checks[i], out)
		for _, it := range out.Volumes {
			assert.Equal(t, want[s.name], it.Action, "%s %s", s.name, it.Volume)
		}
	}

	vols := r.volumes()
	assert.Len(t, vols, 48, "the 47 plan volumes and the archive, which was not listed")
	assert.Contains(t, vols, "keybuzz-archive-01")
	servers := map[string]string{}
	for _, sv := range r.sim.Store().State().Servers {
		servers[sv.Name] = sv.Location.Name
	}
	for _, e := range p.Volumes {
		v := vols[e.Name()]
		assert.Equal(t, live{ID: v.ID, Size: e.SizeGB, Location: servers[e.Hostname], Server: e.Hostname, Labels: e.Labels}, v, e.Name())
	}

	for _, s := range stages {
		out := runStage(s, false)
		assert.False(t, out.Changed, s.name)
		assert.Zero(t, out.mutating, s.name)
	}
}

// plainFleet is five servers app-01..05 in fsn1, each with a detached 10 GB kbv3-<host>-data.
func plainFleet() *sim.Scenario {
	sc := &sim.Scenario{}
	for i := 1; i <= 5; i++ {
		host := fmt.Sprintf("app-%02d", i)
		sc.Servers = append(sc.Servers, sim.ScenarioServer{Name: host, Location: "fsn1"})
		sc.Volumes = append(sc.Volumes, sim.ScenarioVolume{Name: "kbv3-" + host + "-data", Size: 10, Location: "fsn1"})
	}
	return sc
}

// plainEntries are the plan entries of plainFleet's volumes.
func plainEntries() []map[string]any {
	var out []map[string]any
	for i := 1; i <= 5; i++ {
		out = append(out, map[string]any{"hostname": fmt.Sprintf("app-%02d", i), "size_gb": 10})
	}
	return out
}

// failedItems are the items of out whose action is failed.
func failedItems(out outcome) []Item {
	var failed []Item
	for _, it := range out.Volumes {
		if it.Action == ActionFailed {
			failed = append(failed, it)
		}
	}
	return failed
}

func TestFaults(t *testing.T) {

	t.Run("locked on attach is retried", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: plainFleet()})
		r.fault("POST /v1/volumes/*/actions/attach status=423 code=locked nth=1 count=4")
		out := r.attach(map[string]any{"volumes": plainEntries()}, false)
		assert.False(t, out.Failed, out.Msg)
		assert.Equal(t, "attached: 5", out.Msg)
		assert.Equal(t, 4, r.sim.Stats().FaultsHit)
		assert.Equal(t, 9, r.sim.Stats().Requests.ByRoute["POST /v1/volumes/{id}/actions/attach"])
	})

	t.Run("503 is retried", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: smallFleet()})
		r.fault("POST /v1/volumes/*/actions/detach status=503 code=unavailable nth=1 count=2")
		out := r.detach(map[string]any{"volumes": []map[string]any{{"name": "vol-app-01"}, {"name": "vol-db-01"}}}, false)
		assert.Equal(t, "detached: 2", out.Msg)
		assert.Equal(t, 2, r.sim.Stats().FaultsHit)
	})

	t.Run("a lost answer to a create does not create twice", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: smallFleet()})
		r.fault("POST /v1/volumes effect=drop nth=1 count=1")
		out := r.create(map[string]any{"volumes": []map[string]any{{"hostname": "app-01", "size_gb": 10}}}, false)
		assert.Equal(t, "created: 1", out.Msg)
		assert.Len(t, r.volumes(), 6)
	})

	t.Run("an action that ends in error fails its item with the cause", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: plainFleet()})
		r.fault("POST /v1/volumes/*/actions/attach effect=action_error nth=2 count=1")
		out := r.attach(map[string]any{"volumes": plainEntries()}, false)
		assert.True(t, out.Failed)
		failed := failedItems(out)
		require.Len(t, failed, 1, out.Msg)
		assert.Regexp(t, `^attach_volume action \d+ on volume kbv3-app-0\d-data failed: \w+: .+`, failed[0].Error)
		assert.True(t, strings.HasPrefix(out.Msg, "attached: 4, failed: 1; attach_volume action "), out.Msg)
		assert.Equal(t, 1, strings.Count(out.Msg, failed[0].Volume), "msg names the volume once: %s", out.Msg)
	})

	t.Run("an action that never ends: the call ends at its timeout, the others done", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: plainFleet()})
		r.fault("POST /v1/volumes/*/actions/attach effect=action_stuck nth=3 count=1")
		out := r.attach(map[string]any{"volumes": plainEntries(), "timeout": 1}, false)
		assert.Less(t, out.elapsed, 2500*time.Millisecond, "ends at the timeout, not later")
		assert.True(t, out.Failed)
		failed := failedItems(out)
		require.Len(t, failed, 1, out.Msg)
		assert.Regexp(t, `^waiting for attach_volume action \d+ on volume kbv3-app-0\d-data: deadline exceeded after `, failed[0].Error)
		assert.True(t, strings.HasPrefix(out.Msg, "attached: 4, failed: 1"), out.Msg)
	})

	t.Run("a wrong token fails before anything, without printing it", testWrongToken)
	t.Run("the operation log has a line per operation and no token", testOperationLog)
}

func testWrongToken(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	const wrong = "wrongTokenZ9yX8wV7uT6sR5qP4oN3mL2kJ1iH0gF9eD8cB7aZ6yX5wV4uT3sR2qP1"
	out := r.detach(map[string]any{"api_token": wrong, "name": "vol-app-01"}, false)
	assert.True(t, out.Failed)
	assert.Contains(t, out.Msg, "unauthorized")
	b, err := json.Marshal(out)
	require.NoError(t, err)
	assert.NotContains(t, string(b)+out.Msg, wrong)
	assert.Equal(t, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", out.Invocation.ModuleArgs["api_token"])
}

func testOperationLog(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	path := t.TempDir() + "/ops.jsonl"
	out := r.detach(map[string]any{"log_path": path, "volumes": []map[string]any{{"name": "vol-app-01"}, {"name": "vol-spare"}}}, false)
	assert.Equal(t, "detached: 1, already_detached: 1", out.Msg)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"outcome":"detached"`)
	assert.Contains(t, string(data), `"outcome":"already_detached"`)
	assert.Contains(t, string(data), `"module":"kbv3_volume_detach"`)
}

// TestStagesFromThePreparation runs the reset as playbooks/volume_reset_v3.yml does: stage 0
// (info with plan_path and diff_path) decides the work, and each stage works through its todo
// list in batches of 10. The todo entries carry the servers stage 0 resolved, so that no batch
// reads the servers again; the create and attach batches read no volume (lookup: false, the
// attaches by the ids the creates reported), and a delete batch one volume list for its
// detaches and deletes.
func TestStagesFromThePreparation(t *testing.T) {
	r := newRig(t, sim.Config{})
	dir := t.TempDir()
	planPath, diffPath := "../../servers/volume_plan_v3.json", dir+"/volume_diff_v3.json"
	p, err := plan.Load(planPath)
	require.NoError(t, err)

	runInfo(t, r, map[string]any{"plan": p.Volumes, "delete_names": []string{"vol-*"}, "diff_dest": diffPath})
	out := runInfo(t, r, map[string]any{"plan_path": planPath, "diff_path": diffPath})
	b, err := json.Marshal(out["reset"])
	require.NoError(t, err)
	var prep Preparation
	require.NoError(t, json.Unmarshal(b, &prep))
	require.Len(t, prep.Todo.Detach, 40)
	require.Len(t, prep.Todo.Create, 47)

	assertTodoResolved(t, r, p, prep)
	runStagesInBatches(t, r, prep)
	vols := r.volumes()
	for _, e := range p.Volumes {
		assert.Equal(t, e.Hostname, vols[e.Name()].Server, e.Name())
	}
}

// runInfo runs kbv3_volume_info against r with args and requires it not to fail.
func runInfo(t *testing.T, r *rig, args map[string]any) map[string]any {
	t.Helper()
	a := map[string]any{"api_token": simtest.Token, "api_endpoint": r.endpoint, "_ansible_module_name": InfoSpec.Name}
	maps.Copy(a, args)
	data, err := json.Marshal(a)
	require.NoError(t, err)
	var buf bytes.Buffer
	ansible.Execute(t.Context(), InfoSpec, data, nil, &buf, Info)
	var out map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &out), buf.String())
	require.NotEqual(t, true, out["failed"], out["msg"])
	return out
}

// assertTodoResolved checks that the todo entries carry the servers' ids and locations as the
// simulator has them, and that the plan entries come back unchanged.
func assertTodoResolved(t *testing.T, r *rig, p *plan.Plan, prep Preparation) {
	t.Helper()
	servers := map[string]int64{}
	locations := map[string]string{}
	for _, sv := range r.sim.Store().State().Servers {
		servers[sv.Name], locations[sv.Name] = sv.ID, sv.Location.Name
	}
	for _, e := range prep.Todo.Detach {
		assert.Equal(t, servers[e.Server], e.ServerID, e.Name)
	}
	for _, e := range prep.Todo.Attach {
		assert.Equal(t, servers[e.Hostname], e.ServerID, e.Hostname)
		assert.Equal(t, locations[e.Hostname], e.Location, e.Hostname)
	}
	for i, e := range prep.Entries {
		want := p.Volumes[i]
		want.ServerID = servers[want.Hostname]
		assert.Equal(t, want, e, "the plan entries, with their server's id only")
		assert.Zero(t, p.Volumes[i].ServerID, "the plan itself is not changed")
	}
}

// runStagesInBatches runs each stage's todo list in batches of 10, as the playbook does (the
// create and attach stages with lookup: false, the attaches given the ids the creates reported),
// and checks that no batch reads the servers, that the create and attach batches read no volume
// and that a delete batch reads the volumes once.
func runStagesInBatches(t *testing.T, r *rig, prep Preparation) {
	t.Helper()
	asArgs := func(v any) []map[string]any {
		var out []map[string]any
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &out))
		return out
	}
	created := map[string]int64{} // host: the id of the volume the create stage made for it
	withIDs := func(entries []map[string]any) []map[string]any {
		for _, e := range entries {
			if id, ok := created[e["hostname"].(string)]; ok {
				e["id"] = id
			}
		}
		return entries
	}
	for _, s := range []struct {
		name  string
		run   func(args map[string]any, check bool) outcome
		list  func() []map[string]any
		args  map[string]any
		reads func(batches int) int
	}{
		{"create", r.create, func() []map[string]any { return asArgs(prep.Todo.Create) }, map[string]any{"lookup": false}, func(int) int { return 0 }},
		{"attach", r.attach, func() []map[string]any { return withIDs(asArgs(prep.Todo.Attach)) }, map[string]any{"lookup": false}, func(int) int { return 0 }},
		{"delete", r.delete, func() []map[string]any { return asArgs(prep.Todo.Delete) }, map[string]any{"detach": true}, func(n int) int { return n }},
	} {
		before := r.sim.Stats().Requests.ByRoute
		batches := 0
		list := s.list()
		for i := 0; i < len(list); i += 10 {
			args := map[string]any{"volumes": list[i:min(i+10, len(list))]}
			maps.Copy(args, s.args)
			out := s.run(args, false)
			require.False(t, out.Failed, "%s: %s", s.name, out.Msg)
			for _, it := range out.Volumes {
				if it.Action == "created" {
					created[it.Host] = it.ID
				}
			}
			batches++
		}
		after := r.sim.Stats().Requests.ByRoute
		assert.Equal(t, before["GET /v1/servers"], after["GET /v1/servers"], "%s: no server read", s.name)
		assert.Equal(t, s.reads(batches), after["GET /v1/volumes"]-before["GET /v1/volumes"], "%s: volume lists", s.name)
	}
}

// Stage 0 sends the old volumes in id order, whatever the diff's order, so that each delete
// batch finds its volumes on the first page of the listing, the lowest ids once the batches
// before it are deleted: one read per batch in a project of several pages, not 1 + 10 lookups.
// A detach batch finds its neighbouring ids on the page it seeks (hz, lister.seek).
func TestOldVolumesGoInIDOrder(t *testing.T) {
	r := newRig(t, sim.Config{Scenario: "generated:120"})
	dir := t.TempDir()
	planPath, diffPath := dir+"/plan.json", dir+"/diff.json"
	p := &plan.Plan{Version: 1}
	for _, sv := range r.sim.Store().State().Servers {
		p.Volumes = append(p.Volumes, plan.Entry{Hostname: sv.Name, SizeGB: 10})
	}
	data, err := p.Encode()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(planPath, data, 0o600))
	r.writeDiff(planPath, diffPath)
	d, err := plan.LoadDiff(diffPath)
	require.NoError(t, err)
	require.Len(t, d.Delete, 120)
	ids := func(list []plan.DeleteEntry) []int64 {
		var out []int64
		for _, e := range list {
			out = append(out, e.ID)
		}
		return out
	}
	require.False(t, slices.IsSorted(ids(d.Delete)), "the diff lists them by name, not by id: the test needs both orders to differ")

	prep, _ := r.stage0(planPath, diffPath, false)
	require.Len(t, prep.Todo.Delete, 120)
	assert.True(t, slices.IsSorted(ids(prep.Todo.Detach)), "detach in id order")
	assert.True(t, slices.IsSorted(ids(prep.Todo.Delete)), "delete in id order")

	// The old volumes are the project's lowest ids: each detach entry says where it stands.
	for i, e := range prep.Todo.Detach {
		assert.Equal(t, i+1, e.Position, e.Name)
	}
	for _, e := range prep.Todo.Delete {
		assert.Zero(t, e.Position, "a delete batch reads the first page anyway: %s", e.Name)
	}
	for i := 0; i < len(prep.Todo.Detach); i += 10 {
		before := r.sim.Stats().Requests.ByRoute["GET /v1/volumes"]
		out := r.detach(map[string]any{"volumes": jsonArgs[[]map[string]any](t, prep.Todo.Detach[i:min(i+10, len(prep.Todo.Detach))])}, false)
		require.False(t, out.Failed, out.Msg)
		// The page the batch's positions are on, and only that one.
		assert.Equal(t, 1, r.sim.Stats().Requests.ByRoute["GET /v1/volumes"]-before, "detach batch %d", i/10+1)
	}
	for i := 0; i < len(prep.Todo.Delete); i += 10 {
		before := r.sim.Stats().Requests.ByRoute["GET /v1/volumes"]
		out := r.delete(map[string]any{"detach": true, "volumes": jsonArgs[[]map[string]any](t, prep.Todo.Delete[i:min(i+10, len(prep.Todo.Delete))])}, false)
		require.False(t, out.Failed, out.Msg)
		assert.Equal(t, []string{"deleted"}, slices.Compact(out.actions()), out.Msg)
		assert.Equal(t, 1, r.sim.Stats().Requests.ByRoute["GET /v1/volumes"]-before, "delete batch %d: one page", i/10+1)
	}
	assert.Empty(t, r.volumes(), "every old volume deleted")
}
