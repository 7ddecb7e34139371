package plan_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
)

// smallFleet is a plan of four hosts, their servers' locations, and live volumes that put every
// plan volume in a different state.
func smallFleet() (*plan.Plan, []plan.Live, map[string]string) {
	p := &plan.Plan{Version: 1, Volumes: []plan.Entry{
		{Hostname: "a-01", SizeGB: 20, Role: "web", Labels: map[string]string{"role": "web"}},
		{Hostname: "b-01", SizeGB: 50},
		{Hostname: "c-01", SizeGB: 30, Location: "hel1"},
		{Hostname: "d-01", SizeGB: 10},
	}}
	servers := map[string]string{"a-01": "fsn1", "b-01": "fsn1", "c-01": "hel1", "d-01": "nbg1"}
	live := []plan.Live{
		{ID: 8, Name: "vol-b-01", SizeGB: 20, Location: "fsn1", Server: "b-01"},
		{ID: 1, Name: "vol-a-01", SizeGB: 10, Location: "fsn1", Server: "a-01", Labels: map[string]string{"gen": "v2"}},
		{ID: 3, Name: "kbv3-b-01-data", SizeGB: 50, Location: "fsn1", Server: "b-01", Labels: map[string]string{"managed-by": "kbv3"}},
		{ID: 4, Name: "kbv3-c-01-data", SizeGB: 20, Location: "fsn1", Server: "d-01"},
		{ID: 5, Name: "kbv3-d-01-data", SizeGB: 10, Location: "nbg1"},
		{ID: 6, Name: "vol-locked", SizeGB: 10, Location: "nbg1", Protected: true},
		{ID: 7, Name: "scratch", SizeGB: 10, Location: "nbg1"},
	}
	return p, live, servers
}

func TestCompute(t *testing.T) {
	p, live, servers := smallFleet()
	d, err := plan.Compute(p, live, servers, plan.Selector{Names: []string{"vol-*"}})
	require.NoError(t, err)
	assert.Equal(t, &plan.Diff{
		Version:  1,
		Selector: plan.Selector{Names: []string{"vol-*"}},
		Delete: []plan.DeleteEntry{
			{ID: 1, Name: "vol-a-01", Server: "a-01", SizeGB: 10},
			{ID: 8, Name: "vol-b-01", Server: "b-01", SizeGB: 20},
		},
		Create: []plan.Entry{
			{Hostname: "a-01", Volume: "kbv3-a-01-data", SizeGB: 20, Location: "fsn1", Role: "web", Labels: map[string]string{"role": "web"}},
		},
		Keep: []plan.Match{
			{Hostname: "b-01", Volume: "kbv3-b-01-data", ID: 3, SizeGB: 50, Location: "fsn1", Server: "b-01"},
			{Hostname: "d-01", Volume: "kbv3-d-01-data", ID: 5, SizeGB: 10, Location: "nbg1"},
		},
		Mismatch: []plan.Mismatch{{
			Match: plan.Match{Hostname: "c-01", Volume: "kbv3-c-01-data", ID: 4, SizeGB: 20, Location: "fsn1", Server: "d-01"},
			Fields: []string{
				"size_gb: plan 30, live 20 (the reset grows it with allow_grow=true)",
				"location: plan hel1, live fsn1",
				"server: plan c-01, live d-01",
			},
		}},
		Protected: []plan.DeleteEntry{{ID: 6, Name: "vol-locked", Detached: true, SizeGB: 10}},
	}, d)
	require.NoError(t, d.Validate(p))
	// Compute fills the create entry; the plan it was given stays as written.
	assert.Empty(t, p.Volumes[0].Volume)
}

func TestComputeNeverDeletesAPlanVolume(t *testing.T) {
	p, live, servers := smallFleet()
	for _, tc := range []struct {
		sel plan.Selector
		// The reset refuses a diff whose selector matches the plan's own volumes (judged on
		// their names and planned labels): it is too broad to review.
		refused bool
	}{
		{plan.Selector{Names: []string{"*"}}, true},
		{plan.Selector{Names: []string{"kbv3-*"}}, true},
		{plan.Selector{LabelSelector: "managed-by=kbv3"}, false},
		{plan.Selector{LabelSelector: "!nothing"}, true},
	} {
		t.Run(strings.Join(tc.sel.Names, ",")+tc.sel.LabelSelector, func(t *testing.T) {
			d, err := plan.Compute(p, live, servers, tc.sel)
			require.NoError(t, err)
			for _, del := range d.Delete {
				assert.False(t, strings.HasPrefix(del.Name, "kbv3-"), "plan volume %s in delete", del.Name)
			}
			assert.Len(t, d.Keep, 2)
			assert.Len(t, d.Mismatch, 1)
			err = d.Validate(p)
			if !tc.refused {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "volumes[0] (a-01): volume kbv3-a-01-data matches the diff's delete selector")
		})
	}
}

