package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/volumes"
)

// docModules are the six modules of keybuzz.infra (meta/runtime.yml's action group).
var docModules = []string{
	"kbv3_volume_detach", "kbv3_volume_delete", "kbv3_volume_create",
	"kbv3_volume_attach", "kbv3_volume_verify", "kbv3_volume_info",
}

// docRepoRoot is the checkout.
func docRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := e2e.Root()
	require.NoError(t, err)
	return root
}

// docBuildModules builds the named modules from the checkout's source into dir, so the test
// checks the code as it is, not whatever `make build` left in plugins/modules.
func docBuildModules(t *testing.T, dir string, names ...string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to build the modules")
	args := []string{"build", "-trimpath", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./modules/"+n)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = docRepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
}

// docCollectionTree lays out what `make build` makes with its symlink
// (.build/collections/ansible_collections/keybuzz/infra → the checkout), in a temporary
// directory and without touching the checkout: the collection's metadata and docs are symlinks
// to the checkout's, the module files freshly built binaries. It returns the directory to put
// in ANSIBLE_COLLECTIONS_PATH and the modules directory.
func docCollectionTree(t *testing.T, modules ...string) (collectionsPath, modulesDir string) {
	t.Helper()
	root := docRepoRoot(t)
	collectionsPath = t.TempDir()
	coll := filepath.Join(collectionsPath, "ansible_collections", "keybuzz", "infra")
	modulesDir = filepath.Join(coll, "plugins", "modules")
	require.NoError(t, os.MkdirAll(modulesDir, 0o755))
	links := []string{"galaxy.yml", "meta", "plugins/doc_fragments"}
	for _, m := range modules {
		links = append(links, "plugins/modules/"+m+".yml")
	}
	for _, rel := range links {
		require.NoError(t, os.Symlink(filepath.Join(root, rel), filepath.Join(coll, rel)))
	}
	docBuildModules(t, modulesDir, modules...)
	return collectionsPath, modulesDir
}

// docAnsibleDoc runs ansible-doc against the collection tree, away from the checkout's
// ansible.cfg, and returns stdout and stderr.
func docAnsibleDoc(t *testing.T, collectionsPath string, args ...string) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("ansible-doc")
	if err != nil {
		t.Fatal("ansible-doc not found in PATH: install ansible-core (make deps)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = collectionsPath
	cmd.Env = append(docEnvWithout("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"),
		"ANSIBLE_COLLECTIONS_PATH="+collectionsPath, "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	require.NoError(t, err, "ansible-doc %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.String(), stderr.String()
}

func docEnvWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) {
			env = append(env, kv)
		}
	}
	return env
}

// docField is an option or a return value as ansible-doc --json shows it: what Ansible
// understood of the sidecar YAML, fragment included.
type docField map[string]any

func (f docField) children(key string) map[string]docField {
	raw, _ := f[key].(map[string]any)
	out := map[string]docField{}
	for k, v := range raw {
		m, _ := v.(map[string]any)
		out[k] = m
	}
	return out
}

// Keys a field may have. Anything else is almost always a YAML slip, such as an unquoted comma
// in a flow mapping ({description: Server name, empty when detached., ...}) that turns half a
// sentence into a key.
var (
	docOptionKeys = []string{"description", "type", "required", "default", "choices", "elements", "aliases",
		"suboptions", "version_added", "no_log"}
	docReturnKeys = []string{"description", "type", "returned", "elements", "contains", "sample", "version_added"}
)

func docCheckKeys(t *testing.T, where string, fields map[string]docField, allowed []string, nested string) {
	t.Helper()
	for name, f := range fields {
		require.NotNil(t, f, "%s.%s is not a mapping", where, name)
		for k := range f {
			assert.Contains(t, allowed, k, "%s.%s has an unexpected key %q (an unquoted comma in a flow mapping?)", where, name, k)
		}
		assert.NotEmpty(t, f["description"], "%s.%s has no description", where, name)
		if sub := f.children(nested); len(sub) > 0 {
			docCheckKeys(t, where+"."+name, sub, allowed, nested)
		}
	}
}

func docSortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var docSupportedRE = regexp.MustCompile(`Supported parameters include: ([^.]*)\.`)

// docProbe runs a module binary with args and returns its msg. The environment holds no token and
// an endpoint nothing listens on, so that a probe can never reach an API.
func docProbe(t *testing.T, bin string, args map[string]any) string {
	t.Helper()
	data, err := json.Marshal(args)
	require.NoError(t, err)
	argsFile := filepath.Join(t.TempDir(), "args")
	require.NoError(t, os.WriteFile(argsFile, data, 0o600))
	cmd := exec.Command(bin, argsFile)
	cmd.Env = append(docEnvWithout("HCLOUD_TOKEN", "HCLOUD_ENDPOINT"), "HCLOUD_ENDPOINT=http://127.0.0.1:9/v1")
	out, _ := cmd.Output()
	var res struct {
		Msg string `json:"msg"`
	}
	require.NoError(t, json.Unmarshal(out, &res), "%s printed: %s", filepath.Base(bin), out)
	return res.Msg
}

var (
	docMissingRE  = regexp.MustCompile(`^missing required arguments: (.*?)(?: found in (.*))?$`)
	docOneOfRE    = regexp.MustCompile(`^one of the following is required: (.*?)(?: found in (.*))?$`)
	docTogetherRE = regexp.MustCompile(`^parameters are required together: (.*?)(?: found in (.*))?$`)
)

