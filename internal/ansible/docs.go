package ansible

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// norm prints a documented or contract value so that equal values print alike: YAML's int and
// the decoder's int64, nil and a missing key.
func norm(v any) string {
	if rv := reflect.ValueOf(v); v == nil || rv.Kind() == reflect.Slice && rv.IsNil() {
		return "(none)"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

func docString(f map[string]any, key, def string) string {
	if s, ok := f[key].(string); ok {
		return s
	}
	return def
}

func docBool(f map[string]any, key string) bool {
	b, _ := f[key].(bool)
	return b
}

// DocDescription is a documented field's description as one string.
func DocDescription(f map[string]any) string {
	switch d := f["description"].(type) {
	case string:
		return d
	case []any:
		parts := make([]string, len(d))
		for i, p := range d {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// DocProblems returns every difference between documented options (a module's DOCUMENTATION
// options as YAML or ansible-doc --json gives them) and the contract, one line each naming
// where, the option path, the field and both values: type, elements, required, default,
// choices, no_log and suboptions, and the environment fallbacks, which the description must
// quote as C(NAME).
func DocProblems(where string, docs map[string]any, want []Option) []string {
	var problems []string
	known := map[string]bool{}
	for _, o := range want {
		known[o.Name] = true
		at := where + "." + o.Name
		f, ok := docs[o.Name].(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: not documented (the module takes it: type %s)", at, o.Type))
			continue
		}
		diff := func(field, doc, code string) {
			if doc != code {
				problems = append(problems, fmt.Sprintf("%s.%s: the docs say %s, the module %s", at, field, doc, code))
			}
		}
		diff("type", docString(f, "type", "str"), o.Type)
		diff("elements", docString(f, "elements", ""), o.Elements)
		diff("required", fmt.Sprint(docBool(f, "required")), fmt.Sprint(o.Required))
		diff("default", norm(f["default"]), norm(o.Default))
		diff("choices", norm(f["choices"]), norm(o.Choices))
		diff("no_log", fmt.Sprint(docBool(f, "no_log")), fmt.Sprint(o.NoLog))
		for _, env := range o.Env {
			if !strings.Contains(DocDescription(f), "C("+env+")") {
				problems = append(problems, fmt.Sprintf("%s.description: does not say that it falls back to C(%s)", at, env))
			}
		}
		sub, _ := f["suboptions"].(map[string]any)
		switch {
		case len(o.Suboptions) > 0:
			problems = append(problems, DocProblems(at+".suboptions", sub, o.Suboptions)...)
		case len(sub) > 0:
			problems = append(problems, fmt.Sprintf("%s.suboptions: documented, but the module takes none", at))
		}
	}
	for _, name := range sortedKeys(docs) {
		if !known[name] {
			problems = append(problems, fmt.Sprintf("%s.%s: documented, but the module does not take it", where, name))
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
