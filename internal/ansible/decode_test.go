package ansible

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Common is the shape of the options every kbv3 module shares.
type Common struct {
	APIToken    string `mapstructure:"api_token" ansible:"no_log,env=HCLOUD_TOKEN"`
	APIEndpoint string `mapstructure:"api_endpoint" ansible:"env=HCLOUD_ENDPOINT,default=https://api.hetzner.cloud/v1"`
	Timeout     int    `mapstructure:"timeout" ansible:"default=300"`
}

type entry struct {
	Hostname string            `mapstructure:"hostname" ansible:"required"`
	Size     int               `mapstructure:"size_gb" ansible:"required"`
	Format   string            `mapstructure:"format" ansible:"choices=xfs|ext4,default=ext4"`
	Labels   map[string]string `mapstructure:"labels"`
	Password *string           `mapstructure:"password" ansible:"no_log"`
}

type everything struct {
	Common `mapstructure:",squash"`

	Name     string            `mapstructure:"name"`
	State    string            `mapstructure:"state" ansible:"choices=present|absent,default=present"`
	Force    bool              `mapstructure:"force"`
	Size     int               `mapstructure:"size"`
	Big      int64             `mapstructure:"big"`
	Ratio    float64           `mapstructure:"ratio"`
	Count    uint              `mapstructure:"count"`
	Tags     []string          `mapstructure:"tags"`
	Ports    []int             `mapstructure:"ports"`
	Labels   map[string]string `mapstructure:"labels"`
	Optional *int              `mapstructure:"optional"`
	Flag     *bool             `mapstructure:"flag"`
	Names    *[]string         `mapstructure:"names"`
	Volumes  []entry           `mapstructure:"volumes"`
	One      *entry            `mapstructure:"one"`
	Ignored  string            `mapstructure:"-"`
	internal string
}

var everythingSpec = Spec{Name: "kbv3_test"}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestDecodeEveryType(t *testing.T) {
	opts, err := DecodeOptions[everything](everythingSpec, map[string]any{
		"api_token": "tok-1234567890",
		"name":      "vol",
		"state":     "absent",
		"force":     "yes",
		"size":      "10",
		"big":       9007199254740993,
		"ratio":     "0.5",
		"count":     3.0,
		"tags":      "a,b",
		"ports":     []any{"80", 443},
		"labels":    "env=prod,team=ops",
		"optional":  7,
		"flag":      "off",
		"names":     []string{"x"},
		"volumes": []any{
			map[string]any{"hostname": "db-1", "size_gb": "20", "labels": map[string]any{"n": 1}},
			"hostname=db-2 size_gb=30 format=xfs",
		},
		"one":          `{"hostname": "db-3", "size_gb": 40}`,
		"_ansible_foo": 1,
	}, nil)
	require.NoError(t, err)
	seven, no := 7, false
	assert.Equal(t, &everything{
		Common:   Common{APIToken: "tok-1234567890", APIEndpoint: "https://api.hetzner.cloud/v1", Timeout: 300},
		Name:     "vol",
		State:    "absent",
		Force:    true,
		Size:     10,
		Big:      9007199254740993,
		Ratio:    0.5,
		Count:    3,
		Tags:     []string{"a", "b"},
		Ports:    []int{80, 443},
		Labels:   map[string]string{"env": "prod", "team": "ops"},
		Optional: &seven,
		Flag:     &no,
		Names:    &[]string{"x"},
		Volumes: []entry{
			{Hostname: "db-1", Size: 20, Format: "ext4", Labels: map[string]string{"n": "1"}},
			{Hostname: "db-2", Size: 30, Format: "xfs"},
		},
		One: &entry{Hostname: "db-3", Size: 40, Format: "ext4"},
	}, opts)
}

func TestDecodeAbsentAndNull(t *testing.T) {
	opts, err := DecodeOptions[everything](everythingSpec, map[string]any{
		"optional": nil, "state": nil, "volumes": nil, "timeout": nil,
	}, nil)
	require.NoError(t, err)
	assert.Nil(t, opts.Optional)
	assert.Nil(t, opts.Flag)
	assert.Nil(t, opts.Names)
	assert.Nil(t, opts.One)
	assert.Nil(t, opts.Volumes)
	assert.Equal(t, "present", opts.State, "null takes the default")
	assert.Equal(t, 300, opts.Timeout)
	assert.Empty(t, opts.APIToken)
	assert.Empty(t, opts.internal, "unexported fields are not options")
}

