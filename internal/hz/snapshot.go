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

// maxListPages bounds a listing: 50,000 items, far beyond a project's limits, so a listing
// whose pages never end (a broken API or proxy) is an error, not a hang.
const maxListPages = 1000

// SnapshotOpts say what a Snapshot must know.
type SnapshotOpts struct {
	// Volumes are the names of the volumes the call works on.
	Volumes []string
	// Servers are the names of servers the call attaches to or creates on. The servers that
	// the volumes are attached to are looked up too, for their names.
	Servers []string
	// AllVolumes lists every volume of the project (or of LabelSelector), e.g. for info.
	AllVolumes bool
	// ServerHints are servers the volumes are probably attached to (those a detach or delete
	// list names): read only when a volume is attached to a server not otherwise known.
	ServerHints []string
	// IDs are volumes also designated by id: when one is not among the volumes the names led
	// to, every volume is listed, so that a renamed volume is recognised, not taken as absent.
	IDs []int64
	// Positions are where volumes of IDs stood (1 first) among the project's volumes in id
	// order when an earlier read of the run listed them all (kbv3_volume_info): the pages that
	// held them are read first, so that a batch whose volumes are far down the listing costs
	// one page, not the first page and then theirs. A hint only: a volume not found there is
	// looked for as if there were no hint (it moved if volumes before it were deleted).
	Positions []int
	// LabelSelector restricts the volume listing (when names are not looked up one by one):
	// a volume outside it is then absent from the snapshot even if its name was asked for.
	LabelSelector string
	// Known are servers the caller has already read, so that the snapshot does not read them
	// again: kbv3_volume_info resolves every server of a reset once, and each batch after it
	// would otherwise list the servers anew. A known server counts as looked up under its name.
	Known []KnownServer
}

// NeedServer adds a server the call works with: as Known when an earlier read of the run gave
// its id and location, to be looked up otherwise.
func (o *SnapshotOpts) NeedServer(name string, id int64, location string) {
	if id > 0 && location != "" {
		o.Known = append(o.Known, KnownServer{ID: id, Name: name, Location: location})
		return
	}
	o.Servers = append(o.Servers, name)
}

// KnownServer is a server as an earlier read of the same run found it. ID is what attaches
// use, Name what results show, Location (optional) where volumes for it are created.
type KnownServer struct {
	ID       int64
	Name     string
	Location string
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

// newSnapshot is an empty snapshot, its maps made: the one constructor of both a read
// (Client.Snapshot) and a recorded (Recorded) snapshot.
func newSnapshot() *Snapshot {
	return &Snapshot{
		volumes:      map[string]*hcloud.Volume{},
		servers:      map[string]*hcloud.Server{},
		serverNames:  map[int64]string{},
		lookedUp:     map[string]bool{},
		serverLooked: map[string]bool{},
	}
}

// Snapshot reads the volumes and servers opts name, with list requests only, as few as the
// names and the size of the project allow (see lister.read).
func (c *Client) Snapshot(ctx context.Context, opts SnapshotOpts) (*Snapshot, error) {
	if opts.LabelSelector != "" {
		// Names looked up one by one would ignore the selector.
		opts.AllVolumes = true
	}
	s := newSnapshot()
	s.labelSelector = opts.LabelSelector
	if err := c.readVolumes(ctx, s, opts); err != nil {
		return nil, err
	}
	for _, k := range opts.Known {
		sv := &hcloud.Server{ID: k.ID, Name: k.Name}
		if k.Location != "" {
			sv.Location = &hcloud.Location{Name: k.Location}
		}
		s.addServer(sv)
		s.serverLooked[k.Name] = true
	}
	servers := c.serverLister()
	if err := c.readServers(ctx, s, servers, opts.Servers); err != nil {
		return nil, err
	}
	if err := c.nameServers(ctx, s, servers, opts); err != nil {
		return nil, err
	}
	return s, nil
}

// readVolumes reads the volumes opts names (or all of them) into s.
func (c *Client) readVolumes(ctx context.Context, s *Snapshot, opts SnapshotOpts) error {
	volumes := lister[*hcloud.Volume]{
		what: "volumes",
		page: func(ctx context.Context, n int) ([]*hcloud.Volume, *hcloud.Response, error) {
			// In id order, said rather than assumed: the reset sends its old volumes in that order
			// so that a delete batch finds them all on the first page.
			return c.hc.Volume.List(ctx, hcloud.VolumeListOpts{
				ListOpts: hcloud.ListOpts{Page: n, PerPage: listPageSize, LabelSelector: opts.LabelSelector},
				Sort:     []string{"id:asc"},
			})
		},
		lookup: c.volumeByName,
		name:   func(v *hcloud.Volume) string { return v.Name },
		id:     func(v *hcloud.Volume) int64 { return v.ID },
	}
	names := unique(opts.Volumes)
	for _, n := range names {
		s.lookedUp[n] = true
	}
	vols, all, err := volumes.read(ctx, c, names, opts.IDs, pagesOf(opts.Positions), opts.AllVolumes)
	if err != nil {
		return err
	}
	if !all && missingID(vols, opts.IDs) {
		// An id whose volume no name led to (renamed, or gone) can only be told apart by
		// reading every volume.
		if vols, all, err = volumes.read(ctx, c, nil, nil, nil, true); err != nil {
			return err
		}
	}
	for _, v := range vols {
		s.volumes[v.Name] = v
	}
	s.allVolumes = all
	return nil
}

// missingID reports whether one of ids is not the id of any of vols.
func missingID(vols []*hcloud.Volume, ids []int64) bool {
	found := map[int64]bool{}
	for _, v := range vols {
		found[v.ID] = true
	}
	for _, id := range ids {
		if !found[id] {
			return true
		}
	}
	return false
}

func (c *Client) serverLister() lister[*hcloud.Server] {
	return lister[*hcloud.Server]{
		what: "servers",
		page: func(ctx context.Context, n int) ([]*hcloud.Server, *hcloud.Response, error) {
			return c.hc.Server.List(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{Page: n, PerPage: listPageSize}})
		},
		lookup: c.serverByName,
		name:   func(sv *hcloud.Server) string { return sv.Name },
	}
}

