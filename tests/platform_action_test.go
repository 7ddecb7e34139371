package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// actionPlaybook is a user's own play: a host of the inventory, every task delegated to
// localhost, the common options set once for the action group, a check-mode detach with diff and
// an async task. The with_async variable leaves the async task out where the binary runs under
// an emulator (async_wrapper executes the module file itself).
const actionPlaybook = `---
- name: kbv3 modules through the action plugin
  hosts: redis-01
  gather_facts: false
  module_defaults:
    group/keybuzz.infra.hcloud:
      timeout: 123
      api_token: "{{ lookup('ansible.builtin.env', 'HCLOUD_TOKEN') }}"
  tasks:
    - name: Info with the group's defaults
      keybuzz.infra.kbv3_volume_info:
        names: [vol-redis-*]
      delegate_to: localhost
    - name: Detach in check mode with diff
      keybuzz.infra.kbv3_volume_detach:
        name: vol-redis-01
      delegate_to: localhost
      check_mode: true
      diff: true
    - name: Info in the background
      keybuzz.infra.kbv3_volume_info:
        names: [vol-redis-*]
      delegate_to: localhost
      async: 60
      poll: 1
      when: with_async | bool
`

// The action plugin keeps what Ansible gives binary modules: module_defaults through the action
// group, no_log masking of the token, check mode (no mutation, a prediction), diff, async; with
// the native binary and with the linux/arm64 one forced through the same selection under qemu.
func TestPlatformActionPlugin(t *testing.T) {
	tests := []struct {
		name   string
		forced bool
	}{
		{"native", false},
		{"linux/arm64 under qemu", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, ctx := e2eStart(t, e2e.Options{})
			pb := filepath.Join(env.Dir, "play.yml")
			require.NoError(t, os.WriteFile(pb, []byte(actionPlaybook), 0o644))
			var vars []string
			withAsync := "true"
			if tt.forced {
				vars = arm64Env(t)
				withAsync = "false"
			}
			r := env.Command(ctx, vars, "ansible-playbook", pb, "--diff", "-e", "with_async="+withAsync, "-vvv")
			e2eRequireOK(t, r)
			if tt.forced {
				assert.Contains(t, r.Output, "__platforms/linux_arm64")
				assert.NotContains(t, r.Output, "__platforms/linux_amd64")
			}
			assert.NotContains(t, r.Output, env.Token, "the token leaked")

			info, ok := r.Task("Info with the group's defaults")
			require.True(t, ok, r.Summary())
			var res struct {
				Invocation struct {
					ModuleArgs map[string]any `json:"module_args"`
				} `json:"invocation"`
				Volumes []struct {
					Name string `json:"name"`
				} `json:"volumes"`
			}
			require.NoError(t, info.Decode(&res))
			assert.EqualValues(t, 123, res.Invocation.ModuleArgs["timeout"], "module_defaults of group/keybuzz.infra.hcloud")
			assert.Equal(t, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", res.Invocation.ModuleArgs["api_token"])
			assert.Len(t, res.Volumes, 3)

			detach, ok := r.Task("Detach in check mode")
			require.True(t, ok, r.Summary())
			assert.Equal(t, "changed", detach.Status)
			assert.Equal(t, map[string]int{"would_detach": 1}, detach.Actions())
			results, err := detach.Results()
			require.NoError(t, err)
			require.Len(t, results, 1)
			assert.NotEmpty(t, results[0].Diff, "diff mode")
			assert.Empty(t, e2e.Changed(env.Initial, env.State(), "vol-redis-01"), "check mode changed the volume")

			bg, ok := r.Task("Info in the background")
			require.True(t, ok, r.Summary())
			if !tt.forced {
				var job struct {
					JobID    string `json:"ansible_job_id"`
					Finished int    `json:"finished"`
					Volumes  []any  `json:"volumes"`
				}
				require.NoError(t, json.Unmarshal(bg.Result, &job))
				assert.NotEmpty(t, job.JobID, "not run by async_wrapper")
				assert.Equal(t, 1, job.Finished)
				assert.Len(t, job.Volumes, 3)
			} else {
				assert.Equal(t, "skipped", bg.Status)
			}
		})
	}
}
