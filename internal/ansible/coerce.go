package ansible

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The conversions below follow ansible-core 2.14's module_utils/common/validation.py
// (check_type_*) and parsing/convert_bool.py, so that a task behaves the same whether the module
// is written in Python or in Go. Raw values are what encoding/json produces with UseNumber:
// nil, bool, string, json.Number, []any, map[string]any. Each function returns the converted
// value or the checker's message (the part after "unable to convert to T: ").
//
// Deliberate differences, all rejecting what Python would turn into something surprising:
// a list or dict given for a string is refused (Python would pass on its repr), and inf/nan
// are refused for floats (JSON cannot carry them back out).

// validBooleans is BOOLEANS from convert_bool.py in a fixed order; Python prints a frozenset
// whose order changes from run to run.
const validBooleans = "'y', 'yes', 'on', '1', 'true', 't', 1, 'n', 'no', 'off', '0', 'false', 'f', 0"

// pyType names a raw value the way Python's type() prints it.
func pyType(raw any) string {
	name := "NoneType"
	switch v := raw.(type) {
	case bool:
		name = "bool"
	case string:
		name = "str"
	case json.Number:
		name = "int"
		if !isIntLiteral(v) {
			name = "float"
		}
	case []any:
		name = "list"
	case map[string]any:
		name = "dict"
	case nil:
	default:
		name = fmt.Sprintf("%T", v)
	}
	return "<class '" + name + "'>"
}

func isIntLiteral(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

// display is Python's str() of a raw or converted scalar, as used in Ansible's messages.
func display(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case json.Number:
		if isIntLiteral(v) {
			if n, ok := new(big.Int).SetString(string(v), 10); ok {
				return n.String()
			}
			return string(v)
		}
		f, _ := strconv.ParseFloat(string(v), 64)
		return pyFloat(f)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case float64:
		return pyFloat(v)
	}
	return fmt.Sprint(v)
}

// pyFloat formats like Python's repr(float): shortest digits, ".0" on whole numbers, and
// exponent notation below 1e-4 and from 1e16 on.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	case f == 0 && math.Signbit(f):
		return "-0.0"
	case f == 0:
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e16 || a < 1e-4 {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func toBool(raw any) (bool, string) {
	switch v := raw.(type) {
	case bool:
		return v, ""
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "y", "yes", "on", "1", "true", "t":
			return true, ""
		case "n", "no", "off", "0", "false", "f":
			return false, ""
		}
	case json.Number:
		// Python compares numbers by value: 1, 1.0 and 1e0 are all in BOOLEANS_TRUE.
		if f, err := strconv.ParseFloat(string(v), 64); err == nil && (f == 0 || f == 1) {
			return f == 1, ""
		}
	default:
		return false, pyType(raw) + " cannot be converted to a bool"
	}
	return false, fmt.Sprintf("The value '%s' is not a valid boolean.  Valid booleans include: %s",
		display(raw), validBooleans)
}

// pyInt matches what Python's int() accepts from a string: surrounding blanks, a sign, and
// underscores between digits.
var pyInt = regexp.MustCompile(`^[+-]?[0-9](_?[0-9])*$`)

// pyFloatRE matches the decimal forms Python's float() accepts ("1.", ".5", "1_000.5e-3").
var pyFloatRE = regexp.MustCompile(`^[+-]?([0-9](_?[0-9])*\.?|([0-9](_?[0-9])*)?\.[0-9](_?[0-9])*)([eE][+-]?[0-9](_?[0-9])*)?$`)

