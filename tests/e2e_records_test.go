package tests

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/oplog"
)

// runCtx bounds one more run of a test by e2eTimeout of its own, so that a test of several
// runs is not cut short by the time its earlier runs took on a loaded machine.
func runCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	t.Cleanup(cancel)
	return ctx
}

// recordsRunID is the run id stage 0 gave the run.
func recordsRunID(t *testing.T, r *e2e.Run) string {
	t.Helper()
	var res struct {
		Reset struct {
			RunID string `json:"run_id"`
		} `json:"reset"`
	}
	require.NoError(t, e2eStage(t, r, 0).Decode(&res))
	require.NotEmpty(t, res.Reset.RunID, r.Summary())
	return res.Reset.RunID
}

// recordsVolumeRows are the hostnames of the rows of a report's "## Volumes" table.
func recordsVolumeRows(report string) []string {
	_, section, _ := strings.Cut(report, "\n## Volumes\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var hosts []string
	for _, l := range strings.Split(section, "\n") {
		cells := strings.Split(l, "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "Hostname") || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		hosts = append(hosts, strings.TrimSpace(cells[1]))
	}
	sort.Strings(hosts)
	return hosts
}

// The records of a --check run, a full run and a --limit run after it, read as an operator
// would: each real run keeps its own report under reports/ and the stable path is a link to the
// latest, so the limited run leaves the full run's record whole; the limited report states its
// scope and lists its hosts only; the operation log tells the three runs apart by run id and
// check mode, logs every would_* of the check run, and gives each change its size, duration
// and (for an attach) the server.
func TestE2ERecordsOfAFullThenALimitedRun(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	e2eComputeDiff(t, ctx, env)
	sizes := recordsPlannedSizes(env)
	runs := recordsCheckFullThenLimitedRuns(t, env)
	t.Run("reports", func(t *testing.T) { assertRecordsReports(t, env, runs) })
	t.Run("log", func(t *testing.T) { assertRecordsLog(t, env, runs, sizes) })
}

// recordsRuns are what the records test keeps of its three runs.
type recordsRuns struct {
	checkID, fullID, limID string
	// fullReport is the path of the full run's own report, fullData its content right after
	// that run, to tell whether the limited run left it whole.
	fullReport string
	fullData   []byte
	// limited are the hosts of the --limit run.
	limited []string
}

// recordsPlannedSizes are the sizes in GB of the volumes the plan and the diff name, by name:
// what each operation log line must give.
func recordsPlannedSizes(env *e2e.Env) map[string]int {
	sizes := map[string]int{}
	for _, e := range env.Plan().Volumes {
		sizes[e.Name()] = e.SizeGB
	}
	for _, d := range env.Diff().Delete {
		sizes[d.Name] = d.SizeGB
	}
	return sizes
}

// recordsCheckFullThenLimitedRuns runs the reset with --check, for real, then with --limit
// after two of the limited hosts' volumes were detached by hand.
func recordsCheckFullThenLimitedRuns(t *testing.T, env *e2e.Env) recordsRuns {
	t.Helper()
	check := env.Playbook(runCtx(t), e2e.ResetPlaybook, "--check")
	e2eRequireOK(t, check)
	checkID := recordsRunID(t, check)

	full := env.Playbook(runCtx(t), e2e.ResetPlaybook)
	e2eRequireOK(t, full)
	fullID := recordsRunID(t, full)
	fullReport := filepath.Join(env.Dir, "reports", "volume_reset_v3-"+fullID+".md")
	fullData, err := os.ReadFile(fullReport)
	require.NoError(t, err, "the full run's own report")

	// Two of the limited hosts' volumes are detached by hand, so that the limited run has work.
	limited := []string{"redis-01", "redis-02", "redis-03"}
	for _, h := range limited[:2] {
		r := env.Command(runCtx(t), nil, "ansible", "localhost", "-m", "keybuzz.infra.kbv3_volume_detach", "-a", `{"name": "kbv3-`+h+`-data"}`)
		require.NoError(t, r.Err, r.Summary())
	}
	lim := env.Playbook(runCtx(t), e2e.ResetPlaybook, "--limit", strings.Join(limited, ","))
	e2eRequireOK(t, lim)
	limID := recordsRunID(t, lim)
	require.Len(t, map[string]bool{checkID: true, fullID: true, limID: true}, 3, "three runs, three ids")
	assert.Equal(t, map[string]map[string]int{
		"create": {}, "attach": {"attached": 2}, "delete": {},
	}, e2eActions(t, lim))
	return recordsRuns{checkID: checkID, fullID: fullID, limID: limID, fullReport: fullReport, fullData: fullData, limited: limited}
}

// assertRecordsReports: one report per real run under reports/, the stable path a link to the
// latest, the full run's report left whole and the limited one stating its scope and hosts.
func assertRecordsReports(t *testing.T, env *e2e.Env, runs recordsRuns) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(env.Dir, "reports"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"volume_reset_v3.md", "volume_reset_v3-" + runs.fullID + ".md", "volume_reset_v3-" + runs.limID + ".md"}, names,
		"one report per real run (the check run writes none) and the stable path")
	stable := env.Path(e2e.ReportFile)
	fi, err := os.Lstat(stable)
	require.NoError(t, err)
	require.True(t, fi.Mode()&os.ModeSymlink != 0, "the stable path is a link")
	target, err := os.Readlink(stable)
	require.NoError(t, err)
	assert.Equal(t, "volume_reset_v3-"+runs.limID+".md", target, "to the latest run's report")

	assertRecordsFullReport(t, env, runs)
	assertRecordsLimitedReport(t, env, runs)
}

