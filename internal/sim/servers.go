package sim

import (
	"cmp"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type server struct {
	id         int64
	name       string
	status     string
	created    time.Time
	loc        *location
	dc         *datacenter
	labels     map[string]string
	serverType *serverType
	image      *image
	ipv4       string
	ipv4ID     int64
	ipv6       string // the /64 network, in CIDR form as python3-hcloud needs
	ipv6ID     int64
	// protect is delete and rebuild protection: the API keeps the two equal.
	protect bool
	volumes []*volume // attached, in the order they were attached
	busy    []*action // running attach and detach actions on this server
}

// locked reports whether an attach or detach on the server is under way: the API refuses
// another one with 423 locked until it ends.
func (sv *server) locked(now time.Time) bool {
	for _, a := range sv.busy {
		if !now.Before(a.begin) {
			return true
		}
	}
	return false
}

// volumeCount is how many volumes the server holds, counting those an attach is under way for
// (or waits to begin for, after a create): what the limit of MaxVolumesPerServer applies to.
func (sv *server) volumeCount() int {
	n := len(sv.volumes)
	for _, a := range sv.busy {
		if a.command == CmdAttachVolume {
			n++
		}
	}
	return n
}

func (sv *server) detachVolume(v *volume) {
	sv.volumes = slices.DeleteFunc(sv.volumes, func(x *volume) bool { return x == v })
}

func (sv *server) unbusy(a *action) {
	sv.busy = slices.DeleteFunc(sv.busy, func(x *action) bool { return x == a })
}

// serverJSON is the API's server with every field the spec marks required. It is not
// schema.Server because that one lacks datacenter, which the CLI and python3-hcloud read.
type serverJSON struct {
	ID              int64                     `json:"id"`
	Name            string                    `json:"name"`
	Status          string                    `json:"status"`
	Created         time.Time                 `json:"created"`
	PublicNet       publicNetJSON             `json:"public_net"`
	PrivateNet      []schema.ServerPrivateNet `json:"private_net"`
	ServerType      schema.ServerType         `json:"server_type"`
	Datacenter      datacenterJSON            `json:"datacenter"`
	Location        schema.Location           `json:"location"`
	Image           *schema.Image             `json:"image"`
	ISO             *schema.ISO               `json:"iso"`
	RescueEnabled   bool                      `json:"rescue_enabled"`
	Locked          bool                      `json:"locked"`
	BackupWindow    *string                   `json:"backup_window"`
	OutgoingTraffic *uint64                   `json:"outgoing_traffic"`
	IngoingTraffic  *uint64                   `json:"ingoing_traffic"`
	IncludedTraffic uint64                    `json:"included_traffic"`
	Protection      schema.ServerProtection   `json:"protection"`
	Labels          map[string]string         `json:"labels"`
	Volumes         []int64                   `json:"volumes"`
	LoadBalancers   []int64                   `json:"load_balancers"`
	PrimaryDiskSize int                       `json:"primary_disk_size"`
	PlacementGroup  *schema.PlacementGroup    `json:"placement_group"`
}

// toSchema is the server as the API shows it; locs are the store's locations, for the ids in
// its server type.
// publicNetJSON is the server's public_net. Not schema.ServerPublicNet, whose ipv4 and ipv6
// cannot be null, as they are for a server created without them.
type publicNetJSON struct {
	IPv4        *schema.ServerPublicNetIPv4 `json:"ipv4"`
	IPv6        *schema.ServerPublicNetIPv6 `json:"ipv6"`
	FloatingIPs []int64                     `json:"floating_ips"`
	Firewalls   []schema.ServerFirewall     `json:"firewalls"`
}

func (sv *server) toSchema(now time.Time, locs []*location) serverJSON {
	var zero uint64
	volumes := make([]int64, len(sv.volumes))
	for i, v := range sv.volumes {
		volumes[i] = v.id
	}
	out := serverJSON{
		ID: sv.id, Name: sv.name, Status: sv.status, Created: apiTime(sv.created),
		PublicNet: publicNetJSON{
			FloatingIPs: []int64{},
			Firewalls:   []schema.ServerFirewall{},
		},
		PrivateNet:      []schema.ServerPrivateNet{},
		ServerType:      sv.serverType.toSchema(locs),
		Datacenter:      sv.dc.toSchema(),
		Location:        sv.loc.Location,
		Locked:          sv.locked(now),
		OutgoingTraffic: &zero,
		IngoingTraffic:  &zero,
		IncludedTraffic: sv.serverType.price(sv.loc.Name).IncludedTraffic,
		Labels:          cloneLabels(sv.labels),
		Volumes:         volumes,
		LoadBalancers:   []int64{},
		PrimaryDiskSize: sv.serverType.disk,
		Protection:      schema.ServerProtection{Delete: sv.protect, Rebuild: sv.protect},
	}
	// python3-hcloud reads public_net.ipv4/ipv6 as null or as objects with an id, and the ipv6
	// network in CIDR form.
	if sv.ipv4 != "" {
		out.PublicNet.IPv4 = &schema.ServerPublicNetIPv4{ID: sv.ipv4ID, IP: sv.ipv4, DNSPtr: "static." + sv.ipv4 + ".clients.your-server.de"}
	}
	if sv.ipv6 != "" {
		out.PublicNet.IPv6 = &schema.ServerPublicNetIPv6{ID: sv.ipv6ID, IP: sv.ipv6, DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}
	}
	if sv.image != nil {
		im := sv.image.toSchema()
		out.Image = &im
	}
	return out
}

func cloneLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// serverFilter selects servers for GET /servers; zero fields select all.
type serverFilter struct {
	Name     string
	Selector selector
	Statuses []string
}

func compareServers(a, b *server, field string) int {
	switch field {
	case "name":
		return cmp.Compare(a.name, b.name)
	case "created":
		return a.created.Compare(b.created)
	}
	return cmp.Compare(a.id, b.id)
}

// listServers returns one page of the servers that pass f.
func (s *Store) listServers(f serverFilter, sort []sortKey, p pageReq) ([]serverJSON, pagination) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	var items []*server
	if f.Name != "" {
		if sv, ok := s.serverNames[f.Name]; ok {
			items = append(items, sv)
		}
	} else {
		items = make([]*server, 0, len(s.servers))
		for _, sv := range s.servers {
			items = append(items, sv)
		}
	}
	items = slices.DeleteFunc(items, func(sv *server) bool {
		return !f.Selector.matches(sv.labels) || (len(f.Statuses) > 0 && !slices.Contains(f.Statuses, sv.status))
	})
	sortItems(items, sort, compareServers, func(sv *server) int64 { return sv.id })
	page, meta := paginate(items, p)
	out := make([]serverJSON, len(page))
	for i, sv := range page {
		out[i] = sv.toSchema(now, s.locations)
	}
	return out, meta
}

