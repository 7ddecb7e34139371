package volumes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/plan"
)

// VerifyOptions are kbv3_volume_verify's options (plugins/modules/kbv3_volume_verify.yml).
type VerifyOptions struct {
	Common     `mapstructure:",squash"`
	Volumes    []plan.Entry `mapstructure:"volumes" ansible:"required"`
	Forbidden  []string     `mapstructure:"forbidden"`
	ReportPath string       `mapstructure:"report_path" ansible:"type=path"`
	// FailOnProblems defaults to true in a real run and false in check mode, where nothing was
	// changed and the verification can only describe the present.
	FailOnProblems *bool `mapstructure:"fail_on_problems"`
	// Deleted are the reviewed delete entries of the run: each must be gone (matched by id).
	Deleted []plan.DeleteEntry `mapstructure:"deleted"`
	// Selector is the reviewed diff's: the volumes it matches that are neither planned nor in
	// Deleted were kept by the review (a line removed, a protected volume), and are listed as
	// kept, not as problems.
	Selector plan.Selector `mapstructure:"selector"`
	// FailedHosts are the hosts the run's stages failed: the report says the run did not finish.
	FailedHosts []string `mapstructure:"failed_hosts"`
	// Done are the item results of the run's stages, for the report's account of what this run
	// did and what failed: the playbook passes each stage's registered `volumes`.
	Done DoneStages `mapstructure:"done"`
	// Full says whether the run covered every plan host (the reset's `full`); nil: not said.
	Full *bool `mapstructure:"full"`
}

// DoneStages are the item results of the reset's stages, in the order they ran.
type DoneStages struct {
	Create []DoneItem `mapstructure:"create"`
	Detach []DoneItem `mapstructure:"detach"`
	Attach []DoneItem `mapstructure:"attach"`
	Delete []DoneItem `mapstructure:"delete"`
}

// DoneItem is an Item as a module returned it (docs/ARCHITECTURE.md, item result).
type DoneItem struct {
	Volume     string `mapstructure:"volume"`
	ID         int64  `mapstructure:"id"`
	Server     string `mapstructure:"server"`
	Location   string `mapstructure:"location"`
	Size       int    `mapstructure:"size"`
	Action     string `mapstructure:"action"`
	Error      string `mapstructure:"error"`
	DurationMS int64  `mapstructure:"duration_ms"`
	Host       string `mapstructure:"host"`
}

// stages lists the stages with their items, in the order they ran.
func (d DoneStages) stages() []struct {
	name  string
	items []DoneItem
} {
	return []struct {
		name  string
		items []DoneItem
	}{{"create", d.Create}, {"detach", d.Detach}, {"attach", d.Attach}, {"delete", d.Delete}}
}

// VerifySpec describes kbv3_volume_verify to the protocol.
var VerifySpec = ansible.Spec{Name: "kbv3_volume_verify", Tags: planEntryTags("volumes")}

// Row is one plan volume as the API shows it. The fields are the live values, so that a row of
// a wrong volume shows what is wrong rather than what was wanted.
type Row struct {
	Volume   string `json:"volume"`
	Hostname string `json:"hostname"`
	ID       int64  `json:"id"`
	SizeGB   int    `json:"size_gb"`
	Location string `json:"location"`
	Server   string `json:"server"`
	OK       bool   `json:"ok"`
	// LinuxDevice is the API's device path of the volume on its server (what a mount step
	// needs); omitted for a missing volume.
	LinuxDevice string `json:"linux_device,omitempty"`

	// What the plan says, for the report only: the return value's contract is the live side.
	entry    plan.Entry
	location string // planned location: the entry's, else its server's ("" when unknown)
}

// VerifyCounts are the headline numbers of a verification.
type VerifyCounts struct {
	Planned       int `json:"planned"`
	Found         int `json:"found"`
	Attached      int `json:"attached"` // attached to the planned server
	Matching      int `json:"matching"` // found, attached as planned, right size and location
	ForbiddenLeft int `json:"forbidden_left"`
}

