package plan_test

import (
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
)

// problems splits a joined error into its messages, one per problem.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestParse(t *testing.T) {
	p, err := plan.Parse([]byte(`{
  "version": 1,
  "volumes": [
    {"hostname": "db-postgres-01", "size_gb": 100, "role": "db-postgres", "mountpoint": "/data/db-postgres",
     "labels": {"managed-by": "kbv3", "role": "db-postgres"}},
    {"hostname": "haproxy-01", "volume": "lb-data", "size_gb": 10, "location": "nbg1"}
  ]
}`))
	require.NoError(t, err)
	assert.Equal(t, &plan.Plan{Version: 1, Volumes: []plan.Entry{
		{Hostname: "db-postgres-01", SizeGB: 100, Role: "db-postgres", Mountpoint: "/data/db-postgres",
			Labels: map[string]string{"managed-by": "kbv3", "role": "db-postgres"}},
		{Hostname: "haproxy-01", Volume: "lb-data", SizeGB: 10, Location: "nbg1"},
	}}, p)
	assert.Equal(t, "kbv3-db-postgres-01-data", p.Volumes[0].Name())
	assert.Equal(t, "lb-data", p.Volumes[1].Name())
	require.NoError(t, p.Validate())
}

func TestParseErrors(t *testing.T) {
	entries := func(s string) string { return `{"version": 1, "volumes": [` + s + `]}` }
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"unknown field names the entry",
			entries(`{"hostname":"a-01","size_gb":20},{"hostname":"a-02","size_gb":20},{"hostname":"a-03","size_gb":20},{"hostname":"k8s-worker-01","sise_gb":50}`),
			[]string{`volumes[3] (k8s-worker-01): unknown field "sise_gb"`}},
		{"field names are case-sensitive",
			entries(`{"hostname":"a-01","Size_GB":20}`),
			[]string{`volumes[0] (a-01): unknown field "Size_GB"`}},
		{"server_id in a plan file",
			`{"version": 1, "volumes": [{"hostname": "a-01", "size_gb": 20, "server_id": 42}]}`,
			[]string{`volumes[0] (a-01): server_id is not written in plan or diff files: kbv3_volume_info adds it to the entries it gives the stages`}},
		{"every unknown field of every entry",
			entries(`{"hostname":"a-01","size":20,"mount":"/x"},{"hostname":"a-02","size_gb":20,"zone":"fsn1"}`),
			[]string{
				`volumes[0] (a-01): unknown field "size"`,
				`volumes[0] (a-01): unknown field "mount"`,
				`volumes[1] (a-02): unknown field "zone"`,
			}},
		{"duplicate field",
			entries(`{"hostname":"a-01","size_gb":20,"size_gb":50}`),
			[]string{`volumes[0] (a-01): duplicate field "size_gb"`}},
		{"duplicate label key",
			entries(`{"hostname":"a-01","size_gb":20,"labels":{"role":"x","role":"y"}}`),
			[]string{`volumes[0] (a-01): labels: duplicate field "role"`}},
		{"wrong type",
			entries(`{"hostname":"a-01","size_gb":"20"}`),
			[]string{`volumes[0] (a-01): size_gb: got string, want an integer`}},
		{"fractional size",
			entries(`{"hostname":"a-01","size_gb":20.5}`),
			[]string{`volumes[0] (a-01): size_gb: got number 20.5, want an integer`}},
		{"label value not a string",
			entries(`{"hostname":"a-01","size_gb":20,"labels":{"role":5}}`),
			[]string{`volumes[0] (a-01): labels: got number, want a string`}},
		{"entry not an object",
			entries(`{"hostname":"a-01","size_gb":20},"a-02"`),
			[]string{`volumes[1] (no hostname): want an object`}},
		{"hostname not a string",
			entries(`{"hostname":7,"size_gb":20}`),
			[]string{`volumes[0] (no hostname): hostname: got number, want a string`}},
		{"volumes not a list",
			`{"version": 1, "volumes": {"hostname":"a-01"}}`,
			[]string{`volumes: want a list of entries`}},
		{"unknown top-level field",
			`{"version": 1, "volume": [], "volumes": []}`,
			[]string{`unknown field "volume"`}},
		{"version missing",
			`{"volumes": []}`,
			[]string{`version is missing (want 1)`}},
		{"version unsupported",
			`{"version": 2, "volumes": []}`,
			[]string{`version 2 is not supported (want 1)`}},
		{"version as a string",
			`{"version": "1", "volumes": []}`,
			[]string{`version: got string, want an integer`}},
		{"not an object",
			`[{"hostname":"a-01"}]`,
			[]string{`a plan is a JSON object: {"version": 1, "volumes": [...]}`}},
		{"syntax error with line and column",
			"{\n  \"version\": 1,\n  \"volumes\": [\n    {\"hostname\": \"a-01\",}\n  ]\n}",
			[]string{`line 4, column 25: invalid character '}' looking for beginning of object key string`}},
		{"trailing data",
			`{"version": 1, "volumes": []} {}`,
			[]string{`line 1, column 31: invalid character '{' after top-level value`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.Parse([]byte(tt.in))
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Equal(t, tt.want, problems(err))
		})
	}
}

