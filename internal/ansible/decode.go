package ansible

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// noLogMask is what Ansible prints in place of a no_log option's value.
const noLogMask = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

// DecodeOptions validates args (the task's options; `_ansible_*` keys are ignored) against T
// and returns the decoded options, or the error message Ansible would give. env looks up
// environment fallbacks; nil means an empty environment.
func DecodeOptions[T any](spec Spec, args map[string]any, env func(string) string) (*T, error) {
	// A round trip through JSON gives exactly the values a real args file would.
	data, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := decodeJSON(data, &raw); err != nil {
		return nil, err
	}
	d, err := decode[T](spec, raw, env)
	if err != nil {
		return nil, err
	}
	return d.opts, nil
}

// decoded is a successful validation: the options for the module, the options as shown in
// invocation.module_args (no_log values masked).
type decoded[T any] struct {
	opts       *T
	moduleArgs map[string]any
}

// decoder collects, across nesting levels, what Ansible's ArgumentSpecValidator collects:
// the errors in the order the checks run, the unsupported keys, and the no_log values.
type decoder struct {
	env         func(string) string
	secrets     []string
	errs        []string
	unsupported []unsupported
}

type unsupported struct {
	path      string   // "foo" or "volumes[3].foo"
	supported []string // the options of that level, sorted
}

// decode validates raw. The decoder is returned even on error, for its secrets: a rejected
// no_log value must still be scrubbed from the message that rejects it.
func decodeWith[T any](d *decoder, spec Spec, raw map[string]any) (*decoded[T], error) {
	opts, err := specOf(reflect.TypeFor[T](), spec)
	if err != nil {
		return nil, fmt.Errorf("internal error: invalid options type for %s: %w", fqcn(spec.Name), err)
	}
	params := make(map[string]any, len(raw))
	for k, v := range raw {
		// The controller adds _ansible_* keys for the module and newer releases add more;
		// they are not the user's options.
		if !strings.HasPrefix(k, "_ansible_") {
			params[k] = v
		}
	}
	values := d.level(opts, params, &spec, "", "")
	if len(d.errs) > 0 {
		// Ansible collects every error and reports the first.
		return nil, errors.New(d.errs[0])
	}
	if len(d.unsupported) > 0 {
		sort.Slice(d.unsupported, func(i, j int) bool { return d.unsupported[i].path < d.unsupported[j].path })
		paths := make([]string, len(d.unsupported))
		for i, u := range d.unsupported {
			paths[i] = u.path
		}
		// Ansible's wording, capital and final period included.
		msg := fmt.Sprintf("Unsupported parameters for (%s) module: %s. Supported parameters include: %s.",
			fqcn(spec.Name), strings.Join(paths, ", "), strings.Join(d.unsupported[0].supported, ", "))
		return nil, errors.New(msg)
	}
	var t T
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:      &t,
		Squash:      true,
		ErrorUnused: true, // every key was checked above: an unused one is a bug here
	})
	if err == nil {
		err = dec.Decode(values)
	}
	if err != nil {
		return nil, fmt.Errorf("internal error: decoding the options of %s: %w", fqcn(spec.Name), err)
	}
	return &decoded[T]{opts: &t, moduleArgs: mask(opts, values)}, nil
}

func decode[T any](spec Spec, raw map[string]any, env func(string) string) (*decoded[T], error) {
	return decodeWith[T](newDecoder(env), spec, raw)
}

func newDecoder(env func(string) string) *decoder {
	if env == nil {
		env = func(string) string { return "" }
	}
	return &decoder{env: env}
}

func fqcn(name string) string { return "keybuzz.infra." + name }

// level validates one level of options in the order of ArgumentSpecValidator.validate and
// _validate_sub_spec, so that the first error reported is the one Ansible would report. spec
// is nil below the top level; ctx names the enclosing suboption for messages, path prefixes
// unsupported keys. Null counts as absent throughout: defaults and environment fallbacks apply
// to it and it does not satisfy required (Ansible keeps an explicit null, which a Go field
// cannot hold).
func (d *decoder) level(opts []*option, params map[string]any, spec *Spec, ctx, path string) map[string]any {
	in := d.present(opts, params, path)
	d.fallBack(opts, in)
	if spec != nil {
		d.exclusive(spec, in, ctx)
	}
	d.defaults(opts, in)
	d.required(opts, in, ctx)
	out := d.convert(opts, in, ctx)
	d.choices(opts, out, ctx)
	if spec != nil {
		d.groups(spec, in, ctx)
	}
	d.sublevels(opts, out, ctx, path)
	return out
}

// present returns the supported, non-null options of params and records the unsupported ones.
func (d *decoder) present(opts []*option, params map[string]any, path string) map[string]any {
	in := make(map[string]any, len(params))
	for k, v := range params {
		if find(opts, k) == nil {
			d.unsupported = append(d.unsupported, unsupported{path: path + k, supported: names(opts)})
		} else if v != nil {
			in[k] = v
		}
	}
	return in
}

// fallBack sets the options left unset from their environment variables.
func (d *decoder) fallBack(opts []*option, in map[string]any) {
	for _, o := range opts {
		if _, ok := in[o.name]; ok {
			continue
		}
		for _, name := range o.env {
			// Unlike env_fallback, an empty variable counts as unset: an empty token is
			// never what a user meant.
			if v := d.env(name); v != "" {
				in[o.name] = v
				break
			}
		}
	}
}

