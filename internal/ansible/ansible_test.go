package ansible

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const token = "tok-0123456789abcdef" // long and unlike anything else in the output

type createOpts struct {
	Common `mapstructure:",squash"`

	Name    string  `mapstructure:"name"`
	Size    int     `mapstructure:"size"`
	Format  string  `mapstructure:"format" ansible:"choices=xfs|ext4"`
	Volumes []entry `mapstructure:"volumes"`
}

var createSpec = Spec{Name: "kbv3_volume_create", MutuallyExclusive: [][]string{{"name", "volumes"}}}

type runFunc = func(context.Context, *Module, *createOpts) (*Result, error)

// execute runs Execute and checks what every result must be: one line of one JSON object with
// "changed", and an exit code that agrees with "failed".
func execute(t *testing.T, args string, vars map[string]string, run runFunc) (map[string]any, int) {
	t.Helper()
	var buf bytes.Buffer
	code := Execute(context.Background(), createSpec, []byte(args), env(vars), &buf, run)
	return checkOutput(t, buf.Bytes(), code)
}

func checkOutput(t *testing.T, out []byte, code int) (map[string]any, int) {
	t.Helper()
	require.True(t, bytes.HasSuffix(out, []byte("\n")), "%s", out)
	require.Equal(t, 1, bytes.Count(out, []byte("\n")), "one line: %s", out)
	var result map[string]any
	require.NoError(t, json.Unmarshal(out, &result), "%s", out)
	require.Contains(t, result, "changed")
	if result["failed"] == true {
		assert.Equal(t, 1, code)
	} else {
		assert.NotContains(t, result, "failed")
		assert.Equal(t, 0, code)
	}
	return result, code
}

func mustNotRun(t *testing.T) runFunc {
	return func(context.Context, *Module, *createOpts) (*Result, error) {
		t.Error("run was called")
		return nil, nil
	}
}

func TestExecuteGolden(t *testing.T) {
	args := `{"name": "kbv3-db-1-data", "size": "10", "api_token": "` + token + `",
		"_ansible_check_mode": false, "_ansible_diff": true, "_ansible_verbosity": 0,
		"_ansible_no_log": false, "_ansible_module_name": "keybuzz.infra.kbv3_volume_create",
		"_ansible_tracebacks_for": [], "_ansible_target_log_info": {"a": 1}}`
	var buf bytes.Buffer
	code := Execute(context.Background(), createSpec, []byte(args), nil, &buf,
		func(_ context.Context, m *Module, o *createOpts) (*Result, error) {
			m.Warn("volume %s is %d GB", o.Name, o.Size)
			return &Result{
				Changed: true,
				Msg:     "created: 1",
				Diff:    []Diff{{Before: nil, After: map[string]any{"size": o.Size}, AfterHeader: o.Name}},
				Values:  map[string]any{"volumes": []map[string]any{{"volume": o.Name, "action": "created", "size": o.Size}}},
			}, nil
		})
	assert.Equal(t, 0, code)
	assert.JSONEq(t, `{
		"changed": true,
		"msg": "created: 1",
		"diff": [{"before": null, "after": {"size": 10}, "after_header": "kbv3-db-1-data"}],
		"volumes": [{"volume": "kbv3-db-1-data", "action": "created", "size": 10}],
		"warnings": ["volume kbv3-db-1-data is 10 GB"],
		"invocation": {"module_args": {
			"api_token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
			"api_endpoint": "https://api.hetzner.cloud/v1",
			"timeout": 300,
			"name": "kbv3-db-1-data",
			"size": 10,
			"format": null,
			"volumes": null
		}}
	}`, buf.String())
}

func TestExecuteMasksNoLogInInvocation(t *testing.T) {
	args := `{"volumes": [{"hostname": "db-1", "size_gb": 10, "password": "hunter2-long"}, {"hostname": "db-2", "size_gb": 20}]}`
	out, _ := execute(t, args, map[string]string{"HCLOUD_TOKEN": token}, func(context.Context, *Module, *createOpts) (*Result, error) {
		return &Result{}, nil
	})
	moduleArgs := out["invocation"].(map[string]any)["module_args"].(map[string]any)
	assert.Equal(t, noLogMask, moduleArgs["api_token"], "a token from the environment is masked too")
	volumes := moduleArgs["volumes"].([]any)
	assert.Equal(t, noLogMask, volumes[0].(map[string]any)["password"])
	assert.Nil(t, volumes[1].(map[string]any)["password"], "an absent no_log option stays null")
	assert.Equal(t, "ext4", volumes[1].(map[string]any)["format"])
	assert.NotContains(t, fmt.Sprint(out), "hunter2-long")
}

