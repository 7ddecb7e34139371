package ansible

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// kind is the Ansible type an option is validated as; it is derived from the Go field type so
// that the struct stays the single source of truth for a module's options.
type kind int

const (
	kindStr   kind = iota
	kindBool       // bool
	kindInt        // int, int8..int64
	kindUint       // uint..uint64: Ansible has no unsigned type, they are ints that must be >= 0
	kindFloat      // float32, float64
	kindList       // slice of one of the scalar kinds above
	kindMap        // map[string]string
	kindDict       // struct: suboptions
	kindDicts      // slice of struct: list of suboptions
)

// typeName is what Ansible calls the type in "unable to convert to ..." messages.
func (k kind) typeName() string {
	switch k {
	case kindStr:
		return "str"
	case kindBool:
		return "bool"
	case kindInt, kindUint:
		return "int"
	case kindFloat:
		return "float"
	case kindList, kindDicts:
		return "list"
	default:
		return "dict"
	}
}

// option is one entry of the argument spec, the equivalent of an argument_spec dict in Python.
type option struct {
	name     string
	kind     kind
	typ      reflect.Type // field type without the pointer; for kindList the element type
	elem     kind         // element kind of a kindList
	sub      []*option    // suboptions of kindDict and kindDicts
	required bool
	noLog    bool
	path     bool  // type=path: a str (or list of str) expanded as Ansible's path type does
	choices  []any // normalized, compared with ==
	def      any   // raw default, coerced like user input; nil when there is none
	env      []string
}

// specOf builds the argument spec of T once per call; it is cheap (a walk over the fields) and
// every error it returns is a programming error in the module, not in the task.
func specOf(t reflect.Type, spec Spec) ([]*option, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("options type %s is not a struct", t)
	}
	opts, err := structOptions(t, "")
	if err != nil {
		return nil, err
	}
	for path, tag := range spec.Tags {
		o := findPath(opts, path)
		if o == nil {
			return nil, fmt.Errorf("spec tags %q, which is not an option", path)
		}
		if err := o.parseTag(tag); err != nil {
			return nil, fmt.Errorf("spec tags %s: %w", path, err)
		}
	}
	groups := slices.Concat(spec.MutuallyExclusive, spec.RequiredOneOf, spec.RequiredTogether)
	for _, group := range groups {
		for _, name := range group {
			if find(opts, name) == nil {
				return nil, fmt.Errorf("spec names %q, which is not an option", name)
			}
		}
	}
	return opts, nil
}

func find(opts []*option, name string) *option {
	for _, o := range opts {
		if o.name == name {
			return o
		}
	}
	return nil
}

// findPath finds a suboption by its dotted path ("volumes.hostname"); nil when there is none.
func findPath(opts []*option, path string) *option {
	name, rest, nested := strings.Cut(path, ".")
	o := find(opts, name)
	if o == nil || !nested {
		return o
	}
	return findPath(o.sub, rest)
}

func structOptions(t reflect.Type, path string) ([]*option, error) {
	var opts []*option
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag, hasTag := f.Tag.Lookup("mapstructure")
		name, flags, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		squash := slices.Contains(strings.Split(flags, ","), "squash") ||
			(f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct)
		if squash {
			if f.Type.Kind() != reflect.Struct {
				return nil, fmt.Errorf("%s%s: squash needs a struct, not %s", path, f.Name, f.Type)
			}
			if _, ok := f.Tag.Lookup("ansible"); ok {
				return nil, fmt.Errorf("%s%s: ansible tag on a squashed struct", path, f.Name)
			}
			embedded, err := structOptions(f.Type, path)
			if err != nil {
				return nil, err
			}
			opts = append(opts, embedded...)
			continue
		}
		if name == "" {
			return nil, fmt.Errorf("%s%s: no mapstructure tag naming the option", path, f.Name)
		}
		o, err := fieldOption(f, name, path)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	}
	for i, o := range opts {
		if slices.ContainsFunc(opts[:i], func(p *option) bool { return p.name == o.name }) {
			return nil, fmt.Errorf("%s%s: option defined twice", path, o.name)
		}
	}
	return opts, nil
}