// toInteger follows check_type_int, also taking whole floats (10.0) as newer ansible-core does.
// A bool is an int in Python, so true is 1.
func toInteger(raw any) (*big.Int, string) {
	switch v := raw.(type) {
	case bool:
		if v {
			return big.NewInt(1), ""
		}
		return big.NewInt(0), ""
	case json.Number:
		if isIntLiteral(v) {
			if n, ok := new(big.Int).SetString(string(v), 10); ok {
				return n, ""
			}
			break
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err == nil && f == math.Trunc(f) {
			n, _ := big.NewFloat(f).Int(nil)
			return n, ""
		}
	case string:
		s := strings.TrimSpace(v)
		if pyInt.MatchString(s) {
			n, _ := new(big.Int).SetString(strings.ReplaceAll(s, "_", ""), 10)
			return n, ""
		}
	}
	return nil, pyType(raw) + " cannot be converted to an int"
}

func toFloat(raw any) (float64, string) {
	var f float64
	var err error
	switch v := raw.(type) {
	case bool:
		if v {
			return 1, ""
		}
		return 0, ""
	case json.Number:
		f, err = strconv.ParseFloat(string(v), 64)
	case string:
		s := strings.TrimSpace(v)
		if !pyFloatRE.MatchString(s) {
			return 0, pyType(raw) + " cannot be converted to a float"
		}
		f, err = strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	default:
		return 0, pyType(raw) + " cannot be converted to a float"
	}
	if err != nil || math.IsInf(f, 0) {
		return 0, display(raw) + " is out of range"
	}
	return f, ""
}

func toStr(raw any) (string, string) {
	switch v := raw.(type) {
	case string:
		return v, ""
	case bool, json.Number:
		return display(v), ""
	}
	return "", pyType(raw) + " cannot be converted to a str"
}

// coerceScalar converts raw to one of the scalar kinds; t is the Go type, for range checks.
// The results are string, bool, int64, uint64 or float64, which mapstructure assigns to any
// field of that kind and encoding/json prints as Ansible would.
func coerceScalar(k kind, t reflect.Type, raw any) (any, string) {
	switch k {
	case kindStr:
		return toStr(raw)
	case kindBool:
		return toBool(raw)
	case kindInt, kindUint:
		n, msg := toInteger(raw)
		if msg != "" {
			return nil, msg
		}
		field := reflect.New(t).Elem()
		if k == kindInt && n.IsInt64() && !field.OverflowInt(n.Int64()) {
			return n.Int64(), ""
		}
		if k == kindUint && n.IsUint64() && !field.OverflowUint(n.Uint64()) {
			return n.Uint64(), ""
		}
		return nil, n.String() + " is out of range"
	case kindFloat:
		f, msg := toFloat(raw)
		if msg == "" && reflect.New(t).Elem().OverflowFloat(f) {
			msg = display(raw) + " is out of range"
		}
		if msg != "" {
			return nil, msg
		}
		return f, ""
	}
	return nil, "not a scalar option"
}

// toList is check_type_list: a string is split on commas (blanks kept, as Python does).
func toList(raw any) ([]any, string) {
	switch v := raw.(type) {
	case []any:
		return v, ""
	case string:
		return toAny(strings.Split(v, ",")), ""
	case json.Number, bool:
		return []any{display(v)}, ""
	}
	return nil, pyType(raw) + " cannot be converted to a list"
}

// toDict is check_type_dict: a JSON object in a string, or "k=v k2='v 2',k3=v3".
func toDict(raw any) (map[string]any, string) {
	switch v := raw.(type) {
	case map[string]any:
		return v, ""
	case string:
		if strings.HasPrefix(v, "{") {
			var m map[string]any
			if err := decodeJSON([]byte(v), &m); err != nil {
				return nil, "unable to evaluate string as dictionary"
			}
			return m, ""
		}
		if strings.Contains(v, "=") {
			return keyValues(v)
		}
		return nil, "dictionary requested, could not parse JSON or key=value"
	}
	return nil, pyType(raw) + " cannot be converted to a dict"
}

// keyValues ports the key=value loop of check_type_dict: fields end at an unquoted comma or
// blank, quotes group, a backslash escapes the next character.
func keyValues(s string) (map[string]any, string) {
	var fields []string
	var field strings.Builder
	var quote rune
	escaped := false
	flush := func() {
		if field.Len() > 0 {
			fields = append(fields, field.String())
		}
		field.Reset()
	}
	for _, c := range strings.TrimSpace(s) {
		switch {
		case escaped:
			field.WriteRune(c)
			escaped = false
		case c == '\\':
			escaped = true
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == ',' || c == ' '):
			flush()
		default:
			field.WriteRune(c)
		}
	}
	flush()
	m := make(map[string]any, len(fields))
	for i, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Sprintf("dictionary update sequence element #%d has length 1; 2 is required", i)
		}
		m[k] = v
	}
	return m, ""
}

