package volumes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/plan"
)

// CreateOptions are the options of kbv3_volume_create (plugins/modules/kbv3_volume_create.yml).
type CreateOptions struct {
	Common    `mapstructure:",squash"`
	Name      string            `mapstructure:"name"`
	Size      int               `mapstructure:"size"`
	Location  string            `mapstructure:"location"`
	Server    string            `mapstructure:"server"`
	Labels    map[string]string `mapstructure:"labels"`
	Format    string            `mapstructure:"format" ansible:"choices=xfs|ext4"`
	Automount bool              `mapstructure:"automount" ansible:"default=false"`
	Resize    bool              `mapstructure:"resize" ansible:"default=false"`
	// Lookup reads the names before creating. The reset's create stage turns it off: its stage
	// 0 found the volumes absent, so each is created at once and only a name the API says is
	// taken is read, to decide as a lookup would have. Check mode always looks up.
	Lookup  bool         `mapstructure:"lookup" ansible:"default=true"`
	Volumes []plan.Entry `mapstructure:"volumes"`
}

// CreateSpec describes kbv3_volume_create to the protocol. The single-volume options make no
// sense beside a plan, whose entries carry their own.
var CreateSpec = ansible.Spec{
	Name: "kbv3_volume_create",
	MutuallyExclusive: [][]string{
		{"name", "volumes"}, {"location", "server"},
		{"size", "volumes"}, {"location", "volumes"}, {"server", "volumes"}, {"labels", "volumes"},
	},
	RequiredOneOf: [][]string{{"name", "volumes"}},
	Tags:          planEntryTags("volumes"),
}

// createTask is one volume to create, decided against the snapshot.
type createTask struct {
	where    string // how errors name it: "volumes[3] (k8s-worker-01)" or "volume NAME"
	name     string
	size     int
	location string            // where it must be: asked for, or its server's
	attachTo string            // single volume with server: created attached to it
	host     string            // the server whose location it goes to ("" with location)
	serverID int64             // host's id, when kbv3_volume_info resolved it already
	labels   map[string]string // nil: not managed
	format   string            // filesystem at creation: "" none
	v        *hcloud.Volume    // the existing volume, nil when it is to be created
	before   *State
	err      error // decided not to be done
}

// Create creates the volumes it is given, or checks the existing ones against them: created,
// exists, resized (grown, with resize), updated (labels), or failed when an existing volume is
// larger than asked, smaller without resize, or in another location. A single volume with
// server is created in that server's location and attached to it in the same request; plan
// entries are created in their server's location and left detached for kbv3_volume_attach.
func Create(ctx context.Context, m *ansible.Module, o *CreateOptions) (*ansible.Result, error) {
	ctx, s, done, err := o.open(ctx, m)
	if err != nil {
		return nil, err
	}
	defer done()
	tasks, err := o.tasks()
	if err != nil {
		return nil, invalid(err)
	}
	unread := !o.Lookup && !m.CheckMode
	snap, err := s.snapshot(ctx, createWant(tasks, !unread))
	if err != nil {
		return nil, err
	}
	for i := range tasks {
		o.decide(m, snap, &tasks[i])
	}

	items := runItems(ctx, s, tasks, createIdent, func(ctx context.Context, t createTask, it *Item) error {
		if t.err != nil {
			return t.err
		}
		if t.v != nil {
			return s.update(ctx, m, snap, t, it)
		}
		err := s.create(ctx, m, snap, o, t, it, unread)
		if errors.Is(err, hz.ErrNameTaken) {
			return s.createTaken(ctx, m, o, t, it)
		}
		return err
	})
	return result(m, items), nil
}

// createWant is what the snapshot of tasks must hold: their servers, and their names unless
// the call creates without a lookup.
func createWant(tasks []createTask, lookup bool) hz.SnapshotOpts {
	var want hz.SnapshotOpts
	for _, t := range tasks {
		if lookup {
			want.Volumes = append(want.Volumes, t.name)
		}
		if t.host != "" {
			want.NeedServer(t.host, t.serverID, t.location)
		}
	}
	return want
}

