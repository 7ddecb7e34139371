package volumes

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/oplog"
	"github.com/keybuzz/kbv3/internal/sim"
)

// TestAttachKeepEntry: an entry of volume_diff.keep is accepted as it is; its id must be the
// live volume's, and its server is informative.
func TestAttachKeepEntry(t *testing.T) {
	keep := func(r *rig, id int64) map[string]any {
		return map[string]any{"volumes": []map[string]any{{
			"hostname": "app-01", "volume": "vol-spare", "id": id, "size_gb": 10, "location": "fsn1", "server": "",
		}}}
	}
	cases := []struct {
		name     string
		id       func(r *rig) int64
		action   string
		failed   bool
		msg      string
		attached bool
	}{
		{name: "the live id: attached", id: func(r *rig) int64 { return r.id("vol-spare") }, action: "attached", attached: true,
			msg: "attached: 1"},
		{name: "another id: refused", id: func(r *rig) int64 { return r.id("vol-spare") + 1000 }, action: ActionRefused, failed: true,
			msg: "refused: 1; volumes[0] (app-01): volume vol-spare now has id "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, sim.Config{ScenarioData: smallFleet()})
			args := keep(r, tc.id(r))
			check := r.attach(args, true)
			out := r.attach(args, false)
			assertPredicts(t, check, out)
			assert.Equal(t, []string{tc.action}, out.actions())
			assert.Equal(t, tc.failed, out.Failed)
			assert.Contains(t, out.Msg, tc.msg)
			assert.Equal(t, tc.attached, r.volumes()["vol-spare"].Server == "app-01")
		})
	}

	t.Run("a volume gone since the diff: refused in both modes", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: smallFleet()})
		args := map[string]any{"volumes": []map[string]any{{"hostname": "app-01", "volume": "vol-gone", "id": 4242, "size_gb": 10, "server": "app-02"}}}
		for _, check := range []bool{true, false} {
			out := r.attach(args, check)
			assert.True(t, out.Failed)
			assert.Equal(t, []string{ActionRefused}, out.actions())
			assert.Contains(t, out.Msg, "(id 4242) does not exist any more")
		}
	})

	t.Run("a field the keep list does not have is still unsupported", func(t *testing.T) {
		r := newRig(t, sim.Config{ScenarioData: smallFleet()})
		out := r.attach(map[string]any{"volumes": []map[string]any{{"hostname": "app-01", "colour": "red"}}}, false)
		assert.True(t, out.Failed)
		assert.Contains(t, out.Msg, "Unsupported parameters")
		assert.Contains(t, out.Msg, "volumes[0].colour")
	})
}

// TestSingleMissingName: a misspelt single name warns (detach: absent; check-mode attach:
// would_attach, which the real run fails).
func TestSingleMissingName(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})

	det := r.detach(map[string]any{"name": "vol-app-1"}, false)
	assert.False(t, det.Failed)
	assert.Equal(t, []string{"absent"}, det.actions())
	require.Len(t, det.Warnings, 1)
	assert.Contains(t, det.Warnings[0], "volume vol-app-1 does not exist")
	assert.Contains(t, det.Warnings[0], "fail_on_missing")

	listed := r.detach(map[string]any{"volumes": []map[string]any{{"name": "vol-app-1"}}}, false)
	assert.Empty(t, listed.Warnings, "a list's absent entries are the normal rerun case")

	att := r.attach(map[string]any{"name": "vol-app-1", "server": "app-01"}, true)
	assert.False(t, att.Failed)
	assert.Equal(t, []string{"would_attach"}, att.actions())
	require.Len(t, att.Warnings, 1)
	assert.Contains(t, att.Warnings[0], "volume vol-app-1 does not exist: a real run fails unless an earlier task creates it")

	real := r.attach(map[string]any{"name": "vol-app-1", "server": "app-01"}, false)
	assert.True(t, real.Failed)
}