// readServers reads the servers of those names that s does not know yet.
func (c *Client) readServers(ctx context.Context, s *Snapshot, servers lister[*hcloud.Server], names []string) error {
	names = slices.DeleteFunc(unique(names), func(n string) bool { return s.servers[n] != nil })
	for _, n := range names {
		s.serverLooked[n] = true
	}
	svs, all, err := servers.read(ctx, c, names, nil, nil, false)
	if err != nil {
		return err
	}
	s.addServers(svs, all)
	return nil
}

// nameServers reads the servers that the volumes the call is about are attached to, when s
// does not know their names yet.
func (c *Client) nameServers(ctx context.Context, s *Snapshot, servers lister[*hcloud.Server], opts SnapshotOpts) error {
	// The volumes the call is about, not the others a page happened to hold: only their
	// servers need a name.
	asked := func(v *hcloud.Volume) bool {
		return opts.AllVolumes || s.lookedUp[v.Name] || slices.Contains(opts.IDs, v.ID)
	}
	// A volume attached to a server nobody named needs that server's name: the hints first
	// (the servers a list says the volumes are on), then, if a name is still missing, the
	// listing, which alone maps an id to a name. Volumes attached to no server cost nothing.
	for _, names := range [][]string{unique(opts.ServerHints), nil} {
		if s.allServers || !s.unnamedServers(asked) {
			break
		}
		svs, all, err := servers.read(ctx, c, names, nil, nil, names == nil)
		if err != nil {
			return err
		}
		for _, n := range names {
			s.serverLooked[n] = true
		}
		s.addServers(svs, all)
	}
	return nil
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

// addServers records servers read by a lister; complete says it read every server.
func (s *Snapshot) addServers(svs []*hcloud.Server, complete bool) {
	for _, sv := range svs {
		s.addServer(sv)
	}
	s.allServers = complete
}

// unnamedServers reports whether a volume the call asked for is attached to a server whose
// name is unknown.
func (s *Snapshot) unnamedServers(asked func(*hcloud.Volume) bool) bool {
	for _, v := range s.volumes {
		if v.Server != nil && s.serverNames[v.Server.ID] == "" && asked(v) {
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

// Position is where the volume of id stands (1 first) among the project's volumes in id order,
// the order of the listings: a hint for later reads (SnapshotOpts.Positions). 0 when the
// snapshot does not hold every volume of the project (a label selector, names looked up) or
// not that one.
func (s *Snapshot) Position(id int64) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.allVolumes || s.labelSelector != "" {
		return 0
	}
	pos, found := 1, false
	for _, v := range s.volumes {
		switch {
		case v.ID == id:
			found = true
		case v.ID < id:
			pos++
		}
	}
	if !found {
		return 0
	}
	return pos
}

// Volumes returns every known volume, sorted by name.
func (s *Snapshot) Volumes() []*hcloud.Volume {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return byName(s.volumes)
}

// byName returns the values of a map keyed by name, in the order of their names.
func byName[T any](m map[string]T) []T {
	out := make([]T, 0, len(m))
	for _, n := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[n])
	}
	return out
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
	if v.Format != nil {
		l.Format = *v.Format
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

// lister reads one kind of resource with list requests.
type lister[T any] struct {
	what   string
	page   func(ctx context.Context, n int) ([]T, *hcloud.Response, error)
	lookup func(ctx context.Context, name string) (T, error) // the zero T when there is none
	name   func(T) string
	// id, when set, says the pages are in id order (sort=id:asc), so that seek can find
	// the page of an id.
	id func(T) int64
}

// read returns the items of names, or every item when all is asked, with the fewest list
// requests it can tell: a few names are looked up one by one (GET ?name=); otherwise the first
// page of 50 is read, and then, for the names it did not hold, whichever is cheaper: one
// lookup each, or the remaining pages. So a call on 10 volumes costs 2 pages in a project of
// 88, and 1 + 10 lookups in a project of 1000, never a listing per item. When the ids of the
// names are known, the pages that hold them are sought first (seek), so that 10 volumes of
// neighbouring ids cost 2 or 3 pages in a project of any size; when an earlier listing gave
// the pages they are on (hint), those are read first, and 10 such volumes cost one page.
// complete reports whether every item was read.
func (l lister[T]) read(ctx context.Context, c *Client, names []string, ids []int64, hint []int, all bool) (items []T, complete bool, err error) {
	if !all && len(names) <= maxNameLookups {
		return l.lookupAll(ctx, names)
	}
	if !all && l.id != nil && len(hint) > 0 {
		found, rest, err := l.readHint(ctx, c, names, hint)
		if err != nil || len(rest) == 0 {
			return found, false, err
		}
		// Not where the hint said: looked for as without it.
		more, complete, err := l.read(ctx, c, rest, ids, nil, false)
		if complete {
			return more, true, err
		}
		return append(found, more...), false, err
	}
	missing := map[string]bool{}
	for _, n := range names {
		missing[n] = true
	}
	for n, last := 1, 1; n <= last; n++ {
		var got []T
		err := c.read(ctx, fmt.Sprintf("list %s (page %d)", l.what, n), func(ctx context.Context) (*hcloud.Response, error) {
			var resp *hcloud.Response
			var err error
			got, resp, err = l.page(ctx, n)
			if err == nil && resp != nil && resp.Meta.Pagination != nil {
				last = resp.Meta.Pagination.LastPage
			}
			return resp, err
		})
		if err != nil {
			return nil, false, err
		}
		items = append(items, got...)
		for _, it := range got {
			delete(missing, l.name(it))
		}
		if n == 1 && !all && last > 1 && len(missing) < last-1 {
			sought, err := l.seek(ctx, c, got, missing, ids, last)
			if err != nil {
				return nil, false, err
			}
			items = append(items, sought...)
			rest, _, err := l.lookupAll(ctx, slices.Sorted(maps.Keys(missing)))
			return append(items, rest...), false, err
		}
		if n >= maxListPages {
			return nil, false, fmt.Errorf("list %s: more than %d pages", l.what, maxListPages)
		}
	}
	return items, true, nil
}

// readHint reads the pages of hint (at most maxSeeks of them) and returns the items of names
// they hold, and the names they did not.
func (l lister[T]) readHint(ctx context.Context, c *Client, names []string, hint []int) (found []T, rest []string, err error) {
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	for _, p := range hint[:min(len(hint), maxSeeks)] {
		got, err := l.readPage(ctx, c, p)
		if err != nil {
			return nil, nil, err
		}
		for _, it := range got {
			if wanted[l.name(it)] {
				delete(wanted, l.name(it))
				found = append(found, it)
			}
		}
	}
	for _, n := range names {
		if wanted[n] {
			rest = append(rest, n)
		}
	}
	return found, rest, nil
}

// readPage reads page p of the listing, with the client's retries.
func (l lister[T]) readPage(ctx context.Context, c *Client, p int) ([]T, error) {
	var got []T
	err := c.read(ctx, fmt.Sprintf("list %s (page %d)", l.what, p), func(ctx context.Context) (*hcloud.Response, error) {
		var resp *hcloud.Response
		var err error
		got, resp, err = l.page(ctx, p)
		return resp, err
	})
	return got, err
}

// pagesOf is the pages of an id-ordered listing that hold positions (1 first), in order.
func pagesOf(positions []int) []int {
	var pages []int
	for _, p := range positions {
		if p > 0 {
			pages = append(pages, (p-1)/listPageSize+1)
		}
	}
	slices.Sort(pages)
	return slices.Compact(pages)
}

// maxSeeks bounds the pages seek reads: a wrong estimate costs at most this many requests
// more than looking every name up.
const maxSeeks = 2

// seek reads the pages an id-ordered listing holds the wanted ids on, estimated from where the
// pages read so far put their ids (first, page 1, gives the density of ids), at most maxSeeks
// of them, and deletes the names it finds from missing. What it does not find is left to the
// caller's lookups by name, so a volume is never taken as absent because a page missed it.
func (l lister[T]) seek(ctx context.Context, c *Client, first []T, missing map[string]bool, ids []int64, last int) ([]T, error) {
	if l.id == nil || len(ids) == 0 || len(first) < 2 {
		return nil, nil
	}
	// The first and last item of each page read.
	anchors := []anchor{{0, l.id(first[0])}, {int64(len(first) - 1), l.id(first[len(first)-1])}}
	read := map[int]bool{1: true}
	seen := map[int64]bool{}
	for _, it := range first {
		seen[l.id(it)] = true
	}
	var items []T
	for range maxSeeks {
		// The lowest wanted id not seen and outside the pages read: one inside a page read
		// is not in the listing (gone, or renamed), which the lookups by name settle.
		target := int64(-1)
		for _, id := range ids {
			if !seen[id] && !withinPages(anchors, id) && id > anchors[0].id && (target < 0 || id < target) {
				target = id
			}
		}
		if target < 0 || len(missing) == 0 {
			break
		}
		p := int(estimateRank(anchors, target)/listPageSize) + 1
		if p < 1 || p > last || read[p] {
			break // nothing better to read than what was read: lookups settle the rest
		}
		read[p] = true
		got, err := l.readPage(ctx, c, p)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			break
		}
		base := int64((p - 1) * listPageSize)
		anchors = append(anchors, anchor{base, l.id(got[0])}, anchor{base + int64(len(got)-1), l.id(got[len(got)-1])})
		slices.SortFunc(anchors, func(a, b anchor) int { return cmp.Compare(a.rank, b.rank) })
		for _, it := range got {
			seen[l.id(it)] = true
			if missing[l.name(it)] {
				delete(missing, l.name(it))
				items = append(items, it)
			}
		}
	}
	return items, nil
}

// anchor is where a listing in id order put an id: its rank (0 for the first item).
type anchor struct{ rank, id int64 }

// withinPages reports whether id lies between the first and last id of a page read; anchors
// hold each page's first and last item next to each other, sorted by rank.
func withinPages(anchors []anchor, id int64) bool {
	for i := 0; i+1 < len(anchors); i += 2 {
		if anchors[i].id <= id && id <= anchors[i+1].id {
			return true
		}
	}
	return false
}

// estimateRank places id in the listing by linear interpolation between the anchors around
// it (sorted by rank), or, beyond the last, at the density of the last page's two anchors.
func estimateRank(anchors []anchor, id int64) int64 {
	lo, hi := anchors[0], anchors[len(anchors)-1]
	if id >= hi.id {
		prev := anchors[max(0, len(anchors)-2)]
		if hi.id <= prev.id {
			return hi.rank
		}
		return hi.rank + (id-hi.id)*(hi.rank-prev.rank)/(hi.id-prev.id)
	}
	for _, a := range anchors {
		if a.id <= id {
			lo = a
		}
		if a.id > id {
			hi = a
			break
		}
	}
	if hi.id <= lo.id {
		return lo.rank
	}
	return lo.rank + (id-lo.id)*(hi.rank-lo.rank)/(hi.id-lo.id)
}

// lookupAll looks each name up; the names that do not exist are simply not in items.
func (l lister[T]) lookupAll(ctx context.Context, names []string) (items []T, complete bool, err error) {
	var zero T
	for _, n := range names {
		it, err := l.lookup(ctx, n)
		if err != nil {
			return nil, false, err
		}
		if any(it) != any(zero) {
			items = append(items, it)
		}
	}
	return items, false, nil
}
