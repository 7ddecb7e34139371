package volumes

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/plan"
)

// MaxVolumesPerServer is the API's limit of volumes attached to one server.
const MaxVolumesPerServer = 16

// Preparation is what one run of the reset playbook has to do, decided once at its start from
// the plan file, the reviewed diff and one snapshot of the live volumes (kbv3_volume_info with
// plan_path and diff_path). The playbook's stages work through Todo only, so a rerun after
// success sends no module a volume, and --check predicts each stage from the same decisions the
// real run makes.
//
// The stages run in the order create, attach, then detach and delete (one batch does both): a
// host's old volumes are detached only once its new volume is attached, so a host is never
// without a volume, and a host whose new volume fails keeps its old ones attached (the playbook
// skips a failed host's later stages). Todo.Detach lists the delete entries still attached,
// which that last stage detaches first.
type Preparation struct {
	// RunID names this run in the snapshot, the report and every operation log line.
	RunID string `json:"run_id"`
	// Full is true when every plan host is a host of the play: only then may the old volumes the
	// diff saw detached be deleted.
	Full bool `json:"full"`
	// Entries are the plan entries of the play's hosts; Deletes the delete entries in scope,
	// which must be gone after the run (the verify stage checks exactly those).
	Entries []plan.Entry       `json:"entries"`
	Deletes []plan.DeleteEntry `json:"deletes"`
	// Selector is the reviewed diff's: the verify stage reports the volumes it matches that the
	// review kept (a line removed, a protected volume) as kept, not as problems.
	Selector plan.Selector `json:"selector"`
	Todo     Todo          `json:"todo"`
	// Observed is, in check mode only, what stage 0 read: the later stages predict from it
	// (module option observed) instead of reading again. A real run never carries it.
	Observed *Observed `json:"observed,omitempty"`
}

// Todo lists, per stage, the entries whose volume still needs that stage. Create also lists
// existing volumes that differ from the plan in labels, or in size when growing is allowed.
type Todo struct {
	Create []plan.Entry       `json:"create"`
	Detach []plan.DeleteEntry `json:"detach"`
	Attach []plan.Entry       `json:"attach"`
	Delete []plan.DeleteEntry `json:"delete"`
}

// ResetProblems is stage 0's refusal: every reason the run cannot go as reviewed, each naming
// its entry and the next step, found before any change. Nothing was changed.
type ResetProblems []string

func (p ResetProblems) Error() string {
	return fmt.Sprintf("the reset cannot start as reviewed, nothing was changed: %d problem%s (listed in problems): %s",
		len(p), plural(len(p)), p[0])
}