// Verification is what kbv3_volume_verify found: every number is computed from the API's
// answers, never copied from the plan (the PH3-02 report's own size table did not add up).
type Verification struct {
	Rows      []Row
	Forbidden []plan.Live // live volumes matching a forbidden pattern
	Patterns  []string
	Left      []plan.Live // reviewed for deletion and still there
	Kept      []plan.Live // matched by the selector, kept by the review
	Problems  []string
	// HostProblems are the problems by host (a plan entry's hostname, or the server an old
	// volume was reviewed on), so that the playbook can fail exactly those hosts.
	HostProblems map[string][]string
	Sizes        []plan.SizeCount
	TotalGB      int
	Counts       VerifyCounts
	// RunID and FailedHosts are the run's, for the report's header.
	RunID       string
	FailedHosts []string
	// Audit is the run's record for the report: when, where, what scope, what it did.
	Audit Audit
}

// Audit is what the report says of the run beyond the end state.
type Audit struct {
	Start    time.Time // from the run id; zero when unknown
	End      time.Time
	Endpoint string // never the token
	Full     *bool
	Hosts    []string // the plan hosts in scope
	Done     DoneStages
	// Stable and Own are the report's stable path and the run's own file ("" without a run id).
	Stable, Own string
}

// Verify is kbv3_volume_verify: read-only, one snapshot (every volume, and the plan's servers
// unless the entries carry their ids), then a pure comparison.
func Verify(ctx context.Context, m *ansible.Module, o *VerifyOptions) (*ansible.Result, error) {
	p := plan.New(o.Volumes)
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := validateForbidden(o.Forbidden, p); err != nil {
		return nil, err
	}
	if err := o.Selector.Validate(); err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	ctx, s, closeFn, err := o.open(ctx, m)
	if err != nil {
		return nil, err
	}
	defer closeFn()

	// Listing every volume is what lets a forbidden name be found without knowing it, and it
	// costs the same pages whether the plan has 3 volumes or 47. The servers stage 0 resolved
	// (the reset's entries carry their ids) are not read again: server ids never change hands,
	// and a server deleted since leaves its volume detached, which the comparison reports. Only
	// a volume attached to a server no entry names makes the snapshot list the servers. Such a
	// server's location is the plan's, if it says one: a volume attached to its server is in
	// that server's location (the API attaches no other), and one that is not is reported so.
	opts := hz.SnapshotOpts{AllVolumes: true}
	for _, e := range p.Volumes {
		if e.ServerID > 0 {
			opts.Known = append(opts.Known, hz.KnownServer{ID: e.ServerID, Name: e.Hostname, Location: e.Location})
			continue
		}
		opts.Servers = append(opts.Servers, e.Hostname)
	}
	snap, err := s.snapshot(ctx, opts)
	if err != nil {
		return nil, err
	}
	v := compareWithPlan(p, snap, o.Forbidden)
	v.checkReviewed(snap, p, o.Deleted, o.Selector)
	v.RunID, v.FailedHosts = o.RunID, o.FailedHosts
	now := time.Now().UTC()
	v.Audit = Audit{Start: runStart(o.RunID), End: now, Endpoint: o.endpoint(), Full: o.Full, Hosts: hostnames(p), Done: o.Done}
	if o.ReportPath != "" && o.RunID != "" {
		v.Audit.Stable, v.Audit.Own = o.ReportPath, runPath(o.ReportPath, o.RunID)
	}

	if o.ReportPath != "" && !m.CheckMode {
		report := []byte(v.Markdown(now))
		if o.RunID != "" {
			_, err = publish(o.ReportPath, o.RunID, report)
		} else {
			_, err = writeFileIfChanged(o.ReportPath, report)
		}
		if err != nil {
			return nil, fmt.Errorf("report_path: %w", err)
		}
	}
	failOn := !m.CheckMode
	if o.FailOnProblems != nil {
		failOn = *o.FailOnProblems
	}
	hosts := slices.DeleteFunc(slices.Sorted(maps.Keys(v.HostProblems)), func(h string) bool { return h == "" })
	return &ansible.Result{
		Failed: failOn && len(v.Problems) > 0,
		Msg:    v.Summary(),
		Values: map[string]any{
			"rows":     v.Rows,
			"problems": v.Problems,
			"sizes":    v.Sizes,
			"total_gb": v.TotalGB,
			"counts":   v.Counts,
			"kept":     nonNil(v.Kept),
			// The hosts with a problem, for the playbook to fail exactly those.
			"problem_hosts": nonNil(hosts),
			"host_problems": v.HostProblems,
		},
	}, nil
}

