package volumes

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/plan"
)

// The documentation is checked against the Go contract (Contracts, Actions), field by field:
// the sidecar docs that ansible-doc shows, the doc fragment of the common options, and the
// lists in README.md and docs/ARCHITECTURE.md. Each difference is one error naming the file,
// the option path and both values.

const repoRoot = "../.."

// readRepo reads a file of the checkout.
func readRepo(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	require.NoError(t, err)
	return string(data)
}

// docYAML decodes YAML into generic values.
func docYAML(t *testing.T, where, text string) map[string]any {
	t.Helper()
	var out map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &out), where)
	return out
}

// fragmentOptions are the options of plugins/doc_fragments/hcloud.py, the common ones.
func fragmentOptions(t *testing.T) map[string]any {
	t.Helper()
	const rel = "plugins/doc_fragments/hcloud.py"
	src := readRepo(t, rel)
	_, rest, ok := strings.Cut(src, "DOCUMENTATION = r'''")
	require.True(t, ok, "%s: no DOCUMENTATION = r'''", rel)
	text, _, ok := strings.Cut(rest, "'''")
	require.True(t, ok, "%s: DOCUMENTATION is not closed", rel)
	opts, _ := docYAML(t, rel, text)["options"].(map[string]any)
	require.NotEmpty(t, opts, "%s: no options", rel)
	return opts
}

// sidecar is one module's documentation file.
type sidecar struct {
	options map[string]any // the module's own, merged with the fragment's as ansible-doc does
	doc     map[string]any
	ret     map[string]any
}

func readSidecar(t *testing.T, name string, fragment map[string]any) sidecar {
	t.Helper()
	rel := "plugins/modules/" + name + ".yml"
	all := docYAML(t, rel, readRepo(t, rel))
	doc, _ := all["DOCUMENTATION"].(map[string]any)
	require.NotNil(t, doc, "%s: no DOCUMENTATION", rel)
	ret, _ := all["RETURN"].(map[string]any)
	frags, _ := doc["extends_documentation_fragment"].([]any)
	require.Contains(t, frags, "keybuzz.infra.hcloud", "%s: the common options come from the fragment keybuzz.infra.hcloud", rel)
	opts := map[string]any{}
	for k, v := range fragment {
		opts[k] = v
	}
	own, _ := doc["options"].(map[string]any)
	for k, v := range own {
		opts[k] = v
	}
	return sidecar{options: opts, doc: doc, ret: ret}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sameWords returns the differences between a documented list of words and the contract's.
func sameWords(where, what string, doc, want []string) []string {
	var problems []string
	for _, w := range want {
		if !slices.Contains(doc, w) {
			problems = append(problems, fmt.Sprintf("%s: %s %s is missing", where, what, w))
		}
	}
	for _, w := range doc {
		if !slices.Contains(want, w) {
			problems = append(problems, fmt.Sprintf("%s: %s %s is not one the module has", where, what, w))
		}
	}
	return problems
}

var codeRE = regexp.MustCompile(`C\(([a-z_]+)\)`)

// codeWords are the C(word) of a description, once each.
func codeWords(s string) []string {
	var out []string
	for _, m := range codeRE.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// itemFields are the keys of an item result.
func itemFields() []string { return jsonKeys(reflect.TypeFor[Item]()) }

// jsonKeys are the keys t is written with, embedded structs' included.
func jsonKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "":
			out = append(out, jsonKeys(f.Type)...)
		case name != "" && name != "-":
			out = append(out, name)
		}
	}
	return out
}

func contracts(t *testing.T) map[string]Contract {
	t.Helper()
	c, err := Contracts()
	require.NoError(t, err)
	require.Len(t, c, 6)
	return c
}

