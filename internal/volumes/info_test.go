package volumes_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
	"github.com/keybuzz/kbv3/internal/volumes"
)

type infoOut struct {
	Changed    bool                 `json:"changed"`
	Failed     bool                 `json:"failed"`
	Msg        string               `json:"msg"`
	Warnings   []string             `json:"warnings"`
	Volumes    []volumes.VolumeInfo `json:"volumes"`
	VolumeDiff *plan.Diff           `json:"volume_diff"`
}

func (f *roFleet) info(t *testing.T, args map[string]any) (infoOut, string) {
	t.Helper()
	all := map[string]any{"api_token": simtest.Token, "api_endpoint": f.endpoint}
	for k, v := range args {
		all[k] = v
	}
	var out infoOut
	text := roExec(t, volumes.InfoSpec, volumes.Info, all, &out)
	return out, text
}

func roNames(vs []volumes.VolumeInfo) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out
}

func TestInfoListsVolumesWithServerNames(t *testing.T) {
	f := roStart(t)
	f.sim.ResetStats()

	out, text := f.info(t, nil)
	st := f.sim.Stats().Requests
	assert.Zero(t, st.Mutating)
	assert.Equal(t, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1}, st.ByRoute)

	require.False(t, out.Failed, out.Msg)
	assert.False(t, out.Changed)
	require.Len(t, out.Volumes, 41, "40 vol-* and keybuzz-archive-01")
	assert.True(t, slices.IsSorted(roNames(out.Volumes)), "sorted by name")
	archive := f.volume(t, "keybuzz-archive-01")
	assert.Contains(t, out.Volumes, volumes.VolumeInfo{
		ID: archive.ID, Name: "keybuzz-archive-01", SizeGB: 100, Location: f.servers["backup-01"].Location.Name,
		Server: "backup-01", ServerID: f.servers["backup-01"].ID, Labels: map[string]string{"purpose": "archive"},
		Status: "available", Format: "xfs", LinuxDevice: archive.LinuxDevice,
	})
	db := f.volume(t, "vol-db-master-01")
	assert.Contains(t, out.Volumes, volumes.VolumeInfo{
		ID: db.ID, Name: "vol-db-master-01", SizeGB: 100, Location: f.servers["db-postgres-01"].Location.Name,
		Server: "db-postgres-01", ServerID: f.servers["db-postgres-01"].ID, Labels: map[string]string{},
		Status: "available", Format: "xfs", LinuxDevice: db.LinuxDevice,
	})
	assert.Nil(t, out.VolumeDiff, "no plan, no diff")
	// 40 old volumes of their servers' sizes (the 7 servers without one make 200 GB) + the 100 GB archive.
	assert.Equal(t, "41 volumes (41 attached, 2700 GB)", out.Msg)
	assert.NotContains(t, text, simtest.Token)
	assert.NotContains(t, text, `"volume_diff"`)
}

func TestInfoFilters(t *testing.T) {
	f := roStart(t)
	cases := []struct {
		name string
		args map[string]any
		want []string
	}{
		{"exact names", map[string]any{"names": []string{"vol-crm-01", "keybuzz-archive-01", "no-such-volume"}},
			[]string{"keybuzz-archive-01", "vol-crm-01"}},
		{"globs", map[string]any{"names": []string{"vol-db-*", "vol-haproxy-0?"}},
			[]string{"vol-db-master-01", "vol-db-slave-01", "vol-db-slave-02", "vol-haproxy-01", "vol-haproxy-02"}},
		{"label selector", map[string]any{"label_selector": "purpose=archive"}, []string{"keybuzz-archive-01"}},
		{"label selector and names", map[string]any{"label_selector": "purpose", "names": []string{"vol-*"}}, []string{}},
		{"names are a comma list too", map[string]any{"names": "vol-crm-01,vol-etl-01"}, []string{"vol-crm-01", "vol-etl-01"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := f.info(t, tc.args)
			require.False(t, out.Failed, out.Msg)
			assert.Equal(t, tc.want, roNames(out.Volumes))
			for _, v := range out.Volumes {
				assert.NotEmpty(t, v.Server, "%s: server name resolved", v.Name)
				assert.False(t, strings.HasPrefix(v.Server, "#"), v.Server)
			}
		})
	}
}