// toStringMap is a dict whose values are strings (labels): values are converted like str options.
func toStringMap(raw any) (map[string]any, string) {
	m, msg := toDict(raw)
	if msg != "" {
		return nil, msg
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]any, len(m))
	for _, k := range keys {
		s, msg := toStr(m[k])
		if msg != "" {
			return nil, fmt.Sprintf("value of key '%s': %s", k, msg)
		}
		out[k] = s
	}
	return out, ""
}

// convert coerces a raw value to the option's type. ctx is the path of the enclosing
// suboption ("volumes[3]"), empty at the top level. The message is Ansible's, whole.
func (o *option) convert(raw any, ctx string) (any, string) {
	var (
		v   any
		msg string
	)
	switch o.kind {
	case kindList, kindDicts:
		var list []any
		if list, msg = toList(raw); msg != "" {
			break
		}
		out := make([]any, 0, len(list))
		for _, e := range list {
			var ev any
			elemKind := kindDict
			if o.kind == kindList {
				elemKind = o.elem
				ev, msg = coerceScalar(o.elem, o.typ, e)
			} else {
				ev, msg = toDict(e)
			}
			if msg != "" {
				s := fmt.Sprintf("Elements value for option '%s'", o.name)
				if ctx != "" {
					s += fmt.Sprintf(" found in '%s'", ctx)
				}
				return nil, s + fmt.Sprintf(" is of type %s and we were unable to convert to %s: %s",
					pyType(e), elemKind.typeName(), msg)
			}
			out = append(out, ev)
		}
		return out, ""
	case kindMap:
		v, msg = toStringMap(raw)
	case kindDict:
		v, msg = toDict(raw)
	default:
		v, msg = coerceScalar(o.kind, o.typ, raw)
	}
	if msg == "" {
		return v, ""
	}
	s := fmt.Sprintf("argument '%s' is of type %s", o.name, pyType(raw))
	if ctx != "" {
		// Sic: Ansible's message has this stray period.
		s += fmt.Sprintf(" found in '%s'.", ctx)
	}
	return nil, s + fmt.Sprintf(" and we were unable to convert to %s: %s", o.kind.typeName(), msg)
}

// notChosen returns the converted value (or, for a list, the elements) outside the choices,
// "" when all are allowed.
func (o *option) notChosen(v any) string {
	if o.choices == nil {
		return ""
	}
	values := []any{v}
	if list, ok := v.([]any); ok {
		values = list
	}
	var bad []string
	for _, e := range values {
		found := false
		for _, c := range o.choices {
			found = found || c == e
		}
		if !found {
			bad = append(bad, display(e))
		}
	}
	return strings.Join(bad, ", ")
}

func (o *option) choiceList() string {
	s := make([]string, len(o.choices))
	for i, c := range o.choices {
		s[i] = display(c)
	}
	return strings.Join(s, ", ")
}

// decodeJSON reads exactly one JSON value, keeping numbers as json.Number so that 10 and 10.0
// stay an int and a float, as Python's json module reads them.
func decodeJSON(data []byte, v any) error {
	r := bytes.NewReader(data)
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	rest, _ := io.ReadAll(io.MultiReader(dec.Buffered(), r))
	if len(bytes.TrimSpace(rest)) > 0 {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
