package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
	"github.com/keybuzz/kbv3/internal/plan"
)

// The fleet drifts between the review and the run, in every way the reviewed diff or the plan
// can be overtaken: the reset refuses at stage 0, listing every problem at once with its next
// step, and sends no mutating request.
func TestE2EDriftIsRefusedAtStage0(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	c := e2eAPI(t, ctx, env)
	// An old volume the reviewer sees detached.
	c.detach("vol-minio-01")
	// A plan host Hetzner does not have, in the plan and in the inventory: the diff creates its
	// volume in the location the plan sets.
	p := env.Plan()
	p.Volumes = append(p.Volumes, plan.Entry{Hostname: "ghost-01", SizeGB: 20, Location: "fsn1"})
	e2eWritePlan(t, env, p)
	inventory := e2eInventoryWith(t, env, "ghost-01")
	r := env.Playbook(ctx, e2e.DiffPlaybook, inventory...)
	e2eRequireOK(t, r)
	d := env.Diff()
	require.Len(t, d.Delete, 40)
	dr := driftAfterReview(t, c, p, d)

	require.NoError(t, env.Sim.ResetStats())
	before := env.State()
	r = env.Playbook(ctx, e2e.ResetPlaybook, inventory...)
	require.Error(t, r.Err, r.Summary())
	assert.Zero(t, env.Stats().Requests.Mutating, "no mutating request after a refusal at stage 0")
	assert.Empty(t, e2e.Changed(before, env.State(), e2e.VolumeNames(before)...), "nothing changed")
	_, ran := r.Task("Stage 1")
	assert.False(t, ran, "no stage ran")

	var res struct {
		Msg      string   `json:"msg"`
		Problems []string `json:"problems"`
	}
	require.NoError(t, e2eStage(t, r, 0).Decode(&res))
	t.Logf("stage 0: %s", res.Msg)
	dr.requireEveryProblem(t, res.Problems)
	assert.NoFileExists(t, env.Path(e2e.SnapshotFile), "a refused run records nothing")
}

// drift is what driftAfterReview changed, by the names the checks need.
type drift struct {
	movedTo, attachedTo string // where vol-redis-01 and the reviewed-detached volume went
	full                string // the plan host given 16 volumes
	deleted             string // the plan server deleted
}

// driftAfterReview overtakes the reviewed diff d and plan p through the API, in every way the
// stage-0 checks know.
func driftAfterReview(t *testing.T, c *e2eClient, p *plan.Plan, d *plan.Diff) drift {
	t.Helper()
	reviewedDetached := ""
	for _, e := range d.Delete {
		if e.Detached {
			reviewedDetached = e.Name
		}
	}
	require.Equal(t, "vol-minio-01", reviewedDetached)
	movedTo := c.neighbour("redis-01", "")
	attachedTo := c.neighbour("minio-01", movedTo)
	c.attach("vol-redis-01", movedTo, true)                              // moved to another server
	c.rename("vol-queue-01", "vol-queue-01-renamed")                     // renamed
	c.resize("vol-crm-01", 30)                                           // resized
	c.protect("vol-etl-01")                                              // protected
	c.remove("vol-haproxy-01")                                           // deleted: nothing left to delete, not a problem
	c.attach(reviewedDetached, attachedTo, false)                        // reviewed detached, now attached
	c.create("kbv3-maria-01-data", 500, "", "maria-01")                  // hand-made, larger than planned
	c.create("kbv3-maria-02-data", 100, c.otherLocation("maria-02"), "") // hand-made, in another location
	// A server without room: 16 volumes, none of them an old volume the run detaches.
	full := ""
	for _, e := range p.Volumes {
		if e.Hostname != "ghost-01" && !slices.ContainsFunc(d.Delete, func(del plan.DeleteEntry) bool { return del.Server == e.Hostname }) {
			full = e.Hostname
			break
		}
	}
	require.NotEmpty(t, full, "a plan host without an old volume")
	c.fill(full, 16)
	// A plan server deleted after the review: its old volume ends up detached, which the
	// review allowed (it is deleted either way), but its new volume has nowhere to go.
	deleted := ""
	for _, e := range d.Delete {
		if e.Server != "" && e.Server != full && e.Server != movedTo && e.Server != attachedTo &&
			!slices.Contains([]string{"redis-01", "queue-01", "crm-01", "etl-01", "haproxy-01", "maria-01", "maria-02"}, e.Server) {
			deleted = e.Server
			break
		}
	}
	require.NotEmpty(t, deleted)
	c.deleteServer(deleted)
	return drift{movedTo: movedTo, attachedTo: attachedTo, full: full, deleted: deleted}
}