func report(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

// TestDocsSidecars holds each module's sidecar documentation to its contract: every option and
// suboption with its type, elements, default, choices, required and no_log, the environment
// fallbacks, and the words of the items' action and the item's fields in RETURN.
func TestDocsSidecars(t *testing.T) {
	fragment := fragmentOptions(t)
	for name, c := range contracts(t) {
		t.Run(name, func(t *testing.T) {
			sc := readSidecar(t, name, fragment)
			rel := "plugins/modules/" + name + ".yml"
			report(t, ansible.DocProblems(rel+": options", sc.options, c.Options))
			vols, _ := sc.ret["volumes"].(map[string]any)
			contains, _ := vols["contains"].(map[string]any)
			if name == InfoSpec.Name {
				report(t, sameWords(rel+": RETURN.volumes.contains", "volume field", sortedKeys(contains), jsonKeys(reflect.TypeFor[VolumeInfo]())))
			}
			if c.Actions == nil {
				return
			}
			action, _ := contains["action"].(map[string]any)
			require.NotNil(t, action, "%s: RETURN.volumes.contains.action is not documented", rel)
			report(t, sameWords(rel+": RETURN.volumes.contains.action", "action", codeWords(ansible.DocDescription(action)), c.Actions))
			report(t, sameWords(rel+": RETURN.volumes.contains", "item field", sortedKeys(contains), itemFields()))
		})
	}
}

// TestDocsFragment holds the doc fragment to the common options: every module takes exactly
// those, with the fields the fragment documents.
func TestDocsFragment(t *testing.T) {
	common, err := ansible.Contract[Common](ansible.Spec{Name: "common"})
	require.NoError(t, err)
	report(t, ansible.DocProblems("plugins/doc_fragments/hcloud.py: options", fragmentOptions(t), common))
}

// TestDocsActionWordsKnown holds the action words the verify module's docs quote (of the items
// the stages return) to the words the modules have.
func TestDocsActionWordsKnown(t *testing.T) {
	var all []string
	for _, words := range Actions {
		all = append(all, words...)
	}
	rel := "plugins/modules/kbv3_volume_verify.yml"
	doc := docYAML(t, rel, readRepo(t, rel))["DOCUMENTATION"].(map[string]any)
	done := doc["options"].(map[string]any)["done"].(map[string]any)["suboptions"].(map[string]any)
	for _, stage := range sortedKeys(done) {
		sub := done[stage].(map[string]any)["suboptions"].(map[string]any)
		action, _ := sub["action"].(map[string]any)
		for _, w := range codeWords(ansible.DocDescription(action)) {
			if !slices.Contains(all, w) {
				t.Errorf("%s: options.done.%s.action quotes C(%s), which no module returns", rel, stage, w)
			}
		}
	}
}

// codes reads a list written as backticked words: those outside parentheses, in order, and
// for each the backticked words in the parentheses that follow it.
func codes(s string) (top []string, sub map[string][]string) {
	sub = map[string][]string{}
	depth, last := 0, ""
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '`':
			end := strings.IndexByte(s[i+1:], '`')
			if end < 0 {
				return top, sub
			}
			word := s[i+1 : i+1+end]
			i += end + 1
			if depth == 0 {
				top, last = append(top, word), word
			} else if last != "" {
				sub[last] = append(sub[last], word)
			}
		}
	}
	return top, sub
}

// cutTop returns s up to the first sep outside parentheses.
func cutTop(s string, sep byte) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case sep:
			if depth == 0 {
				return s[:i]
			}
		}
	}
	return s
}

// between returns the text of s from the first line starting with from up to the first line
// (after it) starting with to.
func between(t *testing.T, where, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, "\n"+from)
	require.GreaterOrEqual(t, i, 0, "%s: no line starting %q", where, from)
	s = s[i+1:]
	j := strings.Index(s[len(from):], "\n"+to)
	require.GreaterOrEqual(t, j, 0, "%s: no line starting %q after %q", where, to, from)
	return s[:len(from)+j]
}

// tableRows returns the cells of the rows of the markdown table whose first cell is a module.
func tableRows(s string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "| `kbv3_volume_") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		out[strings.Trim(cells[0], "`")] = cells
	}
	return out
}

func optionNames(opts []ansible.Option) []string {
	out := make([]string, len(opts))
	for i, o := range opts {
		out[i] = o.Name
	}
	return out
}

// commonNames are the options every module takes.
func commonNames(t *testing.T) []string {
	t.Helper()
	common, err := ansible.Contract[Common](ansible.Spec{Name: "common"})
	require.NoError(t, err)
	return optionNames(common)
}

