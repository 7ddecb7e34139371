package sim

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// createServerInput is POST /servers. References to resources the simulator does not hold
// (SSH keys, networks, firewalls, placement groups, primary IPs) are accepted only empty.
type createServerInput struct {
	Name       string
	ServerType schema.IDOrName
	Image      schema.IDOrName
	// At most one of Location and Datacenter; neither lets the API choose.
	Location, Datacenter *schema.IDOrName
	Labels               map[string]string
	StartAfterCreate     bool
	// Volumes are attached when the creation ends.
	Volumes    []int64
	Automount  bool
	EnableIPv4 bool
	EnableIPv6 bool
	UserData   string

	SSHKeys        []schema.IDOrName
	Networks       []int64
	Firewalls      []int64
	PlacementGroup int64
	PrimaryIPv4    int64
	PrimaryIPv6    int64
}

func refString(ref schema.IDOrName) string {
	if ref.Name != "" {
		return ref.Name
	}
	return fmt.Sprint(ref.ID)
}

// serverCreateJSON is the answer to POST /servers: schema.ServerCreateResponse but with the
// simulator's server, which has the datacenter the clients read.
type serverCreateJSON struct {
	Server       serverJSON      `json:"server"`
	Action       schema.Action   `json:"action"`
	NextActions  []schema.Action `json:"next_actions"`
	RootPassword *string         `json:"root_password"`
}

// serverNameRe is an RFC 1123 hostname, as the API asks of server names.
var serverNameRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

func validateServerName(name string) error {
	switch {
	case name == "":
		return errInvalidInput("name", "is required")
	case len(name) > 253 || !serverNameRe.MatchString(name):
		return errInvalidInput("name", "must be a valid hostname (RFC 1123): letters, digits and '-' in dot-separated parts of at most 63, not starting or ending with '-'")
	}
	return nil
}

const maxUserData = 32 << 10

// checkUnsimulated refuses references to resources the simulator has none of: such an id
// can only be unknown.
func (in createServerInput) checkUnsimulated() error {
	switch {
	case len(in.SSHKeys) > 0:
		return errNotFound("ssh_key", refString(in.SSHKeys[0]))
	case len(in.Networks) > 0:
		return errNotFound("network", in.Networks[0])
	case len(in.Firewalls) > 0:
		return errNotFound("firewall", in.Firewalls[0])
	case in.PlacementGroup != 0:
		return errNotFound("placement_group", in.PlacementGroup)
	case in.PrimaryIPv4 != 0:
		return errNotFound("primary_ip", in.PrimaryIPv4)
	case in.PrimaryIPv6 != 0:
		return errNotFound("primary_ip", in.PrimaryIPv6)
	}
	return nil
}

// placeServer resolves where a new server of type st goes: the location or datacenter asked
// for, or else the first location (fsn1 first) that sells the type.
func (s *Store) placeServer(in createServerInput, st *serverType) (*location, *datacenter, error) {
	var loc *location
	var dc *datacenter
	switch {
	case in.Location != nil && in.Datacenter != nil:
		return nil, nil, errInvalidInput("location", "give either location or datacenter, not both")
	case in.Location != nil:
		if loc = s.locationByRef(*in.Location); loc == nil {
			return nil, nil, errInvalidInput("location", "unknown location '"+refString(*in.Location)+"'")
		}
		dc = s.datacenterIn(loc)
	case in.Datacenter != nil:
		if dc = s.datacenterByRef(*in.Datacenter); dc == nil {
			return nil, nil, errInvalidInput("datacenter", "unknown datacenter '"+refString(*in.Datacenter)+"'")
		}
		loc = dc.loc
	default:
		for _, l := range s.locations {
			if st.availableIn(l.Name) {
				loc, dc = l, s.datacenterIn(l)
				break
			}
		}
	}
	if !st.availableIn(loc.Name) {
		return nil, nil, errInvalidInput("server_type", fmt.Sprintf("server type %s is not available in %s (only in %s)", st.name, loc.Name, strings.Join(st.locations, ", ")))
	}
	return loc, dc, nil
}