// requireEveryProblem checks that stage 0 named each drift, and nothing else.
func (dr drift) requireEveryProblem(t *testing.T, problems []string) {
	t.Helper()
	for _, want := range []string{
		`delete\[\d+\] \(vol-redis-01\): reviewed attached to redis-01, the volume is now attached to ` + dr.movedTo,
		`delete\[\d+\] \(vol-queue-01\): the volume with id \d+ is now named vol-queue-01-renamed`,
		`delete\[\d+\] \(vol-crm-01\): reviewed with 20 GB, the volume now has 30 GB`,
		`delete\[\d+\] \(vol-etl-01\): the volume is delete-protected since the review: remove the protection \(hcloud volume disable-protection vol-etl-01 delete\)`,
		`delete\[\d+\] \(vol-minio-01\): reviewed detached, the volume is now attached to ` + dr.attachedTo + `: it is not detached from a server no reviewer saw it on`,
		`volumes\[\d+\] \(maria-01\): volume kbv3-maria-01-data exists with 500 GB, the plan says \d+ GB: volumes cannot shrink`,
		`volumes\[\d+\] \(maria-02\): volume kbv3-maria-02-data exists in \w+, server maria-02 is in \w+: a volume cannot move`,
		`volumes\[\d+\] \(ghost-01\): server ghost-01 does not exist in the project`,
		`volumes\[\d+\] \(` + dr.deleted + `\): server ` + dr.deleted + ` does not exist in the project`,
		`volumes\[\d+\] \(` + dr.full + `\): server ` + dr.full + ` would have 17 volumes after the attach, the API allows 16`,
	} {
		assert.True(t, slices.ContainsFunc(problems, regexp.MustCompile(want).MatchString), "no problem matches %s in\n%s", want, strings.Join(problems, "\n"))
	}
	assert.Len(t, problems, 10, strings.Join(problems, "\n"))
	assert.NotContains(t, strings.Join(problems, "\n"), "vol-haproxy-01", "a reviewed volume that is gone is nothing to refuse")
}

// A plan volume whose name the delete selector matches is refused when the diff is computed,
// and a diff edited to carry such a selector is refused by the reset before any request.
func TestE2EPlanVolumeMatchingTheSelectorIsRefused(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	p := env.Plan()
	p.Volumes[0].Volume = "vol-special-data"
	e2eWritePlan(t, env, p)
	require.NoError(t, env.Sim.ResetStats())
	r := env.Playbook(ctx, e2e.DiffPlaybook)
	require.Error(t, r.Err, r.Summary())
	assert.Contains(t, r.Output, "volume vol-special-data matches the diff's delete selector")
	assert.Zero(t, env.Stats().Requests.Mutating)
}

// The reviewer removed one delete line and the diff lists a protected volume: the run that does
// exactly what was reviewed succeeds, and both volumes are still there, listed as kept.
func TestE2EWhatTheReviewKeptIsKept(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{})
	c := e2eAPI(t, ctx, env)
	c.protect("vol-etl-01")
	r := env.Playbook(ctx, e2e.DiffPlaybook)
	e2eRequireOK(t, r)
	d := env.Diff()
	require.Len(t, d.Protected, 1)
	d.Delete = slices.DeleteFunc(d.Delete, func(e plan.DeleteEntry) bool { return e.Name == "vol-redis-01" })
	require.Len(t, d.Delete, 38)
	env.WriteDiff(d)

	r = env.Playbook(ctx, e2e.ResetPlaybook)
	e2eRequireOK(t, r)
	assert.Empty(t, e2e.PlanProblems(env.State(), env.Plan().Volumes))
	left := e2e.Matching(env.State(), "vol-*")
	assert.ElementsMatch(t, []string{"vol-etl-01", "vol-redis-01"}, left)
	var verify struct {
		Kept []plan.Live `json:"kept"`
	}
	require.NoError(t, e2eStage(t, r, 4).Decode(&verify))
	var kept []string
	for _, l := range verify.Kept {
		kept = append(kept, l.Name)
	}
	assert.ElementsMatch(t, []string{"vol-etl-01", "vol-redis-01"}, kept)
	report, err := os.ReadFile(env.Path(e2e.ReportFile))
	require.NoError(t, err)
	assert.Contains(t, string(report), "Volumes the delete selector matches that the review kept")
	assert.Contains(t, string(report), "✅ as planned")
}

