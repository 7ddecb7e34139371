package ansible

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shared is an entry type used by several modules, each requiring its own fields.
type shared struct {
	Name   string `mapstructure:"name"`
	Size   int    `mapstructure:"size"`
	Format string `mapstructure:"format"`
}

type withShared struct {
	Common  `mapstructure:",squash"`
	Dest    string   `mapstructure:"dest" ansible:"type=path"`
	Files   []string `mapstructure:"files" ansible:"type=path"`
	Entries []shared `mapstructure:"entries"`
}

var withSharedSpec = Spec{
	Name: "kbv3_test",
	Tags: map[string]string{"entries.name": "required", "entries.format": "choices=xfs|ext4"},
}

func TestContract(t *testing.T) {
	got, err := Contract[withShared](withSharedSpec)
	require.NoError(t, err)
	want := []Option{
		{Name: "api_token", Type: "str", NoLog: true, Env: []string{"HCLOUD_TOKEN"}},
		{Name: "api_endpoint", Type: "str", Default: "https://api.hetzner.cloud/v1", Env: []string{"HCLOUD_ENDPOINT"}},
		{Name: "timeout", Type: "int", Default: int64(300)},
		{Name: "dest", Type: "path"},
		{Name: "files", Type: "list", Elements: "path"},
		{Name: "entries", Type: "list", Elements: "dict", Suboptions: []Option{
			{Name: "name", Type: "str", Required: true},
			{Name: "size", Type: "int"},
			{Name: "format", Type: "str", Choices: []any{"xfs", "ext4"}},
		}},
	}
	assert.Equal(t, want, got)

	everything, err := Contract[everything](everythingSpec)
	require.NoError(t, err)
	types := map[string]string{}
	for _, o := range everything {
		types[o.Name] = o.Type + "/" + o.Elements
	}
	assert.Equal(t, map[string]string{
		"api_token": "str/", "api_endpoint": "str/", "timeout": "int/", "name": "str/", "state": "str/",
		"force": "bool/", "size": "int/", "big": "int/", "ratio": "float/", "count": "int/", "tags": "list/str",
		"ports": "list/int", "labels": "dict/", "optional": "int/", "flag": "bool/", "names": "list/str",
		"volumes": "list/dict", "one": "dict/",
	}, types)
}

func TestSpecTags(t *testing.T) {
	cases := []struct {
		name string
		args map[string]any
		msg  string // "" when the options are accepted
	}{
		{"entries complete", map[string]any{"entries": []any{map[string]any{"name": "a", "format": "xfs"}}}, ""},
		{"required by the spec", map[string]any{"entries": []any{map[string]any{"size": 10}}}, "missing required arguments: name found in entries[0]"},
		{"choices by the spec", map[string]any{"entries": []any{map[string]any{"name": "a", "format": "zfs"}}},
			"value of format must be one of: xfs, ext4, got: zfs found in entries[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeOptions[withShared](withSharedSpec, tc.args, nil)
			if tc.msg == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.msg, err.Error())
		})
	}
	// The same type without the tags requires nothing.
	_, err := DecodeOptions[withShared](Spec{Name: "kbv3_test"}, map[string]any{"entries": []any{map[string]any{"size": 10}}}, nil)
	assert.NoError(t, err)
}

func TestSpecTagsInvalid(t *testing.T) {
	for _, tags := range []map[string]string{
		{"entries.nope": "required"},
		{"nope": "required"},
		{"entries.size": "choices=a|b"}, // not ints
		{"entries.name": "unknown"},
	} {
		_, err := Contract[withShared](Spec{Name: "kbv3_test", Tags: tags})
		assert.Error(t, err, "%v", tags)
	}
	type badPath struct {
		N int `mapstructure:"n" ansible:"type=path"`
	}
	_, err := Contract[badPath](Spec{Name: "kbv3_test"})
	assert.ErrorContains(t, err, "type=path on a int option")
}

