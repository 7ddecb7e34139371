package clients

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// simBinary is cmd/hcloud-sim, built once for the package by TestMain.
var simBinary string

func TestMain(m *testing.M) { simproc.Main(m, &simBinary) }

// actionTime keeps every action short; the clients still poll at their own pace (the CLI every
// 500 ms, python3-hcloud every poll_interval).
const actionTime = 50 * time.Millisecond

// startSim runs a fresh simulator of the report's fleet for one test.
func startSim(t *testing.T) *simproc.Sim {
	t.Helper()
	return simproc.StartT(t, simproc.Options{Binary: simBinary, Scenario: "ph3-02", ActionTime: actionTime})
}

const missingDeps = "install hcloud-cli / python3-hcloud (make deps)"

// hcloudCLI is the Debian hcloud CLI; a missing one fails the test, never skips it.
func hcloudCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("hcloud")
	if err != nil {
		t.Fatalf("the hcloud CLI is not on PATH (%v): %s", err, missingDeps)
	}
	return p
}

// debianPython is /usr/bin/python3 with python3-hcloud; this machine's `python3` may be
// another build without Debian's packages.
const debianPython = "/usr/bin/python3"

func requirePythonHcloud(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, debianPython, "-c", "import hcloud").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import hcloud (%v: %s): %s", debianPython, err, bytes.TrimSpace(out), missingDeps)
	}
}

// result is what a client command did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// clientEnv is the environment of a client run against s: no HCLOUD_* or user config from the
// caller, HCLOUD_CONFIG an empty file.
func clientEnv(t *testing.T, s *simproc.Sim) []string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "cli.toml")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HCLOUD_") {
			env = append(env, kv)
		}
	}
	return append(append(env, s.Env()...), "HCLOUD_CONFIG="+cfg)
}

// run runs a client command with a bounded time and returns its output and exit code.
func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		r.code = exit.ExitCode()
	default:
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, r)
	}
	return r
}
