package volumes

import (
	"cmp"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
)

// createFleet is smallFleet with a v3 volume already there: 20 GB in fsn1, detached, labelled.
func createFleet() *sim.Scenario {
	sc := smallFleet()
	sc.Volumes = append(sc.Volumes,
		sim.ScenarioVolume{Name: "kbv3-app-01-data", Size: 20, Location: "fsn1", Labels: map[string]string{"role": "app"}},
		sim.ScenarioVolume{Name: "kbv3-app-02-data", Size: 20, Location: "nbg1"},
	)
	return sc
}

func TestCreatePlanEntries(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	args := map[string]any{"volumes": []map[string]any{
		{"hostname": "app-01", "size_gb": 20, "role": "app", "mountpoint": "/data/app", "labels": map[string]any{"managed-by": "kbv3", "role": "app"}},
		{"hostname": "db-01", "size_gb": 50, "volume": "kbv3-db-custom"},
	}}
	check := r.create(args, true)
	out := r.create(args, false)
	assertPredicts(t, check, out)
	assert.Equal(t, "created: 2", out.Msg)
	assert.Equal(t, int64(0), check.Volumes[0].ID, "no id before the volume exists")

	vols := r.volumes()
	assert.Equal(t, live{ID: vols["kbv3-app-01-data"].ID, Size: 20, Location: "fsn1", Labels: map[string]string{"managed-by": "kbv3", "role": "app"}}, vols["kbv3-app-01-data"],
		"created in its server's location, with its labels, and not attached")
	assert.Equal(t, "nbg1", vols["kbv3-db-custom"].Location)
	assert.Empty(t, vols["kbv3-db-custom"].Server)
	it := out.item(t, "kbv3-app-01-data")
	assert.Equal(t, Item{Volume: "kbv3-app-01-data", ID: vols["kbv3-app-01-data"].ID, Location: "fsn1", Size: 20, Action: "created", DurationMS: it.DurationMS, Host: "app-01"}, it)
	require.Len(t, out.Diff, 2)
	assert.Equal(t, map[string]any{}, out.Diff[0].Before)
	assert.Equal(t, "fsn1", out.Diff[0].After.(map[string]any)["location"])

	again := r.create(args, false)
	assert.False(t, again.Changed)
	assert.Equal(t, "exists: 2", again.Msg)
	assert.Zero(t, again.mutating)
}

func TestCreateExisting(t *testing.T) {
	cases := []struct {
		name   string
		entry  map[string]any
		resize bool
		action string
		msg    string // a part of msg
		live   live   // size, location and labels after the call
	}{
		{"as planned", map[string]any{"hostname": "app-01", "size_gb": 20}, false, "exists", "exists: 1",
			live{Size: 20, Location: "fsn1", Labels: map[string]string{"role": "app"}}},
		{"smaller without resize", map[string]any{"hostname": "app-01", "size_gb": 30}, false, "failed",
			"volumes[0] (app-01): volume kbv3-app-01-data exists with 20 GB, asked for 30 GB; set resize: true to grow it",
			live{Size: 20, Location: "fsn1", Labels: map[string]string{"role": "app"}}},
		{"smaller with resize", map[string]any{"hostname": "app-01", "size_gb": 30}, true, "resized", "resized: 1",
			live{Size: 30, Location: "fsn1", Labels: map[string]string{"role": "app"}}},
		{"larger", map[string]any{"hostname": "app-01", "size_gb": 10}, true, "failed",
			"exists with 20 GB, asked for 10 GB: volumes can only grow",
			live{Size: 20, Location: "fsn1", Labels: map[string]string{"role": "app"}}},
		{"labels differ", map[string]any{"hostname": "app-01", "size_gb": 20, "labels": map[string]any{"role": "web"}}, false, "updated", "updated: 1",
			live{Size: 20, Location: "fsn1", Labels: map[string]string{"role": "web"}}},
		{"grown and relabelled", map[string]any{"hostname": "app-01", "size_gb": 40, "labels": map[string]any{}}, true, "resized", "resized: 1",
			live{Size: 40, Location: "fsn1", Labels: map[string]string{}}},
		{"in another location than its server", map[string]any{"hostname": "app-02", "size_gb": 20}, false, "failed",
			"volumes[0] (app-02): volume kbv3-app-02-data exists in nbg1, asked for fsn1", live{Size: 20, Location: "nbg1"}},
		{"a plan location that is not the server's", map[string]any{"hostname": "app-01", "size_gb": 20, "location": "nbg1"}, false, "failed",
			"volumes[0] (app-01): location nbg1 differs from the location of server app-01, fsn1",
			live{Size: 20, Location: "fsn1", Labels: map[string]string{"role": "app"}}},
	}
	for _, tc := range cases {
		// Without lookup (the reset's create stage) the API's uniqueness_error leads to the
		// same read and the same outcome.
		for _, lookup := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, lookup %v", tc.name, lookup), func(t *testing.T) {
				r := newRig(t, sim.Config{ScenarioData: createFleet()})
				args := map[string]any{"resize": tc.resize, "volumes": []map[string]any{tc.entry}, "lookup": lookup}
				testCreateExisting(t, r, args, tc.action, tc.msg, tc.live)
			})
		}
	}
}

