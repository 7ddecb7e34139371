package tests

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// roRunModule runs a module binary as Ansible does (`<binary> <args file>`) with the token in the
// environment, as a local-connection module inherits it, and returns the decoded JSON it
// printed, the raw text and the exit code.
func roRunModule(t *testing.T, bin string, args map[string]any) (map[string]any, string, int) {
	t.Helper()
	data, err := json.Marshal(args)
	require.NoError(t, err)
	argsFile := filepath.Join(t.TempDir(), "args")
	require.NoError(t, os.WriteFile(argsFile, data, 0o600))
	cmd := exec.Command(bin, argsFile)
	cmd.Env = append(docEnvWithout("HCLOUD_TOKEN", "HCLOUD_ENDPOINT"), "HCLOUD_TOKEN="+simtest.Token)
	out, err := cmd.Output()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	var res map[string]any
	require.NoError(t, json.Unmarshal(out, &res), "%s printed: %s", filepath.Base(bin), out)
	return res, string(out), code
}

func roBinaries(t *testing.T) (verify, info string) {
	t.Helper()
	dir := t.TempDir()
	docBuildModules(t, dir, "kbv3_volume_verify", "kbv3_volume_info")
	return filepath.Join(dir, "kbv3_volume_verify"), filepath.Join(dir, "kbv3_volume_info")
}

func roShippedPlan(t *testing.T) *plan.Plan {
	t.Helper()
	p, err := plan.Load(filepath.Join(docRepoRoot(t), "servers", "volume_plan_v3.json"))
	require.NoError(t, err)
	return p
}

// roJSON turns a printed value back into JSON text, for comparing whole structures.
func roJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}

func TestVerifyBinaryOnTheFreshFleet(t *testing.T) {
	verify, _ := roBinaries(t)
	endpoint, s := simtest.Start(t, sim.Config{Scenario: "ph3-02", Token: simtest.Token})
	p := roShippedPlan(t)
	report := filepath.Join(t.TempDir(), "reports", "volume_reset_v3.md")

	res, text, code := roRunModule(t, verify, map[string]any{
		"api_endpoint": endpoint, "volumes": p.Volumes, "forbidden": []string{"vol-*"}, "report_path": report,
		"_ansible_check_mode": false, "_ansible_diff": false, "_ansible_verbosity": 0, "_ansible_version": "2.14.18",
		"_ansible_module_name": "kbv3_volume_verify", "_ansible_no_log": false,
	})
	assert.Equal(t, 1, code, "a failed result exits 1")
	assert.Equal(t, true, res["failed"])
	assert.Equal(t, false, res["changed"])
	assert.True(t, strings.HasPrefix(res["msg"].(string),
		"47 planned, 0 found, 0 attached as planned, 40 forbidden left; sizes none; total 0 GB; 87 problems: "+
			"Volume kbv3-analytics-01-data (analytics-01) does not exist. "), res["msg"])
	assert.JSONEq(t, `{"planned":47,"found":0,"attached":0,"matching":0,"forbidden_left":40}`, roJSON(t, res["counts"]))
	assert.JSONEq(t, `[]`, roJSON(t, res["sizes"]))
	assert.InDelta(t, 0, res["total_gb"], 0)
	assert.Len(t, res["problems"], 87)
	assert.Len(t, res["rows"], 47)
	assert.JSONEq(t, `{"volume":"kbv3-analytics-01-data","hostname":"analytics-01","id":0,"size_gb":0,"location":"","server":"","ok":false}`,
		roJSON(t, res["rows"].([]any)[0]))
	invocation := res["invocation"].(map[string]any)["module_args"].(map[string]any)
	assert.Equal(t, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", invocation["api_token"])
	assert.NotContains(t, text, simtest.Token)
	assert.FileExists(t, report)

	st := s.Stats().Requests
	assert.Zero(t, st.Mutating)
	assert.Equal(t, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1}, st.ByRoute)

	res, _, code = roRunModule(t, verify, map[string]any{
		"api_endpoint": endpoint, "volumes": p.Volumes, "forbidden": []string{"vol-*"}, "fail_on_problems": "no",
	})
	assert.Equal(t, 0, code)
	assert.NotEqual(t, true, res["failed"])
}

func TestVerifyBinaryRefusesAForbiddenPatternMatchingThePlan(t *testing.T) {
	verify, _ := roBinaries(t)
	endpoint, s := simtest.Start(t, sim.Config{Scenario: "ph3-02", Token: simtest.Token})
	res, _, code := roRunModule(t, verify, map[string]any{
		"api_endpoint": endpoint, "volumes": roShippedPlan(t).Volumes, "forbidden": []string{"*-data"},
	})
	assert.Equal(t, 1, code)
	assert.Equal(t, `forbidden[0] "*-data" matches kbv3-analytics-01-data, a volume of the plan (analytics-01)`, res["msg"])
	assert.Zero(t, s.Stats().Requests.Total, "refused before any request")
}