func TestInfoWritesTheSnapshot(t *testing.T) {
	f := roStart(t)
	dest := filepath.Join(t.TempDir(), "servers", "existing_volumes_hetzner.json")

	out, _ := f.info(t, map[string]any{"dest": dest, "_ansible_check_mode": true})
	assert.True(t, out.Changed, "check mode says the file would change")
	assert.NoFileExists(t, dest)
	assert.NoDirExists(t, filepath.Dir(dest))

	out, _ = f.info(t, map[string]any{"dest": dest})
	assert.True(t, out.Changed)
	data, err := os.ReadFile(dest)
	require.NoError(t, err)
	var snap struct {
		Volumes []volumes.VolumeInfo `json:"volumes"`
	}
	require.NoError(t, roDecodeStrict(data, &snap))
	assert.Equal(t, out.Volumes, snap.Volumes)
	assert.True(t, strings.HasSuffix(string(data), "}\n"))

	out, _ = f.info(t, map[string]any{"dest": dest})
	assert.False(t, out.Changed, "same content, unchanged")
	out, _ = f.info(t, map[string]any{"dest": dest, "_ansible_check_mode": true})
	assert.False(t, out.Changed)

	out, _ = f.info(t, map[string]any{"dest": dest, "names": []string{"vol-crm-01"}, "_ansible_check_mode": true})
	assert.True(t, out.Changed)
	after, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, data, after, "check mode never writes")
}

func TestInfoComputesTheResetDiff(t *testing.T) {
	p := roPlan(t)
	f := roStart(t)
	diffDest := filepath.Join(t.TempDir(), "review", "volume_diff_v3.json")
	f.sim.ResetStats()

	out, _ := f.info(t, map[string]any{"plan": p.Volumes, "delete_names": []string{"vol-*"}, "diff_dest": diffDest})
	require.False(t, out.Failed, out.Msg)
	assert.True(t, out.Changed, "diff_dest written")
	d := out.VolumeDiff
	require.NotNil(t, d)
	assert.Len(t, d.Delete, 40)
	assert.Len(t, d.Create, 47)
	assert.Empty(t, d.Keep)
	assert.Empty(t, d.Mismatch)
	for _, e := range d.Delete {
		assert.NotEqual(t, "keybuzz-archive-01", e.Name)
		assert.True(t, strings.HasPrefix(e.Name, "vol-"), e.Name)
		assert.NotZero(t, e.ID)
		assert.NotEmpty(t, e.Server)
		assert.NotZero(t, e.SizeGB)
	}
	for i, c := range d.Create {
		assert.Equal(t, p.Volumes[i].Name(), c.Volume)
		assert.Equal(t, f.servers[c.Hostname].Location.Name, c.Location, "the server's location")
	}
	assert.Equal(t, "41 volumes (41 attached, 2700 GB); diff: 40 to delete, 47 to create, 0 to keep, 0 mismatch", out.Msg)
	st := f.sim.Stats().Requests
	assert.Zero(t, st.Mutating)
	assert.Equal(t, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1}, st.ByRoute)

	data, err := os.ReadFile(diffDest)
	require.NoError(t, err)
	written, err := plan.ParseDiff(data)
	require.NoError(t, err)
	require.NoError(t, written.Validate(p))
	assert.Equal(t, d, written)
	canonical, err := written.Encode()
	require.NoError(t, err)
	assert.Equal(t, string(canonical), string(data))

	out, _ = f.info(t, map[string]any{"plan": p.Volumes, "delete_names": []string{"vol-*"}, "diff_dest": diffDest})
	assert.False(t, out.Changed, "the same diff again")
}