// loadPlanFile reads and validates a plan file (JSON, or YAML by its extension) strictly: every
// problem names the file and the entry, and nothing is asked of the API before it is sound.
func loadPlanFile(planPath string) (*plan.Plan, error) {
	p, err := plan.Load(planPath)
	if err != nil {
		return nil, fmt.Errorf("plan_path: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("plan_path %s: %w", planPath, err)
	}
	return p, nil
}

// loadReviewed reads the reviewed diff file strictly and validates it against the plan.
func loadReviewed(diffPath string, p *plan.Plan) (*plan.Diff, error) {
	d, err := plan.LoadDiff(diffPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("diff_path %s does not exist: compute it with the volume_diff_v3 playbook, review it, then run the reset again; the reset deletes only what that file lists", diffPath)
	}
	if err != nil {
		return nil, fmt.Errorf("diff_path: %w", err)
	}
	if err := d.Validate(p); err != nil {
		return nil, fmt.Errorf("diff_path %s: %w", diffPath, err)
	}
	return d, nil
}

// prepareOpts are the choices the playbook passes to stage 0 beside the files.
type prepareOpts struct {
	hosts, inventory []string // nil: the whole plan; the inventory's hosts, for a warning
	allowGrow        bool     // a plan size above the live one grows the volume
}

// prepare scopes the plan and the diff to the play's hosts, checks every entry in scope against
// the live volumes and servers, and decides each stage's work. Every problem a stage would meet
// that the snapshot already shows is returned at once, as ResetProblems, so that nothing is
// changed by a run that cannot complete as reviewed.
func prepare(m *ansible.Module, p *plan.Plan, d *plan.Diff, o prepareOpts, snap *hz.Snapshot) (*Preparation, error) {
	prep := scope(m, p, d, o)
	var problems ResetProblems
	for _, e := range prep.Deletes {
		r := ref{index: slices.Index(d.Delete, e), list: "delete", DeleteEntry: e}
		v, err := r.resolve(snap)
		if err != nil {
			problems = append(problems, err.Error()+": the diff is out of date, compute it again with volume_diff_v3.yml and review it")
			continue
		}
		if v == nil {
			continue // gone already: nothing left to delete
		}
		if why := reviewedProblem(r, stateOf(snap, v)); why != "" {
			problems = append(problems, why)
			continue
		}
		if v.Server != nil {
			// Only a volume still on the server the reviewer saw: reviewedProblem refused others.
			e.ServerID = v.Server.ID
			// Where it stands in the listing only for the detach: the deletes before a delete
			// batch move its volumes to the first page, which it reads anyway.
			d := e
			d.Position = snap.Position(v.ID)
			prep.Todo.Detach = append(prep.Todo.Detach, d)
		}
		prep.Todo.Delete = append(prep.Todo.Delete, e)
	}
	index := map[string]int{}
	for i, e := range p.Volumes {
		index[e.Hostname] = i
	}
	// The entries get their server's id, which the verification then need not read again; the
	// rest of each entry is the plan's (its location stays what the plan says, or none).
	prep.Entries = slices.Clone(prep.Entries)
	for i, e := range prep.Entries {
		e, create, attach, why := planDecision(snap, e, o.allowGrow)
		if why != "" {
			problems = append(problems, fmt.Sprintf("volumes[%d] (%s): %s", index[e.Hostname], e.Hostname, why))
			continue
		}
		prep.Entries[i].ServerID = e.ServerID
		if create {
			prep.Todo.Create = append(prep.Todo.Create, e)
		}
		if attach {
			prep.Todo.Attach = append(prep.Todo.Attach, e)
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	prep.Todo.Create = nonNil(prep.Todo.Create)
	prep.Todo.Attach = nonNil(prep.Todo.Attach)
	// Old volumes go in the order of their ids, the API's list order: once the batches before
	// it are deleted, a delete batch's volumes are the project's lowest ids, and the first page
	// that every batch reads holds them all (1 request instead of 1 + a lookup per name). The
	// reset's batches pull a server's later old volumes forward into the batch of its first
	// (kbv3_batches); one past the first page costs its batch a lookup by name.
	byID := func(a, b plan.DeleteEntry) int { return cmp.Compare(a.ID, b.ID) }
	slices.SortStableFunc(prep.Todo.Detach, byID)
	slices.SortStableFunc(prep.Todo.Delete, byID)
	prep.Todo.Detach = nonNil(prep.Todo.Detach)
	prep.Todo.Delete = nonNil(prep.Todo.Delete)
	return prep, nil
}

// scope keeps the plan entries of the play's hosts and the delete entries that belong to them,
// warning about hosts of the play without an entry and plan hosts outside the inventory.
func scope(m *ansible.Module, p *plan.Plan, d *plan.Diff, o prepareOpts) *Preparation {
	prep := &Preparation{Full: true, Entries: p.Volumes, Selector: d.Selector}
	if o.hosts != nil {
		sub, unplanned := p.Only(o.hosts)
		prep.Entries = sub.Volumes
		prep.Full = len(sub.Volumes) == len(p.Volumes)
		switch {
		case len(unplanned) == 1:
			m.Warn("1 host of the play has no plan entry, nothing is done for it: %s", short(unplanned))
		case len(unplanned) > 1:
			m.Warn("%d hosts of the play have no plan entry, nothing is done for them: %s", len(unplanned), short(unplanned))
		}
	}
	if o.inventory != nil {
		var absent []string
		for _, e := range p.Volumes {
			if !slices.Contains(o.inventory, e.Hostname) {
				absent = append(absent, e.Hostname)
			}
		}
		if len(absent) > 0 {
			m.Warn("%d plan hosts are not in the inventory, their volumes are left alone: %s", len(absent), short(absent))
		}
	}
	inPlay := map[string]bool{}
	for _, e := range prep.Entries {
		inPlay[e.Hostname] = true
	}
	for _, e := range d.Delete {
		// A limited run deletes only what the reviewer saw attached to its hosts; an old volume
		// seen detached belongs to no host and waits for a run over the whole plan.
		if prep.Full || inPlay[e.Host()] {
			prep.Deletes = append(prep.Deletes, e)
		}
	}
	prep.Entries, prep.Deletes = nonNil(prep.Entries), nonNil(prep.Deletes)
	return prep
}

// reviewedProblem says why the live volume no longer is what the reviewer approved for
// deletion, with the next step, or "" when it still is: driftProblem, or a delete protection
// added since the review (the reset never removes one).
func reviewedProblem(r ref, live *State) string {
	if why := driftProblem(r, live); why != "" {
		return why
	}
	if live.Protection {
		return fmt.Sprintf("%s: the volume is delete-protected since the review: remove the protection (hcloud volume disable-protection %s delete) to delete it, or remove the line from the diff to keep it",
			r, live.Name)
	}
	return ""
}

// driftProblem says how the live volume differs from what the entry records of it (size,
// attachment), or "". A volume recorded detached and found attached is refused: nothing is
// detached from a server no reviewer saw it on. An entry that records neither a server nor
// detached (a task written by hand) leaves the attachment unchecked.
func driftProblem(r ref, live *State) string {
	switch {
	case r.SizeGB != 0 && r.SizeGB != live.Size:
		return fmt.Sprintf("%s: reviewed with %d GB, the volume now has %d GB: compute the diff again and review it", r, r.SizeGB, live.Size)
	case r.Detached && live.Server != "":
		return fmt.Sprintf("%s: reviewed detached, the volume is now attached to %s: it is not detached from a server no reviewer saw it on; if %s no longer needs it, detach it (hcloud volume detach %s), or compute the diff again and review it",
			r, live.Server, live.Server, live.Name)
	case r.Server != "" && live.Server != "" && r.Server != live.Server:
		return fmt.Sprintf("%s: reviewed attached to %s, the volume is now attached to %s: compute the diff again and review it", r, r.Server, live.Server)
	}
	return ""
}

// planDecision checks a plan entry against the snapshot: it returns the entry with its server's
// id and location filled in for the stages, whether it needs the create stage (missing, or to
// be grown or relabelled) and the attach stage, or why no stage could bring it to the plan.
func planDecision(snap *hz.Snapshot, e plan.Entry, allowGrow bool) (plan.Entry, bool, bool, string) {
	sv := snap.Server(e.Hostname)
	if sv == nil {
		return e, false, false, fmt.Sprintf("server %s does not exist in the project: create it, correct the hostname, or leave the host out of the run (--limit '!%s')", e.Hostname, e.Hostname)
	}
	loc := hz.ServerLocation(sv)
	if e.Location != "" && e.Location != loc {
		return e, false, false, fmt.Sprintf("location %s differs from server %s's %s: a volume is attached only in its server's location; set location to %s or remove it from the plan", e.Location, e.Hostname, loc, loc)
	}
	e.ServerID, e.Location = sv.ID, loc
	v := snap.Volume(e.Name())
	if v == nil {
		if why := roomFor(sv); why != "" {
			return e, false, false, why
		}
		return e, true, true, ""
	}
	live := snap.Live(v)
	switch {
	case live.Location != loc:
		return e, false, false, fmt.Sprintf("volume %s exists in %s, server %s is in %s: a volume cannot move; delete or rename it (hcloud volume delete %s), or name another volume in the plan", live.Name, live.Location, e.Hostname, loc, live.Name)
	case e.Format != "" && live.Format != e.Format:
		return e, false, false, fmt.Sprintf("volume %s exists formatted %s, the plan says %s: a volume's format is set when it is created; delete it (hcloud volume delete %s) or change the plan's format", live.Name, cmp.Or(live.Format, "none"), e.Format, live.Name)
	case live.SizeGB > e.SizeGB:
		return e, false, false, fmt.Sprintf("volume %s exists with %d GB, the plan says %d GB: volumes cannot shrink; set size_gb to %d or more", live.Name, live.SizeGB, e.SizeGB, live.SizeGB)
	case live.SizeGB < e.SizeGB && !allowGrow:
		return e, false, false, fmt.Sprintf("volume %s exists with %d GB, the plan says %d GB: run with -e allow_grow=true to grow it (volumes only grow), or set size_gb to %d", live.Name, live.SizeGB, e.SizeGB, live.SizeGB)
	case live.Server != "" && live.Server != e.Hostname:
		return e, false, false, fmt.Sprintf("volume %s is attached to %s, the plan puts it on %s: detach it (hcloud volume detach %s) if %s no longer needs it, or change the plan", live.Name, live.Server, e.Hostname, live.Name, live.Server)
	}
	create := live.SizeGB != e.SizeGB || (e.Labels != nil && !maps.Equal(live.Labels, e.Labels))
	attach := live.Server == ""
	if attach {
		if why := roomFor(sv); why != "" {
			return e, false, false, why
		}
	}
	return e, create, attach, ""
}

// roomFor says why one more volume cannot be attached to sv, or "". The run's detaches do not
// make room: they come after the attach, so that the host is never without a volume.
func roomFor(sv *hcloud.Server) string {
	n := len(sv.Volumes) + 1
	if n <= MaxVolumesPerServer {
		return ""
	}
	return fmt.Sprintf("server %s would have %d volumes after the attach, the API allows %d (the run attaches the new volume before it detaches the old ones): detach one of its volumes first (hcloud server describe %s lists them)", sv.Name, n, MaxVolumesPerServer, sv.Name)
}

// nonNil makes an empty list encode as [], which the playbook reads as "nothing to do".
func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

// short lists at most ten names, so that a warning about a large fleet stays one line.
func short(names []string) string {
	if len(names) <= 10 {
		return fmt.Sprint(names)
	}
	return fmt.Sprintf("%v and %d more", names[:10], len(names)-10)
}

// SnapshotRecord is a run's record of every volume before any change (Info's dest in the
// reset's stage 0): kept per run, never replaced, so that the sizes, labels and servers of the
// volumes a run deleted can always be read again.
type SnapshotRecord struct {
	RunID    string       `json:"run_id"`
	Time     time.Time    `json:"time"`
	Endpoint string       `json:"endpoint"`
	Full     bool         `json:"full"`
	Hosts    []string     `json:"hosts"` // the plan hosts in scope
	Volumes  []VolumeInfo `json:"volumes"`
}

// stage0 is the reset's preparation in kbv3_volume_info: decide (prepare), then, in a real run,
// record the snapshot and mark the run's report as in progress, both under the run's own names.
func stage0(m *ansible.Module, o *InfoOptions, p *plan.Plan, d *plan.Diff, snap *hz.Snapshot, listed []VolumeInfo) (*ansible.Result, error) {
	prep, err := prepare(m, p, d, prepareOpts{hosts: o.Hosts, inventory: o.InventoryHosts, allowGrow: o.AllowGrow}, snap)
	var problems ResetProblems
	if errors.As(err, &problems) {
		return &ansible.Result{Failed: true, Msg: problems.Error(), Values: map[string]any{"problems": problems}}, nil
	}
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	prep.RunID = newRunID(now)
	res := &ansible.Result{Values: map[string]any{"reset": prep, "volumes": listed}}
	// In the order the playbook's stages do them: the last stage detaches, then deletes.
	res.Msg = fmt.Sprintf("run %s, to do: create %d, attach %d, detach %d, delete %d (%d plan volumes, %d old volumes in scope)",
		prep.RunID, len(prep.Todo.Create), len(prep.Todo.Attach), len(prep.Todo.Detach), len(prep.Todo.Delete), len(prep.Entries), len(prep.Deletes))
	if m.CheckMode {
		prep.Observed = observe(snap, hostnames(p))
		return res, nil
	}
	if o.Dest != "" {
		rec := SnapshotRecord{RunID: prep.RunID, Time: now, Endpoint: o.endpoint(), Full: prep.Full, Hosts: hostnames(plan.New(prep.Entries)), Volumes: listed}
		data, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return nil, err
		}
		own, err := publish(o.Dest, prep.RunID, append(data, '\n'))
		if err != nil {
			return nil, fmt.Errorf("dest: %w", err)
		}
		res.Values["snapshot"] = own
	}
	if o.ReportPath != "" {
		stub := fmt.Sprintf("# Volume reset, run %s\n\n**Status:** ⏳ started %s and not finished. If this stays, the run was interrupted:\nits operation log (log_path, lines with run_id %s) says what it did; run the reset again to finish.\n",
			prep.RunID, now.Format("2006-01-02 15:04:05 UTC"), prep.RunID)
		if _, err := publish(o.ReportPath, prep.RunID, []byte(stub)); err != nil {
			return nil, fmt.Errorf("report_path: %w", err)
		}
	}
	return res, nil
}