// The attaches of the first batch fail: the stages attach a host's new volume before they touch
// its old one, so no host is ever without a volume. Each host of that batch keeps its old volume
// attached and undeleted, its new volume waits, detached, and every other host is done; the
// rerun converges. The whole batch fails, not one attach in it: which attach request comes
// seventh among ten sent at once is a race, and a host without an old volume would prove
// nothing; the batch's hosts are fixed, and PH3-02's first batch has hosts with old volumes.
func TestE2EAttachFailureKeepsTheOldVolumeAttached(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{SimArgs: []string{
		"--fault", "POST /v1/volumes/*/actions/attach effect=action_error nth=1 count=10",
	}})
	e2eComputeDiff(t, ctx, env)
	r := env.Playbook(ctx, e2e.ResetPlaybook)
	require.Error(t, r.Err, r.Summary())
	failed := map[string]bool{}
	for _, host := range r.Recap.Failed() {
		failed[host] = true
	}
	require.Len(t, failed, 10, r.Summary())

	st := env.State()
	old := 0
	for host := range failed {
		newVol, ok := st.Volume("kbv3-" + host + "-data")
		require.True(t, ok, "the new volume of %s was created", host)
		assert.Empty(t, e2e.ServerName(st, newVol), "the new volume of %s is not attached", host)
	}
	for _, e := range env.Diff().Delete {
		if !failed[e.Server] {
			continue
		}
		old++
		v, ok := st.Volume(e.Name)
		require.True(t, ok, "%s was not deleted", e.Name)
		assert.Equal(t, e.Server, e2e.ServerName(st, v), "%s is still attached to %s", e.Name, e.Server)
	}
	require.Positive(t, old, "the failed hosts had old volumes")
	for _, p := range env.FleetProblems() {
		mentions := false
		for host := range failed {
			mentions = mentions || strings.Contains(p, host)
		}
		assert.True(t, mentions, "every other host is done: %s", p)
	}

	r = env.Playbook(ctx, e2e.ResetPlaybook)
	e2eRequireOK(t, r)
	assert.Empty(t, env.FleetProblems())
}

// One host's create fails mid-run: that host keeps its old volume, attached and undeleted, while
// every other host goes through every stage; the play fails naming the host, the first run's
// snapshot survives the rerun, and the rerun converges.
func TestE2EOneHostsFailureStaysWithThatHost(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{SimArgs: []string{
		"--fault", "POST /v1/volumes status=422 code=invalid_input nth=7 count=1",
	}})
	e2eComputeDiff(t, ctx, env)
	r := env.Playbook(ctx, e2e.ResetPlaybook)
	require.Error(t, r.Err, r.Summary())
	failed := r.Recap.Failed()
	require.Len(t, failed, 1, r.Summary())
	host := failed[0]
	assert.Contains(t, r.Output, host+" did not finish (its stage failed, its later stages were skipped)")

	st := env.State()
	var problems []string
	for _, p := range env.FleetProblems() {
		if !strings.Contains(p, host) {
			problems = append(problems, p)
		}
	}
	assert.Empty(t, problems, "every other host is done")
	// The failed host's old volumes are where they were.
	for _, e := range env.Diff().Delete {
		if e.Server != host {
			continue
		}
		v, ok := st.Volume(e.Name)
		require.True(t, ok, "%s was not deleted", e.Name)
		assert.Equal(t, e.Server, e2e.ServerName(st, v), "%s is still attached", e.Name)
	}

	// The first run's snapshot is its own file; the rerun adds another and converges.
	first, err := filepath.EvalSymlinks(env.Path(e2e.SnapshotFile))
	require.NoError(t, err)
	firstData, err := os.ReadFile(first)
	require.NoError(t, err)
	r = env.Playbook(ctx, e2e.ResetPlaybook)
	e2eRequireOK(t, r)
	assert.Empty(t, env.FleetProblems())
	second, err := filepath.EvalSymlinks(env.Path(e2e.SnapshotFile))
	require.NoError(t, err)
	assert.NotEqual(t, first, second, "each run has its own snapshot")
	data, err := os.ReadFile(first)
	require.NoError(t, err)
	assert.Equal(t, firstData, data, "the first run's snapshot is untouched by the rerun")
	var rec struct {
		RunID   string `json:"run_id"`
		Volumes []struct {
			Name   string            `json:"name"`
			SizeGB int               `json:"size_gb"`
			Labels map[string]string `json:"labels"`
		} `json:"volumes"`
	}
	require.NoError(t, json.Unmarshal(data, &rec))
	assert.NotEmpty(t, rec.RunID)
	old := 0
	for _, v := range rec.Volumes {
		if strings.HasPrefix(v.Name, "vol-") {
			old++
			assert.NotZero(t, v.SizeGB)
			assert.NotNil(t, v.Labels)
		}
	}
	assert.Equal(t, 40, old, "the first run's snapshot lists every old volume")
}

