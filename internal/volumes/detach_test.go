package volumes

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
)

func TestDetach(t *testing.T) {
	type entry = map[string]any
	cases := []struct {
		name    string
		args    func(r *rig) map[string]any
		actions []string
		failed  bool
		msg     string // a part of msg
		servers map[string]string
	}{
		{
			name: "attached, detached and missing volumes",
			args: func(*rig) map[string]any {
				return map[string]any{"volumes": []entry{{"name": "vol-app-01"}, {"name": "vol-spare"}, {"name": "vol-gone"}}}
			},
			actions: []string{"detached", "already_detached", "absent"},
			msg:     "detached: 1, already_detached: 1, absent: 1",
			servers: map[string]string{"vol-app-01": "", "vol-app-02": "app-02"},
		},
		{
			name: "fail_on_missing fails the missing one only",
			args: func(*rig) map[string]any {
				return map[string]any{"fail_on_missing": true, "volumes": []entry{{"name": "vol-gone"}, {"name": "vol-app-01"}}}
			},
			actions: []string{"failed", "detached"},
			failed:  true,
			msg:     "failed: 1; volumes[0] (vol-gone) does not exist",
			servers: map[string]string{"vol-app-01": ""},
		},
		{
			name:    "one volume by id",
			args:    func(r *rig) map[string]any { return map[string]any{"id": r.id("vol-db-01")} },
			actions: []string{"detached"},
			servers: map[string]string{"vol-db-01": ""},
		},
		{
			name:    "one volume by name and id",
			args:    func(r *rig) map[string]any { return map[string]any{"name": "vol-db-01", "id": r.id("vol-db-01")} },
			actions: []string{"detached"},
			servers: map[string]string{"vol-db-01": ""},
		},
		{
			name: "id and name of different volumes: refused, the others done",
			args: func(r *rig) map[string]any {
				return map[string]any{"volumes": []entry{
					{"name": "vol-app-01", "id": r.id("vol-app-02"), "server": "app-01"},
					{"name": "vol-db-01", "id": r.id("vol-db-01")},
				}}
			},
			actions: []string{"refused", "detached"},
			failed:  true,
			msg:     "is now named vol-app-02, not vol-app-01",
			servers: map[string]string{"vol-app-01": "app-01", "vol-app-02": "app-02", "vol-db-01": ""},
		},
		{
			name: "a missing id with a name that has another id: refused",
			args: func(r *rig) map[string]any {
				return map[string]any{"volumes": []entry{{"name": "vol-app-01", "id": 999999}}}
			},
			actions: []string{"refused"},
			failed:  true,
			msg:     "(vol-app-01): the volume now has id",
			servers: map[string]string{"vol-app-01": "app-01"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: smallFleet()})
			out := r.detach(tc.args(r), false)
			assert.Equal(t, tc.actions, out.actions(), out.Msg)
			assert.Equal(t, tc.failed, out.Failed, out.Msg)
			assert.Contains(t, out.Msg, tc.msg)
			vols := r.volumes()
			for name, server := range tc.servers {
				assert.Equal(t, server, vols[name].Server, name)
			}
		})
	}
}

func TestDetachInvalidInput(t *testing.T) {
	cases := []struct {
		name string
		args map[string]any
		msg  string
	}{
		{"duplicate names", map[string]any{"volumes": []map[string]any{{"name": "vol-app-01"}, {"name": "vol-app-01"}}},
			"volumes[1] (vol-app-01): name vol-app-01 duplicates volumes[0] (vol-app-01)"},
		{"entry without id or name", map[string]any{"volumes": []map[string]any{{"name": "vol-app-01"}, {"server": "app-01"}}},
			"volumes[1]: id or name is required"},
		{"name and volumes", map[string]any{"name": "vol-app-01", "volumes": []map[string]any{{"name": "vol-app-02"}}},
			"mutually exclusive"},
		{"nothing", map[string]any{}, "one of the following is required: name, id, volumes"},
		{"unknown option", map[string]any{"name": "vol-app-01", "force": true}, "Unsupported parameters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: smallFleet()})
			out := r.detach(tc.args, false)
			assert.True(t, out.Failed)
			assert.Contains(t, out.Msg, tc.msg)
			assert.Zero(t, out.mutating)
			assert.Equal(t, "app-01", r.volumes()["vol-app-01"].Server)
		})
	}
}

func TestDetachTwoEntriesOneVolume(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	out := r.detach(map[string]any{"volumes": []map[string]any{{"name": "vol-app-01"}, {"id": r.id("vol-app-01")}}}, false)
	assert.True(t, out.Failed)
	assert.Contains(t, out.Msg, "volumes[0] (vol-app-01) and volumes[1] (id")
	assert.Zero(t, out.mutating)
}

// TestDetachCheckModeThenRun detaches the whole PH3-02 fleet: check mode predicts the run
// exactly without a mutating request, and a second run changes nothing.
func TestDetachCheckModeThenRun(t *testing.T) {
	r := newRig(t, sim.Config{})
	var list []map[string]any
	for name, v := range r.volumes() {
		list = append(list, map[string]any{"id": v.ID, "name": name, "server": v.Server, "size_gb": v.Size})
	}
	require.Len(t, list, 41)
	args := map[string]any{"volumes": list, "concurrency": 10}

	check := r.detach(args, true)
	real := r.detach(args, false)
	assertPredicts(t, check, real)
	assert.Equal(t, "detached: 41", real.Msg)
	require.Len(t, real.Diff, 41)
	assert.NotEmpty(t, real.Diff[0].Before.(map[string]any)["server"])
	assert.Empty(t, real.Diff[0].After.(map[string]any)["server"])
	assert.GreaterOrEqual(t, real.mutating, 41, "a detach request per volume, and retries of `locked`: two volumes share backup-01")
	for name, v := range r.volumes() {
		assert.Empty(t, v.Server, name)
	}

	again := r.detach(args, false)
	assert.False(t, again.Changed)
	assert.Equal(t, "already_detached: 41", again.Msg)
	assert.Zero(t, again.mutating)
	assert.Empty(t, again.Diff)
}