func TestInfoBinaryListsAndComputesTheDiff(t *testing.T) {
	_, info := roBinaries(t)
	endpoint, s := simtest.Start(t, sim.Config{Scenario: "ph3-02", Token: simtest.Token})
	p := roShippedPlan(t)
	dir := t.TempDir()
	dest, diffDest := filepath.Join(dir, "servers", "existing_volumes_hetzner.json"), filepath.Join(dir, "servers", "volume_diff_v3.json")

	res, text, code := roRunModule(t, info, map[string]any{
		"api_endpoint": endpoint, "names": []string{"vol-db-*", "keybuzz-archive-01"},
		"plan": p.Volumes, "delete_names": []string{"vol-*"}, "dest": dest, "diff_dest": diffDest,
	})
	require.Equal(t, 0, code, text)
	assert.NotEqual(t, true, res["failed"])
	assert.Equal(t, true, res["changed"], "two files written")
	assert.Equal(t, "4 volumes (4 attached, 400 GB); diff: 40 to delete, 47 to create, 0 to keep, 0 mismatch", res["msg"])
	var listed []map[string]any
	for _, v := range res["volumes"].([]any) {
		listed = append(listed, v.(map[string]any))
	}
	require.Len(t, listed, 4)
	var gotNames []string
	for _, v := range listed {
		gotNames = append(gotNames, v["name"].(string))
		assert.ElementsMatch(t, []string{"id", "name", "size_gb", "location", "server", "server_id", "labels", "protected", "status", "format", "linux_device"}, roKeys(v))
	}
	assert.Equal(t, []string{"keybuzz-archive-01", "vol-db-master-01", "vol-db-slave-01", "vol-db-slave-02"}, gotNames)
	assert.Equal(t, "backup-01", listed[0]["server"])
	assert.JSONEq(t, `{"purpose":"archive"}`, roJSON(t, listed[0]["labels"]))
	assert.Equal(t, "db-postgres-01", listed[1]["server"])

	diff := res["volume_diff"].(map[string]any)
	assert.Len(t, diff["delete"], 40)
	assert.Len(t, diff["create"], 47)
	assert.NotContains(t, roJSON(t, diff["delete"]), "keybuzz-archive-01")
	written, err := plan.LoadDiff(diffDest)
	require.NoError(t, err)
	require.NoError(t, written.Validate(p))
	assert.JSONEq(t, roJSON(t, diff), roJSON(t, written))
	snapshot, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.JSONEq(t, roJSON(t, map[string]any{"volumes": res["volumes"]}), string(snapshot))
	assert.NotContains(t, text, simtest.Token)
	st := s.Stats().Requests
	assert.Zero(t, st.Mutating)
	assert.Equal(t, map[string]int{"GET /v1/volumes": 1, "GET /v1/servers": 1}, st.ByRoute)

	// Check mode: nothing written, and unchanged content is not a change either.
	res, _, code = roRunModule(t, info, map[string]any{
		"api_endpoint": endpoint, "names": []string{"vol-db-*", "keybuzz-archive-01"},
		"plan": p.Volumes, "delete_names": []string{"vol-*"}, "dest": dest, "diff_dest": diffDest, "_ansible_check_mode": true,
	})
	assert.Equal(t, 0, code)
	assert.Equal(t, false, res["changed"], "the files already hold this content")
	other := filepath.Join(dir, "elsewhere", "snapshot.json")
	res, _, _ = roRunModule(t, info, map[string]any{"api_endpoint": endpoint, "dest": other, "_ansible_check_mode": true})
	assert.Equal(t, true, res["changed"], "would write")
	assert.NoDirExists(t, filepath.Dir(other))
}

func TestInfoBinaryNamesTheBadOption(t *testing.T) {
	_, info := roBinaries(t)
	endpoint, s := simtest.Start(t, sim.Config{Scenario: "ph3-02", Token: simtest.Token})
	res, _, code := roRunModule(t, info, map[string]any{
		"api_endpoint": endpoint, "plan": []map[string]any{{"hostname": "crm-01", "size_gb": 20}, {"hostname": "crm-01", "size_gb": 20}},
		"delete_names": []string{"vol-["},
	})
	assert.Equal(t, 1, code)
	msg := res["msg"].(string)
	assert.Contains(t, msg, `delete_names[0] "vol-["`)
	assert.Contains(t, msg, "plan[1] (crm-01)")
	assert.Zero(t, s.Stats().Requests.Total)
}

func roKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
