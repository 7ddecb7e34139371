package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// TestBenchPeersReachThePlan runs the ways `make bench` holds kbv3 against (the official
// collection's playbooks, hetzner.hcloud 1.11 and 5.x each written two ways, and the report's
// hcloud CLI loop) on the small fleet, and checks
// that each ends in the planned state with nothing outside the reviewed diff deleted. `make
// bench` is not part of `make test`: without this, a baseline that broke would only show as a
// failed row in the next benchmark.
func TestBenchPeersReachThePlan(t *testing.T) {
	root := relRoot(t)
	f := e2e.SmallFleet()
	diff := relDiff(t, f)
	for _, peer := range []struct {
		name     string
		playbook string // "" for the CLI loop
		modern   bool   // hetzner.hcloud 5.x on ansible-core 2.19
	}{
		{"official async batches", "bench/official/volume_reset_official.yml", false},
		{"official serial host batches", "bench/official/volume_reset_official_hosts.yml", false},
		{"modern async batches", "bench/modern/volume_reset_modern.yml", true},
		{"modern serial host batches", "bench/modern/volume_reset_modern_hosts.yml", true},
		{"hcloud CLI loop", "", false},
	} {
		t.Run(peer.name, func(t *testing.T) {
			var modern []string
			deadline := 4 * time.Minute
			if peer.modern {
				deadline = modernTimeout // ansible-core 2.19 is the slower controller
				// The repository's ansible.cfg stays (forks, inventory); the collections are
				// the toolchain's only, so that 1.11 cannot stand in for 5.x.
				m := requireModern(t)
				modern = append(m.PathEnv(t.TempDir()), "ANSIBLE_COLLECTIONS_PATH="+m.PythonPath)
			}
			t.Parallel()
			s := relSim(t, f, simproc.Token)
			w, err := e2e.NewWorkspace(t.TempDir(), f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(w.Diff, diff, 0o644); err != nil {
				t.Fatal(err)
			}
			before := relState(t, s)
			var output string
			if peer.playbook != "" {
				r, err := w.Playbook(context.Background(), e2e.PlaybookOptions{Root: root, Playbook: peer.playbook, Env: append(s.Env(), modern...),
					Vars: map[string]any{"batch_size": 3}, Deadline: deadline})
				if err != nil {
					t.Fatal(err)
				}
				output = r.Output
				if !r.Succeeded() {
					t.Fatalf("%s failed (exit %d):\n%s", peer.playbook, r.Code, output)
				}
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "bench/cli/volume_reset_cli.sh"), w.Plan, w.Diff, w.Snapshot)
				cmd.Dir = root
				cmd.Env = append(append(os.Environ(), s.Env()...), "BATCH_SIZE=3", "HCLOUD_CONFIG="+filepath.Join(w.Dir, "hcloud.toml"))
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				output = out.String()
				if err != nil {
					t.Fatalf("the CLI loop failed (%v):\n%s", err, output)
				}
			}
			deletes, err := e2e.ReadDiffDeletes(w.Diff)
			if err != nil {
				t.Fatal(err)
			}
			if problems := e2e.CheckFleet(relWant(f, deletes), before, relState(t, s)); len(problems) > 0 {
				t.Errorf("the fleet does not match the plan:\n%s\n\noutput:\n%s", strings.Join(problems, "\n"), output)
			}
		})
	}
}
