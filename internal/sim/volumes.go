package sim

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// The API's limits on volumes. MaxVolumesPerServer is the documented "up to 16 volumes on each
// server" (docs.hetzner.com/cloud/volumes/faq; hetznercloud/csi-driver's MaxVolumesPerNode).
// Deliberately not plan.MinSizeGB and plan.MaxSizeGB: the simulator is an independent oracle
// of the API; TestVolumeRulesAgreeWithPlan holds the two copies equal.
const (
	MinVolumeSize       = 10
	MaxVolumeSize       = 10240
	MaxVolumesPerServer = 16
)

// volumeNameRe is the API's volume name rule, kept apart from kbv3's (plan.CheckVolumeName)
// on purpose, like the limits above, and compared with it by TestVolumeRulesAgreeWithPlan.
var volumeNameRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,62}[a-zA-Z0-9])?$`)

type volume struct {
	id      int64
	name    string
	size    int
	loc     *location
	server  *server // nil when detached
	status  string  // creating, available
	format  *string
	protect bool
	labels  map[string]string
	created time.Time
	running int // actions of this volume still running: the volume is locked while > 0
}

func (v *volume) toSchema() schema.Volume {
	out := schema.Volume{
		ID: v.id, Name: v.name, Status: v.status, Location: v.loc.Location, Size: v.size,
		Protection: schema.VolumeProtection{Delete: v.protect}, Labels: cloneLabels(v.labels),
		LinuxDevice: fmt.Sprintf("/dev/disk/by-id/scsi-0HC_Volume_%d", v.id), Created: apiTime(v.created),
	}
	if v.format != nil {
		f := *v.format
		out.Format = &f
	}
	if v.server != nil {
		id := v.server.id
		out.Server = &id
	}
	return out
}

// volumeFilter selects volumes for GET /volumes; zero fields select all.
type volumeFilter struct {
	Name     string
	Selector selector
	Statuses []string
}

func compareVolumes(a, b *volume, field string) int {
	switch field {
	case "name":
		return cmp.Compare(a.name, b.name)
	case "created":
		return a.created.Compare(b.created)
	}
	return cmp.Compare(a.id, b.id)
}

// listVolumes returns one page of the volumes that pass f. A name lookup is one map read, so
// the by-name lookups clients make for every volume stay cheap on large fleets.
func (s *Store) listVolumes(f volumeFilter, sort []sortKey, p pageReq) ([]schema.Volume, pagination) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	var items []*volume
	if f.Name != "" {
		if v, ok := s.volumeNames[f.Name]; ok {
			items = append(items, v)
		}
	} else {
		items = make([]*volume, 0, len(s.volumes))
		for _, v := range s.volumes {
			items = append(items, v)
		}
	}
	items = slices.DeleteFunc(items, func(v *volume) bool {
		return !f.Selector.matches(v.labels) || (len(f.Statuses) > 0 && !slices.Contains(f.Statuses, v.status))
	})
	sortItems(items, sort, compareVolumes, func(v *volume) int64 { return v.id })
	page, meta := paginate(items, p)
	out := make([]schema.Volume, len(page))
	for i, v := range page {
		out[i] = v.toSchema()
	}
	return out, meta
}

// getVolume returns not_found for an unknown id.
func (s *Store) getVolume(id int64) (schema.Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	v, ok := s.volumes[id]
	if !ok {
		return schema.Volume{}, errNotFound("volume", id)
	}
	return v.toSchema(), nil
}

// createVolumeInput is POST /volumes: exactly one of Server and Location.
type createVolumeInput struct {
	Name      string
	Size      int
	Server    int64
	Location  *schema.IDOrName
	Labels    map[string]string
	Automount bool
	Format    *string
}

func validateVolumeName(name string) error {
	if name == "" {
		return errInvalidInput("name", "is required")
	}
	if !volumeNameRe.MatchString(name) {
		return errInvalidInput("name", "must consist of letters, digits, '-', '_' and '.', start and end with a letter or digit, and have at most 64 characters")
	}
	return nil
}

// createVolume creates a volume in status creating with a create_volume action; with a server,
// the volume goes to the server's location and an attach_volume action, which begins when the
// creation ends, comes back in next_actions. It returns invalid_input for a bad name, size,
// format, labels or location, uniqueness_error for a name in use, not_found for an unknown
// server, locked when an attach or detach on that server is running, and
// resource_limit_exceeded when the server already holds MaxVolumesPerServer volumes.
func (s *Store) createVolume(in createVolumeInput, f fate) (schema.VolumeCreateResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	if err := validateVolumeName(in.Name); err != nil {
		return schema.VolumeCreateResponse{}, err
	}
	if in.Size < MinVolumeSize || in.Size > MaxVolumeSize {
		return schema.VolumeCreateResponse{}, errInvalidInput("size", fmt.Sprintf("must be between %d and %d", MinVolumeSize, MaxVolumeSize))
	}
	if in.Format != nil && *in.Format != "xfs" && *in.Format != "ext4" {
		return schema.VolumeCreateResponse{}, errInvalidInput("format", "must be xfs or ext4")
	}
	if err := validateLabels(in.Labels); err != nil {
		return schema.VolumeCreateResponse{}, err
	}
	var loc *location
	var sv *server
	switch {
	case in.Server != 0 && in.Location != nil:
		return schema.VolumeCreateResponse{}, errInvalidInput("location", "give either server or location, not both")
	case in.Server != 0:
		var ok bool
		if sv, ok = s.servers[in.Server]; !ok {
			return schema.VolumeCreateResponse{}, errNotFound("server", in.Server)
		}
		loc = sv.loc
	case in.Location != nil:
		if loc = s.locationByRef(*in.Location); loc == nil {
			return schema.VolumeCreateResponse{}, errInvalidInput("location", "unknown location")
		}
	default:
		return schema.VolumeCreateResponse{}, errInvalidInput("location", "location or server is required")
	}
	if in.Automount && sv == nil {
		return schema.VolumeCreateResponse{}, errInvalidInput("automount", "requires server")
	}
	if _, taken := s.volumeNames[in.Name]; taken {
		return schema.VolumeCreateResponse{}, errUniqueness("name")
	}
	if sv != nil && sv.locked(now) {
		return schema.VolumeCreateResponse{}, errLocked("server", sv.id)
	}
	if sv != nil && sv.volumeCount() >= MaxVolumesPerServer {
		return schema.VolumeCreateResponse{}, errTooManyVolumes(sv)
	}

	v := &volume{
		id: s.ids.NextID(kindVolume), name: in.Name, size: in.Size, loc: loc, status: "creating",
		format: in.Format, labels: cloneLabels(in.Labels), created: now,
	}
	s.volumes[v.id] = v
	s.volumeNames[v.name] = v
	v.running++
	create := s.startAction(&action{
		command:   CmdCreateVolume,
		resources: []schema.ActionResourceReference{{ID: v.id, Type: "volume"}},
		apply: func() error {
			v.status = "available"
			return nil
		},
		rollback: func() { s.removeVolume(v) },
		release:  func() { v.running-- },
	}, now, f)
	resp := schema.VolumeCreateResponse{Volume: v.toSchema(), NextActions: []schema.Action{}}
	if sv != nil {
		attachFate := fateNormal
		if f == fateStuck {
			attachFate = fateStuck
		}
		attach := s.startAttach(v, sv, now, create, attachFate)
		resp.NextActions = append(resp.NextActions, attach.toSchema(now))
	}
	a := create.toSchema(now)
	resp.Action = &a
	return resp, nil
}

// startAttach starts an attach_volume of v to sv, whose work begins when after ends (nil: at
// once). The caller holds s.mu and has checked the rules. The server counts as locked from the
// begin to the end.
func (s *Store) startAttach(v *volume, sv *server, now time.Time, after *action, f fate) *action {
	v.running++
	a := &action{
		command:   CmdAttachVolume,
		resources: []schema.ActionResourceReference{{ID: v.id, Type: "volume"}, {ID: sv.id, Type: "server"}},
		after:     after,
	}
	a.apply = func() error {
		if s.volumes[v.id] != v {
			return &Error{Code: "action_failed", Message: "volume no longer exists"}
		}
		if s.servers[sv.id] != sv {
			return &Error{Code: "action_failed", Message: "server no longer exists"}
		}
		v.server = sv
		sv.volumes = append(sv.volumes, v)
		return nil
	}
	a.release = func() {
		v.running--
		sv.unbusy(a)
	}
	sv.busy = append(sv.busy, a)
	return s.startAction(a, now, f)
}

// removeVolume drops v from the indexes. The caller holds s.mu.
func (s *Store) removeVolume(v *volume) {
	if s.volumes[v.id] != v {
		return
	}
	delete(s.volumes, v.id)
	delete(s.volumeNames, v.name)
	if v.server != nil {
		v.server.detachVolume(v)
	}
}

// updateVolume changes the name and/or replaces the labels (nil: unchanged). It returns
// not_found, invalid_input for a bad name or labels, and uniqueness_error for a name in use by
// another volume.
func (s *Store) updateVolume(id int64, name string, labels *map[string]string) (schema.Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	v, ok := s.volumes[id]
	if !ok {
		return schema.Volume{}, errNotFound("volume", id)
	}
	if name != "" && name != v.name {
		if err := validateVolumeName(name); err != nil {
			return schema.Volume{}, err
		}
		if _, taken := s.volumeNames[name]; taken {
			return schema.Volume{}, errUniqueness("name")
		}
	}
	if labels != nil {
		if err := validateLabels(*labels); err != nil {
			return schema.Volume{}, err
		}
	}
	if name != "" && name != v.name {
		delete(s.volumeNames, v.name)
		v.name = name
		s.volumeNames[name] = v
	}
	if labels != nil {
		v.labels = cloneLabels(*labels)
	}
	return v.toSchema(), nil
}

// deleteVolume removes a volume at once (the API answers 204, no action). It returns
// not_found, locked while an action of the volume runs, protected (423) when delete protection
// is on, and service_error while the volume is attached.
func (s *Store) deleteVolume(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	v, ok := s.volumes[id]
	switch {
	case !ok:
		return errNotFound("volume", id)
	case v.running > 0:
		return errLocked("volume", v.id)
	case v.protect:
		return errProtected("volume", v.id)
	case v.server != nil:
		return errServiceError(fmt.Sprintf("volume %d is still attached to server %d, detach it first", v.id, v.server.id))
	}
	s.removeVolume(v)
	return nil
}

// attachVolume starts attaching a volume to a server in its location. It returns
// not_found for an unknown volume or server, locked while an action of the volume runs or an
// attach/detach on the server runs, volume_already_attached when it is attached (to any
// server), invalid_input when the server is in another location, and resource_limit_exceeded
// when the server already holds (or is getting) MaxVolumesPerServer volumes.
func (s *Store) attachVolume(id, serverID int64, f fate) (schema.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	v, ok := s.volumes[id]
	if !ok {
		return schema.Action{}, errNotFound("volume", id)
	}
	if serverID == 0 {
		return schema.Action{}, errInvalidInput("server", "is required")
	}
	sv, ok := s.servers[serverID]
	switch {
	case !ok:
		return schema.Action{}, errNotFound("server", serverID)
	case v.running > 0:
		return schema.Action{}, errLocked("volume", v.id)
	case v.server != nil:
		return schema.Action{}, &Error{Status: 422, Code: "volume_already_attached",
			Message: fmt.Sprintf("volume %d is already attached to server %d, detach it first", v.id, v.server.id)}
	case sv.loc != v.loc:
		return schema.Action{}, errInvalidInput("server", fmt.Sprintf("server is in %s, the volume in %s: a volume attaches only to a server in its location", sv.loc.Name, v.loc.Name))
	case sv.locked(now):
		return schema.Action{}, errLocked("server", sv.id)
	case sv.volumeCount() >= MaxVolumesPerServer:
		return schema.Action{}, errTooManyVolumes(sv)
	}
	return s.startAttach(v, sv, now, nil, f).toSchema(now), nil
}

// detachVolume starts detaching a volume from its server. It returns not_found, locked
// while an action of the volume or an attach/detach on its server runs, and invalid_input when
// the volume is not attached (an assumption: see docs/SIMULATOR.md).
func (s *Store) detachVolume(id int64, f fate) (schema.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	v, ok := s.volumes[id]
	switch {
	case !ok:
		return schema.Action{}, errNotFound("volume", id)
	case v.running > 0:
		return schema.Action{}, errLocked("volume", v.id)
	case v.server == nil:
		return schema.Action{}, &Error{Status: 422, Code: "invalid_input", Message: fmt.Sprintf("volume %d is not attached to a server", v.id)}
	case v.server.locked(now):
		return schema.Action{}, errLocked("server", v.server.id)
	}
	sv := v.server
	v.running++
	a := &action{
		command:   CmdDetachVolume,
		resources: []schema.ActionResourceReference{{ID: v.id, Type: "volume"}, {ID: sv.id, Type: "server"}},
	}
	a.apply = func() error {
		if v.server == sv {
			v.server = nil
			sv.detachVolume(v)
		}
		return nil
	}
	a.release = func() {
		v.running--
		sv.unbusy(a)
	}
	sv.busy = append(sv.busy, a)
	return s.startAction(a, now, f).toSchema(now), nil
}

// resizeVolume starts growing a volume. It returns not_found, locked while an action of the
// volume runs, and invalid_input for a size not above the current one or above the maximum.
func (s *Store) resizeVolume(id int64, size int, f fate) (schema.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	v, ok := s.volumes[id]
	switch {
	case !ok:
		return schema.Action{}, errNotFound("volume", id)
	case size <= v.size:
		return schema.Action{}, errInvalidInput("size", fmt.Sprintf("must be greater than the current size %d: volumes only grow", v.size))
	case size > MaxVolumeSize:
		return schema.Action{}, errInvalidInput("size", fmt.Sprintf("must be at most %d", MaxVolumeSize))
	case v.running > 0:
		return schema.Action{}, errLocked("volume", v.id)
	}
	v.running++
	return s.startAction(&action{
		command:   CmdResizeVolume,
		resources: []schema.ActionResourceReference{{ID: v.id, Type: "volume"}},
		apply: func() error {
			v.size = max(v.size, size)
			return nil
		},
		release: func() { v.running-- },
	}, now, f).toSchema(now), nil
}

// changeVolumeProtection starts a change_protection; del nil leaves it as it is. It
// returns not_found and locked while an action of the volume runs.
func (s *Store) changeVolumeProtection(id int64, del *bool, f fate) (schema.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	v, ok := s.volumes[id]
	switch {
	case !ok:
		return schema.Action{}, errNotFound("volume", id)
	case v.running > 0:
		return schema.Action{}, errLocked("volume", v.id)
	}
	v.running++
	return s.startAction(&action{
		command:   CmdChangeProtection,
		resources: []schema.ActionResourceReference{{ID: v.id, Type: "volume"}},
		apply: func() error {
			if del != nil {
				v.protect = *del
			}
			return nil
		},
		release: func() { v.running-- },
	}, now, f).toSchema(now), nil
}
