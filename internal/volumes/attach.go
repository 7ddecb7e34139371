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

// AttachOptions are the options of kbv3_volume_attach (plugins/modules/kbv3_volume_attach.yml).
type AttachOptions struct {
	Common    `mapstructure:",squash"`
	Name      string `mapstructure:"name"`
	Server    string `mapstructure:"server"`
	Automount bool   `mapstructure:"automount" ansible:"default=false"`
	Force     bool   `mapstructure:"force" ansible:"default=false"`
	// Lookup reads the volumes before attaching. The reset's attach stage turns it off for the
	// volumes its create stage made, whose entries carry the id that create reported: each is
	// attached at once, by id, and the API's refusals stand in for the checks a read would make
	// (hz.AttachOpts.ID). Entries without an id, force and check mode always read.
	Lookup  bool          `mapstructure:"lookup" ansible:"default=true"`
	Volumes []AttachEntry `mapstructure:"volumes"`
}

// AttachEntry is an entry of kbv3_volume_attach's volumes: a plan entry, or an entry of
// kbv3_volume_info's volume_diff.keep (hostname, volume, id, size_gb, location, server), so that
// the diff's output chains into the module as it is. Plan files stay strict: plan.Entry has no
// id or server, since there they could silently disagree with the names.
type AttachEntry struct {
	plan.Entry `mapstructure:",squash"`
	// ID, when set, must be the live volume's: the keep list saw that volume, and attaching
	// another volume of the same name would attach one nobody reviewed.
	ID int64 `mapstructure:"id"`
	// Server is where the entry's author saw the volume (the diff's keep list, a create's
	// result): the target is Hostname. It is informative for a volume that exists; for one that
	// does not exist yet it is where an earlier task (kbv3_volume_create with server) puts it,
	// which is what check mode predicts from.
	Server string `mapstructure:"server"`
}

// AttachSpec describes kbv3_volume_attach to the protocol.
var AttachSpec = ansible.Spec{
	Name:              "kbv3_volume_attach",
	MutuallyExclusive: [][]string{{"name", "volumes"}, {"server", "volumes"}},
	RequiredOneOf:     [][]string{{"name", "volumes"}},
	RequiredTogether:  [][]string{{"name", "server"}},
	// size_gb is informative here: a plan entry without one is still a volume to attach.
	Tags: map[string]string{"volumes.hostname": "required"},
}

// attachTask is one volume to attach to its server, decided against the snapshot.
type attachTask struct {
	where     string // how errors name it
	name      string
	server    string
	automount bool // the entry's own automount (the option applies to all)
	// serverID and location are the server's, when kbv3_volume_info resolved them already.
	serverID int64
	location string
	sv       *hcloud.Server
	id       int64 // the volume's id as the entry gives it; 0: any
	size     int   // the entry's size_gb (0: not given), for the log line of a volume not created yet
	labels   map[string]string
	// unread: attached by id without a read (AttachOptions.Lookup); before is then the volume
	// as the entry describes it, created detached by an earlier task.
	unread bool
	// onServer is where the entry says the volume is; byCreate marks a volume that does not
	// exist yet in check mode and that an earlier task creates on onServer.
	onServer string
	byCreate bool
	v        *hcloud.Volume // nil: the volume does not exist (yet)
	before   *State
	move     bool // attached elsewhere, to be detached first
	err      error
	refused  bool // err is a refusal (the id differs), not a failure
}

