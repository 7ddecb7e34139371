package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// opsTask is what the test reads of a task of the user's playbook.
type opsTask struct {
	e2e.ModuleResult
	Problems []string `json:"problems"`
}

func opsResult(t *testing.T, r *e2e.Run, name string) (opsTask, string) {
	t.Helper()
	task, ok := r.Task(name)
	require.True(t, ok, "no result of %q\n%s", name, r.Summary())
	var res opsTask
	require.NoError(t, task.Decode(&res))
	return res, task.Status
}

// TestModulesInAUsersPlaybook runs a small playbook of a user's own, not the reset, through
// ansible-playbook against hcloud-sim: a detach task then a delete task under --check (the
// delete predicts a refusal that the detach lifts, without failing), the same playbook for
// real (detached, then deleted), an attach of an entry of the diff's keep list (accepted with
// its id and server; another id refused), verify in check mode without fail_on_problems (it
// describes, it does not fail), and a misspelt single name (a warning, never silence).
func TestModulesInAUsersPlaybook(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	old, moved := opsOldVolumes(t, env)
	oldServer, movedServer := e2e.ServerName(env.Initial, old), e2e.ServerName(env.Initial, moved)
	typo := old.Name + "x"
	path := opsWriteUsersPlaybook(t, env, old, oldServer, typo)

	check := env.Command(ctx, nil, "ansible-playbook", path, "--check")
	e2eRequireOK(t, check)
	assertOpsCheckRun(t, env, check, typo)

	real := env.Command(ctx, nil, "ansible-playbook", path)
	require.NoError(t, real.Err, real.Summary())
	assertOpsRealRun(t, real)

	opsAttachKeepEntry(t, ctx, env, moved, movedServer)
	for _, v := range env.State().Volumes {
		if v.Name == moved.Name {
			assert.Equal(t, movedServer, e2e.ServerName(env.State(), v), "attached back to its server")
		}
		assert.NotEqual(t, old.Name, v.Name, "the old volume was deleted")
	}
}

// opsOldVolumes are two attached old (vol-*) volumes of the initial fleet: old for the user's
// playbook to detach and delete, moved for a keep entry to attach back.
func opsOldVolumes(t *testing.T, env *e2e.Env) (old, moved schema.Volume) {
	t.Helper()
	for _, v := range env.Initial.Volumes {
		if !strings.HasPrefix(v.Name, "vol-") || v.Server == nil {
			continue
		}
		if old.Name == "" {
			old = v
		} else if moved.Name == "" {
			moved = v
		}
	}
	require.NotEmpty(t, moved.Name, "two attached old volumes in ph3-02")
	return old, moved
}

// opsWriteUsersPlaybook writes the user's playbook (detach then delete old, verify, and a
// misspelt name to detach and attach) and returns its path.
func opsWriteUsersPlaybook(t *testing.T, env *e2e.Env, old schema.Volume, oldServer, typo string) string {
	t.Helper()
	playbook := fmt.Sprintf(`---
- name: A user's own playbook
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Detach the old volume
      keybuzz.infra.kbv3_volume_detach:
        name: %[1]s
    - name: Delete the old volume
      keybuzz.infra.kbv3_volume_delete:
        volumes:
          - {id: %[2]d, name: %[1]s, server: %[3]s, size_gb: %[4]d}
    - name: Verify the new volume
      keybuzz.infra.kbv3_volume_verify:
        volumes:
          - {hostname: %[3]s, size_gb: 20}
      ignore_errors: true
    - name: Detach a misspelt name
      keybuzz.infra.kbv3_volume_detach:
        name: %[5]s
    - name: Attach a misspelt name
      keybuzz.infra.kbv3_volume_attach:
        name: %[5]s
        server: %[3]s
      ignore_errors: true
`, old.Name, old.ID, oldServer, old.Size, typo)
	path := filepath.Join(env.Dir, "my_volumes.yml")
	require.NoError(t, os.WriteFile(path, []byte(playbook), 0o644))
	return path
}

