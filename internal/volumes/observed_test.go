package volumes

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// stage0 runs kbv3_volume_info as the reset's stage 0 does and returns its preparation and the
// requests the call made.
func (r *rig) stage0(planPath, diffPath string, check bool) (Preparation, int) {
	r.t.Helper()
	a := map[string]any{
		"api_token": simtest.Token, "api_endpoint": r.endpoint, "_ansible_module_name": InfoSpec.Name,
		"_ansible_check_mode": check, "plan_path": planPath, "diff_path": diffPath,
	}
	data, err := json.Marshal(a)
	require.NoError(r.t, err)
	before := r.sim.Stats().Requests.Total
	var buf bytes.Buffer
	ansible.Execute(r.t.Context(), InfoSpec, data, nil, &buf, Info)
	var out struct {
		Failed bool        `json:"failed"`
		Msg    string      `json:"msg"`
		Reset  Preparation `json:"reset"`
	}
	require.NoError(r.t, json.Unmarshal(buf.Bytes(), &out), buf.String())
	require.False(r.t, out.Failed, out.Msg)
	return out.Reset, r.sim.Stats().Requests.Total - before
}

// writeDiff computes and writes the PH3-02 diff (every vol-* volume deleted).
func (r *rig) writeDiff(planPath, diffPath string) {
	r.t.Helper()
	p, err := plan.Load(planPath)
	require.NoError(r.t, err)
	a := map[string]any{
		"api_token": simtest.Token, "api_endpoint": r.endpoint, "_ansible_module_name": InfoSpec.Name,
		"plan": p.Volumes, "delete_names": []string{"vol-*"}, "diff_dest": diffPath,
	}
	data, err := json.Marshal(a)
	require.NoError(r.t, err)
	var buf bytes.Buffer
	require.Zero(r.t, ansible.Execute(r.t.Context(), InfoSpec, data, nil, &buf, Info), buf.String())
}