// getServer returns not_found for an unknown id.
func (s *Store) getServer(id int64) (serverJSON, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	sv, ok := s.servers[id]
	if !ok {
		return serverJSON{}, errNotFound("server", id)
	}
	return sv.toSchema(now, s.locations), nil
}

// deleteServer removes a server at once ("This immediately removes the Server from your
// account", the API's documentation says) and starts its delete_server action. The volumes
// attached to it are detached at once and stay locked until the action ends (an assumption:
// see docs/SIMULATOR.md). If the action fails (a fault), the server comes back with the
// volumes that are still free. It refuses with not_found, and with locked while an action of
// the server (create, an attach or detach) or of one of its volumes runs.
func (s *Store) deleteServer(id int64, f fate) (schema.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	sv, ok := s.servers[id]
	if !ok {
		return schema.Action{}, errNotFound("server", id)
	}
	if sv.locked(now) {
		return schema.Action{}, errLocked("server", sv.id)
	}
	if sv.protect {
		return schema.Action{}, errProtected("server", sv.id)
	}
	for _, v := range sv.volumes {
		if v.running > 0 {
			return schema.Action{}, errLocked("volume", v.id)
		}
	}
	delete(s.servers, sv.id)
	delete(s.serverNames, sv.name)
	detached := sv.volumes
	sv.volumes = nil
	for _, v := range detached {
		v.server = nil
		v.running++
	}
	return s.startAction(&action{
		command:   CmdDeleteServer,
		resources: []schema.ActionResourceReference{{ID: sv.id, Type: "server"}},
		rollback:  func() { s.restoreServer(sv, detached) },
		release: func() {
			for _, v := range detached {
				v.running--
			}
		},
	}, now, f).toSchema(now), nil
}

// restoreServer undoes a failed delete: the server returns unless its name was taken
// meanwhile, with those of its volumes that are still free. The caller holds s.mu.
func (s *Store) restoreServer(sv *server, volumes []*volume) {
	if _, taken := s.serverNames[sv.name]; taken {
		return
	}
	s.servers[sv.id] = sv
	s.serverNames[sv.name] = sv
	for _, v := range volumes {
		if s.volumes[v.id] == v && v.server == nil && v.loc == sv.loc {
			v.server = sv
			sv.volumes = append(sv.volumes, v)
		}
	}
}
