package volumes

import (
	"context"
	"errors"
	"fmt"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/plan"
)

// ref is a volume named by id, name or both: an entry of a detach or delete list, or the
// single-volume options (index -1). The other fields of the entry are what the list's reviewer
// saw (server, size_gb).
type ref struct {
	index int
	list  string // the list's name in messages; "" is the modules' option "volumes"
	plan.DeleteEntry
}

// String names the entry in errors as the playbook's author wrote it.
func (r ref) String() string {
	who := r.Name
	if who == "" {
		who = fmt.Sprintf("id %d", r.ID)
	}
	list := r.list
	if list == "" {
		list = "volumes"
	}
	switch {
	case r.Name == "" && r.ID == 0:
		return fmt.Sprintf("%s[%d]", list, r.index)
	case r.index < 0:
		return "volume " + who
	}
	return fmt.Sprintf("%s[%d] (%s)", list, r.index, who)
}

// refsOf validates the single-volume options (name, id) or the list, before any request, and
// returns one ref per volume. needBoth requires id and name together (delete).
func refsOf(name string, id int64, list []plan.DeleteEntry, single bool, needBoth bool) ([]ref, error) {
	var refs []ref
	if single {
		refs = []ref{{index: -1, DeleteEntry: plan.DeleteEntry{ID: id, Name: name}}}
	} else {
		for i, e := range list {
			refs = append(refs, ref{index: i, DeleteEntry: e})
		}
	}
	var errs []error
	names, ids := map[string]ref{}, map[int64]ref{}
	for _, r := range refs {
		what := "id"
		if r.index >= 0 {
			what = fmt.Sprintf("volumes[%d]: id", r.index)
		}
		switch {
		case r.ID < 0:
			errs = append(errs, fmt.Errorf("%s %d is not a volume id", what, r.ID))
		case needBoth && (r.ID == 0 || r.Name == ""):
			errs = append(errs, fmt.Errorf("%s: id and name are both required", r))
		case r.ID == 0 && r.Name == "":
			errs = append(errs, fmt.Errorf("%s: id or name is required", r))
		}
		if r.Name != "" {
			if err := plan.CheckVolumeName(r.Name); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r, err))
			}
		}
		switch {
		case r.ServerID < 0:
			errs = append(errs, fmt.Errorf("%s: server_id %d is not a server id", r, r.ServerID))
		case r.ServerID > 0 && r.Server == "":
			errs = append(errs, fmt.Errorf("%s: server_id needs server, the name it is the id of", r))
		}
		if r.Position < 0 {
			errs = append(errs, fmt.Errorf("%s: position %d is not a place in a listing (1 is the first)", r, r.Position))
		}
		if r.SizeGB != 0 && (r.SizeGB < plan.MinSizeGB || r.SizeGB > plan.MaxSizeGB) {
			errs = append(errs, fmt.Errorf("%s: size_gb %d is out of range %d..%d", r, r.SizeGB, plan.MinSizeGB, plan.MaxSizeGB))
		}
		if prev, dup := names[r.Name]; dup && r.Name != "" {
			errs = append(errs, fmt.Errorf("%s: name %s duplicates %s", r, r.Name, prev))
		} else {
			names[r.Name] = r
		}
		if prev, dup := ids[r.ID]; dup && r.ID > 0 {
			errs = append(errs, fmt.Errorf("%s: id %d duplicates %s", r, r.ID, prev))
		} else {
			ids[r.ID] = r
		}
	}
	return refs, errors.Join(errs...)
}

// refSnapshot says what the snapshot must hold for refs: their names, and their ids, which the
// snapshot checks against the volumes the names led to (listing every volume only when an id
// is not among them, for a volume renamed since the list was made). The servers the entries
// say the volumes were on are hints, read only for volumes still attached, so that their names
// cost no listing of every server; with their ids (server_id, from kbv3_volume_info) they are
// not read at all unless a volume turns out to be attached to another server.
func refSnapshot(refs []ref) hz.SnapshotOpts {
	var o hz.SnapshotOpts
	for _, r := range refs {
		switch {
		case r.Name == "":
			o.AllVolumes = true // an id alone is found only in the listing
		default:
			o.Volumes = append(o.Volumes, r.Name)
		}
		if r.ID != 0 {
			o.IDs = append(o.IDs, r.ID)
		}
		if r.Position > 0 {
			o.Positions = append(o.Positions, r.Position)
		}
		if r.Server != "" {
			o.ServerHints = append(o.ServerHints, r.Server)
			if r.ServerID > 0 {
				o.Known = append(o.Known, hz.KnownServer{ID: r.ServerID, Name: r.Server})
			}
		}
	}
	return o
}

// resolve finds the live volume r designates: nil when there is none. With id and name both
// given they must designate the same volume; a volume matching one but not the other is an
// error, never a guess.
func (r ref) resolve(s *hz.Snapshot) (*hcloud.Volume, error) {
	var byName, byID *hcloud.Volume
	if r.Name != "" {
		byName = s.Volume(r.Name)
	}
	if r.ID != 0 {
		byID = s.VolumeByID(r.ID)
	}
	switch {
	case r.Name == "":
		return byID, nil
	case r.ID == 0:
		return byName, nil
	case byID != nil && byID.Name != r.Name:
		return nil, fmt.Errorf("%s: the volume with id %d is now named %s, not %s", r, r.ID, byID.Name, r.Name)
	case byName != nil && byName.ID != r.ID:
		return nil, fmt.Errorf("%s: volume %s now has id %d, not %d", r, r.Name, byName.ID, r.ID)
	}
	return byName, nil
}

// resolveRefs resolves every ref, returning each one's volume (nil: absent) or refusal. Two
// refs that designate the same live volume (one by id, one by name) make the call invalid.
func resolveRefs(s *hz.Snapshot, refs []ref) ([]*hcloud.Volume, []error, error) {
	vols := make([]*hcloud.Volume, len(refs))
	refusals := make([]error, len(refs))
	seen := map[int64]ref{}
	var dups []error
	for i, r := range refs {
		vols[i], refusals[i] = r.resolve(s)
		if v := vols[i]; v != nil {
			if prev, dup := seen[v.ID]; dup {
				dups = append(dups, fmt.Errorf("%s and %s both designate volume %s (id %d)", prev, r, v.Name, v.ID))
			}
			seen[v.ID] = r
		}
	}
	return vols, refusals, errors.Join(dups...)
}

// located is an entry of a detach or delete list resolved against the snapshot.
type located struct {
	ref
	v       *hcloud.Volume // nil: absent
	before  *State
	refusal error // id and name designate different volumes
}

// locate validates the single-volume options or the list (needBoth: id and name together),
// reads one snapshot that covers them, and resolves every entry against it.
func (s *session) locate(ctx context.Context, name string, id int64, list []plan.DeleteEntry, needBoth bool) (*hz.Snapshot, []located, error) {
	refs, err := refsOf(name, id, list, name != "" || id != 0, needBoth)
	if err != nil {
		return nil, nil, invalid(err)
	}
	snap, err := s.snapshot(ctx, refSnapshot(refs))
	if err != nil {
		return nil, nil, err
	}
	vols, refusals, err := resolveRefs(snap, refs)
	if err != nil {
		return nil, nil, invalid(err)
	}
	out := make([]located, len(refs))
	for i, r := range refs {
		out[i] = located{ref: r, v: vols[i], before: stateOf(snap, vols[i]), refusal: refusals[i]}
	}
	return snap, out, nil
}

// invalid words the validation errors of a call as one line for msg.
func invalid(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(oneLine(err))
}
