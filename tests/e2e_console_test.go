package tests

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// consoleLine is the first line of out that starts with prefix after the header of the task
// whose name starts with task, its index, or -1.
func consoleLine(out []string, task, prefix string) (string, int) {
	in := false
	for i, l := range out {
		if strings.HasPrefix(l, "TASK [") {
			in = strings.HasPrefix(l, "TASK ["+task)
			continue
		}
		if in && strings.HasPrefix(l, prefix) {
			return l, i
		}
	}
	return "", -1
}

// A failed batch is told right after its stage by one short failure line whose message is the
// module's own (counts, then the failed volume and why), without the batch's result around it;
// the stage's lines print no result at all, and -v prints each batch's whole result there.
func TestE2EFailedBatchIsToldFirstAndShort(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{SimArgs: []string{
		"--fault", "POST /v1/volumes status=422 code=invalid_input nth=7 count=1",
	}})
	e2eComputeDiff(t, ctx, env)

	r := env.Playbook(runCtx(t), e2e.ResetPlaybook)
	require.Error(t, r.Err, r.Summary())
	failedHosts := r.Recap.Failed()
	require.Len(t, failedHosts, 1, r.Summary())
	host := failedHosts[0]

	out := strings.Split(r.Output, "\n")
	line, at := consoleLine(out, "Say what failed in stage 1", "fatal: ")
	require.NotEqual(t, -1, at, "no failure line after stage 1\n%s", r.Summary())
	t.Logf("the failure as printed (%d bytes): %s", len(line), line)
	_, body, ok := strings.Cut(line, " => ")
	require.True(t, ok, line)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &res), line)
	assert.Equal(t, map[string]any{"changed": false, "msg": res["msg"]}, res, "the message and nothing else")
	msg, _ := res["msg"].(string)
	assert.Regexp(t, regexp.MustCompile(`^create, batch 1/5: created: 9, failed: 1; kbv3-`+regexp.QuoteMeta(host)+`-data \(create: .*invalid_input`), msg)
	assert.Less(t, len(line), 300, "one short line")
	_, stage2 := consoleLine(out, "Stage 2", "changed: ")
	assert.Less(t, at, stage2, "told before the next stage starts")

	// No line of the output carries a batch's result (its entries or its volumes).
	for _, l := range out {
		assert.NotContains(t, l, `"volumes": [`, "a result printed at the default verbosity")
		assert.NotContains(t, l, `"item": [`, "a batch's entries printed at the default verbosity")
	}
	// The stage's own lines say what each batch did, never failed, and the account of the run
	// (its failed lines) still names the volume.
	for _, l := range out {
		if strings.Contains(l, "(item=batch ") {
			assert.False(t, strings.HasPrefix(l, "failed: "), l)
		}
	}
	assert.Contains(t, strings.Join(e2e.FailedLines(r.Output), "\n"), "kbv3-"+host+"-data")

	// The rerun fails the same volume again; with -v each batch's whole result is printed on
	// its stage line, the failure line is as short as before.
	_, err := env.Sim.AddFault(simproc.Fault{Method: "POST", Path: "/v1/volumes", Status: 422, Code: "invalid_input", Nth: 1, Count: 1})
	require.NoError(t, err)
	r = env.Playbook(runCtx(t), e2e.ResetPlaybook, "-v")
	require.Error(t, r.Err, r.Summary())
	out = strings.Split(r.Output, "\n")
	batch, i := consoleLine(out, "Stage 1", "ok: ")
	require.NotEqual(t, -1, i, r.Summary())
	assert.Contains(t, batch, "(item=batch 1/1")
	assert.Contains(t, batch, `"volumes": [`, "-v shows the batch's whole result")
	assert.Contains(t, batch, `"action": "failed"`)
	line, at = consoleLine(out, "Say what failed in stage 1", "fatal: ")
	require.NotEqual(t, -1, at, r.Summary())
	assert.Contains(t, line, `"msg": "create, batch 1/1: failed: 1; kbv3-`+host+`-data (create: `)
	assert.Less(t, len(line), 300)
}
