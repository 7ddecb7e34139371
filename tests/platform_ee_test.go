package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eeSchema is one node of the ansible-builder 3.x execution environment definition schema,
// written from its documentation ("Execution environment definition", version 3 format): the
// seven top-level sections, the keys each accepts, their types and required keys.
type eeSchema struct {
	// kind: object, string, number, bool, strings (a string or a list of strings), galaxy (an
	// object, a string or a list of strings), list (of items), nullable-string.
	kind     string
	keys     map[string]eeSchema // an object's allowed keys
	open     bool                // an object that accepts other keys too
	required []string
	items    *eeSchema
}

var (
	eeString  = eeSchema{kind: "string"}
	eeStrings = eeSchema{kind: "strings"}
	eeBool    = eeSchema{kind: "bool"}
	eeStrList = eeSchema{kind: "list", items: &eeString}
	eePipPkg  = eeSchema{kind: "object", keys: map[string]eeSchema{"package_pip": eeString}, required: []string{"package_pip"}}
)

var eeSchemaV3 = eeSchema{kind: "object", required: []string{"version"}, keys: map[string]eeSchema{
	"version": {kind: "number"},
	"build_arg_defaults": {kind: "object", keys: map[string]eeSchema{
		"ANSIBLE_GALAXY_CLI_COLLECTION_OPTS": eeString,
		"ANSIBLE_GALAXY_CLI_ROLE_OPTS":       eeString,
		"PKGMGR_PRESERVE_CACHE":              eeString,
	}},
	"dependencies": {kind: "object", keys: map[string]eeSchema{
		"python":             eeStrings,
		"galaxy":             {kind: "galaxy"},
		"system":             eeStrings,
		"python_interpreter": {kind: "object", keys: map[string]eeSchema{"package_system": eeString, "python_path": eeString}},
		"ansible_core":       eePipPkg,
		"ansible_runner":     eePipPkg,
		"exclude": {kind: "object", keys: map[string]eeSchema{
			"python": eeStrList, "system": eeStrList, "all_from_collections": eeStrList,
		}},
	}},
	"images": {kind: "object", keys: map[string]eeSchema{
		"base_image": {kind: "object", open: true, keys: map[string]eeSchema{"name": eeString, "signature_original_name": eeString}},
	}},
	"additional_build_steps": {kind: "object", keys: map[string]eeSchema{
		"prepend_base": eeStrings, "append_base": eeStrings,
		"prepend_galaxy": eeStrings, "append_galaxy": eeStrings,
		"prepend_builder": eeStrings, "append_builder": eeStrings,
		"prepend_final": eeStrings, "append_final": eeStrings,
	}},
	"additional_build_files": {kind: "list", items: &eeSchema{kind: "object", required: []string{"src", "dest"},
		keys: map[string]eeSchema{"src": eeString, "dest": eeString}}},
	"options": {kind: "object", keys: map[string]eeSchema{
		"relax_passwd_permissions": eeBool,
		"skip_ansible_check":       eeBool,
		"skip_pip_install":         eeBool,
		"skip_pip_check":           eeBool,
		"workdir":                  {kind: "nullable-string"},
		"package_manager_path":     eeString,
		"user":                     eeString,
		"container_init": {kind: "object", keys: map[string]eeSchema{
			"package_pip": eeString, "entrypoint": eeString, "cmd": eeString,
		}},
		"tags": eeStrList,
	}},
}}

