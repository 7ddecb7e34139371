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
	serverType serverType
	ipv4       string
	ipv4ID     int64
	ipv6       string // the /64 network, in CIDR form as python3-hcloud needs
	ipv6ID     int64
	volumes    []*volume // attached, in the order they were attached
	busy       []*action // running attach and detach actions on this server
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

type serverType struct {
	id     int64
	name   string
	cores  int
	memory float32
	disk   int
}

var serverTypes = map[string]serverType{
	"cx22":  {id: 104, name: "cx22", cores: 2, memory: 4, disk: 40},
	"cx32":  {id: 105, name: "cx32", cores: 4, memory: 8, disk: 80},
	"cx42":  {id: 106, name: "cx42", cores: 8, memory: 16, disk: 160},
	"cpx31": {id: 24, name: "cpx31", cores: 4, memory: 8, disk: 160},
	"ccx23": {id: 97, name: "ccx23", cores: 4, memory: 16, disk: 160},
}

// serverJSON is the API's server with every field the spec marks required. It is not
// schema.Server because that one lacks datacenter, which the CLI and python3-hcloud read.
type serverJSON struct {
	ID              int64                     `json:"id"`
	Name            string                    `json:"name"`
	Status          string                    `json:"status"`
	Created         time.Time                 `json:"created"`
	PublicNet       schema.ServerPublicNet    `json:"public_net"`
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

func (sv *server) toSchema(now time.Time) serverJSON {
	imgName, osVersion := "debian-12", "12"
	created := time.Date(2023, 6, 13, 7, 0, 0, 0, time.UTC)
	var zero uint64
	volumes := make([]int64, len(sv.volumes))
	for i, v := range sv.volumes {
		volumes[i] = v.id
	}
	st := sv.serverType
	return serverJSON{
		ID: sv.id, Name: sv.name, Status: sv.status, Created: apiTime(sv.created),
		PublicNet: schema.ServerPublicNet{
			IPv4:        schema.ServerPublicNetIPv4{ID: sv.ipv4ID, IP: sv.ipv4, DNSPtr: "static." + sv.ipv4 + ".clients.your-server.de"},
			IPv6:        schema.ServerPublicNetIPv6{ID: sv.ipv6ID, IP: sv.ipv6, DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}},
			FloatingIPs: []int64{},
			Firewalls:   []schema.ServerFirewall{},
		},
		PrivateNet: []schema.ServerPrivateNet{},
		ServerType: schema.ServerType{
			ID: st.id, Name: st.name, Description: upper(st.name), Cores: st.cores, Memory: st.memory, Disk: st.disk,
			StorageType: "local", CPUType: cpuType(st.name), Architecture: "x86", Category: "shared",
			Prices:    []schema.PricingServerTypePrice{},
			Locations: []schema.ServerTypeLocation{{ID: sv.loc.ID, Name: sv.loc.Name}},
		},
		Datacenter: sv.dc.toSchema(),
		Location:   sv.loc.Location,
		Image: &schema.Image{
			ID: 114690387, Status: "available", Type: "system", Name: &imgName, Description: "Debian 12",
			DiskSize: 5, Created: &created, OSFlavor: "debian", OSVersion: &osVersion, Architecture: "x86",
			RapidDeploy: true, Labels: map[string]string{},
		},
		Locked:          sv.locked(now),
		OutgoingTraffic: &zero,
		IngoingTraffic:  &zero,
		IncludedTraffic: 21990232555520,
		Labels:          cloneLabels(sv.labels),
		Volumes:         volumes,
		LoadBalancers:   []int64{},
		PrimaryDiskSize: st.disk,
	}
}

func cpuType(name string) string {
	if name[:3] == "ccx" {
		return "dedicated"
	}
	return "shared"
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func cloneLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ServerFilter selects servers for GET /servers; zero fields select all.
type ServerFilter struct {
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

// ListServers returns one page of the servers that pass f.
func (s *Store) ListServers(f ServerFilter, sort []sortKey, p pageReq) ([]serverJSON, pagination) {
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
		out[i] = sv.toSchema(now)
	}
	return out, meta
}

// GetServer MUST return not_found for an unknown id.
func (s *Store) GetServer(id int64) (serverJSON, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	sv, ok := s.servers[id]
	if !ok {
		return serverJSON{}, errNotFound("server", id)
	}
	return sv.toSchema(now), nil
}

// DeleteServer removes a server at once ("This immediately removes the Server from your
// account", the API's documentation says) and starts its delete_server action. The volumes
// attached to it are detached at once and stay locked until the action ends (an assumption:
// see docs/SIMULATOR.md). If the action fails (a fault), the server comes back with the
// volumes that are still free. It refuses with not_found, and with locked while an action of
// the server (create, an attach or detach) or of one of its volumes runs.
func (s *Store) DeleteServer(id int64, f fate) (schema.Action, error) {
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