// createTaken decides t again once the API said its name is taken (a create without lookup):
// it reads that name and goes on as a lookup would have made it, so the outcome is the one
// check mode predicted.
func (s *session) createTaken(ctx context.Context, m *ansible.Module, o *CreateOptions, t createTask, it *Item) error {
	snap, err := s.snapshot(ctx, createWant([]createTask{t}, true))
	if err != nil {
		return err
	}
	o.decide(m, snap, &t)
	it.describe(t.before)
	switch {
	case t.err != nil:
		return t.err
	case t.v == nil:
		// Taken, then gone before the read: create it after all.
		return s.create(ctx, m, snap, o, t, it, false)
	}
	return s.update(ctx, m, snap, t, it)
}

// tasks validates the options and turns them into one task per volume, before any request.
func (o *CreateOptions) tasks() ([]createTask, error) {
	var errs []error
	if o.Automount && o.Server == "" {
		errs = append(errs, errors.New("automount: needs server (plan entries are attached by kbv3_volume_attach)"))
	}
	if o.Name == "" {
		if len(o.Volumes) == 0 {
			return nil, errors.Join(errs...)
		}
		errs = append(errs, plan.New(o.Volumes).Validate())
		tasks := make([]createTask, len(o.Volumes))
		for i, e := range o.Volumes {
			tasks[i] = createTask{
				where: fmt.Sprintf("volumes[%d] (%s)", i, e.Hostname),
				name:  e.Name(), size: e.SizeGB, location: e.Location, host: e.Hostname, serverID: e.ServerID, labels: e.Labels,
				format: cmp.Or(e.Format, o.Format),
			}
		}
		return tasks, errors.Join(errs...)
	}
	switch {
	case o.Size == 0:
		errs = append(errs, errors.New("size: required with name"))
	case o.Size < plan.MinSizeGB || o.Size > plan.MaxSizeGB:
		errs = append(errs, fmt.Errorf("size: %d is out of range %d..%d", o.Size, plan.MinSizeGB, plan.MaxSizeGB))
	}
	if o.Location == "" && o.Server == "" {
		errs = append(errs, errors.New("location or server: one is required with name"))
	}
	errs = append(errs, singleProblems(o.Name, o.Server, o.Location, o.Labels)...)
	t := createTask{where: "volume " + o.Name, name: o.Name, size: o.Size, location: o.Location, attachTo: o.Server, host: o.Server, labels: o.Labels, format: o.Format}
	return []createTask{t}, errors.Join(errs...)
}

// decide checks t against snap and warns when an existing volume is not on the server a
// single create names (the attach module attaches it).
func (o *CreateOptions) decide(m *ansible.Module, snap *hz.Snapshot, t *createTask) {
	o.check(snap, t)
	if t.err == nil && t.attachTo != "" && t.v != nil && snap.ServerName(t.v) != t.attachTo {
		m.Warn("volume %s exists and is not attached to %s: kbv3_volume_attach attaches it", t.name, t.attachTo)
	}
}

