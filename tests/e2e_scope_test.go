package tests

import (
	"os"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/plan"
)

// e2eCheckOnlyHosts checks that only the volumes of hosts were touched: their plan volumes exist
// as planned, no other kbv3 volume exists, their old volumes are gone, and every other volume of
// the scenario is as it was.
func e2eCheckOnlyHosts(t *testing.T, env *e2e.Env, hosts []string) {
	t.Helper()
	st := env.State()
	scoped, missing := env.Plan().Only(hosts)
	require.Empty(t, missing)
	require.Len(t, scoped.Volumes, len(hosts))
	assert.Empty(t, e2e.PlanProblems(st, scoped.Volumes))
	kbv3 := e2e.Matching(st, "kbv3-*")
	var want []string
	for _, e := range scoped.Volumes {
		want = append(want, e.Name())
	}
	assert.ElementsMatch(t, want, kbv3, "only the scoped hosts' kbv3 volumes exist")

	in := map[string]bool{}
	for _, h := range hosts {
		in[h] = true
	}
	var untouched []string
	for _, v := range env.Initial.Volumes {
		server := e2e.ServerName(env.Initial, v)
		if in[server] && strings.HasPrefix(v.Name, "vol-") {
			_, still := st.Volume(v.Name)
			assert.False(t, still, "%s (of %s) should be deleted", v.Name, server)
			continue
		}
		untouched = append(untouched, v.Name)
	}
	assert.Len(t, untouched, len(env.Initial.Volumes)-len(hosts))
	assert.Empty(t, e2e.Changed(env.Initial, st, untouched...), "volumes outside the scope")
}

func hostsMatching(t *testing.T, p *plan.Plan, glob string) []string {
	t.Helper()
	var hosts []string
	for _, e := range p.Volumes {
		if ok, _ := path.Match(glob, e.Hostname); ok {
			hosts = append(hosts, e.Hostname)
		}
	}
	require.NotEmpty(t, hosts)
	return hosts
}

// --limit to a role group of the inventory touches only that role's volumes; a rerun of the
// limited play changes nothing.
func TestE2ELimitToOneRole(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	e2eComputeDiff(t, ctx, env)
	workers := hostsMatching(t, env.Plan(), "k8s-worker-*")
	require.Len(t, workers, 5)

	r := env.Playbook(ctx, e2e.ResetPlaybook, "--limit", "k8s_workers")
	e2eRequireOK(t, r)
	assert.Equal(t, map[string]map[string]int{
		"delete": {"deleted": 5},
		"create": {"created": 5},
		"attach": {"attached": 5},
	}, e2eActions(t, r))
	assert.Contains(t, r.Output, "limited run")
	e2eCheckOnlyHosts(t, env, workers)

	// A host pattern works as well, and the rerun is a no-op.
	require.NoError(t, env.Sim.ResetStats())
	r = env.Playbook(ctx, e2e.ResetPlaybook, "--limit", "k8s-worker-*")
	e2eRequireOK(t, r)
	assert.Zero(t, r.Recap.Total().Changed, r.Summary())
	assert.Zero(t, env.Stats().Requests.Mutating)
	e2eCheckOnlyHosts(t, env, workers)
}

// An inventory that lacks most plan hosts (and has one the plan does not know): the missing plan
// hosts are named in a warning and their volumes are left alone, even the old ones the reviewed
// diff lists.
func TestE2EInventoryWithoutSomePlanHosts(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	e2eComputeDiff(t, ctx, env)
	redis := hostsMatching(t, env.Plan(), "redis-*")
	inv := "---\nall:\n  hosts:\n"
	for _, h := range redis {
		inv += "    " + h + ":\n"
	}
	inv += "    bastion-01:\n"
	invPath := env.Path("inventory.yml")
	require.NoError(t, os.WriteFile(invPath, []byte(inv), 0o644))

	r := env.Playbook(ctx, e2e.ResetPlaybook, "-i", invPath)
	e2eRequireOK(t, r)
	// Ansible's own warnings, as the module gives them (Ansible wraps their lines).
	out := strings.Join(strings.Fields(r.Output), " ")
	assert.Contains(t, out, "[WARNING]: 44 plan hosts are not in the inventory, their volumes are left alone: [analytics-01 analytics-db-01")
	assert.Contains(t, out, "[WARNING]: 1 host of the play has no plan entry, nothing is done for it: [bastion-01]")
	e2eCheckOnlyHosts(t, env, redis)
	assert.Len(t, e2e.Matching(env.State(), "vol-*"), 37)
}
