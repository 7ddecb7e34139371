package volumes

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
)

// attachFleet is smallFleet with v3 volumes: one detached in its server's location, one
// attached to another server, one in another location than its server.
func attachFleet() *sim.Scenario {
	sc := smallFleet()
	sc.Volumes = append(sc.Volumes,
		sim.ScenarioVolume{Name: "kbv3-app-01-data", Size: 20, Location: "fsn1"},
		sim.ScenarioVolume{Name: "kbv3-app-02-data", Size: 20, Server: "app-01"},
		sim.ScenarioVolume{Name: "kbv3-db-01-data", Size: 50, Location: "hel1"},
	)
	return sc
}

func TestAttach(t *testing.T) {
	cases := []struct {
		name    string
		args    map[string]any
		actions []string
		failed  bool
		msg     string            // a part of msg
		servers map[string]string // volume: server after the call
	}{
		{
			name:    "a detached volume",
			args:    map[string]any{"volumes": []map[string]any{{"hostname": "app-01", "size_gb": 20}}},
			actions: []string{"attached"},
			msg:     "attached: 1",
			servers: map[string]string{"kbv3-app-01-data": "app-01"},
		},
		{
			name:    "one volume by name",
			args:    map[string]any{"name": "kbv3-app-01-data", "server": "app-02", "automount": true},
			actions: []string{"attached"},
			servers: map[string]string{"kbv3-app-01-data": "app-02"},
		},
		{
			name:    "already attached there",
			args:    map[string]any{"name": "vol-app-01", "server": "app-01"},
			actions: []string{"already_attached"},
			msg:     "already_attached: 1",
			servers: map[string]string{"vol-app-01": "app-01"},
		},
		{
			name:    "attached elsewhere without force",
			args:    map[string]any{"volumes": []map[string]any{{"hostname": "app-02"}, {"hostname": "app-01"}}},
			actions: []string{"failed", "attached"},
			failed:  true,
			msg:     "volumes[0] (app-02): volume kbv3-app-02-data is attached to app-01, not app-02; set force: true to move it",
			servers: map[string]string{"kbv3-app-02-data": "app-01", "kbv3-app-01-data": "app-01"},
		},
		{
			name:    "attached elsewhere with force",
			args:    map[string]any{"force": true, "volumes": []map[string]any{{"hostname": "app-02"}}},
			actions: []string{"moved"},
			msg:     "moved: 1",
			servers: map[string]string{"kbv3-app-02-data": "app-02"},
		},
		{
			name:    "volume and server in different locations",
			args:    map[string]any{"force": true, "volumes": []map[string]any{{"hostname": "db-01"}}},
			actions: []string{"failed"},
			failed:  true,
			msg:     "volumes[0] (db-01): volume kbv3-db-01-data is in hel1, server db-01 is in nbg1",
			servers: map[string]string{"kbv3-db-01-data": ""},
		},
		{
			name:    "a server that does not exist",
			args:    map[string]any{"name": "kbv3-app-01-data", "server": "ghost-01"},
			actions: []string{"failed"},
			failed:  true,
			msg:     "volume kbv3-app-01-data: server ghost-01 does not exist",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: attachFleet()})
			check := r.attach(tc.args, true)
			out := r.attach(tc.args, false)
			assertPredicts(t, check, out)
			assert.Equal(t, tc.actions, out.actions(), out.Msg)
			assert.Equal(t, tc.failed, out.Failed, out.Msg)
			assert.Contains(t, out.Msg, tc.msg)
			vols := r.volumes()
			for name, server := range tc.servers {
				assert.Equal(t, server, vols[name].Server, name)
			}
			if !out.Failed {
				again := r.attach(tc.args, false)
				assert.False(t, again.Changed, again.Msg)
				assert.Zero(t, again.mutating)
			}
		})
	}
}