// assertOpsCheckRun: under --check nothing changes, the delete predicts a refusal without
// failing, verify describes, and each misspelt name gets a warning.
func assertOpsCheckRun(t *testing.T, env *e2e.Env, check *e2e.Run, typo string) {
	t.Helper()
	assert.Zero(t, env.Mutating(), "check mode changes nothing")

	det, _ := opsResult(t, check, "Detach the old volume")
	require.Len(t, det.Volumes, 1)
	assert.Equal(t, "would_detach", det.Volumes[0].Action)
	del, status := opsResult(t, check, "Delete the old volume")
	assert.Equal(t, "ok", status, "a predicted refusal does not fail the check run")
	require.Len(t, del.Volumes, 1, check.Summary())
	assert.Equal(t, "refused", del.Volumes[0].Action)
	assert.True(t, strings.HasPrefix(del.Volumes[0].Error, "would be refused: "), del.Volumes[0].Error)
	assert.Contains(t, del.Volumes[0].Error, "set detach: true, or run the detach task first")
	assert.NotEmpty(t, del.Warnings)
	ver, status := opsResult(t, check, "Verify the new volume")
	assert.Equal(t, "ok", status, "verify describes in check mode")
	assert.False(t, ver.Failed)
	assert.NotEmpty(t, ver.Problems, "the new volume does not exist yet")
	typoDet, _ := opsResult(t, check, "Detach a misspelt name")
	assert.Equal(t, "absent", typoDet.Volumes[0].Action)
	require.Len(t, typoDet.Warnings, 1)
	assert.Contains(t, typoDet.Warnings[0], "volume "+typo+" does not exist")
	typoAtt, status := opsResult(t, check, "Attach a misspelt name")
	assert.Equal(t, "changed", status)
	assert.Equal(t, "would_attach", typoAtt.Volumes[0].Action)
	require.Len(t, typoAtt.Warnings, 1)
	assert.Contains(t, typoAtt.Warnings[0], "a real run fails unless an earlier task creates it")
}

// assertOpsRealRun: for real, the detach lifts the refusal check mode predicted, verify fails on
// its problem and the misspelt attach fails as check mode warned.
func assertOpsRealRun(t *testing.T, real *e2e.Run) {
	t.Helper()
	det, _ := opsResult(t, real, "Detach the old volume")
	assert.Equal(t, "detached", det.Volumes[0].Action)
	del, status := opsResult(t, real, "Delete the old volume")
	assert.Equal(t, "changed", status, "the detach task before it lifted the refusal check mode predicted")
	assert.Equal(t, "deleted", del.Volumes[0].Action)
	_, status = opsResult(t, real, "Verify the new volume")
	assert.Equal(t, "ignored", status, "a real run's verify fails on the problem")
	typoAtt, status := opsResult(t, real, "Attach a misspelt name")
	assert.Equal(t, "ignored", status, "what check mode warned about")
	assert.Equal(t, "failed", typoAtt.Volumes[0].Action)
}

// opsAttachKeepEntry detaches moved, then attaches an entry of the diff's keep list for it, as
// kbv3_volume_info writes it (accepted as it is), and the same entry with another id (refused).
func opsAttachKeepEntry(t *testing.T, ctx context.Context, env *e2e.Env, moved schema.Volume, movedServer string) {
	t.Helper()
	keep := map[string]any{"hostname": movedServer, "volume": moved.Name, "id": moved.ID, "size_gb": moved.Size,
		"location": moved.Location.Name, "server": movedServer}
	wrong := map[string]any{}
	for k, v := range keep {
		wrong[k] = v
	}
	wrong["id"] = moved.ID + 100000
	keepJSON, err := json.Marshal([]any{keep})
	require.NoError(t, err)
	wrongJSON, err := json.Marshal([]any{wrong})
	require.NoError(t, err)
	attachBook := fmt.Sprintf(`---
- name: Attach what the diff kept
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Detach it first
      keybuzz.infra.kbv3_volume_detach:
        name: %s
    - name: Attach the keep entry
      keybuzz.infra.kbv3_volume_attach:
        volumes: %s
    - name: Attach a keep entry whose id is not the live one
      keybuzz.infra.kbv3_volume_attach:
        volumes: %s
      ignore_errors: true
`, moved.Name, keepJSON, wrongJSON)
	path := filepath.Join(env.Dir, "attach_keep.yml")
	require.NoError(t, os.WriteFile(path, []byte(attachBook), 0o644))
	r := env.Command(ctx, nil, "ansible-playbook", path)
	require.NoError(t, r.Err, r.Summary())
	att, status := opsResult(t, r, "Attach the keep entry")
	assert.Equal(t, "changed", status, r.Summary())
	assert.Equal(t, "attached", att.Volumes[0].Action)
	assert.NotContains(t, r.Output, "Unsupported parameters")
	bad, status := opsResult(t, r, "Attach a keep entry whose id is not the live one")
	assert.Equal(t, "ignored", status)
	assert.Equal(t, "refused", bad.Volumes[0].Action)
	assert.Contains(t, bad.Msg, "now has id")
}

