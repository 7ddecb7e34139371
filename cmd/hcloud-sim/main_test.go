package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildSim builds the command once per test into a temporary directory.
func buildSim(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hcloud-sim")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func TestStartupContract(t *testing.T) {
	bin := buildSim(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--scenario", "ph3-02", "--action-time", "50ms",
				"--action-time", "attach_volume=1s", "--fault", "GET /v1/locations status=503 nth=1", "--log-level", "off")
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			line, err := bufio.NewReader(stdout).ReadString('\n')
			require.NoError(t, err)
			require.Regexp(t, regexp.MustCompile(`^http://127\.0\.0\.1:\d+/v1\n$`), line)
			endpoint := line[:len(line)-1]

			req, err := http.NewRequest("GET", endpoint+"/servers?name=backup-01", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer t")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, string(body), `"backup-01"`)

			require.NoError(t, cmd.Process.Signal(sig))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				assert.NoError(t, err, "exit 0 on %v", sig)
			case <-time.After(10 * time.Second):
				t.Fatal("no exit after the signal")
			}
		})
	}
}

func TestBadStart(t *testing.T) {
	bin := buildSim(t)
	missing := filepath.Join(t.TempDir(), "none.json")
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"servers":[{"name":"a","location":"mars"}]}`), 0o600))
	for name, args := range map[string][]string{
		"unknown flag":           {"--nope"},
		"bad action time":        {"--action-time", "fast"},
		"unknown command":        {"--action-time", "launch=1s"},
		"bad rate limit":         {"--rate-limit", "lots"},
		"bad fault":              {"--fault", "GET /v1 effect=boom"},
		"unknown scenario":       {"--scenario", "ph9"},
		"unreadable scenario":    {"--scenario-file", missing},
		"invalid scenario":       {"--scenario-file", bad},
		"unreadable faults file": {"--faults-file", missing},
		"bad log level":          {"--log-level", "loud"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, args...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "want an exit error, got %v: %s", err, out)
			assert.Equal(t, 2, exit.ExitCode(), string(out))
			assert.NotEmpty(t, out, "a message on stderr")
		})
	}
}