// volumesForServer checks the volumes a new server in loc is to get at creation.
func (s *Store) volumesForServer(ids []int64, loc *location) ([]*volume, error) {
	if len(ids) > MaxVolumesPerServer {
		return nil, errInvalidInput("volumes", fmt.Sprintf("a server holds at most %d volumes", MaxVolumesPerServer))
	}
	var out []*volume
	for _, id := range ids {
		v, ok := s.volumes[id]
		switch {
		case !ok:
			return nil, errNotFound("volume", id)
		case slices.Contains(out, v):
			return nil, errInvalidInput("volumes", fmt.Sprintf("volume %d is given twice", id))
		case v.running > 0:
			return nil, errLocked("volume", v.id)
		case v.server != nil:
			return nil, &Error{Status: 422, Code: "volume_already_attached",
				Message: fmt.Sprintf("volume %d is already attached to server %d, detach it first", v.id, v.server.id)}
		case v.loc != loc:
			return nil, errInvalidInput("volumes", fmt.Sprintf("volume %d is in %s, the server would be in %s", v.id, v.loc.Name, loc.Name))
		}
		out = append(out, v)
	}
	return out, nil
}

// createServer creates a server in status initializing with a create_server action and, unless
// StartAfterCreate is false, a start_server action in next_actions that begins when the
// creation ends. The server is locked until both end; then it is running (off when not
// started), with the given volumes attached. A failed creation removes the server. It returns
// invalid_input for a bad name, labels, user data, an unknown server type, image, location or
// datacenter, an image of another architecture than the type, or a type not sold in the
// location; uniqueness_error for a name in use; not_found for unknown volumes and for any
// SSH key, network, firewall, placement group or primary IP; and the volume rules of attach.
func (s *Store) createServer(in createServerInput, f fate) (serverCreateJSON, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	p, err := s.checkServer(in)
	if err != nil {
		return serverCreateJSON{}, err
	}
	sv := s.addServer(in, p, now)
	return s.startCreateServer(in, sv, p.volumes, now, f), nil
}

// serverPlacement is what checkServer resolved of a create request.
type serverPlacement struct {
	st      *serverType
	img     *image
	loc     *location
	dc      *datacenter
	volumes []*volume
}

// checkServer applies the rules of POST /servers and resolves its references. The caller
// holds s.mu.
func (s *Store) checkServer(in createServerInput) (serverPlacement, error) {
	var p serverPlacement
	if err := validateServerName(in.Name); err != nil {
		return p, err
	}
	if in.ServerType == (schema.IDOrName{}) {
		return p, errInvalidInput("server_type", "is required")
	}
	if in.Image == (schema.IDOrName{}) {
		return p, errInvalidInput("image", "is required")
	}
	if err := validateLabels(in.Labels); err != nil {
		return p, err
	}
	if len(in.UserData) > maxUserData {
		return p, errInvalidInput("user_data", fmt.Sprintf("must be at most %d bytes", maxUserData))
	}
	if p.st = serverTypeByRef(in.ServerType); p.st == nil {
		return p, errInvalidInput("server_type", "unknown server type '"+refString(in.ServerType)+"'")
	}
	st := p.st
	p.img = imageByRef(in.Image, st.architecture)
	switch {
	case p.img == nil && in.Image.ID == 0 && imageByRef(in.Image, "") != nil:
		return p, errInvalidInput("image", fmt.Sprintf("image %s has no %s variant for server type %s", in.Image.Name, st.architecture, st.name))
	case p.img == nil:
		return p, errInvalidInput("image", "unknown image '"+refString(in.Image)+"'")
	case p.img.architecture != st.architecture:
		// The real API's words (seen by docker-machine-driver-hetzner, issue 105).
		return p, errInvalidInput("image", fmt.Sprintf("image has incompatible architecture: image %d is %s, server type %s is %s", p.img.id, p.img.architecture, st.name, st.architecture))
	}
	var err error
	if p.loc, p.dc, err = s.placeServer(in, st); err != nil {
		return p, err
	}
	if err := in.checkUnsimulated(); err != nil {
		return p, err
	}
	if _, taken := s.serverNames[in.Name]; taken {
		return p, errUniqueness("name")
	}
	p.volumes, err = s.volumesForServer(in.Volumes, p.loc)
	return p, err
}

// addServer records a new server in status initializing with its addresses, and locks the
// volumes it is to get. The caller holds s.mu and has checked the request.
func (s *Store) addServer(in createServerInput, p serverPlacement, now time.Time) *server {
	sv := &server{
		id: s.ids.NextID(kindServer), name: in.Name, status: "initializing", created: now,
		loc: p.loc, dc: p.dc, labels: cloneLabels(in.Labels), serverType: p.st, image: p.img,
	}
	if in.EnableIPv4 {
		sv.ipv4ID = s.ids.NextID(kindIP)
		sv.ipv4 = ipv4For(p.loc.Name, sv.ipv4ID)
	}
	if in.EnableIPv6 {
		sv.ipv6ID = s.ids.NextID(kindIP)
		sv.ipv6 = ipv6For(sv.ipv6ID)
	}
	s.servers[sv.id] = sv
	s.serverNames[sv.name] = sv
	for _, v := range p.volumes {
		v.running++
	}
	return sv
}