// jsonArgs turns a value into the module arguments Ansible would pass for it.
func jsonArgs[T any](t *testing.T, v any) T {
	t.Helper()
	var out T
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

// TestCheckModePredictsFromStage0: a --check reset reads once, in stage 0; every later stage and
// the verification predict from what stage 0 observed, without a request, and predict exactly
// what the real run then does, stage by stage.
func TestCheckModePredictsFromStage0(t *testing.T) {
	r := newRig(t, sim.Config{})
	planPath, diffPath := "../../servers/volume_plan_v3.json", t.TempDir()+"/volume_diff_v3.json"
	r.writeDiff(planPath, diffPath)

	prep, reads := r.stage0(planPath, diffPath, true)
	require.NotNil(t, prep.Observed, "check mode returns what stage 0 read")
	assert.Equal(t, 2, reads, "stage 0: one page of volumes, one of servers")
	assert.True(t, prep.Observed.Complete)
	assert.Len(t, prep.Observed.Volumes, 41)
	assert.Len(t, prep.Observed.Servers, 47)
	observed := jsonArgs[map[string]any](t, prep.Observed)

	real, _ := r.stage0(planPath, diffPath, false)
	assert.Nil(t, real.Observed, "a real run carries no observed state")

	stages := []struct {
		name string
		run  func(args map[string]any, check bool) outcome
		list []map[string]any
		args map[string]any
	}{
		{"create", r.create, jsonArgs[[]map[string]any](t, prep.Todo.Create), nil},
		{"detach", r.detach, jsonArgs[[]map[string]any](t, prep.Todo.Detach), nil},
		{"attach", r.attach, jsonArgs[[]map[string]any](t, prep.Todo.Attach), nil},
		{"delete", r.delete, jsonArgs[[]map[string]any](t, prep.Todo.Delete), map[string]any{"detach": true}},
	}
	batches := func(list []map[string]any, extra map[string]any) []map[string]any {
		var out []map[string]any
		for i := 0; i < len(list); i += 10 {
			args := map[string]any{"volumes": list[i:min(i+10, len(list))]}
			maps.Copy(args, extra)
			out = append(out, args)
		}
		return out
	}

	predictions := map[string][]outcome{}
	before := r.sim.Stats().Requests.Total
	for _, s := range stages {
		for _, args := range batches(s.list, s.args) {
			withObserved := maps.Clone(args)
			withObserved["observed"] = observed
			out := s.run(withObserved, true)
			require.False(t, out.Failed, "%s: %s", s.name, out.Msg)
			predictions[s.name] = append(predictions[s.name], out)
		}
	}
	verifyArgs := map[string]any{"volumes": jsonArgs[[]map[string]any](t, prep.Entries), "deleted": jsonArgs[[]map[string]any](t, prep.Deletes)}
	withObserved := maps.Clone(verifyArgs)
	withObserved["observed"] = observed
	verified := exec(r, VerifySpec, Verify, withObserved, true)
	assert.Zero(t, r.sim.Stats().Requests.Total-before, "the stages and the verification predict without a request")
	assert.Equal(t, exec(r, VerifySpec, Verify, verifyArgs, true).Msg, verified.Msg, "the record describes the fleet as a read does")

	for _, s := range stages {
		for i, args := range batches(s.list, s.args) {
			out := s.run(args, false)
			require.False(t, out.Failed, "%s: %s", s.name, out.Msg)
			assertPredicts(t, predictions[s.name][i], out)
		}
	}
	vols := r.volumes()
	for _, e := range prep.Entries {
		assert.Equal(t, e.Hostname, vols[e.Name()].Server, e.Name())
	}
}

// TestObservedIsIgnoredByARealRun: a real run decides against what it reads, never against
// the record it is given, so a change made after stage 0 is seen.
func TestObservedIsIgnoredByARealRun(t *testing.T) {
	r := newRig(t, sim.Config{})
	planPath, diffPath := "../../servers/volume_plan_v3.json", t.TempDir()+"/volume_diff_v3.json"
	r.writeDiff(planPath, diffPath)
	prep, _ := r.stage0(planPath, diffPath, true)
	observed := jsonArgs[map[string]any](t, prep.Observed)
	entry := jsonArgs[map[string]any](t, prep.Todo.Detach[0])

	// Someone detaches the volume after stage 0.
	require.False(t, r.detach(map[string]any{"volumes": []map[string]any{entry}}, false).Failed)

	args := map[string]any{"volumes": []map[string]any{entry}, "observed": observed}
	check := r.detach(args, true)
	assert.Equal(t, []string{"would_detach"}, check.actions(), "check mode predicts from the record, as stage 0 saw it")

	before := r.sim.Stats().Requests.Total
	out := r.detach(args, false)
	assert.Equal(t, []string{"already_detached"}, out.actions(), "the real run reads and sees the change")
	assert.Positive(t, r.sim.Stats().Requests.Total-before)
	assert.Zero(t, out.mutating)
}

// TestObservedOnlyWhenItAnswers: a check-mode call that needs what the record does not hold (a
// server stage 0 did not look up) reads it rather than guess.
func TestObservedOnlyWhenItAnswers(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	rec := &Observed{Complete: true, Servers: []ObservedServer{}, MissingServers: []string{}}
	for _, v := range r.sim.Store().State().Volumes {
		rec.Volumes = append(rec.Volumes, VolumeInfo{ID: v.ID, Name: v.Name, SizeGB: v.Size, Location: v.Location.Name})
	}
	observed := jsonArgs[map[string]any](t, rec)

	before := r.sim.Stats().Requests.Total
	out := r.attach(map[string]any{"name": "vol-spare", "server": "app-01", "observed": observed}, true)
	assert.Equal(t, []string{"would_attach"}, out.actions(), out.Msg)
	assert.Positive(t, r.sim.Stats().Requests.Total-before, "app-01 is not in the record: read")

	before = r.sim.Stats().Requests.Total
	out = r.create(map[string]any{"name": "vol-spare", "size": 10, "location": "fsn1", "observed": observed}, true)
	assert.Equal(t, []string{"exists"}, out.actions(), out.Msg)
	assert.Zero(t, r.sim.Stats().Requests.Total-before, "the record answers: no request")
}