// testCreateExisting runs args in check mode then for real: the prediction holds, the action
// and message are the ones given, the volume ends as want, and a rerun changes nothing.
func testCreateExisting(t *testing.T, r *rig, args map[string]any, action, msg string, want live) {
	t.Helper()
	check := r.create(args, true)
	out := r.create(args, false)
	assertPredicts(t, check, out)
	assert.Equal(t, []string{action}, out.actions())
	assert.Contains(t, out.Msg, msg)
	got := r.volumes()[out.Volumes[0].Volume]
	want.ID = got.ID
	if len(want.Labels) == 0 && len(got.Labels) == 0 {
		want.Labels, got.Labels = nil, nil
	}
	assert.Equal(t, want, got)
	if out.Changed {
		again := r.create(args, false)
		assert.False(t, again.Changed, again.Msg)
		assert.Equal(t, "exists: 1", again.Msg)
	}
}

// TestCreateWithoutLookup: the reset's create stage reads nothing before creating; a lost
// answer is still found made by the retry (created, not taken for someone else's volume).
func TestCreateWithoutLookup(t *testing.T) {
	for _, fault := range []string{"", "POST /v1/volumes effect=drop_after nth=1"} {
		t.Run(cmp.Or(fault, "no fault"), func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: createFleet()})
			if fault != "" {
				r.fault(fault)
			}
			before := r.sim.Stats().Requests.ByRoute["GET /v1/volumes"]
			out := r.create(map[string]any{"lookup": false, "volumes": []map[string]any{{"hostname": "db-01", "size_gb": 20}}}, false)
			require.False(t, out.Failed, out.Msg)
			assert.Equal(t, []string{"created"}, out.actions())
			reads := r.sim.Stats().Requests.ByRoute["GET /v1/volumes"] - before
			if fault == "" {
				assert.Zero(t, reads, "no lookup before the create")
			} else {
				assert.Equal(t, 1, reads, "one lookup after the lost answer")
			}
			assert.Equal(t, 20, r.volumes()["kbv3-db-01-data"].Size)
		})
	}

	t.Run("a name taken: the API says so, then one lookup decides", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: createFleet()})
		before := r.sim.Stats().Requests.ByRoute
		out := r.create(map[string]any{"lookup": false, "volumes": []map[string]any{{"hostname": "app-01", "size_gb": 20, "labels": map[string]any{"role": "app"}}}}, false)
		require.False(t, out.Failed, out.Msg)
		assert.Equal(t, []string{"exists"}, out.actions())
		after := r.sim.Stats().Requests.ByRoute
		assert.Equal(t, 1, after["POST /v1/volumes"]-before["POST /v1/volumes"], "the create was sent, and refused")
		assert.Equal(t, 1, after["GET /v1/volumes"]-before["GET /v1/volumes"], "then the name was read")
	})
}