// runStart is the start a run id records (newRunID); zero when id is not one.
func runStart(id string) time.Time {
	stamp, _, _ := strings.Cut(id, "-")
	t, err := time.Parse("20060102T150405Z", stamp)
	if err != nil {
		return time.Time{}
	}
	return t
}

// validateForbidden rejects bad globs, and patterns that match a volume of the plan: such a
// pattern could only ever report the plan itself as a problem, so it is a mistake in the task.
func validateForbidden(patterns []string, p *plan.Plan) error {
	var errs []error
	for i, pat := range patterns {
		if pat == "" {
			errs = append(errs, fmt.Errorf("forbidden[%d]: empty pattern", i))
			continue
		}
		if _, err := path.Match(pat, ""); err != nil {
			errs = append(errs, fmt.Errorf("forbidden[%d] %q: %w", i, pat, err))
			continue
		}
		for _, e := range p.Volumes {
			if ok, _ := path.Match(pat, e.Name()); ok {
				errs = append(errs, fmt.Errorf("forbidden[%d] %q matches %s, a volume of the plan (%s)", i, pat, e.Name(), e.Hostname))
				break
			}
		}
	}
	return errors.Join(errs...)
}

func hostnames(p *plan.Plan) []string {
	out := make([]string, 0, len(p.Volumes))
	for _, e := range p.Volumes {
		out = append(out, e.Hostname)
	}
	return out
}

// compareWithPlan checks every plan entry and the forbidden patterns against the snapshot.
func compareWithPlan(p *plan.Plan, snap *hz.Snapshot, forbidden []string) *Verification {
	v := &Verification{Rows: make([]Row, 0, len(p.Volumes)), Problems: []string{}, Patterns: forbidden, HostProblems: map[string][]string{}}
	v.Counts.Planned = len(p.Volumes)
	var sizes []int
	for _, e := range p.Volumes {
		sv := snap.Server(e.Hostname)
		row := Row{Volume: e.Name(), Hostname: e.Hostname, entry: e, location: cmp.Or(e.Location, hz.ServerLocation(sv))}
		problems := checkEntry(e, sv, snap, &row)
		if row.ID != 0 {
			v.Counts.Found++
			sizes = append(sizes, row.SizeGB)
		}
		if row.ID != 0 && row.Server == e.Hostname {
			v.Counts.Attached++
		}
		row.OK = len(problems) == 0
		if row.OK {
			v.Counts.Matching++
		}
		v.Problems = append(v.Problems, problems...)
		v.addHostProblems(e.Hostname, problems)
		v.Rows = append(v.Rows, row)
	}
	v.Sizes, v.TotalGB = plan.Summarize(sizes)
	if v.Sizes == nil {
		v.Sizes = []plan.SizeCount{}
	}

	for _, vol := range snap.Volumes() {
		pat := firstMatch(forbidden, vol.Name)
		if pat == "" {
			continue
		}
		l := snap.Live(vol)
		v.Forbidden = append(v.Forbidden, l)
		where := "detached"
		if l.Server != "" {
			where = "attached to " + l.Server
		}
		v.Problems = append(v.Problems, fmt.Sprintf("Volume %s (id %d, %d GB, %s) matches the forbidden pattern %s and still exists.",
			l.Name, l.ID, l.SizeGB, where, pat))
	}
	v.Counts.ForbiddenLeft = len(v.Forbidden)
	return v
}