// assertRecordsFullReport: the full run's report, as the limited run left it.
func assertRecordsFullReport(t *testing.T, env *e2e.Env, runs recordsRuns) {
	t.Helper()
	after, err := os.ReadFile(runs.fullReport)
	require.NoError(t, err)
	assert.Equal(t, string(runs.fullData), string(after), "the limited run left the full run's report as it was")
	full := string(after)
	assert.Contains(t, full, "**Run:** "+runs.fullID)
	assert.Contains(t, full, "- Scope: full, every plan host (47)")
	assert.Contains(t, full, "- Check mode: no")
	assert.Contains(t, full, "- Endpoint: "+env.Endpoint)
	assert.Regexp(t, `(?m)^- Started: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`, full)
	assert.Regexp(t, `(?m)^- Ended: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`, full)
	assert.Regexp(t, `(?m)^- Duration: \S+$`, full)
	assert.Contains(t, full, "created 47 (2800 GB)")
	assert.Contains(t, full, "attached 47 (2800 GB)")
	var hosts []string
	for _, e := range env.Plan().Volumes {
		hosts = append(hosts, e.Hostname)
	}
	sort.Strings(hosts)
	assert.Equal(t, hosts, recordsVolumeRows(full), "the full report has a row per plan host")
	assert.Regexp(t, `\| redis-01 \| kbv3-redis-01-data \|[^\n]*\| /dev/disk/by-id/scsi-0HC_Volume_\d+ \|`, full, "each row gives the device")
	assert.NotContains(t, full, env.Token)
}

// assertRecordsLimitedReport: the limited run's report states its scope and lists its hosts only.
func assertRecordsLimitedReport(t *testing.T, env *e2e.Env, runs recordsRuns) {
	t.Helper()
	limData, err := os.ReadFile(filepath.Join(env.Dir, "reports", "volume_reset_v3-"+runs.limID+".md"))
	require.NoError(t, err)
	limReport := string(limData)
	assert.Contains(t, limReport, "**Run:** "+runs.limID)
	assert.Contains(t, limReport, "- Scope: limited (--limit) to 3 plan hosts: redis-01, redis-02, redis-03")
	assert.Equal(t, runs.limited, recordsVolumeRows(limReport), "the limited report's rows are its hosts'")
	assert.Regexp(t, `\| attach \| kbv3-redis-01-data \| \d+ \| 20 \| redis-01 \|`, limReport, "what this run did, per volume")
	assert.Regexp(t, `\| attach \| kbv3-redis-02-data \| \d+ \| 20 \| redis-02 \|`, limReport)
	_, did, _ := strings.Cut(limReport, "\n## What this run did\n")
	did, _, _ = strings.Cut(did, "\n## ")
	assert.NotContains(t, did, "redis-03", "nothing was done to redis-03's volume")
	assert.NotContains(t, limReport, env.Token)
}

// assertRecordsLog: the operation log tells the three runs apart by run id and check mode, logs
// every would_* of the check run, and gives each change its size, duration and attach target.
func assertRecordsLog(t *testing.T, env *e2e.Env, runs recordsRuns, sizes map[string]int) {
	t.Helper()
	lines, err := e2e.ReadOplog(env.Path(e2e.LogFile))
	require.NoError(t, err)
	require.NotEmpty(t, lines)
	byRun := map[string][]oplog.Entry{}
	for _, e := range lines {
		require.NotEmpty(t, e.RunID, "a line without run id: %+v", e)
		byRun[e.RunID] = append(byRun[e.RunID], e)
	}
	require.Len(t, byRun, 3, "the lines of three runs")

	would := map[string]int{}
	for _, e := range byRun[runs.checkID] {
		assert.True(t, e.CheckMode, "a check run's line: %+v", e)
		would[e.Outcome]++
		if e.Outcome == "would_attach" {
			assert.Equal(t, strings.TrimSuffix(strings.TrimPrefix(e.Volume, "kbv3-"), "-data"), e.Server, "attach target: %+v", e)
		}
		assert.Equal(t, sizes[e.Volume], e.SizeGB, "size of %s in %+v", e.Volume, e)
	}
	assert.Equal(t, map[string]int{"would_create": 47, "would_detach": 40, "would_attach": 47, "would_delete": 40}, would)

	assert.Equal(t, map[string]int{"created": 47, "detached": 40, "attached": 47, "deleted": 40}, recordsRealRunOutcomes(t, byRun[runs.fullID], sizes))
	assert.Equal(t, map[string]int{"attached": 2}, recordsRealRunOutcomes(t, byRun[runs.limID], sizes))
	for _, e := range byRun[runs.limID] {
		assert.Contains(t, []string{"redis-01", "redis-02"}, e.Server, "the limited run touched its hosts only: %+v", e)
	}
}

// recordsRealRunOutcomes counts the outcomes of a real run's log lines but "started", asserting
// of each line its check mode, size, duration and server.
func recordsRealRunOutcomes(t *testing.T, lines []oplog.Entry, sizes map[string]int) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, e := range lines {
		assert.False(t, e.CheckMode, "a real run's line: %+v", e)
		assert.Equal(t, sizes[e.Volume], e.SizeGB, "size of %s in %+v", e.Volume, e)
		if e.Outcome == "started" {
			continue
		}
		n[e.Outcome]++
		assert.Positive(t, e.DurationMS, "duration of %+v", e)
		switch e.Outcome {
		case "attached":
			assert.Equal(t, strings.TrimSuffix(strings.TrimPrefix(e.Volume, "kbv3-"), "-data"), e.Server, "attach target: %+v", e)
		case "detached":
			// The delete stage detaches each old volume before it deletes it.
			assert.Equal(t, "kbv3_volume_delete", e.Module, "detached by: %+v", e)
			assert.NotEmpty(t, e.Server, "the server detached from: %+v", e)
		}
	}
	return n
}