// TestAttachMissingVolume: in check mode a plan volume not created yet is would_attach, since
// the create stage before would have created it; in a real run it is an error.
func TestAttachMissingVolume(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	args := map[string]any{"volumes": []map[string]any{{"hostname": "db-01", "size_gb": 50}}}

	check := r.attach(args, true)
	assert.Equal(t, []string{"would_attach"}, check.actions())
	assert.True(t, check.Changed)
	assert.False(t, check.Failed)
	assert.Equal(t, Item{Volume: "kbv3-db-01-data", Server: "db-01", Location: "nbg1", Action: "would_attach", DurationMS: check.Volumes[0].DurationMS, Host: "db-01"}, check.Volumes[0])

	out := r.attach(args, false)
	assert.True(t, out.Failed)
	assert.Equal(t, "failed: 1; volumes[0] (db-01): volume kbv3-db-01-data does not exist; kbv3_volume_create creates it", out.Msg)
}

func TestAttachInvalidInput(t *testing.T) {
	cases := []struct {
		name string
		args map[string]any
		msg  string
	}{
		{"name without server", map[string]any{"name": "x"}, "parameters are required together: name, server"},
		{"entry without hostname", map[string]any{"volumes": []map[string]any{{"volume": "x-01"}}}, "missing required arguments: hostname found in volumes[0]"},
		{"duplicate volumes", map[string]any{"volumes": []map[string]any{{"hostname": "app-01"}, {"hostname": "app-02", "volume": "kbv3-app-01-data"}}},
			`volumes[1] (app-02): volume "kbv3-app-01-data" duplicates volumes[0] (app-01)`},
		{"server and volumes", map[string]any{"server": "app-01", "volumes": []map[string]any{{"hostname": "app-01"}}}, "mutually exclusive: server|volumes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: attachFleet()})
			out := r.attach(tc.args, false)
			assert.True(t, out.Failed)
			assert.Contains(t, out.Msg, tc.msg)
			assert.Zero(t, out.mutating)
		})
	}
}

// TestAttachAfterCreate: a volume created by an earlier task of the playbook does not exist
// when check mode runs the attach. The entry's server, as the create reports it in both modes
// (its server with server, "" with location), says where that create puts the volume, and
// check mode predicts the real attach from it exactly: nothing to do after a create with
// server, an attach after a create in a location, a move or a refusal when the create puts it
// on another server than the entry's host.
func TestAttachAfterCreate(t *testing.T) {
	cases := []struct {
		name    string
		create  map[string]any // kbv3_volume_create's args (the volume kbv3-new)
		host    string
		force   bool
		actions []string // of the real attach
		changed bool
		msg     string // a part of the real attach's msg
		server  string // of kbv3-new after the attach
	}{
		{name: "created with server: nothing left to do", create: map[string]any{"server": "app-01"}, host: "app-01",
			actions: []string{"already_attached"}, msg: "already_attached: 1", server: "app-01"},
		{name: "created in a location: attached", create: map[string]any{"location": "fsn1"}, host: "app-01",
			actions: []string{"attached"}, changed: true, msg: "attached: 1", server: "app-01"},
		{name: "created on another server: refused without force", create: map[string]any{"server": "app-02"}, host: "app-01",
			actions: []string{"failed"}, msg: "set force: true to move it", server: "app-02"},
		{name: "created on another server: moved with force", create: map[string]any{"server": "app-02"}, host: "app-01", force: true,
			actions: []string{"moved"}, changed: true, msg: "moved: 1", server: "app-01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: smallFleet()})
			create := map[string]any{"name": "kbv3-new", "size": 10}
			maps.Copy(create, tc.create)
			// What a playbook gives the attach: the create's own report of the volume.
			attachArgs := func(created outcome) map[string]any {
				require.Len(t, created.Volumes, 1, created.Msg)
				return map[string]any{"force": tc.force, "volumes": []map[string]any{{
					"hostname": tc.host, "volume": created.Volumes[0].Volume, "server": created.Volumes[0].Server,
				}}}
			}

			created := r.create(create, true)
			require.Equal(t, []string{"would_create"}, created.actions(), created.Msg)
			check := r.attach(attachArgs(created), true)
			assert.Zero(t, check.mutating)
			assert.Empty(t, check.Warnings)

			created = r.create(create, false)
			require.Equal(t, []string{"created"}, created.actions(), created.Msg)
			out := r.attach(attachArgs(created), false)
			assertPredicts(t, check, out)
			assert.Equal(t, tc.actions, out.actions(), out.Msg)
			assert.Equal(t, tc.changed, out.Changed, out.Msg)
			assert.Contains(t, out.Msg, tc.msg)
			assert.Equal(t, tc.server, r.volumes()["kbv3-new"].Server)
		})
	}

	t.Run("an entry without server is a plan entry: would_attach", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: smallFleet()})
		check := r.attach(map[string]any{"volumes": []map[string]any{{"hostname": "app-01", "volume": "kbv3-new"}}}, true)
		assert.Equal(t, []string{"would_attach"}, check.actions())
		assert.True(t, check.Changed)
	})
}

