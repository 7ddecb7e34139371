package e2e

import (
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

func ptr[T any](v T) *T { return &v }

func vol(id int64, name string, size int, loc string, server int64) schema.Volume {
	v := schema.Volume{ID: id, Name: name, Size: size}
	v.Location.Name = loc
	if server != 0 {
		v.Server = ptr(server)
	}
	return v
}

// checkFixture is two servers, an old volume on the delete list, an old volume the diff leaves
// alone (vol-keep), an unrelated archive and scratch volume, and the state a complete reset
// leaves.
func checkFixture() (Want, simproc.State, simproc.State) {
	var servers []simproc.Server
	for i, s := range []struct{ name, loc string }{{"a-01", "fsn1"}, {"b-01", "nbg1"}} {
		srv := simproc.Server{ID: int64(i + 1), Name: s.name}
		srv.Datacenter.Location.Name = s.loc
		servers = append(servers, srv)
	}
	before := simproc.State{Servers: servers, Volumes: []schema.Volume{
		vol(10, "vol-a-01", 10, "fsn1", 1), vol(11, ArchiveVolume, 100, "nbg1", 2), vol(12, "scratch", 10, "fsn1", 0),
	}}
	before.Volumes[1].Labels = map[string]string{"purpose": "archive"}
	before.Volumes[2].Format = ptr("xfs")
	after := simproc.State{Servers: servers, Volumes: []schema.Volume{
		before.Volumes[1], before.Volumes[2], vol(20, "kbv3-a-01-data", 20, "fsn1", 1), vol(21, "data-b", 50, "nbg1", 2),
	}}
	w := Want{
		Plan:    []plan.Entry{{Hostname: "a-01", SizeGB: 20}, {Hostname: "b-01", Volume: "data-b", SizeGB: 50}},
		Deletes: []plan.DeleteEntry{{ID: 10, Name: "vol-a-01"}},
		Old:     []string{OldVolumes},
	}
	return w, before, after
}

func TestCheckFleet(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(w *Want, before, after *simproc.State)
		// want are in CheckFleet's problems; unsafe says Safe finds them too (they may happen
		// to no run, complete or not).
		want   []string
		unsafe bool
	}{
		{name: "the plan reached", edit: func(*Want, *simproc.State, *simproc.State) {}},
		{name: "a delete entry matches by name after a restart", edit: func(w *Want, _, _ *simproc.State) {
			w.Deletes[0].ID = 99
		}},
		{name: "unrelated volume resized", edit: func(_ *Want, _, a *simproc.State) { a.Volumes[0].Size = 200 },
			want: []string{"volume keybuzz-archive-01 (id 11) changed although the diff leaves it alone"}, unsafe: true},
		{name: "unrelated volume relabelled", edit: func(_ *Want, _, a *simproc.State) { a.Volumes[0].Labels = nil },
			want: []string{"keybuzz-archive-01 (id 11) changed"}, unsafe: true},
		{name: "unrelated volume reformatted", edit: func(_ *Want, _, a *simproc.State) { a.Volumes[1].Format = ptr("ext4") },
			want: []string{"scratch (id 12) changed"}, unsafe: true},
		{name: "unrelated volume attached", edit: func(_ *Want, _, a *simproc.State) { a.Volumes[1].Server = ptr(int64(1)) },
			want: []string{"scratch (id 12) changed"}, unsafe: true},
		{name: "unrelated volume deleted", edit: func(_ *Want, _, a *simproc.State) { a.Volumes = a.Volumes[1:] },
			want: []string{"volume keybuzz-archive-01 (id 11) is gone but is not in the diff's delete list"}, unsafe: true},
		{name: "unrelated volume recreated", edit: func(_ *Want, _, a *simproc.State) { a.Volumes[1].ID = 30 },
			want: []string{"scratch (id 12) is gone", "scratch (id 30) is neither planned nor was there before"}, unsafe: true},
		{name: "a volume nobody planned", edit: func(_ *Want, _, a *simproc.State) {
			a.Volumes = append(a.Volumes, vol(31, "stray", 10, "fsn1", 0))
		}, want: []string{"volume stray (id 31) is neither planned nor was there before"}, unsafe: true},
		{name: "plan volume twice", edit: func(_ *Want, _, a *simproc.State) {
			a.Volumes = append(a.Volumes, vol(32, "data-b", 50, "nbg1", 0))
		}, want: []string{"plan volume data-b exists 2 times", "data-b: 2 volumes of that name, want 1"}, unsafe: true},
		{name: "plan volume missing", edit: func(_ *Want, _, a *simproc.State) { a.Volumes = a.Volumes[:3] },
			want: []string{"data-b: 0 volumes of that name, want 1"}},
		{name: "plan volume detached", edit: func(_ *Want, _, a *simproc.State) { a.Volumes[2].Server = nil },
			want: []string{`kbv3-a-01-data: attached to "", want a-01`}},
		{name: "plan volume on another server", edit: func(_ *Want, _, a *simproc.State) { a.Volumes[2].Server = ptr(int64(2)) },
			want: []string{`kbv3-a-01-data: attached to "b-01", want a-01`}},
		{name: "plan volume too small", edit: func(_ *Want, _, a *simproc.State) { a.Volumes[3].Size = 10 },
			want: []string{"data-b: size 10 GB, plan 50"}},
		{name: "plan volume elsewhere", edit: func(_ *Want, _, a *simproc.State) { a.Volumes[3].Location.Name = "hel1" },
			want: []string{"data-b: location hel1, want nbg1"}},
		{name: "plan location wins over the server's", edit: func(w *Want, _, _ *simproc.State) { w.Plan[1].Location = "hel1" },
			want: []string{"data-b: location nbg1, want hel1"}},
		{name: "plan server missing", edit: func(w *Want, _, a *simproc.State) {
			w.Plan = append(w.Plan, plan.Entry{Hostname: "c-01", SizeGB: 10})
			a.Volumes = append(a.Volumes, vol(33, "kbv3-c-01-data", 10, "fsn1", 0))
		}, want: []string{"kbv3-c-01-data: its server c-01 does not exist"}},
		{name: "old volume of the delete list left", edit: func(_ *Want, b, a *simproc.State) {
			a.Volumes = append(a.Volumes, b.Volumes[0])
		}, want: []string{"old volume vol-a-01 (id 10, on the diff's delete list) is still there, attached to a-01"}},
		{name: "old volume outside the delete list left", edit: func(_ *Want, b, a *simproc.State) {
			b.Volumes = append(b.Volumes, vol(13, "vol-keep", 10, "fsn1", 0))
			a.Volumes = append(a.Volumes, b.Volumes[3])
		}, want: []string{"old volume vol-keep (id 13, matching vol-*) is still there"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, before, after := checkFixture()
			tc.edit(&w, &before, &after)
			problems := CheckFleet(w, before, after)
			safe := Safe(w, before, after)
			if len(tc.want) == 0 {
				assert.Empty(t, problems)
				assert.Empty(t, safe)
				return
			}
			for _, want := range tc.want {
				assert.Contains(t, strings.Join(problems, "\n"), want)
			}
			if tc.unsafe {
				assert.NotEmpty(t, safe, "Safe misses it: %v", problems)
			} else {
				assert.Empty(t, safe, "not a safety problem")
			}
		})
	}
}