// TestModulesInAUsersPlaybookCreateThenAttach: a user's playbook creates two volumes (one with
// server, one in a location) and attaches each, giving the attach what the create reported
// (its volume and server). --check predicts each task exactly as the real run then does it:
// the attach after the create with server has nothing to do in both, the other attaches.
func TestModulesInAUsersPlaybookCreateThenAttach(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	require.GreaterOrEqual(t, len(env.Initial.Servers), 2)
	a, b := env.Initial.Servers[0], env.Initial.Servers[1]
	playbook := fmt.Sprintf(`---
- name: A user's create then attach
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create on its server
      keybuzz.infra.kbv3_volume_create:
        name: data-%[1]s
        size: 10
        server: %[1]s
      register: on_server
    - name: Attach the volume created on its server
      keybuzz.infra.kbv3_volume_attach:
        volumes:
          - hostname: %[1]s
            volume: "{{ on_server.volumes[0].volume }}"
            server: "{{ on_server.volumes[0].server }}"
    - name: Create in a location
      keybuzz.infra.kbv3_volume_create:
        name: data-%[2]s
        size: 10
        location: %[3]s
      register: in_location
    - name: Attach the volume created in a location
      keybuzz.infra.kbv3_volume_attach:
        volumes:
          - hostname: %[2]s
            volume: "{{ in_location.volumes[0].volume }}"
            server: "{{ in_location.volumes[0].server }}"
`, a.Name, b.Name, b.Location.Name)
	path := filepath.Join(env.Dir, "create_attach.yml")
	require.NoError(t, os.WriteFile(path, []byte(playbook), 0o644))
	tasks := []string{"Create on its server", "Attach the volume created on its server", "Create in a location", "Attach the volume created in a location"}
	// statuses and actions of the four tasks, in order.
	read := func(r *e2e.Run) (statuses, actions []string) {
		for _, name := range tasks {
			res, status := opsResult(t, r, name)
			require.Len(t, res.Volumes, 1, r.Summary())
			statuses, actions = append(statuses, status), append(actions, res.Volumes[0].Action)
		}
		return statuses, actions
	}

	check := env.Command(ctx, nil, "ansible-playbook", path, "--check")
	e2eRequireOK(t, check)
	assert.Zero(t, env.Mutating(), "check mode changes nothing")
	checkStatuses, checkActions := read(check)
	assert.Equal(t, []string{"would_create", "already_attached", "would_create", "would_attach"}, checkActions)
	assert.NotContains(t, check.Output, "[WARNING]")

	real := env.Command(ctx, nil, "ansible-playbook", path)
	e2eRequireOK(t, real)
	realStatuses, realActions := read(real)
	assert.Equal(t, []string{"created", "already_attached", "created", "attached"}, realActions)
	assert.Equal(t, realStatuses, checkStatuses, "check mode predicted each task's status")
	assert.Equal(t, []string{"changed", "ok", "changed", "changed"}, realStatuses)
	st := env.State()
	for _, sv := range []string{a.Name, b.Name} {
		v, ok := st.Volume("data-" + sv)
		require.True(t, ok, "data-%s", sv)
		assert.Equal(t, sv, e2e.ServerName(st, v))
	}

	again := env.Command(ctx, nil, "ansible-playbook", path, "--check")
	e2eRequireOK(t, again)
	assert.Zero(t, again.Recap.Total().Changed, again.Summary())
}