func (d *decoder) exclusive(spec *Spec, in map[string]any, ctx string) {
	var groups []string
	for _, g := range spec.MutuallyExclusive {
		if count(g, in) > 1 {
			groups = append(groups, strings.Join(g, "|"))
		}
	}
	if groups != nil {
		d.fail(ctx, "parameters are mutually exclusive: "+strings.Join(groups, ", "))
	}
}

// defaults sets the defaults of the options still unset and collects the no_log values.
func (d *decoder) defaults(opts []*option, in map[string]any) {
	for _, o := range opts {
		if _, ok := in[o.name]; !ok && o.def != nil {
			in[o.name] = o.def
		}
		if o.noLog {
			// Collected from the raw value, before it can be rejected: the message that
			// rejects it must not show it either.
			d.addSecrets(in[o.name])
		}
	}
}

func (d *decoder) required(opts []*option, in map[string]any, ctx string) {
	var missing []string
	for _, o := range opts {
		if _, ok := in[o.name]; o.required && !ok {
			missing = append(missing, o.name)
		}
	}
	if missing != nil {
		sort.Strings(missing)
		d.fail(ctx, "missing required arguments: "+strings.Join(missing, ", "))
	}
}

// convert returns the options converted to their types; a value that does not convert is an
// error and left out.
func (d *decoder) convert(opts []*option, in map[string]any, ctx string) map[string]any {
	out := make(map[string]any, len(opts))
	for _, o := range opts {
		if raw, ok := in[o.name]; ok {
			v, msg := o.convert(raw, ctx)
			if msg != "" {
				d.errs = append(d.errs, msg)
				continue
			}
			if o.path {
				v = d.expandPaths(v)
			}
			out[o.name] = v
		}
	}
	return out
}

func (d *decoder) choices(opts []*option, out map[string]any, ctx string) {
	for _, o := range opts {
		v, ok := out[o.name]
		if !ok {
			continue
		}
		if bad := o.notChosen(v); bad != "" {
			if _, isList := v.([]any); isList {
				d.fail(ctx, fmt.Sprintf("value of %s must be one or more of: %s. Got no match for: %s", o.name, o.choiceList(), bad))
			} else {
				d.fail(ctx, fmt.Sprintf("value of %s must be one of: %s, got: %s", o.name, o.choiceList(), bad))
			}
		}
	}
}

// groups checks required_together and required_one_of, the first failing group of each.
func (d *decoder) groups(spec *Spec, in map[string]any, ctx string) {
	for _, g := range spec.RequiredTogether {
		if n := count(g, in); n > 0 && n < len(g) {
			d.fail(ctx, "parameters are required together: "+strings.Join(g, ", "))
			break
		}
	}
	for _, g := range spec.RequiredOneOf {
		if count(g, in) == 0 {
			d.fail(ctx, "one of the following is required: "+strings.Join(g, ", "))
			break
		}
	}
}

// sublevels validates the suboptions of dict and list-of-dict options, and sets the unset
// options to null as Ansible does.
func (d *decoder) sublevels(opts []*option, out map[string]any, ctx, path string) {
	for _, o := range opts {
		v, ok := out[o.name]
		switch {
		case !ok:
			out[o.name] = nil
		case o.kind == kindDict:
			out[o.name] = d.level(o.sub, v.(map[string]any), nil, join(ctx, o.name), path+o.name+".")
		case o.kind == kindDicts:
			list := v.([]any)
			for i, e := range list {
				item := fmt.Sprintf("%s[%d]", o.name, i)
				list[i] = d.level(o.sub, e.(map[string]any), nil, join(ctx, item), path+item+".")
			}
		}
	}
}

func (d *decoder) fail(ctx, msg string) {
	if ctx != "" {
		msg += " found in " + ctx
	}
	d.errs = append(d.errs, msg)
}

// addSecrets records the leaves of a no_log value as Ansible's _return_datastructure_name does:
// strings and numbers, not bools, not keys.
func (d *decoder) addSecrets(v any) {
	switch v := v.(type) {
	case string:
		if v != "" {
			d.secrets = append(d.secrets, v)
		}
	case json.Number:
		d.secrets = append(d.secrets, display(v))
	case []any:
		for _, e := range v {
			d.addSecrets(e)
		}
	case map[string]any:
		for _, e := range v {
			d.addSecrets(e)
		}
	}
}

func join(ctx, name string) string {
	if ctx == "" {
		return name
	}
	return ctx + " -> " + name
}

func count(group []string, in map[string]any) int {
	n := 0
	for _, name := range group {
		if _, ok := in[name]; ok {
			n++
		}
	}
	return n
}

func names(opts []*option) []string {
	s := make([]string, len(opts))
	for i, o := range opts {
		s[i] = o.name
	}
	slices.Sort(s)
	return s
}

// mask copies values for invocation.module_args with every set no_log option replaced.
func mask(opts []*option, values map[string]any) map[string]any {
	out := make(map[string]any, len(values))
	for _, o := range opts {
		v := values[o.name]
		switch {
		case v == nil:
		case o.noLog:
			v = noLogMask
		case o.kind == kindDict:
			v = mask(o.sub, v.(map[string]any))
		case o.kind == kindDicts:
			list := slices.Clone(v.([]any))
			for i, e := range list {
				list[i] = mask(o.sub, e.(map[string]any))
			}
			v = list
		}
		out[o.name] = v
	}
	return out
}