// TestDetachThenDeleteInCheckMode: in check mode the delete of a volume that a detach task
// before it would have detached is a predicted refusal: refused, "would be refused: ...", a
// warning, the task not failed; the real run of the same delete alone fails, and after the
// real detach it deletes.
func TestDetachThenDeleteInCheckMode(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	id := r.id("vol-app-01")
	entry := map[string]any{"volumes": []map[string]any{{"id": id, "name": "vol-app-01", "server": "app-01", "size_gb": 20}}}
	single := map[string]any{"name": "vol-app-01"}

	det := r.detach(single, true)
	assert.Equal(t, []string{"would_detach"}, det.actions())
	del := r.delete(entry, true)
	assert.False(t, del.Failed, del.Msg)
	assert.Equal(t, []string{ActionRefused}, del.actions())
	e := del.Volumes[0].Error
	assert.True(t, strings.HasPrefix(e, "would be refused: "), e)
	assert.Contains(t, e, "set detach: true, or run the detach task first")
	assert.Equal(t, 1, strings.Count(del.Msg, "vol-app-01"), "the volume is named once: %s", del.Msg)
	require.NotEmpty(t, del.Warnings)
	assert.Contains(t, del.Warnings[0], "would be refused")

	alone := r.delete(entry, false)
	assert.True(t, alone.Failed, "without the detach the real run refuses")
	assert.False(t, strings.HasPrefix(alone.Volumes[0].Error, "would be refused"), alone.Volumes[0].Error)

	assert.Equal(t, []string{"detached"}, r.detach(single, false).actions())
	entry["volumes"].([]map[string]any)[0]["server"] = ""
	entry["volumes"].([]map[string]any)[0]["detached"] = true
	assert.Equal(t, []string{"deleted"}, r.delete(entry, false).actions())

	t.Run("a protected volume is a real refusal in check mode too", func(t *testing.T) {
		out := r.delete(map[string]any{"name": "vol-locked", "id": r.id("vol-locked")}, true)
		assert.True(t, out.Failed)
		assert.False(t, strings.HasPrefix(out.Volumes[0].Error, "would be refused"))
	})
}

func TestNameOnce(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"db-1", "volumes[3] (db-1): volume db-1 is attached to x", "volumes[3] (db-1): the volume is attached to x"},
		{"db-1", "volumes[3] (web-1): volume db-1 is in fsn1; volume db-1 again", "volumes[3] (web-1): volume db-1 is in fsn1; the volume again"},
		{"db-1", "volume db-10 is attached; volume db-10 again", "volume db-10 is attached; volume db-10 again"},
		{"db-1", "volume db-1: volume db-1 is delete-protected", "volume db-1: the volume is delete-protected"},
		{"db-1", "not deleted: volumes[0] (db-2) was refused", "not deleted: volumes[0] (db-2) was refused"},
		{"", "volume x", "volume x"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, nameOnce(tc.name, tc.in))
	}
}

// TestLogReplays: every line carries the run and check mode; attach lines name the target
// server, with size and duration; every would_* of a check run is logged.
func TestLogReplays(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	logPath := filepath.Join(t.TempDir(), "ops.jsonl")
	common := map[string]any{"log_path": logPath, "run_id": "RUN-1"}
	with := func(args map[string]any) map[string]any {
		maps.Copy(args, common)
		return args
	}
	attach := with(map[string]any{"name": "vol-spare", "server": "app-02"})
	require.Equal(t, []string{"would_attach"}, r.attach(attach, true).actions())
	del := with(map[string]any{"name": "vol-app-01", "id": r.id("vol-app-01"), "detach": true})
	require.Equal(t, []string{"would_delete"}, r.delete(del, true).actions())
	create := with(map[string]any{"name": "vol-new", "size": 12, "server": "app-01"})
	require.Equal(t, []string{"would_create"}, r.create(create, true).actions())
	require.Equal(t, []string{"attached"}, r.attach(attach, false).actions())

	data, err := os.ReadFile(logPath)
	require.NoError(t, err)
	var lines []oplog.Entry
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e oplog.Entry
		require.NoError(t, json.Unmarshal([]byte(l), &e), l)
		assert.Equal(t, "RUN-1", e.RunID, l)
		lines = append(lines, e)
	}
	find := func(outcome string) oplog.Entry {
		t.Helper()
		for _, e := range lines {
			if e.Outcome == outcome {
				return e
			}
		}
		t.Fatalf("no %s line in %s", outcome, data)
		return oplog.Entry{}
	}
	wa := find("would_attach")
	assert.True(t, wa.CheckMode)
	assert.Equal(t, "app-02", wa.Server, "the target of the attach")
	assert.Equal(t, 10, wa.SizeGB)
	wd := find("would_delete")
	assert.True(t, wd.CheckMode)
	assert.Equal(t, 20, wd.SizeGB)
	// The delete of an attached volume with detach: true predicts its two operations, in order.
	wdt := find("would_detach")
	assert.True(t, wdt.CheckMode)
	assert.Equal(t, "vol-app-01", wdt.Volume)
	assert.Equal(t, "app-01", wdt.Server, "the server it would be detached from")
	assert.Less(t, slices.IndexFunc(lines, func(e oplog.Entry) bool { return e.Outcome == "would_detach" }),
		slices.IndexFunc(lines, func(e oplog.Entry) bool { return e.Outcome == "would_delete" }), "the detach comes first")
	wc := find("would_create")
	assert.Equal(t, "app-01", wc.Server)
	assert.Equal(t, 12, wc.SizeGB)
	st := find("started")
	assert.False(t, st.CheckMode)
	assert.Equal(t, "app-02", st.Server, "the started line of an attach names the target")
	at := find("attached")
	assert.False(t, at.CheckMode)
	assert.Equal(t, "app-02", at.Server)
	assert.Equal(t, 10, at.SizeGB)
	assert.Positive(t, at.DurationMS, "an attach waits for its action")
}