// check resolves where t's volume must be and checks an existing one against it. What it
// finds wrong fails this volume only: the others of the call do not depend on it.
func (o *CreateOptions) check(snap *hz.Snapshot, t *createTask) {
	if t.host != "" {
		sv := snap.Server(t.host)
		if sv == nil {
			t.err = fmt.Errorf("%s: server %s does not exist", t.where, t.host)
			return
		}
		if t.serverID > 0 && sv.ID != t.serverID {
			t.err = fmt.Errorf("%s: server_id %d is not the id of server %s (%d)", t.where, t.serverID, t.host, sv.ID)
			return
		}
		loc := hz.ServerLocation(sv)
		if t.location != "" && t.location != loc {
			t.err = fmt.Errorf("%s: location %s differs from the location of server %s, %s: the volume could never be attached", t.where, t.location, t.host, loc)
			return
		}
		t.location = loc
	}
	t.v = snap.Volume(t.name)
	t.before = stateOf(snap, t.v)
	if t.v == nil {
		return
	}
	switch live := t.before; {
	case live.Location != t.location:
		t.err = fmt.Errorf("%s: volume %s exists in %s, asked for %s", t.where, t.name, live.Location, t.location)
	case t.format != "" && formatOf(t.v) != t.format:
		t.err = fmt.Errorf("%s: volume %s exists formatted %s, asked for %s: a volume's format is set when it is created", t.where, t.name, cmp.Or(formatOf(t.v), "none"), t.format)
	case live.Size > t.size:
		t.err = fmt.Errorf("%s: volume %s exists with %d GB, asked for %d GB: volumes can only grow", t.where, t.name, live.Size, t.size)
	case live.Size < t.size && !o.Resize:
		t.err = fmt.Errorf("%s: volume %s exists with %d GB, asked for %d GB; set resize: true to grow it", t.where, t.name, live.Size, t.size)
	}
}

// create creates t's volume: in its location, or on its server (attached in the same request).
func (s *session) create(ctx context.Context, m *ansible.Module, snap *hz.Snapshot, o *CreateOptions, t createTask, it *Item, unread bool) error {
	req := hz.CreateOpts{Name: t.name, SizeGB: t.size, Location: t.location, Labels: t.labels, Format: t.format, Check: m.CheckMode, Unread: unread}
	if t.attachTo != "" {
		req.Location, req.Server, req.Automount = "", t.attachTo, o.Automount
	}
	res, err := s.client.Create(ctx, snap, req)
	if err != nil {
		return err
	}
	it.setOutcome(res.Outcome)
	after := &State{Name: t.name, Size: t.size, Location: t.location, Server: t.attachTo, Labels: t.labels}
	if res.Volume != nil {
		after = stateOf(snap, res.Volume)
	}
	if after.Labels == nil {
		after.Labels = map[string]string{}
	}
	it.describe(after)
	if it.changed {
		it.diff = volumeDiff(t.name, nil, after)
	}
	return nil
}

// update grows t's existing volume and sets its labels, as far as they differ from t.
func (s *session) update(ctx context.Context, m *ansible.Module, snap *hz.Snapshot, t createTask, it *Item) error {
	after := *t.before
	var actions []hz.Outcome
	if t.size > t.before.Size {
		res, err := s.client.Resize(ctx, snap, hz.ResizeOpts{Name: t.name, SizeGB: t.size, Check: m.CheckMode})
		if err != nil {
			return err
		}
		actions = append(actions, res.Outcome)
		after.Size = t.size
	}
	if t.labels != nil && !maps.Equal(t.labels, t.before.Labels) {
		res, err := s.client.UpdateLabels(ctx, snap, hz.LabelsOpts{Name: t.name, Labels: t.labels, Check: m.CheckMode})
		if err != nil {
			return err
		}
		actions = append(actions, res.Outcome)
		after.Labels = maps.Clone(t.labels)
	}
	it.setOutcome(hz.OutcomeExists)
	// The first change names the item (a resize says more than a label update); each counts.
	for _, a := range actions {
		if a.Changed() {
			it.set(string(a), true)
			break
		}
	}
	it.describe(&after)
	if it.changed {
		it.diff = volumeDiff(t.name, t.before, &after)
	}
	return nil
}

// formatOf is the volume's filesystem, "" when unformatted.
func formatOf(v *hcloud.Volume) string {
	if v == nil || v.Format == nil {
		return ""
	}
	return *v.Format
}

// createIdent is what a create item shows before it runs.
func createIdent(t createTask) Item {
	it := Item{Volume: t.name, Size: t.size, Location: t.location, Server: t.attachTo, Host: t.host}
	it.describe(t.before)
	return it
}
