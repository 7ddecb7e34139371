package plan_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
)

const shippedPlan = "../../servers/volume_plan_v3.json"

// TestShippedPlan pins servers/volume_plan_v3.json to the PH3-02 report's volume table. The
// report's own size table is wrong (20 GB x23, 50 GB x10, 2830 GB); the counts below are the
// ones its volume table adds up to.
func TestShippedPlan(t *testing.T) {
	p, err := plan.Load(shippedPlan)
	require.NoError(t, err)
	require.NoError(t, p.Validate())
	require.Len(t, p.Volumes, 47)

	counts, total := plan.Summarize(p.Sizes())
	assert.Equal(t, []plan.SizeCount{
		{SizeGB: 10, Count: 2},
		{SizeGB: 20, Count: 19},
		{SizeGB: 30, Count: 5},
		{SizeGB: 50, Count: 11},
		{SizeGB: 100, Count: 6},
		{SizeGB: 200, Count: 3},
		{SizeGB: 500, Count: 1},
	}, counts)
	assert.Equal(t, 2800, total)

	for _, e := range p.Volumes {
		assert.Equal(t, "kbv3-"+e.Hostname+"-data", e.Name(), e.Hostname)
		assert.Empty(t, e.Volume, "%s: the v3 convention needs no explicit name", e.Hostname)
		assert.Empty(t, e.Location, "%s: the server's location is used", e.Hostname)
		assert.NotEmpty(t, e.Role, e.Hostname)
		assert.Equal(t, "/data/"+e.Role, e.Mountpoint, e.Hostname)
		assert.Equal(t, map[string]string{"managed-by": "kbv3", "role": e.Role}, e.Labels, e.Hostname)
	}
	sizes := map[string]int{}
	for _, e := range p.Volumes {
		sizes[e.Hostname] = e.SizeGB
	}
	// Spot checks against the report's table, one per size.
	assert.Equal(t, map[string]int{
		"haproxy-01": 10, "k8s-master-02": 20, "queue-03": 30, "temporal-db-01": 50,
		"maria-01": 100, "minio-03": 200, "backup-01": 500, "analytics-01": 20, "analytics-db-01": 50,
	}, pick(sizes, "haproxy-01", "k8s-master-02", "queue-03", "temporal-db-01", "maria-01", "minio-03", "backup-01", "analytics-01", "analytics-db-01"))
}

// TestShippedPlanIsCanonical keeps the file in the form Encode writes, so a regenerated plan
// diffs only where it changed.
func TestShippedPlanIsCanonical(t *testing.T) {
	data, err := os.ReadFile(shippedPlan)
	require.NoError(t, err)
	p, err := plan.Parse(data)
	require.NoError(t, err)
	out, err := p.Encode()
	require.NoError(t, err)
	assert.Equal(t, string(data), string(out))
}

// TestInventoryMatchesPlan keeps the example inventory and the plan on the same 47 hosts: the
// playbook scopes the plan by inventory host names.
func TestInventoryMatchesPlan(t *testing.T) {
	inv, err := os.ReadFile("../../ansible/inventory/hosts.yml")
	require.NoError(t, err)
	var hosts []string
	for _, m := range regexp.MustCompile(`(?m)^\s+([a-z0-9-]+):\n\s+ansible_host: `).FindAllSubmatch(inv, -1) {
		hosts = append(hosts, string(m[1]))
	}
	p, err := plan.Load(shippedPlan)
	require.NoError(t, err)
	var planned []string
	for _, e := range p.Volumes {
		planned = append(planned, e.Hostname)
	}
	slices.Sort(hosts)
	slices.Sort(planned)
	assert.Equal(t, planned, hosts)
}

func pick(m map[string]int, keys ...string) map[string]int {
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}