// validate returns every way v (decoded JSON) breaks s, each naming its path.
func (s eeSchema) validate(path string, v any) []string {
	bad := func(want string) []string { return []string{fmt.Sprintf("%s: want %s, got %T", path, want, v)} }
	switch s.kind {
	case "string":
		if _, ok := v.(string); !ok {
			return bad("a string")
		}
	case "nullable-string":
		if _, ok := v.(string); !ok && v != nil {
			return bad("a string or null")
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return bad("a number")
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return bad("a boolean")
		}
	case "strings":
		if !eeIsStrings(v) {
			return bad("a string or a list of strings")
		}
	case "galaxy":
		if _, ok := v.(map[string]any); !ok && !eeIsStrings(v) {
			return bad("a mapping, a string or a list of strings")
		}
	case "list":
		l, ok := v.([]any)
		if !ok {
			return bad("a list")
		}
		var errs []string
		for i, e := range l {
			errs = append(errs, s.items.validate(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
		return errs
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return bad("a mapping")
		}
		return s.validateObject(path, m)
	}
	return nil
}

// validateObject returns every way m breaks the object schema s: missing required keys,
// unknown keys (unless s is open), and the problems of each known key's value.
func (s eeSchema) validateObject(path string, m map[string]any) []string {
	var errs []string
	for _, k := range s.required {
		if _, ok := m[k]; !ok {
			errs = append(errs, fmt.Sprintf("%s: %s is required", path, k))
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub, ok := s.keys[k]
		if !ok {
			if !s.open {
				errs = append(errs, fmt.Sprintf("%s: unknown key %s", path, k))
			}
			continue
		}
		errs = append(errs, sub.validate(path+"."+k, m[k])...)
	}
	return errs
}

// eeIsStrings reports whether v is a string or a list of strings.
func eeIsStrings(v any) bool {
	if _, ok := v.(string); ok {
		return true
	}
	l, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range l {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

// eeValidate is every problem of an execution environment definition for ansible-builder 3.x:
// the schema, and version 3 (ansible-builder reads a file without it as version 1).
func eeValidate(def map[string]any) []string {
	errs := eeSchemaV3.validate("execution-environment.yml", def)
	if v, ok := def["version"].(float64); ok && v != 3 {
		errs = append(errs, fmt.Sprintf("execution-environment.yml: version is %v, not 3", v))
	}
	return errs
}

// readYAML decodes a YAML file with Debian's python3 (PyYAML comes with ansible-core) into
// JSON-typed Go values.
func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c",
		"import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", path).CombinedOutput()
	require.NoError(t, err, "reading %s: %s", path, out)
	var v map[string]any
	require.NoError(t, json.Unmarshal(out, &v), "%s", out)
	return v
}

// execution-environment.yml is a valid ansible-builder 3.x definition, and its Galaxy
// requirements install this version of keybuzz.infra.
func TestPlatformExecutionEnvironment(t *testing.T) {
	root := docRepoRoot(t)
	def := readYAML(t, filepath.Join(root, "execution-environment.yml"))
	assert.Empty(t, eeValidate(def))

	deps, _ := def["dependencies"].(map[string]any)
	galaxy, ok := deps["galaxy"].(string)
	require.True(t, ok, "dependencies.galaxy names the requirements file")
	reqs := readYAML(t, filepath.Join(root, galaxy))
	galaxyYML, err := os.ReadFile(filepath.Join(root, "galaxy.yml"))
	require.NoError(t, err)
	version := regexp.MustCompile(`(?m)^version: (\S+)$`).FindSubmatch(galaxyYML)
	require.NotNil(t, version)
	colls, _ := reqs["collections"].([]any)
	require.Len(t, colls, 1)
	assert.Equal(t, map[string]any{"name": "keybuzz.infra", "version": string(version[1])}, colls[0])
	images, _ := def["images"].(map[string]any)
	base, _ := images["base_image"].(map[string]any)
	assert.NotEmpty(t, base["name"], "images.base_image.name")
}

// The validator refuses what ansible-builder refuses.
func TestPlatformExecutionEnvironmentSchema(t *testing.T) {
	valid := func() map[string]any {
		return map[string]any{
			"version": 3.0,
			"images":  map[string]any{"base_image": map[string]any{"name": "docker.io/redhat/ubi9:latest"}},
			"dependencies": map[string]any{
				"ansible_core":   map[string]any{"package_pip": "ansible-core"},
				"ansible_runner": map[string]any{"package_pip": "ansible-runner"},
				"galaxy":         "requirements.yml",
				"python":         []any{"six"},
			},
			"additional_build_files": []any{map[string]any{"src": "files/ansible.cfg", "dest": "configs"}},
			"additional_build_steps": map[string]any{"prepend_final": "RUN whoami", "append_final": []any{"RUN ls"}},
			"options":                map[string]any{"workdir": nil, "tags": []any{"kbv3-ee"}},
		}
	}
	tests := []struct {
		name   string
		change func(d map[string]any)
		want   string // "" when valid
	}{
		{"the documentation's kind of file", func(map[string]any) {}, ""},
		{"no version", func(d map[string]any) { delete(d, "version") }, "version is required"},
		{"version 1 schema", func(d map[string]any) { d["version"] = 1.0 }, "version is 1, not 3"},
		{"version as text", func(d map[string]any) { d["version"] = "3" }, ".version: want a number"},
		{"unknown section", func(d map[string]any) { d["ansible_config"] = "ansible.cfg" }, "unknown key ansible_config"},
		{"ansible_core without package_pip", func(d map[string]any) {
			d["dependencies"].(map[string]any)["ansible_core"] = map[string]any{}
		}, "ansible_core: package_pip is required"},
		{"build file without dest", func(d map[string]any) {
			d["additional_build_files"] = []any{map[string]any{"src": "x"}}
		}, "additional_build_files[0]: dest is required"},
		{"build step of numbers", func(d map[string]any) {
			d["additional_build_steps"].(map[string]any)["append_base"] = []any{1.0}
		}, "append_base: want a string or a list of strings"},
		{"v1 build step name", func(d map[string]any) {
			d["additional_build_steps"].(map[string]any)["prepend"] = "RUN x"
		}, "unknown key prepend"},
		{"option of the wrong type", func(d map[string]any) {
			d["options"].(map[string]any)["skip_ansible_check"] = "yes"
		}, "skip_ansible_check: want a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			tt.change(d)
			errs := eeValidate(d)
			if tt.want == "" {
				assert.Empty(t, errs)
				return
			}
			assert.Contains(t, strings.Join(errs, "\n"), tt.want)
		})
	}
}