// TestDocsReadme holds README.md's lists to the contract: the common options, each module's
// other options (and the suboptions it lists in parentheses), the words of its items' action,
// and the item's fields.
func TestDocsReadme(t *testing.T) {
	const rel = "README.md"
	text := readRepo(t, rel)
	common, _ := codes(cutTop(strings.TrimPrefix(between(t, rel, text, "All six take the common options", "| module |"), "All six take the common options"), ';'))
	report(t, sameWords(rel+": the common options", "option", common, commonNames(t)))

	rows := tableRows(between(t, rel, text, "| module | does |", "The four modules"))
	for name, c := range contracts(t) {
		row, ok := rows[name]
		if !ok {
			t.Errorf("%s: the module table has no row for %s", rel, name)
			continue
		}
		require.Len(t, row, 4, "%s: the row of %s", rel, name)
		where := rel + ": " + name
		top, sub := codes(row[2])
		own := slices.DeleteFunc(optionNames(c.Options), func(n string) bool { return slices.Contains(commonNames(t), n) })
		report(t, sameWords(where+" options", "option", top, own))
		for _, o := range c.Options {
			if listed, ok := sub[o.Name]; ok {
				report(t, sameWords(where+" options "+o.Name, "suboption", listed, optionNames(o.Suboptions)))
			}
		}
		actions, _ := codes(row[3])
		report(t, sameWords(where+" actions", "action", actions, c.Actions))
	}
	_, items, ok := strings.Cut(between(t, rel, text, "The four modules", "The option and action lists"), "one item per volume:")
	require.True(t, ok, "%s: no \"one item per volume:\"", rel)
	fields, _ := codes(cutTop(items, ';'))
	report(t, sameWords(rel+": the item's fields", "field", fields, itemFields()))
}

// TestDocsArchitecture holds docs/ARCHITECTURE.md's lists to the contract: the common options,
// the item's fields and each module's action words.
func TestDocsArchitecture(t *testing.T) {
	const rel = "docs/ARCHITECTURE.md"
	text := readRepo(t, rel)
	_, commonText, _ := strings.Cut(between(t, rel, text, "### Module options common to all six", "The options of each module"), "\n")
	common, _ := codes(commonText)
	report(t, sameWords(rel+": the common options", "option", common, commonNames(t)))

	item := between(t, rel, text, "### Item result", "### Module result")
	_, fieldsText, _ := strings.Cut(item, "\n")
	fieldsText, _, _ = strings.Cut(strings.TrimSpace(fieldsText), "\n")
	fields, _ := codes(fieldsText)
	report(t, sameWords(rel+": the item's fields", "field", fields, itemFields()))

	rows := tableRows(item)
	for name, c := range contracts(t) {
		row, ok := rows[name]
		switch {
		case c.Actions == nil && ok:
			t.Errorf("%s: the action table has a row for %s, which returns no items", rel, name)
		case c.Actions == nil:
		case !ok:
			t.Errorf("%s: the action table has no row for %s", rel, name)
		default:
			actions, _ := codes(row[1])
			report(t, sameWords(rel+": "+name+" actions", "action", actions, c.Actions))
		}
	}
}

// TestDiffEntriesFitModules: every key of the reviewed diff's entries is an option of the
// modules that take that kind of entry, so that an entry chains into them as it is (a delete
// entry into detach and delete, a create entry into create, a keep entry into attach).
func TestDiffEntriesFitModules(t *testing.T) {
	c := contracts(t)
	cases := []struct {
		entry   reflect.Type
		modules []string
	}{
		{reflect.TypeFor[plan.DeleteEntry](), []string{DetachSpec.Name, DeleteSpec.Name}},
		{reflect.TypeFor[plan.Entry](), []string{CreateSpec.Name, AttachSpec.Name}},
		{reflect.TypeFor[plan.Match](), []string{AttachSpec.Name}},
	}
	for _, tc := range cases {
		for _, name := range tc.modules {
			i := slices.IndexFunc(c[name].Options, func(o ansible.Option) bool { return o.Name == "volumes" })
			require.GreaterOrEqual(t, i, 0, "%s takes no volumes", name)
			subs := optionNames(c[name].Options[i].Suboptions)
			for _, k := range jsonKeys(tc.entry) {
				assert.Contains(t, subs, k, "%s.%s is not a suboption of %s's volumes", tc.entry, k, name)
			}
		}
	}
}
