package volumes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/plan"
)

// InfoOptions are kbv3_volume_info's options (plugins/modules/kbv3_volume_info.yml).
type InfoOptions struct {
	Common              `mapstructure:",squash"`
	Names               []string     `mapstructure:"names"`
	LabelSelector       string       `mapstructure:"label_selector"`
	Dest                string       `mapstructure:"dest" ansible:"type=path"`
	Plan                []plan.Entry `mapstructure:"plan"`
	DeleteNames         []string     `mapstructure:"delete_names"`
	DeleteLabelSelector string       `mapstructure:"delete_label_selector"`
	DiffDest            string       `mapstructure:"diff_dest" ansible:"type=path"`

	// The reset's preparation (see Preparation): the plan and reviewed diff files, the play's
	// hosts and the inventory's.
	PlanPath       string   `mapstructure:"plan_path" ansible:"type=path"`
	DiffPath       string   `mapstructure:"diff_path" ansible:"type=path"`
	Hosts          []string `mapstructure:"hosts"`
	InventoryHosts []string `mapstructure:"inventory_hosts"`
	AllowGrow      bool     `mapstructure:"allow_grow" ansible:"default=false"`
	ReportPath     string   `mapstructure:"report_path" ansible:"type=path"`
}

// InfoSpec describes kbv3_volume_info to the protocol.
var InfoSpec = ansible.Spec{
	Name:              "kbv3_volume_info",
	MutuallyExclusive: [][]string{{"plan", "plan_path"}},
	Tags:              planEntryTags("plan"),
}

// VolumeInfo is a live volume as kbv3_volume_info lists it and as the reset's stage 0 records
// it (Observed): Server is its server's name ("" when detached, "#<id>" when the server is not
// known), ServerID that server's id (0 when detached), from which a check-mode stage rebuilds
// the snapshot.
type VolumeInfo struct {
	ID          int64             `json:"id" mapstructure:"id"`
	Name        string            `json:"name" mapstructure:"name"`
	SizeGB      int               `json:"size_gb" mapstructure:"size_gb"`
	Location    string            `json:"location" mapstructure:"location"`
	Server      string            `json:"server" mapstructure:"server"`
	ServerID    int64             `json:"server_id" mapstructure:"server_id"`
	Labels      map[string]string `json:"labels" mapstructure:"labels"`
	Protected   bool              `json:"protected" mapstructure:"protected"`
	Status      string            `json:"status" mapstructure:"status"`
	Format      string            `json:"format" mapstructure:"format"` // "" when unformatted
	LinuxDevice string            `json:"linux_device" mapstructure:"linux_device"`
}

// volumeInfo is v (l as the snapshot gives it) as the listing shows it: labels are {} rather
// than null.
func volumeInfo(l plan.Live, v *hcloud.Volume) VolumeInfo {
	labels := l.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	vi := VolumeInfo{
		ID: l.ID, Name: l.Name, SizeGB: l.SizeGB, Location: l.Location, Server: l.Server,
		Labels: labels, Protected: l.Protected, Status: string(v.Status), Format: l.Format,
		LinuxDevice: v.LinuxDevice,
	}
	if v.Server != nil {
		vi.ServerID = v.Server.ID
	}
	return vi
}

// Info is kbv3_volume_info: it lists volumes with their servers' names and, given a plan,
// computes the reset's diff. It never changes the API; changed reports whether dest or
// diff_dest got (or, in check mode, would get) new content.
func Info(ctx context.Context, m *ansible.Module, o *InfoOptions) (*ansible.Result, error) {
	in, err := o.inputs()
	if err != nil {
		return nil, err
	}
	ctx, s, closeFn, err := o.open(ctx, m)
	if err != nil {
		return nil, err
	}
	defer closeFn()

	opts := hz.SnapshotOpts{AllVolumes: true}
	if in.plan != nil {
		// The diff must see every volume: a plan volume outside label_selector is not missing.
		opts.Servers = hostnames(in.plan)
	} else {
		opts.LabelSelector = o.LabelSelector
	}
	snap, err := s.snapshot(ctx, opts)
	if err != nil {
		return nil, err
	}
	live, listed := listVolumes(snap, in.filter)
	if in.reviewed != nil {
		return stage0(m, o, in.plan, in.reviewed, snap, listed)
	}

	res := &ansible.Result{Values: map[string]any{"volumes": listed}}
	if o.Dest != "" {
		data, err := json.MarshalIndent(map[string]any{"volumes": listed}, "", "  ")
		if err != nil {
			return nil, err
		}
		changed, err := putFile(m, o.Dest, append(data, '\n'))
		if err != nil {
			return nil, fmt.Errorf("dest: %w", err)
		}
		res.Changed = changed
	}
	var d *plan.Diff
	if in.plan != nil {
		if d, err = o.diff(m, in, snap, live, res); err != nil {
			return nil, err
		}
	}
	res.Msg = infoSummary(listed, d)
	return res, nil
}

// infoInputs is what Info was given, validated and read before any request.
type infoInputs struct {
	filter, del plan.Selector
	plan        *plan.Plan // nil: no plan given
	reviewed    *plan.Diff // nil: not the reset's preparation
}

// inputs validates the options and reads the plan and reviewed diff files they name.
func (o *InfoOptions) inputs() (infoInputs, error) {
	var in infoInputs
	var err error
	if in.filter, in.del, in.plan, err = o.validate(); err != nil {
		return in, err
	}
	if o.PlanPath != "" {
		if in.plan, err = loadPlanFile(o.PlanPath); err != nil {
			return in, err
		}
	}
	if o.DiffPath != "" {
		if in.reviewed, err = loadReviewed(o.DiffPath, in.plan); err != nil {
			return in, err
		}
	}
	return in, nil
}