// docSupported returns the options a binary accepts at one level: the top level, or the elements
// of option sub when it is not "". Ansible reports a missing required option before an unknown
// one, so the probe fills in what the binary asks for (documented type, dummy value) until it
// answers with its list of supported parameters.
func docSupported(t *testing.T, bin string, options map[string]docField, sub string) []string {
	t.Helper()
	args := map[string]any{docUnknownOption: 1}
	level, levelDocs := args, options
	if sub != "" {
		elem := map[string]any{docUnknownOption: 1}
		levelDocs = options[sub].children("suboptions")
		args = map[string]any{sub: elem}
		if options[sub]["type"] == "list" {
			args[sub] = []any{elem}
		}
		level = elem
	}
	for range 8 {
		msg := docProbe(t, bin, args)
		if m := docSupportedRE.FindStringSubmatch(msg); m != nil {
			return strings.Split(m[1], ", ")
		}
		var names []string
		var in string
		switch {
		case docMissingRE.MatchString(msg):
			m := docMissingRE.FindStringSubmatch(msg)
			names, in = strings.Split(m[1], ", "), m[2]
		case docOneOfRE.MatchString(msg):
			m := docOneOfRE.FindStringSubmatch(msg)
			names, in = strings.Split(m[1], ", ")[:1], m[2]
		case docTogetherRE.MatchString(msg):
			m := docTogetherRE.FindStringSubmatch(msg)
			names, in = strings.Split(m[1], ", "), m[2]
		default:
			t.Fatalf("%s answered %q, not its supported parameters", filepath.Base(bin), msg)
		}
		target, docs := args, options
		if in != "" {
			require.NotEqual(t, "", sub, "%s asks for suboptions of %s: %q", filepath.Base(bin), in, msg)
			target, docs = level, levelDocs
		}
		for _, n := range names {
			f, ok := docs[n]
			require.True(t, ok, "%s requires %s, which is not documented (%q)", filepath.Base(bin), n, msg)
			target[n] = docDummy(f)
		}
	}
	t.Fatalf("%s: no list of supported parameters after 8 probes", filepath.Base(bin))
	return nil
}

// docDummy is a value of the documented type; its content does not matter, since the unknown
// option fails the call before any value is used.
func docDummy(f docField) any {
	if choices, ok := f["choices"].([]any); ok && len(choices) > 0 {
		return choices[0]
	}
	switch f["type"] {
	case "int":
		return 10
	case "float":
		return 1.5
	case "bool":
		return false
	case "list":
		return []any{}
	case "dict":
		return map[string]any{}
	}
	return "probe"
}

const docUnknownOption = "zz_kbv3_unknown_option"

// TestModuleDocs renders each module's documentation with ansible-doc, as a user reads it, and
// holds it to what the binary really accepts.
func TestModuleDocs(t *testing.T) {
	if _, err := exec.LookPath("ansible-doc"); err != nil {
		t.Fatal("ansible-doc not found in PATH: install ansible-core (make deps)")
	}
	collectionsPath, modulesDir := docCollectionTree(t, docModules...)
	contracts, err := volumes.Contracts()
	require.NoError(t, err)

	for _, name := range docModules {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fqcn := "keybuzz.infra." + name
			text, stderr := docAnsibleDoc(t, collectionsPath, "-t", "module", fqcn)
			assert.NotContains(t, stderr, "ERROR")
			assert.NotContains(t, stderr, "WARNING")
			assert.True(t, strings.HasPrefix(text, "> "+strings.ToUpper(fqcn)+" "), "header: %.80s", text)

			raw, _ := docAnsibleDoc(t, collectionsPath, "--json", "-t", "module", fqcn)
			var all map[string]struct {
				Doc    docField            `json:"doc"`
				Return map[string]docField `json:"return"`
			}
			require.NoError(t, json.Unmarshal([]byte(raw), &all))
			d, ok := all[fqcn]
			require.True(t, ok, "ansible-doc --json has no %s", fqcn)
			options := d.Doc.children("options")
			require.NotEmpty(t, options)
			require.NotEmpty(t, d.Return, "RETURN is empty")

			// Rendered: every option, "=" marking the mandatory ones, and every return value.
			for _, o := range docSortedNames(options) {
				mark := "-"
				if options[o]["required"] == true {
					mark = "="
				}
				assert.Contains(t, text, "\n"+mark+" "+o+"\n", "option %s", o)
			}
			ret := text[strings.Index(text, "RETURN VALUES:"):]
			for _, r := range docSortedNames(d.Return) {
				assert.Contains(t, ret, "\n- "+r+"\n", "return value %s", r)
			}
			// What ansible-doc understood (fragment merged) is the contract the decoder enforces.
			docOptions := map[string]any{}
			for k, v := range options {
				docOptions[k] = map[string]any(v)
			}
			for _, p := range ansible.DocProblems(fqcn+" (ansible-doc): options", docOptions, contracts[name].Options) {
				t.Error(p)
			}
			docCheckKeys(t, "options", options, docOptionKeys, "suboptions")
			docCheckKeys(t, "return", d.Return, docReturnKeys, "contains")

			// The binary accepts exactly the documented options, and suboptions.
			bin := filepath.Join(modulesDir, name)
			assert.Equal(t, docSortedNames(options), docSupported(t, bin, options, ""), "top-level options")
			for _, o := range docSortedNames(options) {
				if sub := options[o].children("suboptions"); len(sub) > 0 {
					assert.Equal(t, docSortedNames(sub), docSupported(t, bin, options, o), "suboptions of %s", o)
				}
			}

			// The mandatory options are the documented ones.
			var required []string
			for _, o := range docSortedNames(options) {
				if options[o]["required"] == true {
					required = append(required, o)
				}
			}
			msg := docProbe(t, bin, map[string]any{})
			if len(required) > 0 {
				assert.Equal(t, "missing required arguments: "+strings.Join(required, ", "), msg)
			} else {
				assert.NotContains(t, msg, "missing required arguments")
			}
		})
	}
}
