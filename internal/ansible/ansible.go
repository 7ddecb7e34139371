// Package ansible is the protocol of Ansible binary modules: Ansible runs the module with the
// path of a file holding the task's options as one JSON object, and reads one JSON object back
// from stdout.
//
// A module declares its options as a struct and hands Main a function of those options; the
// package validates and coerces the options the way ansible-core's AnsibleModule does (same
// checks, same order, same messages), so that a task behaves and fails as it would with a
// Python module. Because the controller never sees a binary module's argument spec, masking
// no_log values is this package's job: they are replaced in invocation.module_args and
// scrubbed from everything the module prints.
//
// Options are the exported fields of the module's struct, named by their mapstructure tag
// (",squash" embeds a struct of shared options). Their Go type is their Ansible type: string,
// bool, ints, floats, slices of those (list), map[string]string (dict), a struct or a slice of
// structs (suboptions, validated like the top level); a pointer makes absence visible as nil.
// The ansible tag adds, comma-separated:
//
//	required          must be present and not null
//	no_log            masked in invocation.module_args, scrubbed from all output
//	choices=a|b       allowed values (of each element, for a list)
//	default=v         used when absent; a list default is "a|b"
//	env=A|B           the first non-empty variable, when absent
//
// Null is the same as absent. Values are coerced as Ansible does: "yes"/"off"/1/0 to bool,
// "10" and 10.0 to int, numbers to string, "a,b" to a list, "k=v k2=v2" or a JSON string to
// a dict.
package ansible

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
)

// Spec describes one module to the protocol.
type Spec struct {
	Name              string // short name, e.g. "kbv3_volume_create"; messages say "keybuzz.infra." + Name
	MutuallyExclusive [][]string
	RequiredOneOf     [][]string
	RequiredTogether  [][]string
	// Tags add `ansible` tag items to suboptions whose struct is shared with other modules or
	// files (plan.Entry), for this module only: by dotted path, {"volumes.hostname": "required"}.
	Tags map[string]string
}

// Diff is one entry of the result's "diff" list, in the shape Ansible's diff callback reads.
type Diff struct {
	Before       any    `json:"before"`
	After        any    `json:"after"`
	BeforeHeader string `json:"before_header,omitempty"`
	AfterHeader  string `json:"after_header,omitempty"`
}

// Result is what a module returns; the protocol adds invocation and warnings, and scrubs
// secrets.
type Result struct {
	Changed bool
	Failed  bool
	Msg     string
	Diff    []Diff         // printed as "diff" only when the task runs with --diff
	Values  map[string]any // module-specific return values, merged at the top level
}

// reserved are the result keys the protocol writes itself; a module's Values may not set them.
var reserved = map[string]bool{
	"changed": true, "failed": true, "msg": true, "diff": true,
	"invocation": true, "warnings": true, "exception": true,
}

// Main runs a module process: it reads the args file named by os.Args[1], decodes it into a
// new T, validates it, calls run with a context cancelled by SIGINT or SIGTERM, prints one
// JSON object on stdout and exits (0, or 1 when the result is failed). A second signal kills
// the process at once.
func Main[T any](spec Spec, run func(ctx context.Context, m *Module, opts *T) (*Result, error)) {
	stdout := os.Stdout
	// Ansible reads stdout as one JSON object; anything else printing there (a stray Println
	// in a dependency) would turn the result into MODULE FAILURE. Stderr is harmless.
	os.Stdout = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := mainWith(ctx, spec, os.Args, os.Getenv, stdout, run)
	stop()
	os.Exit(code)
}

func mainWith[T any](ctx context.Context, spec Spec, argv []string, env func(string) string, w io.Writer,
	run func(ctx context.Context, m *Module, opts *T) (*Result, error)) int {
	if len(argv) < 2 || argv[1] == "" {
		prog := spec.Name
		if len(argv) > 0 {
			prog = filepath.Base(argv[0])
		}
		return fail(w, spec, fmt.Sprintf("No argument file provided: %s is an Ansible module; run it from "+
			"Ansible as %s, or by hand as `%s ARGS_FILE` where ARGS_FILE holds its options as a JSON object.",
			prog, fqcn(spec.Name), prog))
	}
	args, err := os.ReadFile(argv[1])
	if err != nil {
		return fail(w, spec, fmt.Sprintf("Could not read the module's argument file: %v", err))
	}
	return Execute(ctx, spec, args, env, w, run)
}