func TestDecodeEnvFallback(t *testing.T) {
	vars := map[string]string{"HCLOUD_TOKEN": "from-env-token", "HCLOUD_ENDPOINT": "http://127.0.0.1:1/v1"}
	opts, err := DecodeOptions[Common](Spec{Name: "x"}, map[string]any{}, env(vars))
	require.NoError(t, err)
	assert.Equal(t, Common{APIToken: "from-env-token", APIEndpoint: "http://127.0.0.1:1/v1", Timeout: 300}, *opts)

	opts, err = DecodeOptions[Common](Spec{Name: "x"}, map[string]any{"api_token": "task-token"}, env(vars))
	require.NoError(t, err)
	assert.Equal(t, "task-token", opts.APIToken, "the task wins over the environment")

	opts, err = DecodeOptions[Common](Spec{Name: "x"}, map[string]any{}, env(map[string]string{"HCLOUD_ENDPOINT": ""}))
	require.NoError(t, err)
	assert.Equal(t, "https://api.hetzner.cloud/v1", opts.APIEndpoint, "an empty variable is unset")

	type port struct {
		Port int `mapstructure:"port" ansible:"env=A|B"`
	}
	p, err := DecodeOptions[port](Spec{Name: "x"}, map[string]any{}, env(map[string]string{"B": "8080"}))
	require.NoError(t, err)
	assert.Equal(t, 8080, p.Port, "the first set variable, coerced")
	_, err = DecodeOptions[port](Spec{Name: "x"}, map[string]any{}, env(map[string]string{"A": "http"}))
	assert.EqualError(t, err, "argument 'port' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int")
}

// small mirrors the argument spec that the expected messages were taken from, by running
// ansible-core 2.14's ArgumentSpecValidator on the same input.
type small struct {
	Name   string            `mapstructure:"name" ansible:"required"`
	Size   *int              `mapstructure:"size"`
	Ratio  *float64          `mapstructure:"ratio"`
	Force  bool              `mapstructure:"force"`
	Tags   []string          `mapstructure:"tags"`
	Labels map[string]string `mapstructure:"labels"`
	State  string            `mapstructure:"state" ansible:"choices=present|absent,default=present"`
	Vols   []struct {
		ID  int    `mapstructure:"id" ansible:"required"`
		Fmt string `mapstructure:"fmt" ansible:"choices=xfs|ext4"`
	} `mapstructure:"vols"`
}