// An old volume drifts in the middle of the run, after stage 0 approved the diff (someone
// resizes it during the attach stage): the delete stage refuses it and keeps its host's old
// volumes, while the other old volumes of its batch, reviewed on other hosts, are deleted. One
// drifted volume fails one host, not its nine batch-mates.
func TestE2EDriftMidRunStaysWithItsHost(t *testing.T) {
	// Attaches take 500 ms here: the attach stage (at least 2.5 s) outlasts the resize (50 ms)
	// with room for a loaded machine, so the delete stage reads the resized volume.
	env, ctx := e2eStart(t, e2e.Options{SimArgs: []string{"--action-time", "attach_volume=500ms"}})
	e2eComputeDiff(t, ctx, env)
	drifted := env.Diff().Delete[0]
	require.NotEmpty(t, drifted.Server)
	api := e2eAPI(t, ctx, env)

	p, err := env.StartPlaybook(ctx, e2e.ResetPlaybook)
	require.NoError(t, err)
	require.True(t, e2eAwaitRequests(ctx, env, p, attachRoute, 1), "the run ended before its attach stage was seen")
	api.resize(drifted.Name, drifted.SizeGB+10)
	r := p.Wait()
	require.Error(t, r.Err, r.Summary())
	assert.Equal(t, []string{drifted.Server}, r.Recap.Failed(), r.Summary())
	assert.Contains(t, r.Output, "reviewed with "+strconv.Itoa(drifted.SizeGB)+" GB")

	st := env.State()
	v, ok := st.Volume(drifted.Name)
	require.True(t, ok, "the drifted volume %s is not deleted", drifted.Name)
	assert.Equal(t, drifted.Server, e2e.ServerName(st, v), "and stays attached to %s", drifted.Server)
	for _, prob := range env.FleetProblems() {
		assert.Contains(t, prob, drifted.Server, "every other host is done, its batch-mates too")
	}
	acts := e2eActions(t, r)
	assert.Equal(t, map[string]int{"deleted": 39, "refused": 1}, acts["delete"])
}

// A server with two old volumes far apart in the id order, the order the delete batches follow:
// when the first drifts during the run, the second is kept with it, though plain batches of 10
// would have put it in the last batch, deleted after the first was refused. The reset's delete
// batches keep a server's old volumes together (kbv3_batches), so that the module's
// all_or_nothing: host holds them back together.
func TestE2EDriftMidRunKeepsTheServersOtherOldVolume(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{SimArgs: []string{"--action-time", "attach_volume=500ms"}})
	api := e2eAPI(t, ctx, env)
	all, err := api.c.Volume.All(ctx)
	require.NoError(t, err)
	var first *hcloud.Volume
	for _, v := range all {
		if strings.HasPrefix(v.Name, "vol-") && v.Server != nil && (first == nil || v.ID < first.ID) {
			first = v
		}
	}
	require.NotNil(t, first, "an old volume attached")
	srv, _, err := api.c.Server.GetByID(ctx, first.Server.ID)
	require.NoError(t, err)
	second := "vol-" + srv.Name + "-second"
	api.create(second, 10, "", srv.Name) // the newest volume: the highest id, last in the order

	r := env.Playbook(ctx, e2e.DiffPlaybook)
	e2eRequireOK(t, r)
	d := env.Diff()
	require.Len(t, d.Delete, 41, r.Summary())
	ids := []int64{}
	for _, del := range d.Delete {
		ids = append(ids, del.ID)
	}
	slices.Sort(ids)
	require.Equal(t, api.volume(second).ID, ids[len(ids)-1], "the second old volume comes last, past the first batch of 10")

	p, err := env.StartPlaybook(ctx, e2e.ResetPlaybook)
	require.NoError(t, err)
	require.True(t, e2eAwaitRequests(ctx, env, p, attachRoute, 1), "the run ended before its attach stage was seen")
	api.resize(first.Name, first.Size+10)
	r = p.Wait()
	require.Error(t, r.Err, r.Summary())
	assert.Equal(t, []string{srv.Name}, r.Recap.Failed(), r.Summary())

	st := env.State()
	for _, name := range []string{first.Name, second} {
		v, ok := st.Volume(name)
		if assert.True(t, ok, "%s is not deleted", name) {
			assert.Equal(t, srv.Name, e2e.ServerName(st, v), "%s stays attached to %s", name, srv.Name)
		}
	}
	for _, prob := range env.FleetProblems() {
		assert.Contains(t, prob, srv.Name, "every other host is done")
	}
	assert.Equal(t, map[string]int{"deleted": 39, "refused": 1, "skipped": 1}, e2eActions(t, r)["delete"], "the second is held back with the first")
}