// listVolumes returns every volume of the snapshot for the diff, and those filter keeps (all
// when it is empty) for the listing.
func listVolumes(snap *hz.Snapshot, filter plan.Selector) ([]plan.Live, []VolumeInfo) {
	var live []plan.Live
	listed := []VolumeInfo{}
	for _, v := range snap.Volumes() {
		l := snap.Live(v)
		live = append(live, l)
		if filter.Empty() || filter.Matches(l) {
			listed = append(listed, volumeInfo(l, v))
		}
	}
	return live, listed
}

// diff computes the reset's diff of in.plan against the live volumes, refuses what the reset
// would refuse, and adds it to res (and to diff_dest).
func (o *InfoOptions) diff(m *ansible.Module, in infoInputs, snap *hz.Snapshot, live []plan.Live, res *ansible.Result) (*plan.Diff, error) {
	locations := map[string]string{}
	for _, h := range hostnames(in.plan) {
		if loc := hz.ServerLocation(snap.Server(h)); loc != "" {
			locations[h] = loc
		}
	}
	d, err := plan.Compute(in.plan, live, locations, in.del)
	if err == nil {
		// What the reset would refuse, the diff refuses now, before anyone reviews it.
		err = d.Validate(in.plan)
	}
	if err != nil {
		return nil, renameList(err, "plan")
	}
	if in.del.Empty() {
		m.Warn("no delete_names or delete_label_selector: volume_diff.delete is empty")
	}
	res.Values["volume_diff"] = d
	if o.DiffDest != "" {
		data, err := d.Encode()
		if err != nil {
			return nil, err
		}
		changed, err := putFile(m, o.DiffDest, data)
		if err != nil {
			return nil, fmt.Errorf("diff_dest: %w", err)
		}
		res.Changed = res.Changed || changed
	}
	return d, nil
}

// validate checks every option that needs no request and returns the listing filter, the delete
// selector and the plan (nil when none was given). Messages name the option at fault.
func (o *InfoOptions) validate() (filter, del plan.Selector, p *plan.Plan, err error) {
	var errs []error
	for i, n := range o.Names {
		if _, err := path.Match(n, ""); n == "" || err != nil {
			errs = append(errs, fmt.Errorf("names[%d] %q: not a name or shell glob", i, n))
		}
	}
	filter = plan.Selector{Names: o.Names, LabelSelector: o.LabelSelector}
	errs = append(errs, selectorOptionError(plan.Selector{LabelSelector: o.LabelSelector}.Validate(), ""))
	del = plan.Selector{Names: o.DeleteNames, LabelSelector: o.DeleteLabelSelector}
	errs = append(errs, selectorOptionError(del.Validate(), "delete_"))

	if o.DiffPath != "" && o.PlanPath == "" && o.Plan == nil {
		errs = append(errs, errors.New("diff_path: needs plan_path or plan, the plan the reviewed diff is checked against"))
	}
	if o.DiffPath != "" && o.DiffDest != "" {
		errs = append(errs, errors.New("diff_path and diff_dest: the reset's preparation reads a reviewed diff, the diff computation writes one; give one of them"))
	}
	if o.PlanPath != "" {
		// Info reads the plan file itself (loadPlanFile), after these checks.
		return filter, del, nil, errors.Join(errs...)
	}
	if o.Plan != nil {
		p = plan.New(o.Plan)
		errs = append(errs, renameList(p.Validate(), "plan"))
	} else {
		for _, opt := range []struct {
			name string
			set  bool
		}{
			{"delete_names", len(o.DeleteNames) > 0},
			{"delete_label_selector", o.DeleteLabelSelector != ""},
			{"diff_dest", o.DiffDest != ""},
		} {
			if opt.set {
				errs = append(errs, fmt.Errorf("%s: needs plan, since the diff is computed against it", opt.name))
			}
		}
	}
	return filter, del, p, errors.Join(errs...)
}

// selectorOptionError names the module option in plan.Selector's messages, which speak of
// "selector names[i]" and "selector label_selector".
func selectorOptionError(err error, prefix string) error {
	if err == nil {
		return nil
	}
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = prefix + strings.TrimPrefix(l, "selector ")
	}
	return errors.New(strings.Join(lines, "\n"))
}

// renameList makes plan's entry errors name the option the entries came in ("plan" here, where
// the plan package says "volumes").
func renameList(err error, list string) error {
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ee *plan.EntryError
		if errors.As(e, &ee) && ee.List == "volumes" {
			ee.List = list
		}
	}
	if err != nil {
		walk(err)
	}
	return err
}

// putFile writes data to name unless in check mode, and reports whether the file's content
// changes (or would).
func putFile(m *ansible.Module, name string, data []byte) (bool, error) {
	if m.CheckMode {
		return fileDiffers(name, data)
	}
	return writeFileIfChanged(name, data)
}

func infoSummary(listed []VolumeInfo, d *plan.Diff) string {
	attached, gb := 0, 0
	for _, v := range listed {
		gb += v.SizeGB
		if v.Server != "" {
			attached++
		}
	}
	msg := fmt.Sprintf("%d volume%s (%d attached, %d GB)", len(listed), plural(len(listed)), attached, gb)
	if d != nil {
		msg += fmt.Sprintf("; diff: %d to delete, %d to create, %d to keep, %d mismatch", len(d.Delete), len(d.Create), len(d.Keep), len(d.Mismatch))
		if len(d.Protected) > 0 {
			msg += fmt.Sprintf(", %d protected", len(d.Protected))
		}
	}
	return msg
}