func TestParseEntryErrorIsTyped(t *testing.T) {
	_, err := plan.Parse([]byte(`{"version": 1, "volumes": [{"hostname":"a-01","sise_gb":20}]}`))
	var ee *plan.EntryError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, plan.EntryError{List: "volumes", Index: 0, Hostname: "a-01", Err: ee.Err}, *ee)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/plan.json"
	write(t, path, `{"version": 1, "volumes": [{"hostname":"a-01","sise_gb":20,"zone":"x"}]}`)
	_, err := plan.Load(path)
	assert.EqualError(t, err, path+":\n"+`volumes[0] (a-01): unknown field "sise_gb"`+"\n"+`volumes[0] (a-01): unknown field "zone"`)

	write(t, path, `{"volumes": []}`)
	_, err = plan.Load(path)
	assert.EqualError(t, err, path+": version is missing (want 1)")

	_, err = plan.Load(dir + "/missing.json")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("x", 56) // kbv3-<56>-data is 66 characters
	tests := []struct {
		name    string
		volumes []plan.Entry
		want    []string
	}{
		{"valid, bounds included", []plan.Entry{
			{Hostname: "a-01", SizeGB: 10},
			{Hostname: "a-02", SizeGB: 10240, Location: "fsn1", Volume: "A.b_c-9"},
			{Hostname: "a-03", SizeGB: 20, Location: "xyz9", Mountpoint: "/data/x",
				Labels: map[string]string{"example.com/tier": "gold", "empty": "", "a": "b"}},
		}, nil},
		{"empty plan", nil, []string{"the plan has no volumes"}},
		{"missing hostname", []plan.Entry{{SizeGB: 20}},
			[]string{"volumes[0] (no hostname): hostname is missing"}},
		{"invalid hostname", []plan.Entry{{Hostname: "db_01", SizeGB: 20}},
			[]string{`volumes[0] (db_01): hostname "db_01" is not a valid server name (RFC 1123: letters, digits and '-' in dot-separated parts of at most 63, not starting or ending with '-')`}},
		{"missing size", []plan.Entry{{Hostname: "a-01"}},
			[]string{"volumes[0] (a-01): size_gb is missing (want 10..10240)"}},
		{"size too small", []plan.Entry{{Hostname: "a-01", SizeGB: 9}},
			[]string{"volumes[0] (a-01): size_gb 9 is out of range 10..10240"}},
		{"size too large", []plan.Entry{{Hostname: "a-01", SizeGB: 10241}},
			[]string{"volumes[0] (a-01): size_gb 10241 is out of range 10..10240"}},
		{"negative size", []plan.Entry{{Hostname: "a-01", SizeGB: -10}},
			[]string{"volumes[0] (a-01): size_gb -10 is out of range 10..10240"}},
		{"volume name starts with a dash", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Volume: "-data"}},
			[]string{`volumes[0] (a-01): volume "-data" must start and end with a letter or digit`}},
		{"volume name ends with a dot", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Volume: "data."}},
			[]string{`volumes[0] (a-01): volume "data." must start and end with a letter or digit`}},
		{"volume name with a space", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Volume: "my data"}},
			[]string{`volumes[0] (a-01): volume "my data" has ' ' at position 3: only letters, digits, '-', '_' and '.' are allowed`}},
		{"volume name too long", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Volume: strings.Repeat("v", 65)}},
			[]string{`volumes[0] (a-01): volume "` + strings.Repeat("v", 65) + `" is 65 characters long, the API allows at most 64`}},
		{"derived volume name too long", []plan.Entry{{Hostname: long, SizeGB: 20}},
			[]string{`volumes[0] (` + long + `): volume "kbv3-` + long + `-data" (derived from the hostname) is 66 characters long, the API allows at most 64`}},
		{"location uppercase", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Location: "FSN1"}},
			[]string{`volumes[0] (a-01): location "FSN1" is not a location name: lowercase letters and digits only (known: fsn1, nbg1, hel1, ash, hil, sin)`}},
		{"location with a dash", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Location: "fsn-1"}},
			[]string{`volumes[0] (a-01): location "fsn-1" is not a location name: lowercase letters and digits only (known: fsn1, nbg1, hel1, ash, hil, sin)`}},
		{"duplicate hostname", []plan.Entry{{Hostname: "a-01", SizeGB: 20}, {Hostname: "b-01", SizeGB: 20}, {Hostname: "a-01", SizeGB: 30, Volume: "other"}},
			[]string{"volumes[2] (a-01): hostname duplicates volumes[0]"}},
		{"duplicate volume name", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Volume: "shared"}, {Hostname: "b-01", SizeGB: 20, Volume: "shared"}},
			[]string{`volumes[1] (b-01): volume "shared" duplicates volumes[0] (a-01)`}},
		{"explicit name equal to another's default", []plan.Entry{{Hostname: "a-01", SizeGB: 20}, {Hostname: "b-01", SizeGB: 20, Volume: "kbv3-a-01-data"}},
			[]string{`volumes[1] (b-01): volume "kbv3-a-01-data" duplicates volumes[0] (a-01)`}},
		{"label key with a space", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Labels: map[string]string{"my role": "x"}}},
			[]string{`volumes[0] (a-01): label key "my role": the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`}},
		{"empty label key", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Labels: map[string]string{"": "x"}}},
			[]string{`volumes[0] (a-01): label key "": the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`}},
		{"label key name too long", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Labels: map[string]string{strings.Repeat("k", 64): "x"}}},
			[]string{`volumes[0] (a-01): label key "` + strings.Repeat("k", 64) + `": the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`}},
		{"label key with two slashes", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Labels: map[string]string{"a/b/c": "x"}}},
			[]string{`volumes[0] (a-01): label key "a/b/c": the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`}},
		{"label key prefix not a DNS subdomain", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Labels: map[string]string{"Example.com/tier": "x", "a..b/c": "y"}}},
			[]string{
				`volumes[0] (a-01): label key "Example.com/tier": the prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.')`,
				`volumes[0] (a-01): label key "a..b/c": the prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.')`,
			}},
		{"reserved label prefix", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Labels: map[string]string{"hetzner.cloud/x": "y"}}},
			[]string{`volumes[0] (a-01): label key "hetzner.cloud/x": the prefix "hetzner.cloud/" is reserved by Hetzner`}},
		{"bad label values", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Labels: map[string]string{"a": "-x", "b": strings.Repeat("v", 64), "c": "x y"}}},
			[]string{
				`volumes[0] (a-01): label "a": value "-x" must be empty or 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
				`volumes[0] (a-01): label "b": value "` + strings.Repeat("v", 64) + `" must be empty or 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
				`volumes[0] (a-01): label "c": value "x y" must be empty or 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
			}},
		{"relative mountpoint", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Mountpoint: "data/a"}},
			[]string{`volumes[0] (a-01): mountpoint "data/a" is not an absolute path`}},
		{"root mountpoint", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Mountpoint: "/"}},
			[]string{`volumes[0] (a-01): mountpoint "/" is the root directory`}},
		{"unclean mountpoint", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Mountpoint: "/data/../etc/"}},
			[]string{`volumes[0] (a-01): mountpoint "/data/../etc/" is not a clean path (want "/etc")`}},
		{"mountpoint with a space", []plan.Entry{{Hostname: "a-01", SizeGB: 20, Mountpoint: "/data/my data"}},
			[]string{`volumes[0] (a-01): mountpoint "/data/my data" contains whitespace`}},
		{"every problem of every entry, in order", []plan.Entry{
			{Hostname: "a-01", SizeGB: 5, Location: "Fsn1", Mountpoint: "x"},
			{SizeGB: 20},
			{Hostname: "a-01", SizeGB: 20},
		}, []string{
			"volumes[0] (a-01): size_gb 5 is out of range 10..10240",
			`volumes[0] (a-01): location "Fsn1" is not a location name: lowercase letters and digits only (known: fsn1, nbg1, hel1, ash, hil, sin)`,
			`volumes[0] (a-01): mountpoint "x" is not an absolute path`,
			"volumes[1] (no hostname): hostname is missing",
			"volumes[2] (a-01): hostname duplicates volumes[0]",
			`volumes[2] (a-01): volume "kbv3-a-01-data" duplicates volumes[0] (a-01)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &plan.Plan{Version: plan.Version, Volumes: tt.volumes}
			assert.Equal(t, tt.want, problems(p.Validate()))
		})
	}
}