func TestInfoDiffSeesVolumesOutsideTheListingFilter(t *testing.T) {
	p := roPlan(t)
	f := roMatching(t, p)
	out, _ := f.info(t, map[string]any{"plan": p.Volumes, "delete_label_selector": "purpose=archive", "label_selector": "purpose=archive"})
	require.False(t, out.Failed, out.Msg)
	assert.Equal(t, []string{"keybuzz-archive-01"}, roNames(out.Volumes))
	require.NotNil(t, out.VolumeDiff)
	assert.Len(t, out.VolumeDiff.Keep, 47, "the plan's volumes exist, though the listing filter hides them")
	assert.Empty(t, out.VolumeDiff.Create)
	require.Len(t, out.VolumeDiff.Delete, 1)
	assert.Equal(t, "keybuzz-archive-01", out.VolumeDiff.Delete[0].Name)
}

func TestInfoPlanWithoutDeleteSelectorWarns(t *testing.T) {
	p := roPlan(t)
	f := roStart(t)
	out, _ := f.info(t, map[string]any{"plan": p.Volumes})
	require.False(t, out.Failed, out.Msg)
	require.NotNil(t, out.VolumeDiff)
	assert.Empty(t, out.VolumeDiff.Delete, "an empty selector deletes nothing")
	assert.Len(t, out.VolumeDiff.Create, 47)
	assert.Contains(t, out.Warnings, "no delete_names or delete_label_selector: volume_diff.delete is empty")
}

func TestInfoCheckModeWritesNothing(t *testing.T) {
	p := roPlan(t)
	f := roStart(t)
	dir := t.TempDir()
	dest, diffDest := filepath.Join(dir, "a", "snapshot.json"), filepath.Join(dir, "b", "diff.json")
	out, _ := f.info(t, map[string]any{
		"plan": p.Volumes, "delete_names": []string{"vol-*"}, "dest": dest, "diff_dest": diffDest, "_ansible_check_mode": true,
	})
	require.False(t, out.Failed, out.Msg)
	assert.True(t, out.Changed, "both files would be written")
	require.NotNil(t, out.VolumeDiff)
	assert.Len(t, out.VolumeDiff.Delete, 40)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestInfoRejectsBadOptionsBeforeAnyRequest(t *testing.T) {
	p := roPlan(t)
	cases := []struct {
		name  string
		args  map[string]any
		wants []string
	}{
		{"bad name glob", map[string]any{"names": []string{"vol-["}}, []string{`names[0] "vol-[": not a name or shell glob`}},
		{"bad label selector", map[string]any{"label_selector": "a in (b"}, []string{`label_selector "a in (b": unbalanced '('`}},
		{"bad delete glob", map[string]any{"plan": p.Volumes, "delete_names": []string{"ok-*", "["}}, []string{`delete_names[1] "["`}},
		{"bad delete label selector", map[string]any{"plan": p.Volumes, "delete_label_selector": "a,,b"}, []string{`delete_label_selector "a,,b"`}},
		{"delete selector without plan", map[string]any{"delete_names": []string{"vol-*"}, "diff_dest": "x.json"},
			[]string{"delete_names: needs plan", "diff_dest: needs plan"}},
		{"bad plan entries, named as plan", map[string]any{"plan": []map[string]any{{"hostname": "crm-01", "size_gb": 5}, {"hostname": "-bad", "size_gb": 20}}},
			[]string{"plan[0] (crm-01)", "plan[1]"}},
		{"unknown suboption", map[string]any{"plan": []map[string]any{{"hostname": "crm-01", "size_gb": 20, "sise_gb": 30}}},
			[]string{"sise_gb"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := roStart(t)
			f.sim.ResetStats()
			out, text := f.info(t, tc.args)
			assert.True(t, out.Failed)
			for _, w := range tc.wants {
				assert.Contains(t, out.Msg, w)
			}
			assert.NotContains(t, out.Msg, "volumes[", "entries are named after the option they came in")
			assert.NotContains(t, text, simtest.Token)
			assert.Zero(t, f.sim.Stats().Requests.Total)
		})
	}
}

// roDecodeStrict fails on fields out does not know, so a renamed field in a file is noticed.
func roDecodeStrict(data []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}