// Attach attaches every volume to its server: attached, already_attached, moved (from another
// server, with force), or failed: attached elsewhere without force, volume and server in
// different locations, a missing server or, in a real run, a missing volume. In check mode a
// volume that does not exist yet is would_attach: the create stage before this one would have
// created it (detached: plan entries are), and --check of the whole reset predicts every stage.
// An entry that gives the volume a server, as a create with server reports it even in check
// mode, is predicted from there: already_attached when it is the entry's host, as the real run
// finds it after that create.
func Attach(ctx context.Context, m *ansible.Module, o *AttachOptions) (*ansible.Result, error) {
	ctx, s, done, err := o.open(ctx, m)
	if err != nil {
		return nil, err
	}
	defer done()
	tasks, err := o.tasks()
	if err != nil {
		return nil, invalid(err)
	}
	var want hz.SnapshotOpts
	for i, t := range tasks {
		tasks[i].unread = !o.Lookup && !o.Force && !m.CheckMode && t.id != 0
		if !tasks[i].unread {
			want.Volumes = append(want.Volumes, t.name)
		}
		want.NeedServer(t.server, t.serverID, t.location)
	}
	snap, err := s.snapshot(ctx, want)
	if err != nil {
		return nil, err
	}
	for i := range tasks {
		o.decide(m, snap, &tasks[i])
	}

	items := runItems(ctx, s, tasks, attachIdent, func(ctx context.Context, t attachTask, it *Item) error {
		if t.err != nil {
			if t.refused {
				it.Action = ActionRefused
			}
			return t.err
		}
		if t.v == nil && t.byCreate {
			t.predictCreated(s, snap, it)
			return nil
		}
		if t.v == nil { // check mode only: decide failed it otherwise
			s.client.Predict(snap, t.name, t.server, t.size, hz.OutcomeWouldAttach)
			it.setOutcome(hz.OutcomeWouldAttach)
			it.diff = volumeDiff(t.name, nil, &State{Name: t.name, Location: it.Location, Server: t.server})
			return nil
		}
		after := *t.before
		after.Server = t.server
		if t.move {
			if m.CheckMode {
				s.client.Predict(snap, t.name, t.server, t.size, hz.Outcome(ActionWouldMove))
				it.set(ActionWouldMove, true)
				it.diff = volumeDiff(t.name, t.before, &after)
				return nil
			}
			res, err := s.client.Detach(ctx, snap, hz.DetachOpts{Name: t.name})
			if err != nil {
				return fmt.Errorf("detaching from %s to move it: %w", t.before.Server, err)
			}
			it.setOutcome(res.Outcome)
		}
		res, err := s.client.Attach(ctx, snap, hz.AttachOpts{Name: t.name, Server: t.server, Automount: hcloud.Ptr(o.Automount || t.automount), Check: m.CheckMode,
			ID: t.id, SizeGB: t.size, Location: t.before.Location, Unread: t.unread})
		if err != nil {
			return err
		}
		it.setOutcome(res.Outcome)
		if t.move {
			it.set(ActionMoved, true)
		}
		it.Server = t.server
		if it.changed {
			it.diff = volumeDiff(t.name, t.before, &after)
		}
		return nil
	})
	return result(m, items), nil
}

// tasks validates the options and turns them into one task per volume, before any request.
func (o *AttachOptions) tasks() ([]attachTask, error) {
	if o.Name != "" {
		t := attachTask{where: "volume " + o.Name, name: o.Name, server: o.Server}
		return []attachTask{t}, errors.Join(singleProblems(o.Name, o.Server, "", nil)...)
	}
	if len(o.Volumes) == 0 {
		return nil, nil
	}
	// size_gb is informative here: a plan entry without one is still a volume to attach.
	entries := make([]plan.Entry, len(o.Volumes))
	var errs []error
	for i, e := range o.Volumes {
		if e.SizeGB == 0 {
			e.SizeGB = plan.MinSizeGB
		}
		entries[i] = e.Entry
		if e.ID < 0 {
			errs = append(errs, fmt.Errorf("volumes[%d] (%s): id %d is not a volume id", i, e.Hostname, e.ID))
		}
	}
	tasks := make([]attachTask, len(o.Volumes))
	for i, e := range o.Volumes {
		tasks[i] = attachTask{where: fmt.Sprintf("volumes[%d] (%s)", i, e.Hostname), name: e.Name(), server: e.Hostname, serverID: e.ServerID,
			location: e.Location, id: e.ID, size: e.SizeGB, labels: e.Labels, automount: e.Automount, onServer: e.Server}
	}
	return tasks, errors.Join(append([]error{plan.New(entries).Validate()}, errs...)...)
}

