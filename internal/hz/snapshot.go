package hz

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/plan"
)

// maxNameLookups is how many names are looked up one by one (GET /volumes?name=X) before
// listing everything in pages of 50 is the cheaper way: two names cost two requests, and a
// fleet of up to 100 volumes costs two pages.
const maxNameLookups = 2

// listPageSize is the API's largest page.
const listPageSize = 50

// SnapshotOpts say what a Snapshot must know.
type SnapshotOpts struct {
	// Volumes are the names of the volumes the call works on.
	Volumes []string
	// Servers are the names of servers the call attaches to or creates on. The servers that
	// the volumes are attached to are looked up too, for their names.
	Servers []string
	// AllVolumes lists every volume of the project (or of LabelSelector), e.g. for info.
	AllVolumes bool
	// LabelSelector restricts the volume listing (when names are not looked up one by one):
	// a volume outside it is then absent from the snapshot even if its name was asked for.
	LabelSelector string
}

// Snapshot is the state of the volumes and servers a call touches, read once with list
// requests before any change. Operations decide against it and record their changes in it, so
// that nothing is read twice. It is safe for concurrent use. The *hcloud.Volume and
// *hcloud.Server values it returns are shared and must not be modified.
type Snapshot struct {
	mu            sync.RWMutex
	volumes       map[string]*hcloud.Volume
	servers       map[string]*hcloud.Server
	serverNames   map[int64]string
	lookedUp      map[string]bool // volume names asked for
	serverLooked  map[string]bool // server names asked for
	allVolumes    bool            // every volume (of the selector) is known
	allServers    bool
	labelSelector string
}

// Snapshot reads the volumes and servers opts name, with list requests only: for up to two
// names one GET ?name= each, otherwise every page of 50.
func (c *Client) Snapshot(ctx context.Context, opts SnapshotOpts) (*Snapshot, error) {
	s := &Snapshot{
		volumes:       map[string]*hcloud.Volume{},
		servers:       map[string]*hcloud.Server{},
		serverNames:   map[int64]string{},
		lookedUp:      map[string]bool{},
		serverLooked:  map[string]bool{},
		labelSelector: opts.LabelSelector,
	}
	names := unique(opts.Volumes)
	for _, n := range names {
		s.lookedUp[n] = true
	}
	if opts.AllVolumes || len(names) > maxNameLookups {
		var all []*hcloud.Volume
		err := c.read(ctx, "list volumes", func(ctx context.Context) (*hcloud.Response, error) {
			var err error
			all, err = c.hc.Volume.AllWithOpts(ctx, hcloud.VolumeListOpts{
				ListOpts: hcloud.ListOpts{PerPage: listPageSize, LabelSelector: opts.LabelSelector},
			})
			return nil, err
		})
		if err != nil {
			return nil, err
		}
		for _, v := range all {
			s.volumes[v.Name] = v
		}
		s.allVolumes = true
	} else {
		for _, n := range names {
			v, err := c.volumeByName(ctx, n)
			if err != nil {
				return nil, err
			}
			if v != nil {
				s.volumes[n] = v
			}
		}
	}

	servers := unique(opts.Servers)
	for _, n := range servers {
		s.serverLooked[n] = true
	}
	if len(servers) <= maxNameLookups {
		for _, n := range servers {
			sv, err := c.serverByName(ctx, n)
			if err != nil {
				return nil, err
			}
			if sv != nil {
				s.addServer(sv)
			}
		}
	}
	if len(servers) > maxNameLookups || s.unnamedServers() {
		var all []*hcloud.Server
		err := c.read(ctx, "list servers", func(ctx context.Context) (*hcloud.Response, error) {
			var err error
			all, err = c.hc.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{PerPage: listPageSize}})
			return nil, err
		})
		if err != nil {
			return nil, err
		}
		for _, sv := range all {
			s.addServer(sv)
		}
		s.allServers = true
	}
	return s, nil
}

