package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// ansible-doc -l keybuzz.infra lists the six modules, each with its short description and no
// warning, on both ansible-core series the project supports: Debian 12's 2.14 (the system's) and
// trixie's 2.19 (the modern toolchain). Each ansible-doc is first asked its version, so that a
// PATH or PYTHONPATH mix-up cannot check the same ansible-core twice.
func TestModernAnsibleDocListOnBothCores(t *testing.T) {
	if _, err := e2e.Build(); err != nil {
		t.Fatalf("building the collection: %v", err)
	}
	collections := filepath.Join(docRepoRoot(t), ".build", "collections")
	tests := []struct {
		core string
		// toolchain gives the ansible-doc to run and the environment it needs.
		toolchain func(t *testing.T) (string, []string)
	}{
		{core: "2.14", toolchain: func(t *testing.T) (string, []string) {
			bin, err := exec.LookPath("ansible-doc")
			require.NoError(t, err, e2e.MissingDeps)
			return bin, nil
		}},
		{core: "2.19", toolchain: func(t *testing.T) (string, []string) {
			m := requireModern(t)
			return filepath.Join(m.Bin, "ansible-doc"), m.PathEnv(t.TempDir())
		}},
	}
	for _, tc := range tests {
		t.Run("ansible-core "+tc.core, func(t *testing.T) {
			bin, env := tc.toolchain(t)
			cmd := exec.Command(bin, "--version")
			cmd.Env = append(append(os.Environ(), "ANSIBLE_CONFIG="), env...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s --version: %s", bin, out)
			first, _, _ := strings.Cut(string(out), "\n")
			require.True(t, strings.HasPrefix(first, "ansible-doc [core "+tc.core+"."), "%s is %q, want ansible-core %s", bin, first, tc.core)
			checkAnsibleDocList(t, bin, collections, env...)
		})
	}
}