func TestCreateMissingServerFailsItsEntryOnly(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	out := r.create(map[string]any{"volumes": []map[string]any{
		{"hostname": "app-01", "size_gb": 20}, {"hostname": "ghost-01", "size_gb": 20},
	}}, false)
	assert.True(t, out.Failed)
	assert.Equal(t, []string{"created", "failed"}, out.actions())
	assert.Equal(t, "created: 1, failed: 1; kbv3-ghost-01-data (volumes[1] (ghost-01): server ghost-01 does not exist)", out.Msg)
	assert.True(t, out.Changed)
}

func TestCreateOneVolume(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})

	args := map[string]any{"name": "extra-01", "size": 15, "server": "db-01", "format": "ext4", "labels": map[string]any{"x": "y"}}
	check := r.create(args, true)
	out := r.create(args, false)
	assertPredicts(t, check, out)
	assert.Equal(t, Item{Volume: "extra-01", ID: r.id("extra-01"), Server: "db-01", Location: "nbg1", Size: 15, Action: "created", DurationMS: out.Volumes[0].DurationMS, Host: "db-01"}, out.Volumes[0])
	assert.Equal(t, "db-01", r.volumes()["extra-01"].Server, "created attached to its server")

	out = r.create(map[string]any{"name": "extra-02", "size": 10, "location": "hel1"}, false)
	assert.Equal(t, "created: 1", out.Msg)
	assert.Equal(t, live{ID: r.id("extra-02"), Size: 10, Location: "hel1", Labels: map[string]string{}}, r.volumes()["extra-02"])

	again := r.create(map[string]any{"name": "extra-02", "size": 10, "location": "hel1"}, false)
	assert.Equal(t, "exists: 1", again.Msg)
	assert.False(t, again.Changed)
}

func TestCreateInvalidInput(t *testing.T) {
	cases := []struct {
		name string
		args map[string]any
		msg  string
	}{
		{"size out of range", map[string]any{"volumes": []map[string]any{{"hostname": "app-01", "size_gb": 20}, {"hostname": "app-02", "size_gb": 5}}},
			"volumes[1] (app-02): size_gb 5 is out of range 10..10240"},
		{"duplicate hostnames", map[string]any{"volumes": []map[string]any{{"hostname": "app-01", "size_gb": 20}, {"hostname": "app-01", "size_gb": 20}}},
			"volumes[1] (app-01): hostname duplicates volumes[0]"},
		{"every problem at once", map[string]any{"volumes": []map[string]any{{"hostname": "app-01", "size_gb": 2}, {"hostname": "db-01", "size_gb": 99999}}},
			"volumes[0] (app-01): size_gb 2 is out of range 10..10240; volumes[1] (db-01): size_gb 99999"},
		{"single without size", map[string]any{"name": "x-01", "location": "fsn1"}, "size: required with name"},
		{"single without location or server", map[string]any{"name": "x-01", "size": 10}, "location or server: one is required with name"},
		{"bad single name", map[string]any{"name": "-x", "size": 10, "location": "fsn1"}, `volume name "-x" must start and end with a letter or digit`},
		{"location and server", map[string]any{"name": "x-01", "size": 10, "location": "fsn1", "server": "app-01"}, "mutually exclusive: location|server"},
		{"plan with size", map[string]any{"size": 10, "volumes": []map[string]any{{"hostname": "app-01", "size_gb": 20}}}, "mutually exclusive: size|volumes"},
		{"automount without server", map[string]any{"automount": true, "volumes": []map[string]any{{"hostname": "app-01", "size_gb": 20}}}, "automount: needs server"},
		{"bad format", map[string]any{"name": "x-01", "size": 10, "location": "fsn1", "format": "btrfs"}, "format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: smallFleet()})
			out := r.create(tc.args, false)
			assert.True(t, out.Failed)
			assert.Contains(t, out.Msg, tc.msg)
			assert.Zero(t, out.mutating)
		})
	}
}