// volumeByName is one GET /volumes?name=X; nil, nil when there is none.
func (c *Client) volumeByName(ctx context.Context, name string) (*hcloud.Volume, error) {
	var v *hcloud.Volume
	err := c.read(ctx, "look up volume "+name, func(ctx context.Context) (*hcloud.Response, error) {
		var (
			resp *hcloud.Response
			err  error
		)
		v, resp, err = c.hc.Volume.GetByName(ctx, name)
		return resp, err
	})
	return v, err
}

func (c *Client) serverByName(ctx context.Context, name string) (*hcloud.Server, error) {
	var sv *hcloud.Server
	err := c.read(ctx, "look up server "+name, func(ctx context.Context) (*hcloud.Response, error) {
		var (
			resp *hcloud.Response
			err  error
		)
		sv, resp, err = c.hc.Server.GetByName(ctx, name)
		return resp, err
	})
	return sv, err
}

func (s *Snapshot) addServer(sv *hcloud.Server) {
	s.servers[sv.Name] = sv
	s.serverNames[sv.ID] = sv.Name
}

// unnamedServers reports whether a known volume is attached to a server whose name is unknown.
func (s *Snapshot) unnamedServers() bool {
	for _, v := range s.volumes {
		if v.Server != nil && s.serverNames[v.Server.ID] == "" {
			return true
		}
	}
	return false
}

// Covers reports whether the snapshot knows whether the volume name exists: it was asked for,
// or every volume was listed.
func (s *Snapshot) Covers(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.allVolumes || s.lookedUp[name]
}

// Volume returns the volume of that name, or nil when it does not exist (or is not covered).
func (s *Snapshot) Volume(name string) *hcloud.Volume {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.volumes[name]
}

// VolumeByID returns the known volume with that id, or nil.
func (s *Snapshot) VolumeByID(id int64) *hcloud.Volume {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.volumes {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// Volumes returns every known volume, sorted by name.
func (s *Snapshot) Volumes() []*hcloud.Volume {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.SortedFunc(maps.Values(s.volumes), func(a, b *hcloud.Volume) int { return cmp.Compare(a.Name, b.Name) })
}

// Server returns the server of that name, or nil when it does not exist (or was not looked up).
func (s *Snapshot) Server(name string) *hcloud.Server {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.servers[name]
}

// ServerName returns the name of the server v is attached to: "" when v is detached, "#<id>"
// when the server is not known (it was deleted meanwhile).
func (s *Snapshot) ServerName(v *hcloud.Volume) string {
	if v == nil || v.Server == nil {
		return ""
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if n := s.serverNames[v.Server.ID]; n != "" {
		return n
	}
	return fmt.Sprintf("#%d", v.Server.ID)
}

// Live returns v as plain values, for plan's diff and the modules' results.
func (s *Snapshot) Live(v *hcloud.Volume) plan.Live {
	l := plan.Live{
		ID: v.ID, Name: v.Name, SizeGB: v.Size, Server: s.ServerName(v),
		Labels: v.Labels, Protected: v.Protection.Delete,
	}
	if v.Location != nil {
		l.Location = v.Location.Name
	}
	return l
}

// put records the state of a volume after a change.
func (s *Snapshot) put(v *hcloud.Volume) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.volumes[v.Name] = v
}

// remove records that a volume is gone.
func (s *Snapshot) remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.volumes, name)
}

// serverFor returns the server of that name, ErrNotInSnapshot when it was not looked up and
// ErrServerNotFound when it does not exist.
func (s *Snapshot) serverFor(name string) (*hcloud.Server, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sv := s.servers[name]; sv != nil {
		return sv, nil
	}
	if !s.allServers && !s.serverLooked[name] {
		return nil, fmt.Errorf("server %s: %w", name, ErrNotInSnapshot)
	}
	return nil, fmt.Errorf("server %s: %w", name, ErrServerNotFound)
}

func unique(names []string) []string {
	out := make([]string, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