// Execute is Main's testable core: args is the args file's content, env looks up environment
// fallbacks (nil: none). It writes the JSON result to w and returns the exit code.
func Execute[T any](ctx context.Context, spec Spec, args []byte, env func(string) string, w io.Writer,
	run func(ctx context.Context, m *Module, opts *T) (*Result, error)) int {
	var raw any
	if err := decodeJSON(args, &raw); err != nil {
		return fail(w, spec, fmt.Sprintf("Could not parse the module's arguments as JSON: %v", err))
	}
	params, ok := raw.(map[string]any)
	if !ok {
		return fail(w, spec, fmt.Sprintf("The module's arguments must be a JSON object, not %s", pyType(raw)))
	}
	m := &Module{Name: spec.Name}
	m.readInternal(params)
	d := newDecoder(env)
	dec, err := decodeWith[T](d, spec, params)
	for _, s := range d.secrets {
		m.AddSecret(s)
	}
	if err != nil {
		// Validation fails before run, even in check mode, as in AnsibleModule.
		return m.finish(w, nil, err, nil)
	}
	res, err := invoke(ctx, m, dec.opts, run)
	return m.finish(w, res, err, dec.moduleArgs)
}

func fail(w io.Writer, spec Spec, msg string) int {
	m := &Module{Name: spec.Name}
	return m.finish(w, nil, errors.New(msg), nil)
}

// readInternal takes the controller's _ansible_* keys this package uses; a malformed one
// counts as unset rather than failing a task over the controller's data.
func (m *Module) readInternal(params map[string]any) {
	m.CheckMode, _ = toBool(params["_ansible_check_mode"])
	m.Diff, _ = toBool(params["_ansible_diff"])
	if n, msg := toInteger(params["_ansible_verbosity"]); msg == "" && n.IsInt64() {
		m.Verbosity = int(n.Int64())
	}
}

// panicError carries a recovered panic to the result.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("module panicked: %v", p.value) }

// invoke calls run, turning a panic in its goroutine into a failed result: Ansible would
// otherwise get a Go stack trace instead of JSON. Panics in goroutines run starts still
// crash the process.
func invoke[T any](ctx context.Context, m *Module, opts *T,
	run func(ctx context.Context, m *Module, opts *T) (*Result, error)) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, &panicError{value: p, stack: debug.Stack()}
		}
	}()
	return run(ctx, m, opts)
}

// finish prints the result and returns the exit code. runErr, when set, fails the result and
// becomes its msg; the rest of res (Changed, Values, Diff) is still printed, since a module
// that failed half-way has still changed what it changed.
func (m *Module) finish(w io.Writer, res *Result, runErr error, moduleArgs map[string]any) int {
	if res == nil {
		res = &Result{}
	}
	out := make(map[string]any, len(res.Values)+7)
	for k, v := range res.Values {
		if reserved[k] || strings.HasPrefix(k, "_ansible_") {
			m.Warn("return value %q dropped: the name is reserved for the module protocol", k)
			continue
		}
		out[k] = v
	}
	failed := res.Failed || runErr != nil
	msg := res.Msg
	if runErr != nil {
		msg = runErr.Error()
	}
	out["changed"] = res.Changed
	if failed {
		out["failed"] = true
	}
	if msg != "" {
		out["msg"] = msg
	}
	if m.Diff && len(res.Diff) > 0 {
		out["diff"] = res.Diff
	}
	if moduleArgs != nil {
		out["invocation"] = map[string]any{"module_args": moduleArgs}
	}
	if pe := (*panicError)(nil); errors.As(runErr, &pe) && m.Verbosity >= 3 {
		out["exception"] = string(pe.stack)
	}
	if warnings := m.takeWarnings(); len(warnings) > 0 {
		out["warnings"] = warnings
	}
	data, err := m.render(out)
	if err != nil {
		failed = true
		fallback := map[string]any{
			"changed": res.Changed,
			"failed":  true,
			"msg":     "The module's result cannot be encoded as JSON: " + err.Error(),
		}
		for _, k := range []string{"invocation", "warnings"} {
			if v, ok := out[k]; ok {
				fallback[k] = v
			}
		}
		if data, err = m.render(fallback); err != nil {
			return 1
		}
	}
	if _, err := w.Write(data); err != nil {
		return 1
	}
	if failed {
		return 1
	}
	return 0
}