func TestComputeSelectors(t *testing.T) {
	p, live, servers := smallFleet()
	tests := []struct {
		name string
		sel  plan.Selector
		want []string
	}{
		{"empty selector deletes nothing", plan.Selector{}, nil},
		{"everything but the plan", plan.Selector{Names: []string{"*"}}, []string{"scratch", "vol-a-01", "vol-b-01"}},
		{"by label", plan.Selector{LabelSelector: "gen=v2"}, []string{"vol-a-01"}},
		{"by name and label", plan.Selector{Names: []string{"vol-*"}, LabelSelector: "!gen"}, []string{"vol-b-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := plan.Compute(p, live, servers, tt.sel)
			require.NoError(t, err)
			var got []string
			for _, del := range d.Delete {
				got = append(got, del.Name)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestComputeEmptyFleet(t *testing.T) {
	p, _, servers := smallFleet()
	p.Volumes[2].Location = ""
	d, err := plan.Compute(p, nil, servers, plan.Selector{Names: []string{"vol-*"}})
	require.NoError(t, err)
	assert.Len(t, d.Create, 4)
	assert.Equal(t, []string{"fsn1", "fsn1", "hel1", "nbg1"}, []string{d.Create[0].Location, d.Create[1].Location, d.Create[2].Location, d.Create[3].Location})
	// Empty lists, not null: the reviewer and the playbook read [] as "nothing to do".
	out, err := d.Encode()
	require.NoError(t, err)
	assert.Contains(t, string(out), `"delete": []`)
	assert.Contains(t, string(out), `"keep": []`)
	assert.NotContains(t, string(out), `"protected"`)
}

func TestComputeIsDeterministic(t *testing.T) {
	p, live, servers := smallFleet()
	sel := plan.Selector{Names: []string{"*"}}
	want, err := plan.Compute(p, live, servers, sel)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(live)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, err := plan.Compute(p, shuffled, servers, sel)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

func TestComputeErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *plan.Plan, live *[]plan.Live, servers map[string]string, sel *plan.Selector)
		want   []string
	}{
		{"invalid plan", func(p *plan.Plan, _ *[]plan.Live, _ map[string]string, _ *plan.Selector) {
			p.Volumes[1].SizeGB = 5
		}, []string{"volumes[1] (b-01): size_gb 5 is out of range 10..10240"}},
		{"invalid selector", func(_ *plan.Plan, _ *[]plan.Live, _ map[string]string, sel *plan.Selector) {
			sel.Names = []string{"vol-["}
		}, []string{`selector names[0] "vol-[": syntax error in pattern`}},
		{"two live volumes with one name", func(_ *plan.Plan, live *[]plan.Live, _ map[string]string, _ *plan.Selector) {
			*live = append(*live, plan.Live{ID: 99, Name: "scratch"})
		}, []string{`live volumes: name "scratch" is used by ids 7 and 99`}},
		{"two live volumes with one id", func(_ *plan.Plan, live *[]plan.Live, _ map[string]string, _ *plan.Selector) {
			*live = append(*live, plan.Live{ID: 7, Name: "scratch-2"})
		}, []string{`live volumes: id 7 is used by "scratch" and "scratch-2"`}},
		{"no location for a volume to create", func(_ *plan.Plan, _ *[]plan.Live, servers map[string]string, _ *plan.Selector) {
			delete(servers, "a-01")
		}, []string{"volumes[0] (a-01): no location: the server was not found and the plan sets none"}},
		{"plan location differs from the server's", func(_ *plan.Plan, _ *[]plan.Live, servers map[string]string, _ *plan.Selector) {
			servers["c-01"] = "nbg1"
		}, []string{"volumes[2] (c-01): location hel1 differs from the server's nbg1: the volume could not be attached"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, live, servers := smallFleet()
			sel := plan.Selector{Names: []string{"vol-*"}}
			tt.mutate(p, &live, servers, &sel)
			d, err := plan.Compute(p, live, servers, sel)
			assert.Nil(t, d)
			assert.Equal(t, tt.want, problems(err))
		})
	}
}

func TestComputePlanLocationWithoutServer(t *testing.T) {
	// A plan location is enough to create; attaching is the attach module's concern.
	p, _, servers := smallFleet()
	delete(servers, "c-01")
	d, err := plan.Compute(p, nil, servers, plan.Selector{})
	require.NoError(t, err)
	assert.Equal(t, "hel1", d.Create[2].Location)
}

func TestDiffRoundTrip(t *testing.T) {
	p, live, servers := smallFleet()
	d, err := plan.Compute(p, live, servers, plan.Selector{Names: []string{"vol-*"}, LabelSelector: "!keep"})
	require.NoError(t, err)
	out, err := d.Encode()
	require.NoError(t, err)
	back, err := plan.ParseDiff(out)
	require.NoError(t, err)
	assert.Equal(t, d, back)
	require.NoError(t, back.Validate(p))
}

func TestLoadDiff(t *testing.T) {
	path := t.TempDir() + "/diff.json"
	write(t, path, `{"version": 1, "delete": [{"id": 1, "name": "vol-a", "detached": true, "size_gb": 10}]}`)
	d, err := plan.LoadDiff(path)
	require.NoError(t, err)
	assert.Equal(t, []plan.DeleteEntry{{ID: 1, Name: "vol-a", Detached: true, SizeGB: 10}}, d.Delete)
	require.NoError(t, d.Validate(nil))

	write(t, path, `{"version": 1, "delete": [{"id": 1, "nmae": "vol-a"}]}`)
	_, err = plan.LoadDiff(path)
	assert.EqualError(t, err, path+`: delete[0] (id 1, ): unknown field "nmae"`)
}

func TestParseDiffErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"unknown field in a delete entry",
			`{"version": 1, "delete": [{"id": 1, "name": "vol-a"}, {"id": 2, "name": "vol-b", "sever": "b-01"}]}`,
			[]string{`delete[1] (id 2, vol-b): unknown field "sever"`}},
		{"wrong type in a delete entry",
			`{"version": 1, "delete": [{"id": "17", "name": "vol-a"}]}`,
			[]string{`delete[0] (id 0, vol-a): id: got string, want an integer`}},
		{"delete entry not an object",
			`{"version": 1, "delete": [17]}`,
			[]string{`delete[0]: want an object`}},
		{"delete not a list",
			`{"version": 1, "delete": {"id": 1}}`,
			[]string{`delete: want a list`}},
		{"unknown field in a create entry",
			`{"version": 1, "create": [{"hostname": "a-01", "size_gb": 20, "location": "fsn1", "sise": 1}]}`,
			[]string{`create[0] (a-01): unknown field "sise"`}},
		{"server_id in a create entry",
			`{"version": 1, "create": [{"hostname": "a-01", "size_gb": 20, "location": "fsn1", "server_id": 7}]}`,
			[]string{`create[0] (a-01): server_id is not written in plan or diff files: kbv3_volume_info adds it to the entries it gives the stages`}},
		{"unknown field in keep and mismatch",
			`{"version": 1, "keep": [{"hostname": "a-01", "volume": "v", "id": 1, "size": 2}], "mismatch": [{"hostname": "b-01", "field": []}]}`,
			[]string{`keep[0] (a-01): unknown field "size"`, `mismatch[0] (b-01): unknown field "field"`}},
		{"unknown field in the selector",
			`{"version": 1, "selector": {"name": ["vol-*"]}}`,
			[]string{`selector: unknown field "name"`}},
		{"unknown top-level field",
			`{"version": 1, "deletes": []}`,
			[]string{`unknown field "deletes"`}},
		{"duplicate top-level field",
			`{"version": 1, "delete": [], "delete": [{"id": 1, "name": "x"}]}`,
			[]string{`duplicate field "delete"`}},
		{"version missing", `{"delete": []}`, []string{`version is missing (want 1)`}},
		{"version unsupported", `{"version": 3}`, []string{`version 3 is not supported (want 1)`}},
		{"not an object", `null`, []string{`a diff is a JSON object: {"version": 1, "selector": {...}, "delete": [...], ...}`}},
		{"truncated", `{"version": 1, "delete": [`, []string{`line 1, column 27: unexpected end of JSON input`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := plan.ParseDiff([]byte(tt.in))
			assert.Nil(t, d)
			assert.Equal(t, tt.want, problems(err))
		})
	}
}

