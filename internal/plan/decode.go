package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
)

// field is one key of a JSON object with its raw value, in file order.
type field struct {
	key   string
	value json.RawMessage
}

// objectFields splits a JSON object into its fields. It reports isObject false (and no error)
// when raw is not an object, so the caller can word that error in its own terms. Duplicate keys
// are errors: encoding/json would silently keep the last one.
func objectFields(raw []byte) (fields []field, isObject bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, false, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, false, nil
	}
	seen := make(map[string]bool)
	var errs []error
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, true, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, true, err
		}
		if seen[key] {
			errs = append(errs, fmt.Errorf("duplicate field %q", key))
			continue
		}
		seen[key] = true
		fields = append(fields, field{key, v})
	}
	return fields, true, errors.Join(errs...)
}

// arrayElements splits a JSON array; isArray is false for anything else (null included).
func arrayElements(raw []byte) (elems []json.RawMessage, isArray bool, err error) {
	if err := json.Unmarshal(raw, &elems); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return elems, elems != nil, nil
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkShape rejects unknown and duplicate keys anywhere in raw, judged against the Go type t.
// Matching is exact: encoding/json alone would accept "Size_GB" for "size_gb" and ignore
// unknown keys. Type mismatches are left to json.Unmarshal, which names them well enough.
func checkShape(raw json.RawMessage, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		fields, ok, err := objectFields(raw)
		if !ok {
			return err
		}
		names := jsonFieldTypes(t)
		errs := []error{err}
		for _, f := range fields {
			ft, known := names[f.key]
			if !known {
				errs = append(errs, fmt.Errorf("unknown field %q", f.key))
				continue
			}
			if err := checkShape(f.value, ft); err != nil {
				errs = append(errs, prefixed(f.key+": ", err))
			}
		}
		return errors.Join(errs...)
	case reflect.Map:
		fields, ok, err := objectFields(raw)
		if !ok {
			return err
		}
		errs := []error{err}
		for _, f := range fields {
			if err := checkShape(f.value, t.Elem()); err != nil {
				errs = append(errs, prefixed(fmt.Sprintf("%q: ", f.key), err))
			}
		}
		return errors.Join(errs...)
	case reflect.Slice:
		elems, ok, err := arrayElements(raw)
		if !ok {
			return err
		}
		var errs []error
		for i, e := range elems {
			if err := checkShape(e, t.Elem()); err != nil {
				errs = append(errs, prefixed(fmt.Sprintf("[%d]: ", i), err))
			}
		}
		return errors.Join(errs...)
	}
	return nil
}

// jsonFieldTypes maps the JSON names of a struct's exported fields to their types.
func jsonFieldTypes(t reflect.Type) map[string]reflect.Type {
	names := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			// encoding/json promotes an untagged embedded struct's fields.
			maps.Copy(names, jsonFieldTypes(f.Type))
			continue
		}
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = f.Type
	}
	return names
}

// prefixed puts p before the message of err, or of each error err joins.
func prefixed(p string, err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = prefixed(p, e)
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s%w", p, err)
}

// decodeStrict checks raw's shape against dst's type, then decodes it. Type errors name the
// field and say what JSON was expected, in words a plan author understands.
func decodeStrict(raw json.RawMessage, dst any) error {
	if err := checkShape(raw, reflect.TypeOf(dst)); err != nil {
		return err
	}
	return typeError(json.Unmarshal(raw, dst))
}

func typeError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	want := jsonKind(te.Type)
	if te.Field == "" {
		return fmt.Errorf("got %s, want %s", te.Value, want)
	}
	return fmt.Errorf("%s: got %s, want %s", te.Field, te.Value, want)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// syntaxCheck turns a JSON syntax error into one with a line and column: offsets mean nothing
// to someone editing a file.
func syntaxCheck(data []byte) error {
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the offending byte, so the byte is at Offset-1; at the end of the input
		// there is no such byte and the column is just past the last one.
		pos := se.Offset - 1
		if se.Offset >= int64(len(data)) && strings.Contains(se.Error(), "end of JSON input") {
			pos = se.Offset
		}
		line, col := lineCol(data, pos)
		return fmt.Errorf("line %d, column %d: %v", line, col, se)
	}
	if err != nil {
		return err
	}
	return nil
}

func lineCol(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}