func TestExecuteScrubsEverything(t *testing.T) {
	args := `{"api_token": "` + token + `", "volumes": [{"hostname": "h", "size_gb": 10, "password": "abc"}]}`
	type item struct {
		Error string `json:"error"`
		Token string `json:"token"`
	}
	out, code := execute(t, args, nil, func(_ context.Context, m *Module, o *createOpts) (*Result, error) {
		m.Diff = true
		m.Warn("retrying with token %s", o.APIToken)
		m.AddSecret("from-a-file-secret")
		return &Result{
			Changed: true,
			Diff:    []Diff{{Before: "token=" + token, After: "abc"}},
			Values: map[string]any{
				"items":  []item{{Error: "401 for " + token, Token: token}},
				"nested": map[string]any{"deep": []any{[]any{"x" + token + "y", "from-a-file-secret"}}},
				"short":  []string{"abc", "abcd", "xabcx"},
			},
		}, fmt.Errorf("auth failed for %q", o.APIToken)
	})
	assert.Equal(t, 1, code)
	assert.JSONEq(t, `{
		"changed": true,
		"failed": true,
		"msg": "auth failed for \"********\"",
		"warnings": ["retrying with token ********"],
		"diff": [{"before": "token=********", "after": "********"}],
		"items": [{"error": "401 for ********", "token": "********"}],
		"nested": {"deep": [["x********y", "********"]]},
		"short": ["********", "abcd", "xabcx"]
	}`, mustJSON(t, without(out, "invocation")))
}

func TestExecuteQuotedSecret(t *testing.T) {
	secret := `pa"ss\word`
	out, _ := execute(t, `{"api_token": "x"}`, nil, func(_ context.Context, m *Module, _ *createOpts) (*Result, error) {
		m.AddSecret(secret)
		return nil, fmt.Errorf("bad %q and %s", secret, secret)
	})
	assert.Equal(t, "bad \"********\" and ********", out["msg"])
}

func TestExecuteValidationFails(t *testing.T) {
	tests := []struct {
		args string
		want string
	}{
		{`{"nme": "x", "sise": 1, "_ansible_brand_new": true}`,
			"Unsupported parameters for (keybuzz.infra.kbv3_volume_create) module: nme, sise. Supported parameters include: api_endpoint, api_token, format, name, size, timeout, volumes."},
		{`{"name": "a", "volumes": []}`, "parameters are mutually exclusive: name|volumes"},
		{`{"size": "ten"}`, "argument 'size' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"},
		{`{"format": "zfs", "_ansible_check_mode": true}`, "value of format must be one of: xfs, ext4, got: zfs"},
		{`{"volumes": [{"hostname": "h"}]}`, "missing required arguments: size_gb found in volumes[0]"},
		{`{"volumes": [{"hostname": "h", "size_gb": 1, "foo": 2}]}`,
			"Unsupported parameters for (keybuzz.infra.kbv3_volume_create) module: volumes[0].foo. Supported parameters include: format, hostname, labels, password, size_gb."},
		// A rejected no_log value is still scrubbed from the message that rejects it.
		{`{"api_token": "` + token + `", "format": "` + token + `"}`, "value of format must be one of: xfs, ext4, got: ********"},
	}
	for _, tt := range tests {
		out, _ := execute(t, tt.args, nil, mustNotRun(t))
		assert.Equal(t, map[string]any{"changed": false, "failed": true, "msg": tt.want}, out, tt.args)
	}
}

func TestExecuteBadArgsFile(t *testing.T) {
	tests := []struct {
		args string
		want string
	}{
		{``, "Could not parse the module's arguments as JSON: EOF"},
		{`{"name": `, "Could not parse the module's arguments as JSON: unexpected EOF"},
		{`name=x size=10`, "Could not parse the module's arguments as JSON: invalid character 'a' in literal null (expecting 'u')"},
		{`{"name": "x"} {}`, "Could not parse the module's arguments as JSON: unexpected data after the JSON value"},
		{`["name"]`, "The module's arguments must be a JSON object, not <class 'list'>"},
		{`null`, "The module's arguments must be a JSON object, not <class 'NoneType'>"},
	}
	for _, tt := range tests {
		out, _ := execute(t, tt.args, nil, mustNotRun(t))
		assert.Equal(t, map[string]any{"changed": false, "failed": true, "msg": tt.want}, out, tt.args)
	}
}

