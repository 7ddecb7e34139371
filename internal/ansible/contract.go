package ansible

import (
	"fmt"
	"reflect"
)

// Option is one option of a module's contract, in the terms of Ansible's argument spec and of
// the module's documentation (the sidecar YAML), which must state the same.
type Option struct {
	Name       string
	Type       string // str, path, int, float, bool, list or dict
	Elements   string // the type of a list's elements; "" for other types
	Required   bool
	Default    any   // converted as the decoder converts it: string, bool, int64, uint64, float64 or []any; nil when none
	Choices    []any // converted the same way; nil when any value goes
	NoLog      bool
	Env        []string // environment variables an unset option falls back to, in order
	Suboptions []Option // of a dict, or of the dicts of a list
}

// Contract returns the options of T as the decoder enforces them under spec: the one source of
// a module's options, from which its documentation is checked.
func Contract[T any](spec Spec) ([]Option, error) {
	opts, err := specOf(reflect.TypeFor[T](), spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fqcn(spec.Name), err)
	}
	return contractOf(opts), nil
}

func contractOf(opts []*option) []Option {
	if len(opts) == 0 {
		return nil
	}
	out := make([]Option, len(opts))
	for i, o := range opts {
		c := Option{
			Name: o.name, Type: o.kind.docType(), Required: o.required, NoLog: o.noLog,
			Choices: o.choices, Env: o.env, Suboptions: contractOf(o.sub),
		}
		switch o.kind {
		case kindList:
			c.Elements = o.elem.docType()
		case kindDicts:
			c.Elements = "dict"
		}
		if o.path {
			if o.kind == kindList {
				c.Elements = "path"
			} else {
				c.Type = "path"
			}
		}
		if o.def != nil {
			c.Default, _ = o.convert(o.def, "") // parseTag checked that it converts
		}
		out[i] = c
	}
	return out
}

// docType is the type an option's documentation states: a map[string]string is a dict there,
// and an unsigned int an int.
func (k kind) docType() string {
	if k == kindMap {
		return "dict"
	}
	return k.typeName()
}