// A run killed halfway (old volume detached, one plan volume created) is safe but not complete.
func TestSafeAfterAKill(t *testing.T) {
	w, before, _ := checkFixture()
	mid := before
	mid.Volumes = []schema.Volume{vol(10, "vol-a-01", 10, "fsn1", 0), before.Volumes[1], before.Volumes[2], vol(20, "kbv3-a-01-data", 20, "fsn1", 0)}
	assert.Empty(t, Safe(w, before, mid))
	assert.NotEmpty(t, CheckFleet(w, before, mid))
}

func TestUnchanged(t *testing.T) {
	_, before, after := checkFixture()
	assert.Empty(t, Unchanged(before, before))
	problems := Unchanged(before, after)
	require.Len(t, problems, 3, "%v", problems)
	assert.Contains(t, problems[0], "vol-a-01 (id 10): gone")
	assert.Contains(t, problems[1], "kbv3-a-01-data (id 20): new")
	assert.Contains(t, problems[2], "data-b (id 21): new")

	resized := simproc.State{Servers: before.Servers, Volumes: append([]schema.Volume(nil), before.Volumes...)}
	resized.Volumes[2].Size = 20
	assert.Equal(t, []string{`scratch (id 12): now scratch 20 GB fsn1 on "" labels map[] protection false format xfs, was 10 GB fsn1 on "" labels map[] protection false format xfs`},
		Unchanged(before, resized))
}
