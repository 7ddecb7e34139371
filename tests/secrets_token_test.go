package tests

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// relSecretToken and relRefusedToken are recognisable, 64 characters, unlike any resource name.
const (
	relSecretToken  = "kbv3SECRETtokenXq7Wz2Lr9Vt4Kp8Ns3Jd6Hf1Gb5Mc0Ya7Ue2Io9Pw4Qx8Rz3S"
	relRefusedToken = "kbv3REFUSEDtokenAa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2Mm3Nn4Oo5P6"
)

// TestSecretsTokenNeverShown runs the diff and the reset with -vvvv and API errors on the way
// (5xx, 429, a dropped connection, an action that fails), then once more with a token the API
// refuses: neither token appears in the output, the operation log, the snapshot, the diff, the
// report, or any other file the runs wrote.
func TestSecretsTokenNeverShown(t *testing.T) {
	root := relRoot(t)
	f := e2e.SmallFleet()
	s := relSim(t, f, relSecretToken,
		"--fault", "POST /v1/volumes/*/actions/detach status=503 nth=1 count=2",
		"--fault", "DELETE /v1/volumes/* status=500 nth=1 count=1",
		"--fault", "POST /v1/volumes status=429 nth=1 count=2",
		"--fault", "POST /v1/volumes/*/actions/attach effect=drop nth=1 count=1",
		"--fault", "GET /v1/servers status=502 nth=2 count=1",
		"--fault", "POST /v1/volumes/*/actions/attach effect=action_error nth=3 count=1",
		"--fault", "GET /v1/actions status=504 nth=2 count=1",
	)
	w, err := e2e.NewWorkspace(t.TempDir(), f)
	if err != nil {
		t.Fatal(err)
	}
	env := s.Env()
	var outputs []string
	run := func(playbook string, env []string) *e2e.Run {
		r, err := w.Playbook(context.Background(), e2e.PlaybookOptions{Root: root, Playbook: playbook, Env: env, Args: []string{"-vvvv"},
			Vars: map[string]any{"batch_size": 3, "batch_timeout": 30}, Deadline: 4 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if r.Deadline {
			t.Fatalf("%s did not end within 4 minutes", playbook)
		}
		outputs = append(outputs, r.Output)
		return r
	}
	if r := run("playbooks/volume_diff_v3.yml", env); !r.Succeeded() {
		t.Fatalf("the diff failed:\n%s", r.Output)
	}
	r1 := run("playbooks/volume_reset_v3.yml", env)
	r2 := run("playbooks/volume_reset_v3.yml", env) // converges after the failed attach
	if !r2.Succeeded() {
		t.Errorf("the rerun failed:\n%s", r2.Output)
	}
	refused := append([]string{}, env...)
	refused = append(refused, "HCLOUD_TOKEN="+relRefusedToken)
	r3 := run("playbooks/volume_reset_v3.yml", refused)
	if r3.Succeeded() {
		t.Errorf("a run with a refused token succeeded")
	}
	if !strings.Contains(strings.Join(e2e.FailedLines(r3.Output), "\n"), "unauthorized") {
		t.Errorf("the refused token's failure does not say unauthorized:\n%s", strings.Join(e2e.FailedLines(r3.Output), "\n"))
	}
	entries, err := e2e.ReadOplog(w.Log)
	if err != nil {
		t.Fatal(err)
	}
	if retries, _ := e2e.Retries(entries); retries == 0 {
		t.Errorf("no retry in the operation log: the faults did not bite")
	}
	if len(strings.Join(outputs, "")) < 10000 || !strings.Contains(r1.Output, "<localhost> EXEC") {
		t.Errorf("the runs were not verbose (-vvvv)")
	}

	scanned := secretsNowhere(t, w, outputs)
	t.Logf("%d files and %d outputs (%d bytes) scanned; %d log lines", scanned, len(outputs), len(strings.Join(outputs, "")), len(entries))
}

// secretsNowhere checks that neither token appears in the outputs or in any file of the
// workspace, and that the run wrote its files; it returns how many files it read.
func secretsNowhere(t *testing.T, w *e2e.Workspace, outputs []string) (scanned int) {
	t.Helper()
	for i, out := range outputs {
		for _, tok := range []string{relSecretToken, relRefusedToken} {
			if strings.Contains(out, tok) {
				t.Errorf("run %d output shows a token at %q", i, around(out, tok))
			}
		}
	}
	for _, p := range []string{w.Log, w.Snapshot, w.Diff, w.Report} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was not written: %v", filepath.Base(p), err)
		}
	}
	err := filepath.WalkDir(w.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		scanned++
		for _, tok := range []string{relSecretToken, relRefusedToken} {
			if strings.Contains(string(b), tok) {
				t.Errorf("%s shows a token at %q", p, around(string(b), tok))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return scanned
}

// around is the text around the first occurrence of s in text.
func around(text, s string) string {
	i := strings.Index(text, s)
	lo, hi := max(0, i-80), min(len(text), i+len(s)+80)
	return text[lo:hi]
}
