package volumes

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
)

// entryOf is the delete-list entry of a live volume, as the reviewed diff lists it.
func (r *rig) entryOf(name string) map[string]any {
	v, ok := r.volumes()[name]
	require.True(r.t, ok, name)
	e := map[string]any{"id": v.ID, "name": name, "size_gb": v.Size}
	if v.Server != "" {
		e["server"] = v.Server
	}
	return e
}

func TestDelete(t *testing.T) {
	type list = []map[string]any
	cases := []struct {
		name    string
		args    func(r *rig) map[string]any
		actions []string
		failed  bool
		msg     string   // a part of msg
		deleted []string // the volumes gone after the call; every other one is still there
		mutates bool     // a failed call changed the volumes of other units (all_or_nothing: host)
	}{
		{
			name:    "a detached volume",
			args:    func(r *rig) map[string]any { return map[string]any{"volumes": list{r.entryOf("vol-spare")}} },
			actions: []string{"deleted"},
			msg:     "deleted: 1",
			deleted: []string{"vol-spare"},
		},
		{
			name:    "one volume by id and name",
			args:    func(r *rig) map[string]any { return map[string]any{"name": "vol-spare", "id": r.id("vol-spare")} },
			actions: []string{"deleted"},
			deleted: []string{"vol-spare"},
		},
		{
			name: "attached volumes with detach",
			args: func(r *rig) map[string]any {
				return map[string]any{"detach": true, "volumes": list{r.entryOf("vol-app-01"), r.entryOf("vol-app-02"), r.entryOf("vol-spare")}}
			},
			actions: []string{"deleted", "deleted", "deleted"},
			msg:     "deleted: 3",
			deleted: []string{"vol-app-01", "vol-app-02", "vol-spare"},
		},
		{
			name: "a missing volume is absent",
			args: func(r *rig) map[string]any {
				return map[string]any{"volumes": list{{"id": 424242, "name": "vol-gone"}, r.entryOf("vol-spare")}}
			},
			actions: []string{"absent", "deleted"},
			msg:     "absent: 1, deleted: 1",
			deleted: []string{"vol-spare"},
		},
		{
			name: "attached without detach: refused, nothing deleted",
			args: func(r *rig) map[string]any {
				return map[string]any{"volumes": list{r.entryOf("vol-spare"), r.entryOf("vol-app-01")}}
			},
			actions: []string{"skipped", "refused"},
			failed:  true,
			msg:     "skipped: 1, refused: 1; volumes[1] (vol-app-01): the volume is attached to app-01; set detach: true",
		},
		{
			name:    "protected without remove_protection: refused",
			args:    func(r *rig) map[string]any { return map[string]any{"volumes": list{r.entryOf("vol-locked")}} },
			actions: []string{"refused"},
			failed:  true,
			msg:     "delete-protected; set remove_protection: true",
		},
		{
			name: "protected with remove_protection",
			args: func(r *rig) map[string]any {
				return map[string]any{"remove_protection": true, "volumes": list{r.entryOf("vol-locked")}}
			},
			actions: []string{"deleted"},
			deleted: []string{"vol-locked"},
		},
		{
			name: "the id is now another volume's: refused, nothing deleted",
			args: func(r *rig) map[string]any {
				return map[string]any{"detach": true, "volumes": list{
					r.entryOf("vol-app-01"), {"id": r.id("vol-app-02"), "name": "vol-spare"}, r.entryOf("vol-db-01"),
				}}
			},
			actions: []string{"skipped", "refused", "skipped"},
			failed:  true,
			msg:     "is now named vol-app-02, not vol-spare",
		},
		{
			name: "the name now has another id: refused",
			args: func(r *rig) map[string]any {
				return map[string]any{"volumes": list{{"id": 777777, "name": "vol-spare"}}}
			},
			actions: []string{"refused"},
			failed:  true,
			msg:     "volumes[0] (vol-spare): the volume now has id",
		},
		{
			name: "another size than reviewed: refused",
			args: func(r *rig) map[string]any {
				e := r.entryOf("vol-spare")
				e["size_gb"] = 30
				return map[string]any{"volumes": list{e}}
			},
			actions: []string{"refused"},
			failed:  true,
			msg:     "reviewed with 30 GB, the volume now has 10 GB",
		},
		{
			name: "attached to another server than reviewed: refused",
			args: func(r *rig) map[string]any {
				e := r.entryOf("vol-app-01")
				e["server"] = "app-02"
				return map[string]any{"detach": true, "volumes": list{e, r.entryOf("vol-spare")}}
			},
			actions: []string{"refused", "skipped"},
			failed:  true,
			msg:     "reviewed attached to app-02, the volume is now attached to app-01",
		},
		{
			name: "two refusals are both named",
			args: func(r *rig) map[string]any {
				return map[string]any{"volumes": list{r.entryOf("vol-locked"), r.entryOf("vol-app-01"), r.entryOf("vol-spare")}}
			},
			actions: []string{"refused", "refused", "skipped"},
			failed:  true,
			msg:     "not deleted: volumes[0] (vol-locked) and 1 other entries were refused",
		},
		{
			name: "all_or_nothing host: a refusal keeps only its own host's volumes",
			args: func(r *rig) map[string]any {
				e := r.entryOf("vol-app-01")
				e["size_gb"] = 30
				return map[string]any{"detach": true, "all_or_nothing": "host", "volumes": list{e, r.entryOf("vol-app-02"), r.entryOf("vol-spare")}}
			},
			actions: []string{"refused", "deleted", "deleted"},
			failed:  true,
			msg:     "volumes[0] (vol-app-01): reviewed with 30 GB",
			deleted: []string{"vol-app-02", "vol-spare"},
			mutates: true,
		},
		{
			name: "all_or_nothing host: the other old volume of the refused entry's server is kept",
			args: func(r *rig) map[string]any {
				e := r.entryOf("vol-spare")
				e["server"], e["size_gb"] = "app-01", 30 // reviewed on app-01 with 30 GB: drifted
				return map[string]any{"detach": true, "all_or_nothing": "host", "volumes": list{r.entryOf("vol-app-01"), e, r.entryOf("vol-app-02")}}
			},
			actions: []string{"skipped", "refused", "deleted"},
			failed:  true,
			msg:     "the old volumes of a server are deleted together or not at all",
			deleted: []string{"vol-app-02"},
			mutates: true,
		},
		{
			name: "all_or_nothing host: an entry reviewed detached stands alone",
			args: func(r *rig) map[string]any {
				return map[string]any{"all_or_nothing": "host", "volumes": list{r.entryOf("vol-locked"), r.entryOf("vol-spare")}}
			},
			actions: []string{"refused", "deleted"},
			failed:  true,
			msg:     "delete-protected",
			deleted: []string{"vol-spare"},
			mutates: true,
		},
		{
			name: "a skipped host's entry is not checked and stops nothing",
			args: func(r *rig) map[string]any {
				e := r.entryOf("vol-app-01")
				e["size_gb"] = 30 // drifted, but its host failed earlier: not this call's to judge
				return map[string]any{"detach": true, "skip_hosts": []string{"app-01"}, "volumes": list{e, r.entryOf("vol-app-02")}}
			},
			actions: []string{"skipped", "deleted"},
			msg:     "not attempted: host app-01 failed at an earlier stage",
			deleted: []string{"vol-app-02"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: smallFleet()})
			before := r.volumes()
			args := tc.args(r)
			check := r.delete(args, true)
			out := r.delete(args, false)
			assertPredicts(t, check, out)
			assert.Equal(t, tc.actions, out.actions(), out.Msg)
			assert.Equal(t, tc.failed, out.Failed, out.Msg)
			assert.Contains(t, out.Msg+"; "+errorsOf(out), tc.msg)
			after := r.volumes()
			for name := range before {
				_, still := after[name]
				assert.Equal(t, !slices.Contains(tc.deleted, name), still, "%s: deleted exactly the listed volumes", name)
			}
			if tc.failed && !tc.mutates {
				assert.Zero(t, out.mutating, "a refused list changes nothing")
			}
		})
	}
}