var durationType = reflect.TypeFor[time.Duration]()

func scalarKind(t reflect.Type) (kind, bool) {
	if t == durationType {
		// A duration would be read as nanoseconds; modules take seconds as an int.
		return 0, false
	}
	switch t.Kind() {
	case reflect.String:
		return kindStr, true
	case reflect.Bool:
		return kindBool, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return kindInt, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return kindUint, true
	case reflect.Float32, reflect.Float64:
		return kindFloat, true
	}
	return 0, false
}

func fieldOption(f reflect.StructField, name, path string) (*option, error) {
	o := &option{name: name, typ: f.Type}
	where := path + name
	if o.typ.Kind() == reflect.Pointer {
		o.typ = o.typ.Elem()
	}
	if k, ok := scalarKind(o.typ); ok {
		o.kind = k
	} else {
		switch t := o.typ; {
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
			o.kind = kindDicts
		case t.Kind() == reflect.Slice:
			k, ok := scalarKind(t.Elem())
			if !ok {
				return nil, fmt.Errorf("%s: unsupported type %s", where, f.Type)
			}
			o.kind, o.elem, o.typ = kindList, k, t.Elem()
		case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
			o.kind = kindMap
		case t.Kind() == reflect.Struct:
			o.kind = kindDict
		default:
			return nil, fmt.Errorf("%s: unsupported type %s", where, f.Type)
		}
	}
	if o.kind == kindDict || o.kind == kindDicts {
		st := o.typ
		if o.kind == kindDicts {
			st = st.Elem()
		}
		sub, err := structOptions(st, where+".")
		if err != nil {
			return nil, err
		}
		o.sub = sub
	}
	if err := o.parseTag(f.Tag.Get("ansible")); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return o, nil
}

// parseTag reads `ansible:"required,no_log,type=path,choices=a|b,default=x,env=A|B"`. Lists inside an
// item use "|" because "," separates the items.
func (o *option) parseTag(tag string) error {
	if tag == "" {
		return nil
	}
	var choices []string
	for item := range strings.SplitSeq(tag, ",") {
		key, value, hasValue := strings.Cut(item, "=")
		switch {
		case key == "required" && !hasValue:
			o.required = true
		case key == "no_log" && !hasValue:
			o.noLog = true
		case key == "choices" && hasValue:
			choices = strings.Split(value, "|")
		case key == "default" && hasValue:
			o.def = value
			if o.kind == kindList {
				o.def = toAny(strings.Split(value, "|"))
			}
		case key == "env" && hasValue:
			o.env = strings.Split(value, "|")
		case key == "type" && value == "path":
			if o.kind != kindStr && (o.kind != kindList || o.elem != kindStr) {
				return fmt.Errorf("type=path on a %s option", o.kind.typeName())
			}
			o.path = true
		default:
			return fmt.Errorf("unknown ansible tag item %q", item)
		}
	}
	if choices != nil {
		k := o.kind
		if k == kindList {
			k = o.elem
		}
		if k == kindBool || k > kindFloat {
			return fmt.Errorf("choices on a %s option", o.kind.typeName())
		}
		for _, c := range choices {
			v, msg := coerceScalar(k, o.typ, c)
			if msg != "" {
				return fmt.Errorf("choice %q: %s", c, msg)
			}
			o.choices = append(o.choices, v)
		}
	}
	if o.def != nil {
		if o.kind >= kindMap {
			return fmt.Errorf("default on a %s option", o.kind.typeName())
		}
		v, msg := o.convert(o.def, "")
		if msg != "" {
			return fmt.Errorf("default: %s", msg)
		}
		if bad := o.notChosen(v); bad != "" {
			return fmt.Errorf("default %s is not one of the choices", bad)
		}
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