// checkReviewed checks that every reviewed delete entry is gone and lists the volumes the
// selector matches that the review kept.
func (v *Verification) checkReviewed(snap *hz.Snapshot, p *plan.Plan, deleted []plan.DeleteEntry, sel plan.Selector) {
	listed := map[int64]bool{}
	for _, e := range deleted {
		listed[e.ID] = true
		vol := snap.VolumeByID(e.ID)
		if vol == nil {
			continue
		}
		l := snap.Live(vol)
		v.Left = append(v.Left, l)
		where := "detached"
		if l.Server != "" {
			where = "attached to " + l.Server
		}
		problem := fmt.Sprintf("Volume %s (id %d, %d GB, %s) is listed for deletion and still exists.", l.Name, l.ID, l.SizeGB, where)
		v.Problems = append(v.Problems, problem)
		v.addHostProblems(e.Host(), []string{problem})
	}
	if sel.Empty() {
		return
	}
	planned := map[string]bool{}
	for _, e := range p.Volumes {
		planned[e.Name()] = true
	}
	for _, vol := range snap.Volumes() {
		if l := snap.Live(vol); !listed[l.ID] && !planned[l.Name] && sel.Matches(l) {
			v.Kept = append(v.Kept, l)
		}
	}
}

// addHostProblems files problems under host; problems of no host ("") are kept as "".
func (v *Verification) addHostProblems(host string, problems []string) {
	if len(problems) > 0 {
		v.HostProblems[host] = append(v.HostProblems[host], problems...)
	}
}

// checkEntry fills row with the live values of e's volume and returns its problems, one
// sentence each, naming the volume.
func checkEntry(e plan.Entry, sv *hcloud.Server, snap *hz.Snapshot, row *Row) []string {
	var problems []string
	name := e.Name()
	if sv == nil {
		problems = append(problems, fmt.Sprintf("Server %s, planned for volume %s, does not exist.", e.Hostname, name))
	}
	vol := snap.Volume(name)
	if vol == nil {
		return append(problems, fmt.Sprintf("Volume %s (%s) does not exist.", name, e.Hostname))
	}
	l := snap.Live(vol)
	row.ID, row.SizeGB, row.Location, row.Server, row.LinuxDevice = l.ID, l.SizeGB, l.Location, l.Server, vol.LinuxDevice
	switch l.Server {
	case e.Hostname:
	case "":
		problems = append(problems, fmt.Sprintf("Volume %s is not attached; the plan attaches it to %s.", name, e.Hostname))
	default:
		problems = append(problems, fmt.Sprintf("Volume %s is attached to %s; the plan attaches it to %s.", name, l.Server, e.Hostname))
	}
	if l.SizeGB != e.SizeGB {
		problems = append(problems, fmt.Sprintf("Volume %s is %d GB; the plan says %d GB.", name, l.SizeGB, e.SizeGB))
	}
	if row.location != "" && l.Location != row.location {
		source := "the plan says"
		if e.Location == "" {
			source = "its server " + e.Hostname + " is in"
		}
		problems = append(problems, fmt.Sprintf("Volume %s is in %s; %s %s.", name, l.Location, source, row.location))
	}
	return problems
}

// firstMatch returns the first pattern name matches, or "". The patterns were validated.
func firstMatch(patterns []string, name string) string {
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, name); ok {
			return pat
		}
	}
	return ""
}

// Summary is the one line the playbook prints, e.g. "47 planned, 47 found, 47 attached as
// planned; sizes 2×10 GB, 19×20 GB; total 2800 GB; 0 problems". With problems, the first few
// follow, so that a failed task says why without opening the report.
func (v *Verification) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d planned, %d found, %d attached as planned", v.Counts.Planned, v.Counts.Found, v.Counts.Attached)
	if v.Counts.ForbiddenLeft > 0 {
		fmt.Fprintf(&b, ", %d forbidden left", v.Counts.ForbiddenLeft)
	}
	b.WriteString("; sizes ")
	if len(v.Sizes) == 0 {
		b.WriteString("none")
	}
	for i, sc := range v.Sizes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d×%d GB", sc.Count, sc.SizeGB)
	}
	fmt.Fprintf(&b, "; total %d GB; %d problem%s", v.TotalGB, len(v.Problems), plural(len(v.Problems)))
	const shown = 3
	if n := len(v.Problems); n > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(v.Problems[:min(n, shown)], " "))
		if n > shown {
			fmt.Fprintf(&b, " (and %d more)", n-shown)
		}
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
