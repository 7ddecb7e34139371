package ansible

import (
	"encoding/json"
	"math/big"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const notBool = "is not a valid boolean.  Valid booleans include: " + validBooleans

func TestToBool(t *testing.T) {
	for _, s := range []string{"y", "yes", "on", "1", "true", "t", "YES", "True", " on ", "Y", "tRuE"} {
		v, msg := toBool(s)
		assert.Empty(t, msg, s)
		assert.True(t, v, s)
	}
	for _, s := range []string{"n", "no", "off", "0", "false", "f", "NO", "False", "\tOff\n", "F"} {
		v, msg := toBool(s)
		assert.Empty(t, msg, s)
		assert.False(t, v, s)
	}
	tests := []struct {
		raw  any
		want bool
		msg  string
	}{
		{true, true, ""},
		{false, false, ""},
		{json.Number("1"), true, ""},
		{json.Number("0"), false, ""},
		{json.Number("1.0"), true, ""},
		{json.Number("0.0"), false, ""},
		{json.Number("1e0"), true, ""},
		{json.Number("2"), false, "The value '2' " + notBool},
		{json.Number("0.5"), false, "The value '0.5' " + notBool},
		{"maybe", false, "The value 'maybe' " + notBool},
		{"", false, "The value '' " + notBool},
		{[]any{json.Number("1")}, false, "<class 'list'> cannot be converted to a bool"},
		{map[string]any{}, false, "<class 'dict'> cannot be converted to a bool"},
	}
	for _, tt := range tests {
		v, msg := toBool(tt.raw)
		assert.Equal(t, tt.msg, msg, "%#v", tt.raw)
		assert.Equal(t, tt.want, v, "%#v", tt.raw)
	}
}

func TestToInteger(t *testing.T) {
	tests := []struct {
		raw  any
		want int64
		msg  string
	}{
		{json.Number("10"), 10, ""},
		{json.Number("-3"), -3, ""},
		{json.Number("10.0"), 10, ""},
		{json.Number("1e3"), 1000, ""},
		{json.Number("10.5"), 0, "<class 'float'> cannot be converted to an int"},
		{"10", 10, ""},
		{" 12 ", 12, ""},
		{"+5", 5, ""},
		{"-0", 0, ""},
		{"1_000", 1000, ""},
		{true, 1, ""},
		{false, 0, ""},
		{"1.0", 0, "<class 'str'> cannot be converted to an int"},
		{"0x10", 0, "<class 'str'> cannot be converted to an int"},
		{"1e3", 0, "<class 'str'> cannot be converted to an int"},
		{"1__0", 0, "<class 'str'> cannot be converted to an int"},
		{"", 0, "<class 'str'> cannot be converted to an int"},
		{[]any{}, 0, "<class 'list'> cannot be converted to an int"},
		{map[string]any{}, 0, "<class 'dict'> cannot be converted to an int"},
	}
	for _, tt := range tests {
		n, msg := toInteger(tt.raw)
		assert.Equal(t, tt.msg, msg, "%#v", tt.raw)
		if tt.msg == "" {
			assert.Equal(t, tt.want, n.Int64(), "%#v", tt.raw)
		}
	}
}

func TestCoerceScalarRanges(t *testing.T) {
	tests := []struct {
		k    kind
		typ  reflect.Type
		raw  any
		want any
		msg  string
	}{
		{kindInt, reflect.TypeFor[int8](), json.Number("127"), int64(127), ""},
		{kindInt, reflect.TypeFor[int8](), json.Number("128"), nil, "128 is out of range"},
		{kindInt, reflect.TypeFor[int64](), "99999999999999999999", nil, "99999999999999999999 is out of range"},
		{kindUint, reflect.TypeFor[uint](), "18446744073709551615", uint64(18446744073709551615), ""},
		{kindUint, reflect.TypeFor[uint](), json.Number("-1"), nil, "-1 is out of range"},
		{kindFloat, reflect.TypeFor[float32](), json.Number("1e39"), nil, "1e+39 is out of range"},
		{kindFloat, reflect.TypeFor[float64](), json.Number("1e999"), nil, "inf is out of range"},
		{kindFloat, reflect.TypeFor[float64](), json.Number("2"), 2.0, ""},
	}
	for _, tt := range tests {
		v, msg := coerceScalar(tt.k, tt.typ, tt.raw)
		assert.Equal(t, tt.msg, msg, "%#v", tt.raw)
		assert.Equal(t, tt.want, v, "%#v", tt.raw)
	}
}

func TestToFloat(t *testing.T) {
	tests := []struct {
		raw  any
		want float64
		msg  string
	}{
		{json.Number("1.5"), 1.5, ""},
		{json.Number("2"), 2, ""},
		{"1_000.5", 1000.5, ""},
		{" .5 ", 0.5, ""},
		{"5.", 5, ""},
		{"1e3", 1000, ""},
		{"1E-2", 0.01, ""},
		{"+.5e+3", 500, ""},
		{true, 1, ""},
		{"inf", 0, "<class 'str'> cannot be converted to a float"}, // Python takes it; JSON cannot print it
		{"nan", 0, "<class 'str'> cannot be converted to a float"},
		{"1__0", 0, "<class 'str'> cannot be converted to a float"},
		{"_1", 0, "<class 'str'> cannot be converted to a float"},
		{"0x1p3", 0, "<class 'str'> cannot be converted to a float"},
		{".", 0, "<class 'str'> cannot be converted to a float"},
		{"1e", 0, "<class 'str'> cannot be converted to a float"},
		{[]any{}, 0, "<class 'list'> cannot be converted to a float"},
	}
	for _, tt := range tests {
		f, msg := toFloat(tt.raw)
		assert.Equal(t, tt.msg, msg, "%#v", tt.raw)
		assert.InDelta(t, tt.want, f, 1e-9, "%#v", tt.raw)
	}
}

func TestToStr(t *testing.T) {
	tests := []struct {
		raw  any
		want string
		msg  string
	}{
		{"x", "x", ""},
		{json.Number("10"), "10", ""},
		{json.Number("-0"), "0", ""},
		{json.Number("1.50"), "1.5", ""},
		{json.Number("1e2"), "100.0", ""},
		{true, "True", ""},
		{false, "False", ""},
		{nil, "", "<class 'NoneType'> cannot be converted to a str"},
		{[]any{"a"}, "", "<class 'list'> cannot be converted to a str"},
		{map[string]any{}, "", "<class 'dict'> cannot be converted to a str"},
	}
	for _, tt := range tests {
		s, msg := toStr(tt.raw)
		assert.Equal(t, tt.msg, msg, "%#v", tt.raw)
		assert.Equal(t, tt.want, s, "%#v", tt.raw)
	}
}

func TestPyFloat(t *testing.T) {
	tests := map[float64]string{
		0: "0.0", 1: "1.0", -2.5: "-2.5", 123456.789: "123456.789", 0.0001: "0.0001",
		1e-5: "1e-05", 1e16: "1e+16", 1e22: "1e+22", 9999999999999998: "9999999999999998.0",
	}
	for f, want := range tests {
		assert.Equal(t, want, pyFloat(f), "%v", f)
	}
}

func TestToList(t *testing.T) {
	tests := []struct {
		raw  any
		want []any
		msg  string
	}{
		{[]any{"a", json.Number("1")}, []any{"a", json.Number("1")}, ""},
		{"a,b", []any{"a", "b"}, ""},
		{"a, b", []any{"a", " b"}, ""}, // as Python's split(",")
		{"", []any{""}, ""},
		{json.Number("5"), []any{"5"}, ""},
		{true, []any{"True"}, ""},
		{map[string]any{}, nil, "<class 'dict'> cannot be converted to a list"},
	}
	for _, tt := range tests {
		l, msg := toList(tt.raw)
		assert.Equal(t, tt.msg, msg, "%#v", tt.raw)
		assert.Equal(t, tt.want, l, "%#v", tt.raw)
	}
}

func TestToDict(t *testing.T) {
	tests := []struct {
		raw  any
		want map[string]any
		msg  string
	}{
		{map[string]any{"a": "1"}, map[string]any{"a": "1"}, ""},
		{`{"a": 1, "b": "x"}`, map[string]any{"a": json.Number("1"), "b": "x"}, ""},
		{"a=1 b=2", map[string]any{"a": "1", "b": "2"}, ""},
		{`a='x, y' b="q\"z"`, map[string]any{"a": "x, y", "b": `q"z`}, ""},
		{"a=1=2", map[string]any{"a": "1=2"}, ""},
		{",a=1,,", map[string]any{"a": "1"}, ""},
		{"a=b c", nil, "dictionary update sequence element #1 has length 1; 2 is required"},
		{"{bad", nil, "unable to evaluate string as dictionary"},
		{`{"a":1} x`, nil, "unable to evaluate string as dictionary"},
		{"abc", nil, "dictionary requested, could not parse JSON or key=value"},
		{[]any{json.Number("1")}, nil, "<class 'list'> cannot be converted to a dict"},
		{json.Number("1"), nil, "<class 'int'> cannot be converted to a dict"},
	}
	for _, tt := range tests {
		d, msg := toDict(tt.raw)
		assert.Equal(t, tt.msg, msg, "%#v", tt.raw)
		assert.Equal(t, tt.want, d, "%#v", tt.raw)
	}
}

func TestToStringMap(t *testing.T) {
	m, msg := toStringMap(map[string]any{"a": json.Number("1"), "b": true, "c": "x"})
	require.Empty(t, msg)
	assert.Equal(t, map[string]any{"a": "1", "b": "True", "c": "x"}, m)
	_, msg = toStringMap(map[string]any{"b": []any{}, "a": nil})
	assert.Equal(t, "value of key 'a': <class 'NoneType'> cannot be converted to a str", msg)
}

func TestDisplay(t *testing.T) {
	assert.Equal(t, "123456789012345678901234567890", display(json.Number("123456789012345678901234567890")))
	assert.Equal(t, "None", display(nil))
	assert.Equal(t, "7", display(int64(7)))
	assert.Equal(t, "7", display(uint64(7)))
	assert.Equal(t, "7.0", display(7.0))
	assert.Equal(t, "<class 'int'>", pyType(json.Number("7")))
	assert.Equal(t, "<class 'float'>", pyType(json.Number("7e0")))
	assert.Equal(t, "<class '*big.Int'>", pyType(big.NewInt(1)))
}