// startCreateServer starts create_server and, when asked, the start_server that waits for it.
// The caller holds s.mu.
func (s *Store) startCreateServer(in createServerInput, sv *server, vols []*volume, now time.Time, f fate) serverCreateJSON {
	ref := []schema.ActionResourceReference{{ID: sv.id, Type: "server"}}
	create := &action{command: CmdCreateServer, resources: ref}
	create.apply = func() error {
		sv.status = "off"
		if in.StartAfterCreate {
			sv.status = "starting"
		}
		for _, v := range vols {
			if s.volumes[v.id] == v && v.server == nil {
				v.server = sv
				sv.volumes = append(sv.volumes, v)
			}
		}
		return nil
	}
	create.rollback = func() { s.removeServer(sv) }
	create.release = func() {
		for _, v := range vols {
			v.running--
		}
		sv.unbusy(create)
	}
	sv.busy = append(sv.busy, create)
	s.startAction(create, now, f)

	resp := serverCreateJSON{NextActions: []schema.Action{}, RootPassword: rootPassword(sv.id)}
	if in.StartAfterCreate {
		start := &action{command: CmdStartServer, resources: ref, after: create}
		start.apply = func() error {
			if s.servers[sv.id] != sv {
				return &Error{Code: "action_failed", Message: "server no longer exists"}
			}
			sv.status = "running"
			return nil
		}
		start.rollback = func() {
			if sv.status == "starting" {
				sv.status = "off"
			}
		}
		start.release = func() { sv.unbusy(start) }
		sv.busy = append(sv.busy, start)
		startFate := fateNormal
		if f == fateStuck {
			startFate = fateStuck
		}
		s.startAction(start, now, startFate)
		resp.NextActions = append(resp.NextActions, start.toSchema(now))
	}
	resp.Action = create.toSchema(now)
	resp.Server = sv.toSchema(now, s.locations)
	return resp
}

// removeServer drops a server whose creation failed, with nothing attached. The caller holds
// s.mu.
func (s *Store) removeServer(sv *server) {
	if s.servers[sv.id] != sv {
		return
	}
	delete(s.servers, sv.id)
	delete(s.serverNames, sv.name)
	for _, v := range sv.volumes {
		v.server = nil
	}
	sv.volumes = nil
}

// ipv4For and ipv6For give a new server addresses that look like its location's and are unique
// because they derive from the (unique) primary IP ids.
func ipv4For(loc string, id int64) string {
	return fmt.Sprintf("%s.%d.%d", ipv4Prefix[loc], (id>>8)&0xff, 1+(id&0xff)%254)
}

func ipv6For(id int64) string {
	return fmt.Sprintf("2a01:4f8:%x:%x::/64", 0xd000+(id>>16)&0xfff, id&0xffff)
}

// rootPassword is the password the API returns when no SSH key is given: random-looking, and
// the same for a server id every run.
func rootPassword(id int64) *string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	r := rand.New(rand.NewPCG(uint64(id), 0x726f6f74))
	b := make([]byte, 20)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	p := string(b)
	return &p
}

// updateServer changes the name and/or replaces the labels (nil: unchanged), as PUT
// /servers/{id}. It returns not_found, invalid_input for a bad name or labels, and
// uniqueness_error for a name in use by another server.
func (s *Store) updateServer(id int64, name string, labels *map[string]string) (serverJSON, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	sv, ok := s.servers[id]
	if !ok {
		return serverJSON{}, errNotFound("server", id)
	}
	rename := name != "" && name != sv.name
	if rename {
		if err := validateServerName(name); err != nil {
			return serverJSON{}, err
		}
		if _, taken := s.serverNames[name]; taken {
			return serverJSON{}, errUniqueness("name")
		}
	}
	if labels != nil {
		if err := validateLabels(*labels); err != nil {
			return serverJSON{}, err
		}
	}
	if rename {
		delete(s.serverNames, sv.name)
		sv.name = name
		s.serverNames[name] = sv
	}
	if labels != nil {
		sv.labels = cloneLabels(*labels)
	}
	return sv.toSchema(now, s.locations), nil
}