func TestDecodeErrors(t *testing.T) {
	spec := Spec{Name: "kbv3_volume_create"}
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"name": "a", "size": "x"}, "argument 'size' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"},
		{map[string]any{"name": "a", "size": 1.5}, "argument 'size' is of type <class 'float'> and we were unable to convert to int: <class 'float'> cannot be converted to an int"},
		{map[string]any{"name": "a", "force": "maybe"}, "argument 'force' is of type <class 'str'> and we were unable to convert to bool: The value 'maybe' is not a valid boolean.  Valid booleans include: " + validBooleans},
		{map[string]any{"name": "a", "force": 2}, "argument 'force' is of type <class 'int'> and we were unable to convert to bool: The value '2' is not a valid boolean.  Valid booleans include: " + validBooleans},
		{map[string]any{"name": "a", "force": []any{1}}, "argument 'force' is of type <class 'list'> and we were unable to convert to bool: <class 'list'> cannot be converted to a bool"},
		{map[string]any{"name": "a", "ratio": "x"}, "argument 'ratio' is of type <class 'str'> and we were unable to convert to float: <class 'str'> cannot be converted to a float"},
		{map[string]any{"name": "a", "tags": map[string]any{"a": 1}}, "argument 'tags' is of type <class 'dict'> and we were unable to convert to list: <class 'dict'> cannot be converted to a list"},
		{map[string]any{"name": "a", "tags": []any{map[string]any{"a": 1}}}, "Elements value for option 'tags' is of type <class 'dict'> and we were unable to convert to str: <class 'dict'> cannot be converted to a str"},
		{map[string]any{"name": "a", "labels": "abc"}, "argument 'labels' is of type <class 'str'> and we were unable to convert to dict: dictionary requested, could not parse JSON or key=value"},
		{map[string]any{"name": "a", "labels": "a=1,b"}, "argument 'labels' is of type <class 'str'> and we were unable to convert to dict: dictionary update sequence element #1 has length 1; 2 is required"},
		{map[string]any{"name": "a", "labels": "{bad"}, "argument 'labels' is of type <class 'str'> and we were unable to convert to dict: unable to evaluate string as dictionary"},
		{map[string]any{"name": "a", "labels": []any{1}}, "argument 'labels' is of type <class 'list'> and we were unable to convert to dict: <class 'list'> cannot be converted to a dict"},
		{map[string]any{"name": "a", "state": "foo"}, "value of state must be one of: present, absent, got: foo"},
		{map[string]any{"size": 1}, "missing required arguments: name"},
		{map[string]any{"name": nil}, "missing required arguments: name"},
		{map[string]any{"name": "a", "foo": 1, "bar": 2}, "Unsupported parameters for (keybuzz.infra.kbv3_volume_create) module: bar, foo. Supported parameters include: force, labels, name, ratio, size, state, tags, vols."},
		{map[string]any{"foo": 1}, "missing required arguments: name"}, // Ansible reports unsupported keys last
		{map[string]any{"name": "a", "vols": []any{map[string]any{"id": 1}, map[string]any{"id": "x"}}}, "argument 'id' is of type <class 'str'> found in 'vols[1]'. and we were unable to convert to int: <class 'str'> cannot be converted to an int"},
		{map[string]any{"name": "a", "vols": []any{map[string]any{"id": 1}, map[string]any{"fmt": "zfs"}}}, "missing required arguments: id found in vols[1]"},
		{map[string]any{"name": "a", "vols": []any{map[string]any{"id": 1, "fmt": "zfs"}}}, "value of fmt must be one of: xfs, ext4, got: zfs found in vols[0]"},
		{map[string]any{"name": "a", "vols": []any{map[string]any{"id": 1}, map[string]any{"id": 2, "zz": 2}}}, "Unsupported parameters for (keybuzz.infra.kbv3_volume_create) module: vols[1].zz. Supported parameters include: fmt, id."},
		{map[string]any{"name": "a", "vols": []any{3}}, "Elements value for option 'vols' is of type <class 'int'> and we were unable to convert to dict: <class 'int'> cannot be converted to a dict"},
		{map[string]any{"name": "a", "vols": map[string]any{"id": 1}}, "argument 'vols' is of type <class 'dict'> and we were unable to convert to list: <class 'dict'> cannot be converted to a list"},
		{map[string]any{"name": "a", "vols": []any{map[string]any{"_ansible_x": 1, "id": 1}}}, "Unsupported parameters for (keybuzz.infra.kbv3_volume_create) module: vols[0]._ansible_x. Supported parameters include: fmt, id."},
	}
	for _, tt := range tests {
		_, err := DecodeOptions[small](spec, tt.args, nil)
		assert.EqualError(t, err, tt.want, "%v", tt.args)
	}
}

func TestDecodeNestedThroughStrings(t *testing.T) {
	opts, err := DecodeOptions[small](Spec{Name: "x"}, map[string]any{"name": "a", "vols": "id=1"}, nil)
	require.NoError(t, err)
	require.Len(t, opts.Vols, 1)
	assert.Equal(t, 1, opts.Vols[0].ID)
}

func TestDecodeListChoices(t *testing.T) {
	type t1 struct {
		Tags []string `mapstructure:"tags" ansible:"choices=a|b,default=a|b"`
		N    int      `mapstructure:"n" ansible:"choices=1|2"`
	}
	_, err := DecodeOptions[t1](Spec{Name: "x"}, map[string]any{"tags": []any{"a", "x", "y"}}, nil)
	assert.EqualError(t, err, "value of tags must be one or more of: a, b. Got no match for: x, y")
	_, err = DecodeOptions[t1](Spec{Name: "x"}, map[string]any{"n": "3"}, nil)
	assert.EqualError(t, err, "value of n must be one of: 1, 2, got: 3")
	opts, err := DecodeOptions[t1](Spec{Name: "x"}, map[string]any{"n": "2"}, nil)
	require.NoError(t, err)
	assert.Equal(t, t1{Tags: []string{"a", "b"}, N: 2}, *opts)
}