func TestParseDiffNullsAreEmpty(t *testing.T) {
	d, err := plan.ParseDiff([]byte(`{"version": 1, "selector": {}, "delete": null, "create": null, "keep": null, "mismatch": null}`))
	require.NoError(t, err)
	assert.Empty(t, d.Delete)
	require.NoError(t, d.Validate(nil))
}

func TestDiffValidate(t *testing.T) {
	p := &plan.Plan{Version: 1, Volumes: []plan.Entry{
		{Hostname: "foo", SizeGB: 20},
		{Hostname: "bar", SizeGB: 50, Location: "hel1"},
	}}
	valid := func() *plan.Diff {
		return &plan.Diff{
			Version:  1,
			Selector: plan.Selector{Names: []string{"vol-*"}},
			Delete:   []plan.DeleteEntry{{ID: 11, Name: "vol-a", Server: "foo", SizeGB: 10}, {ID: 12, Name: "vol-b", Detached: true, SizeGB: 10}},
			Create:   []plan.Entry{{Hostname: "foo", Volume: "kbv3-foo-data", SizeGB: 20, Location: "fsn1"}},
			Keep:     []plan.Match{{Hostname: "bar", Volume: "kbv3-bar-data", ID: 5, SizeGB: 50, Location: "hel1", Server: "bar"}},
		}
	}
	tests := []struct {
		name   string
		mutate func(d *plan.Diff)
		want   []string
	}{
		{"valid", func(*plan.Diff) {}, nil},
		{"empty delete list is fine", func(d *plan.Diff) { d.Delete = nil }, nil},
		{"a diff that would delete a volume of the plan", func(d *plan.Diff) {
			d.Selector.Names = nil
			d.Delete = append(d.Delete, plan.DeleteEntry{ID: 17, Name: "kbv3-foo-data", Detached: true, SizeGB: 10})
		}, []string{
			"delete[2] (id 17, kbv3-foo-data): is a volume of the plan",
			`create[0] (foo): volume "kbv3-foo-data" is also in delete`,
		}},
		{"a plan volume with an explicit name", func(d *plan.Diff) {
			d.Selector.Names = nil
			d.Delete[0].Name = "kbv3-bar-data"
			d.Keep = nil
		}, []string{"delete[0] (id 11, kbv3-bar-data): is a volume of the plan"}},
		{"id missing", func(d *plan.Diff) { d.Delete[1].ID = 0 }, []string{
			"delete[1] (id 0, vol-b): id must be a positive volume id, got 0",
		}},
		{"negative id", func(d *plan.Diff) { d.Delete[1].ID = -3 }, []string{
			"delete[1] (id -3, vol-b): id must be a positive volume id, got -3",
		}},
		{"name missing", func(d *plan.Diff) { d.Delete[1].Name = "" }, []string{
			"delete[1] (id 12, ): name is missing",
		}},
		{"invalid name", func(d *plan.Diff) { d.Delete[1].Name = "vol-b." }, []string{
			`delete[1] (id 12, vol-b.): name "vol-b." must start and end with a letter or digit`,
		}},
		{"duplicate id", func(d *plan.Diff) { d.Delete[1].ID = 11 }, []string{
			"delete[1] (id 11, vol-b): id duplicates delete[0]",
		}},
		{"duplicate name", func(d *plan.Diff) { d.Delete[1].Name = "vol-a" }, []string{
			"delete[1] (id 12, vol-a): name duplicates delete[0]",
		}},
		{"name outside the selector", func(d *plan.Diff) { d.Delete[1].Name = "data-b" }, []string{
			"delete[1] (id 12, data-b): does not match the selector's names",
		}},
		{"server_id in a delete entry", func(d *plan.Diff) { d.Delete[0].ServerID = 9 }, []string{
			"delete[0] (id 11, vol-a): server_id is not written in plan or diff files: kbv3_volume_info adds it to the entries it gives the stages",
		}},
		{"position in a delete entry", func(d *plan.Diff) { d.Delete[1].Position = 3 }, []string{
			"delete[1] (id 12, vol-b): position is not written in plan or diff files: kbv3_volume_info adds it to the entries it gives the stages",
		}},
		{"position in a protected entry", func(d *plan.Diff) { d.Protected = []plan.DeleteEntry{{ID: 40, Name: "vol-z", Position: 1}} }, []string{
			"protected[0] (id 40, vol-z): position is not written in plan or diff files: kbv3_volume_info adds it to the entries it gives the stages",
		}},
		{"bad size", func(d *plan.Diff) { d.Delete[1].SizeGB = 5 }, []string{
			"delete[1] (id 12, vol-b): size_gb 5 is out of range 10..10240",
		}},
		{"deleting a protected volume", func(d *plan.Diff) { d.Protected = []plan.DeleteEntry{{ID: 12, Name: "vol-b"}} }, []string{
			"delete[1] (id 12, vol-b): is also listed as protected",
		}},
		{"invalid selector", func(d *plan.Diff) { d.Selector.LabelSelector = "a in (" }, []string{
			`selector label_selector "a in (": unbalanced '('`,
		}},
		{"version", func(d *plan.Diff) { d.Version = 2 }, []string{"version 2 is not supported (want 1)"}},
		{"create not in the plan", func(d *plan.Diff) { d.Create[0].Hostname, d.Create[0].Volume = "baz", "" }, []string{
			`create[0] (baz): volume "kbv3-baz-data" is not in the plan`,
		}},
		{"create under another host", func(d *plan.Diff) { d.Create[0].Hostname = "baz" }, []string{
			`create[0] (baz): volume "kbv3-foo-data" belongs to foo in the plan`,
		}},
		{"create with another size", func(d *plan.Diff) { d.Create[0].SizeGB = 30 }, []string{
			"create[0] (foo): size_gb 30 differs from the plan's 20",
		}},
		{"create in another location than the plan's", func(d *plan.Diff) {
			d.Keep = nil
			d.Create = append(d.Create, plan.Entry{Hostname: "bar", SizeGB: 50, Location: "fsn1"})
		}, []string{"create[1] (bar): location fsn1 differs from the plan's hel1"}},
		{"create without a location", func(d *plan.Diff) { d.Create[0].Location = "" }, []string{
			"create[0] (foo): location is missing (Compute resolves it from the server)",
		}},
		{"invalid create entry", func(d *plan.Diff) { d.Create[0].Mountpoint = "data" }, []string{
			`create[0] (foo): mountpoint "data" is not an absolute path`,
		}},
		{"create also deleted", func(d *plan.Diff) {
			d.Selector.Names = nil
			d.Delete[0].Name = "kbv3-foo-data"
		}, []string{
			"delete[0] (id 11, kbv3-foo-data): is a volume of the plan",
			`create[0] (foo): volume "kbv3-foo-data" is also in delete`,
		}},
		{"keep not in the plan", func(d *plan.Diff) { d.Keep[0].Volume = "kbv3-baz-data" }, []string{
			`keep[0] (bar): volume "kbv3-baz-data" is not in the plan`,
		}},
		{"keep also deleted", func(d *plan.Diff) { d.Keep[0].ID = 11 }, []string{
			"keep[0] (bar): id 11 is also in delete",
		}},
		{"mismatch without an id", func(d *plan.Diff) {
			d.Mismatch = []plan.Mismatch{{Match: plan.Match{Hostname: "bar", Volume: "kbv3-bar-data"}, Fields: []string{"size_gb: plan 50, live 20"}}}
			d.Keep = nil
		}, []string{"mismatch[0] (bar): id must be a positive volume id, got 0"}},
		{"every problem at once", func(d *plan.Diff) {
			d.Selector.Names = nil
			d.Delete = []plan.DeleteEntry{{ID: 0, Name: "kbv3-foo-data", Detached: true, SizeGB: 10}, {ID: 3, Name: "", Detached: true, SizeGB: 10}, {ID: 3, Name: "old", Detached: true, SizeGB: 10}}
		}, []string{
			"delete[0] (id 0, kbv3-foo-data): id must be a positive volume id, got 0",
			"delete[0] (id 0, kbv3-foo-data): is a volume of the plan",
			"delete[1] (id 3, ): name is missing",
			"delete[2] (id 3, old): id duplicates delete[1]",
			`create[0] (foo): volume "kbv3-foo-data" is also in delete`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			tt.mutate(d)
			assert.Equal(t, tt.want, problems(d.Validate(p)))
		})
	}
}

func TestDiffValidateWithoutPlan(t *testing.T) {
	d := &plan.Diff{Version: 1, Delete: []plan.DeleteEntry{{ID: 17, Name: "kbv3-foo-data", Detached: true, SizeGB: 10}},
		Create: []plan.Entry{{Hostname: "x", SizeGB: 20, Location: "fsn1"}}}
	// Without a plan only the diff's own consistency can be checked.
	require.NoError(t, d.Validate(nil))
}
