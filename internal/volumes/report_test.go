package volumes

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// TestReportIsAnAuditRecord: the report says when the run ran, against which endpoint, for
// which scope, what it did per volume (ids, GB), what failed with the next step, and each
// attached volume's device; a check run writes none, and a second run's report leaves the
// first's in place, with the stable path at the latest.
func TestReportIsAnAuditRecord(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	dir := t.TempDir()
	stable := filepath.Join(dir, "reports", "volume_reset_v3.md")
	start := time.Now().UTC().Add(-90 * time.Second).Truncate(time.Second)
	runID := newRunID(start)
	app01 := r.id("vol-app-01")
	devices := map[string]string{}
	for _, v := range r.sim.Store().State().Volumes {
		devices[v.Name] = v.LinuxDevice
	}
	args := map[string]any{
		"volumes":     []map[string]any{{"hostname": "app-01", "volume": "vol-app-01", "size_gb": 20}, {"hostname": "app-02", "volume": "vol-app-02", "size_gb": 20}},
		"report_path": stable, "run_id": runID, "full": false, "fail_on_problems": false,
		"failed_hosts": []string{"app-02"},
		"done": map[string]any{
			"create": []map[string]any{{"volume": "vol-app-01", "id": app01, "server": "app-01", "location": "fsn1", "size": 20, "action": "created", "duration_ms": 900, "host": "app-01"}},
			"detach": []map[string]any{{"volume": "old-app-01", "id": 77, "server": "app-01", "size": 10, "action": "detached", "duration_ms": 40, "host": "app-01"}},
			"attach": []map[string]any{
				{"volume": "vol-app-01", "id": app01, "server": "app-01", "size": 20, "action": "already_attached", "host": "app-01"},
				{"volume": "vol-app-02", "id": 5, "server": "app-02", "size": 20, "action": "failed", "error": "attach: locked (after 6 attempts)", "host": "app-02"},
			},
			"delete": []map[string]any{{"volume": "old-app-01", "id": 77, "server": "", "size": 10, "action": "deleted", "host": "app-01"}},
		},
	}

	check := exec(r, VerifySpec, Verify, args, true)
	assert.False(t, check.Failed, check.Msg)
	assert.NoFileExists(t, stable, "a check run writes no report")

	out := exec(r, VerifySpec, Verify, args, false)
	require.False(t, out.Failed, out.Msg)
	data, err := os.ReadFile(stable)
	require.NoError(t, err)
	md := string(data)
	for _, want := range []string{
		"**Run:** " + runID + "\n",
		"- Started: " + start.Format(time.DateTime) + " UTC\n",
		"- Endpoint: " + r.endpoint + "\n",
		"- Scope: limited (--limit) to 2 plan hosts: app-01, app-02\n",
		"- Check mode: no",
		"this is run " + runID + "'s own report, volume_reset_v3-" + runID + ".md. volume_reset_v3.md is a link to the latest run's report",
		"## What this run did\n\ncreated 1 (20 GB), detached 1 (10 GB), deleted 1 (10 GB).\n",
		fmt.Sprintf("| create | vol-app-01 | %d | 20 | app-01 | app-01 | created |\n", app01),
		"| detach | old-app-01 | 77 | 10 | app-01 | app-01 | detached |\n",
		"| delete | old-app-01 | 77 | 10 | — | app-01 | deleted |\n",
		"- attach, vol-app-02 (host app-02): attach: locked (after 6 attempts). Next: fix the cause, then run the reset again",
		"- Hosts that did not finish: app-02.",
		fmt.Sprintf("| app-01 | vol-app-01 | — | 20 | 20 | fsn1 | app-01 | %s | ✅ |\n", devices["vol-app-01"]),
	} {
		assert.Contains(t, md, want)
	}
	assert.NotContains(t, md, "already_attached", "what was already as planned is not something this run did")
	assert.Regexp(t, `- Duration: 1m3\ds\n`, md)
	assert.NotContains(t, md, simtest.Token)

	// A later, full run keeps this one's report and takes the stable path.
	full := newRunID(start.Add(time.Hour))
	args["run_id"], args["full"], args["done"], args["failed_hosts"] = full, true, map[string]any{}, []string{}
	require.False(t, exec(r, VerifySpec, Verify, args, false).Failed)
	first, err := os.ReadFile(runPath(stable, runID))
	require.NoError(t, err)
	assert.Equal(t, md, string(first), "the limited run's record is kept")
	latest, err := os.ReadFile(stable)
	require.NoError(t, err)
	assert.Contains(t, string(latest), "- Scope: full, every plan host (2)\n")
	assert.Contains(t, string(latest), "## What this run did\n\nNothing")
	assert.True(t, strings.Contains(string(latest), "## What failed, and the next step\n\nNothing.\n"))
}