// An attach without lookup, of the volume a create just made (its id from the create's
// result), sends no read and reports exactly what the attach that reads reports: the same
// items, the same diff. What a read would refuse, the API refuses.
func TestAttachWithoutLookup(t *testing.T) {
	type run struct {
		out   outcome
		reads int
	}
	attach := func(t *testing.T, lookup bool, prepare func(r *rig, id int64)) run {
		r := newRig(t, sim.Config{ScenarioData: smallFleet()})
		created := r.create(map[string]any{"lookup": false, "volumes": []map[string]any{
			{"hostname": "app-01", "size_gb": 20, "labels": map[string]any{"role": "app"}},
		}}, false)
		require.Equal(t, []string{"created"}, created.actions(), created.Msg)
		id := created.Volumes[0].ID
		require.NotZero(t, id)
		if prepare != nil {
			prepare(r, id)
		}
		before := r.sim.Stats().Requests.ByRoute["GET /v1/volumes"]
		out := r.attach(map[string]any{"lookup": lookup, "volumes": []map[string]any{
			{"hostname": "app-01", "size_gb": 20, "labels": map[string]any{"role": "app"}, "id": id},
		}}, false)
		return run{out: out, reads: r.sim.Stats().Requests.ByRoute["GET /v1/volumes"] - before}
	}
	strip := func(items []Item) []Item {
		for i := range items {
			items[i].DurationMS = 0
		}
		return items
	}
	attachTo := func(server string) func(r *rig, id int64) {
		return func(r *rig, id int64) {
			out := r.attach(map[string]any{"name": "kbv3-app-01-data", "server": server}, false)
			require.False(t, out.Failed, out.Msg)
		}
	}
	for _, tc := range []struct {
		name    string
		prepare func(r *rig, id int64)
		actions []string
		reads   int // without lookup
	}{
		{name: "fresh: attached, no read", actions: []string{"attached"}},
		{name: "attached there already: one read after the API's refusal", prepare: attachTo("app-01"), actions: []string{"already_attached"}, reads: 1},
		{name: "attached elsewhere: refused", prepare: attachTo("app-02"), actions: []string{"failed"}, reads: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read, unread := attach(t, true, tc.prepare), attach(t, false, tc.prepare)
			assert.Equal(t, tc.actions, unread.out.actions(), unread.out.Msg)
			assert.Equal(t, tc.reads, unread.reads, "reads without lookup")
			assert.Equal(t, read.out.actions(), unread.out.actions(), "the same outcome as an attach that reads")
			assert.Equal(t, read.out.Failed, unread.out.Failed)
			assert.Equal(t, read.out.Changed, unread.out.Changed)
			if !unread.out.Failed {
				assert.Equal(t, strip(read.out.Volumes), strip(unread.out.Volumes))
				assert.Equal(t, read.out.Diff, unread.out.Diff)
			}
		})
	}

	t.Run("check mode reads", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: smallFleet()})
		before := r.sim.Stats().Requests.ByRoute["GET /v1/volumes"]
		check := r.attach(map[string]any{"lookup": false, "volumes": []map[string]any{{"hostname": "app-01", "volume": "vol-spare", "id": r.id("vol-spare")}}}, true)
		assert.Equal(t, []string{"would_attach"}, check.actions(), check.Msg)
		assert.Equal(t, 1, r.sim.Stats().Requests.ByRoute["GET /v1/volumes"]-before)
		assert.Zero(t, check.mutating)
	})
}