func TestValidateVersionAndNil(t *testing.T) {
	p := &plan.Plan{Version: 0, Volumes: []plan.Entry{{Hostname: "a-01", SizeGB: 20}}}
	assert.EqualError(t, p.Validate(), "version 0 is not supported (want 1)")
	var nilPlan *plan.Plan
	assert.EqualError(t, nilPlan.Validate(), "the plan has no volumes")
}

func TestEntryValidate(t *testing.T) {
	require.NoError(t, plan.Entry{Hostname: "a-01", SizeGB: 20}.Validate())
	err := plan.Entry{Hostname: "a-01", SizeGB: 5, Mountpoint: "/"}.Validate()
	assert.Equal(t, []string{
		"a-01: size_gb 5 is out of range 10..10240",
		`a-01: mountpoint "/" is the root directory`,
	}, problems(err))
	var ee *plan.EntryError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, -1, ee.Index)
	assert.Equal(t, []string{"no hostname: hostname is missing"}, problems(plan.Entry{SizeGB: 20}.Validate()))
}

func TestOnly(t *testing.T) {
	p := &plan.Plan{Version: 1, Volumes: []plan.Entry{
		{Hostname: "a-01", SizeGB: 20}, {Hostname: "b-01", SizeGB: 30}, {Hostname: "c-01", SizeGB: 40},
	}}
	tests := []struct {
		name        string
		hosts       []string
		wantHosts   []string
		wantMissing []string
	}{
		{"all", []string{"a-01", "b-01", "c-01"}, []string{"a-01", "b-01", "c-01"}, nil},
		{"plan order, not limit order", []string{"c-01", "a-01"}, []string{"a-01", "c-01"}, nil},
		{"hosts without a volume are reported once, sorted", []string{"zz-01", "b-01", "localhost", "zz-01"}, []string{"b-01"}, []string{"localhost", "zz-01"}},
		{"nothing", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, missing := p.Only(tt.hosts)
			var got []string
			for _, e := range sub.Volumes {
				got = append(got, e.Hostname)
			}
			assert.Equal(t, tt.wantHosts, got)
			assert.Equal(t, tt.wantMissing, missing)
			assert.Equal(t, plan.Version, sub.Version)
		})
	}
	// The sub-plan is a view for one run: narrowing must not touch the plan it came from.
	assert.Len(t, p.Volumes, 3)
}