// The API applies a create, a detach, an attach and a delete and the answers are lost: the
// modules find the changes made instead of repeating them, so the run converges with no
// duplicate volume and nothing deleted that the review did not list.
func TestE2ELostAnswersAfterAppliedMutations(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{SimArgs: []string{
		"--fault", "POST /v1/volumes effect=drop_after nth=2 count=1",
		"--fault", "POST /v1/volumes/*/actions/detach effect=drop_after nth=3 count=1",
		"--fault", "POST /v1/volumes/*/actions/attach effect=drop_after nth=4 count=1",
		"--fault", "DELETE /v1/volumes/* effect=drop_after nth=2 count=1",
	}})
	e2eComputeDiff(t, ctx, env)
	r := env.Playbook(ctx, e2e.ResetPlaybook)
	if r.Err != nil {
		t.Logf("first run failed (a lost answer may fail its host), rerunning:\n%s", r.Summary())
		r = env.Playbook(ctx, e2e.ResetPlaybook)
	}
	e2eRequireOK(t, r)
	assert.Empty(t, env.FleetProblems(), "every plan volume once, nothing unreviewed deleted")
	stats := env.Stats()
	assert.Equal(t, 4, stats.FaultsHit, "every lost answer happened")
	names := e2e.VolumeNames(env.State())
	seen := map[string]bool{}
	for _, n := range names {
		assert.False(t, seen[n], "volume %s twice", n)
		seen[n] = true
	}
}

// Every action is stuck on the whole fleet: the run still ends, by the deadline the playbook
// documents (2 x batch_timeout + 3 x stage_timeout, plus Ansible's own time), with every host
// failed and no old volume deleted.
func TestE2EStuckActionsEndByTheDocumentedDeadline(t *testing.T) {
	env, ctx := e2eStart(t, e2e.Options{SimArgs: []string{
		"--fault", "POST /v1/volumes effect=action_stuck",
		"--fault", "POST /v1/volumes/*/actions/* effect=action_stuck",
	}})
	e2eComputeDiff(t, ctx, env)
	const batchTimeout, stageTimeout = 3, 6
	r := env.Playbook(ctx, e2e.ResetPlaybook, "-e", fmt.Sprintf("batch_timeout=%d stage_timeout=%d", batchTimeout, stageTimeout))
	require.Error(t, r.Err, r.Summary())
	bound := time.Duration(2*batchTimeout+3*stageTimeout)*time.Second + 60*time.Second
	assert.Less(t, r.Duration, bound, "the run ends by its documented deadline")
	assert.Len(t, e2e.Matching(env.State(), "vol-*"), 40, "no old volume was deleted")
	assert.Len(t, r.Recap.Failed(), 47, r.Summary())
}

// e2eWritePlan replaces the test's plan file.
func e2eWritePlan(t *testing.T, env *e2e.Env, p *plan.Plan) {
	t.Helper()
	data, err := p.Encode()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(env.Path(e2e.PlanFile), data, 0o644))
}

// e2eInventoryWith returns the -i arguments of the shipped inventory plus hosts.
func e2eInventoryWith(t *testing.T, env *e2e.Env, hosts ...string) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("all:\n  hosts:\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "    %s:\n", h)
	}
	extra := env.Path("extra-hosts.yml")
	require.NoError(t, os.WriteFile(extra, []byte(b.String()), 0o644))
	return []string{"-i", filepath.Join(env.Root, "ansible", "inventory", "hosts.yml"), "-i", extra}
}