func TestDecodeGroups(t *testing.T) {
	type four struct {
		A string `mapstructure:"a"`
		B string `mapstructure:"b"`
		C string `mapstructure:"c"`
		D string `mapstructure:"d" ansible:"default=x"`
	}
	spec := Spec{
		Name:              "x",
		MutuallyExclusive: [][]string{{"a", "b"}, {"c", "d"}},
		RequiredTogether:  [][]string{{"a", "c"}},
		RequiredOneOf:     [][]string{{"b", "d"}, {"a", "c"}},
	}
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"a": "1", "b": "2", "c": "3", "d": "4"}, "parameters are mutually exclusive: a|b, c|d"},
		{map[string]any{"a": "1"}, "parameters are required together: a, c"},
		{map[string]any{"c": "1"}, "parameters are required together: a, c"},
		// d's default counts for required_one_of, not for mutually_exclusive.
		{map[string]any{"a": "1", "c": "3"}, ""},
		{map[string]any{"a": "1", "c": "3", "b": nil}, ""},
	}
	for _, tt := range tests {
		_, err := DecodeOptions[four](spec, tt.args, nil)
		if tt.want == "" {
			assert.NoError(t, err, "%v", tt.args)
		} else {
			assert.EqualError(t, err, tt.want, "%v", tt.args)
		}
	}
	type two struct {
		A string `mapstructure:"a"`
		B string `mapstructure:"b"`
	}
	_, err := DecodeOptions[two](Spec{Name: "x", RequiredOneOf: [][]string{{"a", "b"}}}, map[string]any{}, nil)
	assert.EqualError(t, err, "one of the following is required: a, b")
}

func TestDecodeSpecErrors(t *testing.T) {
	type noTag struct{ Name string }
	type duration struct {
		Wait time.Duration `mapstructure:"wait"`
	}
	type badTag struct {
		Name string `mapstructure:"name" ansible:"requird"`
	}
	type badDefault struct {
		Size int `mapstructure:"size" ansible:"default=big"`
	}
	type badChoice struct {
		State string `mapstructure:"state" ansible:"choices=a|b,default=c"`
	}
	type twice struct {
		Common `mapstructure:",squash"`
		Token  string `mapstructure:"api_token"`
	}
	type chanOpt struct {
		C chan int `mapstructure:"c"`
	}
	spec := Spec{Name: "x"}
	const prefix = "internal error: invalid options type for keybuzz.infra.x: "
	tests := []struct {
		err  error
		want string
	}{
		{specErr[noTag](spec), "Name: no mapstructure tag naming the option"},
		{specErr[duration](spec), "wait: unsupported type time.Duration"},
		{specErr[badTag](spec), `name: unknown ansible tag item "requird"`},
		{specErr[badDefault](spec), "size: default: argument 'size' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"},
		{specErr[badChoice](spec), "state: default c is not one of the choices"},
		{specErr[twice](spec), "api_token: option defined twice"},
		{specErr[chanOpt](spec), "c: unsupported type chan int"},
		{specErr[Common](Spec{Name: "x", RequiredOneOf: [][]string{{"nope"}}}), `spec names "nope", which is not an option`},
		{specErr[int](spec), "options type int is not a struct"},
	}
	for _, tt := range tests {
		assert.EqualError(t, tt.err, prefix+tt.want)
	}
}

func specErr[T any](spec Spec) error {
	_, err := DecodeOptions[T](spec, nil, nil)
	return err
}

func TestDecodeUnexportedEmbedded(t *testing.T) {
	type inner struct {
		A string `mapstructure:"a"`
	}
	type outer struct {
		inner `mapstructure:",squash"`
		B     string `mapstructure:"b"`
	}
	opts, err := DecodeOptions[outer](Spec{Name: "x"}, map[string]any{"a": "1", "b": "2"}, nil)
	require.NoError(t, err)
	assert.Equal(t, "1", opts.A)
	assert.Equal(t, "2", opts.B)
}

func TestDecodeCollectsSecrets(t *testing.T) {
	d := newDecoder(env(map[string]string{"HCLOUD_TOKEN": "env-token-value"}))
	_, err := decodeWith[everything](d, everythingSpec, map[string]any{
		"volumes": []any{map[string]any{"hostname": "h", "size_gb": "x", "password": "hunter22"}},
	})
	require.Error(t, err)
	assert.ElementsMatch(t, []string{"env-token-value", "hunter22"}, d.secrets)
}