func TestNew(t *testing.T) {
	p := plan.New([]plan.Entry{{Hostname: "a-01", SizeGB: 20}})
	assert.Equal(t, plan.Version, p.Version)
	require.NoError(t, p.Validate())
}

func TestPlanEntryAndSizes(t *testing.T) {
	p := &plan.Plan{Version: 1, Volumes: []plan.Entry{{Hostname: "a-01", SizeGB: 20}, {Hostname: "b-01", SizeGB: 30}}}
	e, ok := p.Entry("b-01")
	require.True(t, ok)
	assert.Equal(t, 30, e.SizeGB)
	_, ok = p.Entry("c-01")
	assert.False(t, ok)
	assert.Equal(t, []int{20, 30}, p.Sizes())
}

func TestEncodeRoundTrip(t *testing.T) {
	p := &plan.Plan{Version: 1, Volumes: []plan.Entry{
		{Hostname: "a-01", SizeGB: 20, Role: "r", Mountpoint: "/data/r", Labels: map[string]string{"z": "1", "a": "2"}},
		{Hostname: "b-01", Volume: "b", SizeGB: 30, Location: "hel1"},
	}}
	out, err := p.Encode()
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(out), "}\n"))
	back, err := plan.Parse(out)
	require.NoError(t, err)
	assert.Equal(t, p, back)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}