func TestExecuteFlags(t *testing.T) {
	tests := []struct {
		args              string
		check, diff       bool
		verbosity         int
		diffInResult      bool
		warningsInResult  bool
		changed           bool
		wantDiffPrinted   bool
		wantModuleWarning bool
	}{
		{args: `{}`},
		{args: `{"_ansible_check_mode": true, "_ansible_diff": true, "_ansible_verbosity": 4}`, check: true, diff: true, verbosity: 4, wantDiffPrinted: true},
		{args: `{"_ansible_check_mode": "yes", "_ansible_diff": "no", "_ansible_verbosity": "2"}`, check: true, verbosity: 2},
		{args: `{"_ansible_check_mode": "garbage", "_ansible_verbosity": []}`},
	}
	for _, tt := range tests {
		var got Module
		out, _ := execute(t, tt.args, nil, func(_ context.Context, m *Module, _ *createOpts) (*Result, error) {
			got.Name, got.CheckMode, got.Diff, got.Verbosity = m.Name, m.CheckMode, m.Diff, m.Verbosity
			return &Result{Changed: true, Diff: []Diff{{Before: "a", After: "b"}}}, nil
		})
		assert.Equal(t, "kbv3_volume_create", got.Name)
		assert.Equal(t, tt.check, got.CheckMode, tt.args)
		assert.Equal(t, tt.diff, got.Diff, tt.args)
		assert.Equal(t, tt.verbosity, got.Verbosity, tt.args)
		_, printed := out["diff"]
		assert.Equal(t, tt.wantDiffPrinted, printed, tt.args)
	}
	out, _ := execute(t, `{"_ansible_diff": true}`, nil, func(context.Context, *Module, *createOpts) (*Result, error) {
		return &Result{Diff: []Diff{}}, nil
	})
	assert.NotContains(t, out, "diff", "an empty diff is not printed")
}

func TestExecuteRunError(t *testing.T) {
	out, code := execute(t, `{}`, nil, func(context.Context, *Module, *createOpts) (*Result, error) {
		return &Result{Changed: true, Msg: "replaced by the error", Values: map[string]any{"volumes": []string{"a"}}},
			errors.New("2 of 3 volumes failed")
	})
	assert.Equal(t, 1, code)
	assert.Equal(t, true, out["changed"], "what was changed stays reported")
	assert.Equal(t, "2 of 3 volumes failed", out["msg"])
	assert.Equal(t, []any{"a"}, out["volumes"])

	out, _ = execute(t, `{}`, nil, func(context.Context, *Module, *createOpts) (*Result, error) {
		return &Result{Failed: true, Msg: "created: 2, failed: 1"}, nil
	})
	assert.Equal(t, "created: 2, failed: 1", out["msg"])
	assert.Equal(t, true, out["failed"])

	out, _ = execute(t, `{}`, nil, func(context.Context, *Module, *createOpts) (*Result, error) { return nil, nil })
	assert.Equal(t, map[string]any{"changed": false}, without(out, "invocation"))
}

func TestExecutePanic(t *testing.T) {
	for _, verbosity := range []int{0, 3} {
		args := fmt.Sprintf(`{"api_token": %q, "_ansible_verbosity": %d}`, token, verbosity)
		out, code := execute(t, args, nil, func(_ context.Context, _ *Module, o *createOpts) (*Result, error) {
			panic("kaboom with " + o.APIToken)
		})
		assert.Equal(t, 1, code)
		assert.Equal(t, "module panicked: kaboom with ********", out["msg"])
		if verbosity >= 3 {
			assert.Contains(t, out["exception"], "ansible_test.go")
		} else {
			assert.NotContains(t, out, "exception")
		}
	}
}

func TestExecuteReservedValues(t *testing.T) {
	out, _ := execute(t, `{}`, nil, func(context.Context, *Module, *createOpts) (*Result, error) {
		return &Result{Values: map[string]any{"changed": "yes", "_ansible_no_log": true, "volumes": 1}}, nil
	})
	assert.Equal(t, false, out["changed"])
	assert.NotContains(t, out, "_ansible_no_log")
	assert.InDelta(t, 1, out["volumes"], 0)
	assert.ElementsMatch(t, []any{
		`return value "changed" dropped: the name is reserved for the module protocol`,
		`return value "_ansible_no_log" dropped: the name is reserved for the module protocol`,
	}, out["warnings"])
}

func TestExecuteUnencodableValues(t *testing.T) {
	out, code := execute(t, `{}`, nil, func(_ context.Context, m *Module, _ *createOpts) (*Result, error) {
		m.Warn("kept")
		return &Result{Changed: true, Values: map[string]any{"bad": make(chan int)}}, nil
	})
	assert.Equal(t, 1, code)
	assert.Equal(t, true, out["changed"])
	assert.Equal(t, "The module's result cannot be encoded as JSON: json: unsupported type: chan int", out["msg"])
	assert.Equal(t, []any{"kept"}, out["warnings"])
	assert.Contains(t, out, "invocation")
}

func TestExecuteInternalSpecError(t *testing.T) {
	type broken struct{ NoTag string }
	var buf bytes.Buffer
	code := Execute(context.Background(), Spec{Name: "x"}, []byte(`{}`), nil, &buf,
		func(context.Context, *Module, *broken) (*Result, error) { return nil, nil })
	out, _ := checkOutput(t, buf.Bytes(), code)
	assert.Equal(t, "internal error: invalid options type for keybuzz.infra.x: NoTag: no mapstructure tag naming the option", out["msg"])
}

func TestMainWithArgsFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "args")
	require.NoError(t, os.WriteFile(good, []byte(`{"name": "v"}`), 0o600))
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"/tmp/x/AnsiballZ_kbv3_volume_create"}, "No argument file provided: AnsiballZ_kbv3_volume_create is an Ansible module; run it from Ansible as keybuzz.infra.kbv3_volume_create, or by hand as `AnsiballZ_kbv3_volume_create ARGS_FILE` where ARGS_FILE holds its options as a JSON object."},
		{[]string{"m", ""}, "No argument file provided: m is an Ansible module; run it from Ansible as keybuzz.infra.kbv3_volume_create, or by hand as `m ARGS_FILE` where ARGS_FILE holds its options as a JSON object."},
		{[]string{"m", filepath.Join(dir, "missing")}, "Could not read the module's argument file: open " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{[]string{"m", dir}, "Could not read the module's argument file: read " + dir + ": is a directory"},
		{[]string{"m", good}, "ok v"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		code := mainWith(context.Background(), createSpec, tt.argv, nil, &buf, func(_ context.Context, _ *Module, o *createOpts) (*Result, error) {
			return &Result{Msg: "ok " + o.Name}, nil
		})
		out, _ := checkOutput(t, buf.Bytes(), code)
		assert.Equal(t, tt.want, out["msg"], tt.argv)
	}
}

func TestModuleConcurrentUse(t *testing.T) {
	m := &Module{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				m.AddSecret(fmt.Sprintf("secret-%d-%d", i, j))
				m.Warn("warning %d %d", i, j)
				_ = m.Scrub("text with secret-0-0 inside")
			}
		})
	}
	wg.Wait()
	assert.Len(t, m.takeWarnings(), 400)
	assert.Equal(t, "text with ******** inside", m.Scrub("text with secret-0-0 inside"))
}

func TestScrub(t *testing.T) {
	m := &Module{}
	assert.Equal(t, "nothing to hide", m.Scrub("nothing to hide"))
	m.AddSecret("")
	m.AddSecret("abc")
	m.AddSecret("longsecret")
	m.AddSecret("longsecret-with-suffix")
	tests := map[string]string{
		"":                                 "",
		"abc":                              "********",
		"abcabc":                           "abcabc",
		"a longsecret here":                "a ******** here",
		"longsecret-with-suffix!":          "********!",
		"longsecretlongsecret":             "****************",
		"LONGSECRET is not the same thing": "LONGSECRET is not the same thing",
	}
	for in, want := range tests {
		assert.Equal(t, want, m.Scrub(in), in)
	}
}

// TestMainProcess runs Main in a child process: the real exit code, stdout holding only the
// result, and SIGTERM reaching run through ctx.
func TestMainProcess(t *testing.T) {
	if os.Getenv("KBV3_ANSIBLE_CHILD") != "" {
		os.Args = []string{"kbv3_test", os.Getenv("KBV3_ANSIBLE_ARGS")}
		Main(createSpec, func(ctx context.Context, m *Module, o *createOpts) (*Result, error) {
			fmt.Println("stray output that would break the protocol")
			if o.Name == "wait" {
				fmt.Fprintln(os.Stderr, "ready")
				<-ctx.Done()
				return &Result{Changed: true}, fmt.Errorf("interrupted: %w", context.Cause(ctx))
			}
			return &Result{Msg: "hello " + o.Name}, nil
		})
		return
	}
	dir := t.TempDir()
	child := func(name string) *exec.Cmd {
		args := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(args, []byte(`{"name": "`+name+`"}`), 0o600))
		cmd := exec.Command(os.Args[0], "-test.run=^TestMainProcess$")
		cmd.Env = append(os.Environ(), "KBV3_ANSIBLE_CHILD=1", "KBV3_ANSIBLE_ARGS="+args)
		return cmd
	}

	cmd := child("world")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	out, _ := checkOutput(t, stdout.Bytes(), 0)
	assert.Equal(t, "hello world", out["msg"])
	assert.Contains(t, stderr.String(), "stray output")

	cmd = child("wait")
	stdout.Reset()
	cmd.Stdout = &stdout
	errPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewReader(errPipe)
	for {
		line, err := lines.ReadString('\n')
		require.NoError(t, err)
		if strings.Contains(line, "ready") {
			break
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	_, _ = io.Copy(io.Discard, lines)
	err = cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	out, _ = checkOutput(t, stdout.Bytes(), exit.ExitCode())
	assert.Equal(t, true, out["changed"])
	assert.Contains(t, out["msg"], "interrupted")
}

func without(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}