// errorsOf joins the items' errors, for the skipped ones msg leaves out.
func errorsOf(o outcome) string {
	var s string
	for _, it := range o.Volumes {
		s += it.Error + "; "
	}
	return s
}

func TestDeleteInvalidInput(t *testing.T) {
	cases := []struct {
		name string
		args map[string]any
		msg  string
	}{
		{"name without id", map[string]any{"name": "vol-spare"}, "parameters are required together: name, id"},
		{"entry without id", map[string]any{"volumes": []map[string]any{{"name": "vol-spare"}}}, "missing required arguments: id found in volumes[0]"},
		{"duplicate ids", map[string]any{"volumes": []map[string]any{{"id": 5, "name": "a"}, {"id": 5, "name": "b"}}}, "volumes[1] (b): id 5 duplicates volumes[0] (a)"},
		{"negative id", map[string]any{"volumes": []map[string]any{{"id": -5, "name": "a"}}}, "volumes[0]: id -5 is not a volume id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: smallFleet()})
			out := r.delete(tc.args, false)
			assert.True(t, out.Failed)
			assert.Contains(t, out.Msg, tc.msg)
			assert.Zero(t, out.mutating)
			assert.Len(t, r.volumes(), 5)
		})
	}
}

func TestDeleteEmptyList(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	out := r.delete(map[string]any{"volumes": []any{}}, false)
	assert.False(t, out.Failed, out.Msg)
	assert.False(t, out.Changed)
	assert.Equal(t, "no volumes", out.Msg)
}

// TestDeleteStagesOfTheReset runs the playbook's last stage, delete with detach: true, on the
// PH3-02 fleet, whose old volumes are all attached: in check mode it says would_delete for each;
// the real stage detaches each (one detach request each) and deletes it, and a rerun converges.
// The detach module on the same list predicts and does its part alike.
func TestDeleteStagesOfTheReset(t *testing.T) {
	r := newRig(t, sim.Config{})
	var list []map[string]any
	for name := range r.volumes() {
		if name != "keybuzz-archive-01" {
			list = append(list, r.entryOf(name))
		}
	}
	require.Len(t, list, 40)
	detach := map[string]any{"volumes": list}
	del := map[string]any{"volumes": list, "detach": true}

	checkDetach := r.detach(detach, true)
	checkDelete := r.delete(del, true)
	before := r.sim.Stats().Requests.ByRoute["POST /v1/volumes/{id}/actions/detach"]
	realDelete := r.delete(del, false)
	assertPredicts(t, checkDelete, realDelete)
	assert.Equal(t, 40, r.sim.Stats().Requests.ByRoute["POST /v1/volumes/{id}/actions/detach"]-before, "each detached, once")
	assert.Equal(t, []string{"would_detach"}, slices.Compact(checkDetach.actions()))
	assert.Equal(t, "deleted: 40", realDelete.Msg)
	require.Len(t, realDelete.Diff, 40)
	assert.Equal(t, map[string]any{}, realDelete.Diff[0].After)
	assert.Equal(t, []string{"keybuzz-archive-01"}, keys(r.volumes()), "never deletes a volume not listed")

	again := r.delete(del, false)
	assert.False(t, again.Changed)
	assert.False(t, again.Failed)
	assert.Equal(t, "absent: 40", again.Msg)
	assert.Zero(t, again.mutating)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