// TestPathType expands as Ansible's path type does: expandvars, then expanduser.
func TestPathType(t *testing.T) {
	vars := map[string]string{"HOME": "/home/op", "RUN": "r1"}
	cases := []struct{ in, want string }{
		{"/var/log/kbv3.log", "/var/log/kbv3.log"},
		{"~", "/home/op"},
		{"~/", "/home/op/"},
		{"~/logs/$RUN.log", "/home/op/logs/r1.log"},
		{"${RUN}/x", "r1/x"},
		{"$UNSET/x", "$UNSET/x"}, // expandvars keeps what is not set
		{"a~b", "a~b"},
		{"~no-such-user-kbv3/x", "~no-such-user-kbv3/x"},
		{"relative/path", "relative/path"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			opts, err := DecodeOptions[withShared](withSharedSpec, map[string]any{"dest": tc.in, "files": []any{tc.in}}, env(vars))
			require.NoError(t, err)
			assert.Equal(t, tc.want, opts.Dest)
			assert.Equal(t, []string{tc.want}, opts.Files)
		})
	}
}

func TestDocProblems(t *testing.T) {
	want, err := Contract[withShared](withSharedSpec)
	require.NoError(t, err)
	good := func() map[string]any {
		return map[string]any{
			"api_token":    map[string]any{"description": "Token; falls back to C(HCLOUD_TOKEN).", "type": "str", "no_log": true},
			"api_endpoint": map[string]any{"description": []any{"Endpoint.", "Falls back to C(HCLOUD_ENDPOINT)."}, "default": "https://api.hetzner.cloud/v1"},
			"timeout":      map[string]any{"description": "Seconds.", "type": "int", "default": 300},
			"dest":         map[string]any{"description": "File.", "type": "path"},
			"files":        map[string]any{"description": "Files.", "type": "list", "elements": "path"},
			"entries": map[string]any{"description": "Entries.", "type": "list", "elements": "dict", "suboptions": map[string]any{
				"name":   map[string]any{"description": "Name.", "type": "str", "required": true},
				"size":   map[string]any{"description": "Size.", "type": "int"},
				"format": map[string]any{"description": "Format.", "type": "str", "choices": []any{"xfs", "ext4"}},
			}},
		}
	}
	assert.Empty(t, DocProblems("x", good(), want))

	cases := []struct {
		name   string
		change func(d map[string]any)
		want   string
	}{
		{"type", func(d map[string]any) { d["dest"].(map[string]any)["type"] = "str" }, "x.dest.type: the docs say str, the module path"},
		{"elements", func(d map[string]any) { delete(d["files"].(map[string]any), "elements") }, "x.files.elements: the docs say , the module path"},
		{"default", func(d map[string]any) { d["timeout"].(map[string]any)["default"] = 30 }, "x.timeout.default: the docs say 30, the module 300"},
		{"no_log", func(d map[string]any) { delete(d["api_token"].(map[string]any), "no_log") }, "x.api_token.no_log: the docs say false, the module true"},
		{"env", func(d map[string]any) { d["api_token"].(map[string]any)["description"] = "Token." }, "x.api_token.description: does not say that it falls back to C(HCLOUD_TOKEN)"},
		{"undocumented", func(d map[string]any) { delete(d, "dest") }, "x.dest: not documented (the module takes it: type path)"},
		{"unknown", func(d map[string]any) { d["extra"] = map[string]any{"type": "str"} }, "x.extra: documented, but the module does not take it"},
		{"required suboption", func(d map[string]any) {
			delete(d["entries"].(map[string]any)["suboptions"].(map[string]any)["name"].(map[string]any), "required")
		}, "x.entries.suboptions.name.required: the docs say false, the module true"},
		{"choices", func(d map[string]any) {
			d["entries"].(map[string]any)["suboptions"].(map[string]any)["format"].(map[string]any)["choices"] = []any{"xfs"}
		}, `x.entries.suboptions.format.choices: the docs say ["xfs"], the module ["xfs","ext4"]`},
		{"suboptions of a scalar", func(d map[string]any) {
			d["dest"].(map[string]any)["suboptions"] = map[string]any{"a": map[string]any{}}
		}, "x.dest.suboptions: documented, but the module takes none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := good()
			tc.change(d)
			assert.Equal(t, []string{tc.want}, DocProblems("x", d, want))
		})
	}
}