// decide checks t against the snapshot. What it finds wrong fails this volume only.
func (o *AttachOptions) decide(m *ansible.Module, snap *hz.Snapshot, t *attachTask) {
	t.sv = snap.Server(t.server)
	t.v = snap.Volume(t.name)
	t.before = stateOf(snap, t.v)
	if t.sv == nil {
		t.err = fmt.Errorf("%s: server %s does not exist", t.where, t.server)
		return
	}
	if t.unread {
		t.v, t.before = t.described()
		return
	}
	switch {
	case t.v == nil && t.id != 0:
		// The entry saw a volume that is gone: no task of this run can bring that one back.
		t.err, t.refused = fmt.Errorf("%s: volume %s (id %d) does not exist any more; compute the diff again", t.where, t.name, t.id), true
		return
	case t.v == nil && !m.CheckMode:
		t.err = fmt.Errorf("%s: volume %s does not exist; kbv3_volume_create creates it", t.where, t.name)
		return
	case t.v == nil && t.onServer != "":
		// Check mode: the entry says where the task that creates the volume puts it.
		t.byCreate = true
		if t.onServer != t.server && !o.Force {
			t.err = fmt.Errorf("%s: volume %s is to be created attached to %s (the entry's server), not %s; set force: true to move it", t.where, t.name, t.onServer, t.server)
		}
		t.move = t.onServer != t.server
		return
	case t.v == nil:
		if o.Name != "" {
			// A misspelt name would pass a check run silently and fail the real one. The single
			// form cannot tell a create with server (nothing left to do) from one without.
			m.Warn("volume %s does not exist: a real run fails unless an earlier task creates it (kbv3_volume_create), and changes nothing if that task gives it server: %s", t.name, t.server)
		}
		return
	case t.id != 0 && t.v.ID != t.id:
		t.err, t.refused = fmt.Errorf("%s: volume %s now has id %d, not %d as the entry says; compute the diff again", t.where, t.name, t.v.ID, t.id), true
		return
	}
	loc := hz.ServerLocation(t.sv)
	switch live := t.before; {
	case live.Server == t.server:
	case loc != "" && live.Location != loc:
		t.err = fmt.Errorf("%s: volume %s is in %s, server %s is in %s", t.where, t.name, live.Location, t.server, loc)
	case live.Server != "" && !o.Force:
		t.err = fmt.Errorf("%s: volume %s is attached to %s, not %s; set force: true to move it", t.where, t.name, live.Server, t.server)
	case live.Server != "":
		t.move = true
	}
}

// described is the volume of an unread task as its entry describes it: the one an earlier task
// created, detached, with the entry's size, labels and location (the server's by default).
func (t attachTask) described() (*hcloud.Volume, *State) {
	st := &State{Name: t.name, ID: t.id, Size: t.size, Location: cmp.Or(t.location, hz.ServerLocation(t.sv)), Labels: maps.Clone(t.labels)}
	if st.Labels == nil {
		st.Labels = map[string]string{}
	}
	return &hcloud.Volume{ID: t.id, Name: t.name, Size: t.size}, st
}

// predictCreated is the check-mode outcome of a volume that an earlier task creates attached to
// the server its entry names: already there, or moved from there (force).
func (t attachTask) predictCreated(s *session, snap *hz.Snapshot, it *Item) {
	if !t.move {
		s.client.Predict(snap, t.name, t.server, t.size, hz.OutcomeAlreadyAttached)
		it.setOutcome(hz.OutcomeAlreadyAttached)
		return
	}
	s.client.Predict(snap, t.name, t.server, t.size, hz.Outcome(ActionWouldMove))
	it.set(ActionWouldMove, true)
	before := &State{Name: t.name, Location: it.Location, Server: t.onServer}
	after := *before
	after.Server = t.server
	it.diff = volumeDiff(t.name, before, &after)
}

// attachIdent is what an attach item shows before it runs: the volume with the server it goes to.
func attachIdent(t attachTask) Item {
	it := Item{Volume: t.name, Host: t.server}
	it.describe(t.before)
	if it.Location == "" {
		it.Location = hz.ServerLocation(t.sv)
	}
	it.Server = t.server
	return it
}
