package sim

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var serverStatuses = []string{"running", "initializing", "starting", "stopping", "off", "deleting", "migrating", "rebuilding", "unknown"}

func (s *Sim) listServers(w http.ResponseWriter, r *http.Request) {
	lq, err := parseListQuery(r.URL.Query(), []string{"id", "name", "created"}, serverStatuses)
	if err != nil {
		writeError(w, err)
		return
	}
	items, meta := s.Store().listServers(serverFilter{Name: lq.name, Selector: lq.selector, Statuses: lq.statuses}, lq.sort, lq.page)
	writeList(w, r, "servers", items, meta)
}

func (s *Sim) getServer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "server")
	if err == nil {
		var sv serverJSON
		if sv, err = s.Store().getServer(id); err == nil {
			writeJSON(w, http.StatusOK, map[string]any{"server": sv})
			return
		}
	}
	writeError(w, err)
}

// deleteServer answers 200 with the delete_server action, as the spec shapes it.
func (s *Sim) deleteServer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "server")
	if err == nil {
		var a schema.Action
		if a, err = s.Store().deleteServer(id, fateOf(r.Context())); err == nil {
			writeJSON(w, http.StatusOK, schema.ServerDeleteResponse{Action: a})
			return
		}
	}
	writeError(w, err)
}

// serverCreateRequest is the body of POST /servers. Not schema.ServerCreateRequest: that one
// takes location as a name only, while python3-hcloud sends ids, and has no datacenter.
type serverCreateRequest struct {
	Name             string             `json:"name"`
	ServerType       schema.IDOrName    `json:"server_type"`
	Image            schema.IDOrName    `json:"image"`
	Location         *schema.IDOrName   `json:"location"`
	Datacenter       *schema.IDOrName   `json:"datacenter"`
	StartAfterCreate *bool              `json:"start_after_create"`
	Labels           *map[string]string `json:"labels"`
	Automount        *bool              `json:"automount"`
	Volumes          []int64            `json:"volumes"`
	Networks         []int64            `json:"networks"`
	Firewalls        []struct {
		Firewall int64 `json:"firewall"`
	} `json:"firewalls"`
	SSHKeys        []schema.IDOrName `json:"ssh_keys"`
	PlacementGroup int64             `json:"placement_group"`
	UserData       string            `json:"user_data"`
	PublicNet      *struct {
		EnableIPv4 *bool `json:"enable_ipv4"`
		EnableIPv6 *bool `json:"enable_ipv6"`
		IPv4       int64 `json:"ipv4"`
		IPv6       int64 `json:"ipv6"`
	} `json:"public_net"`
}

func emptyRef(ref *schema.IDOrName) *schema.IDOrName {
	if ref == nil || (ref.ID == 0 && ref.Name == "") {
		return nil
	}
	return ref
}

func (req serverCreateRequest) input() createServerInput {
	in := createServerInput{
		Name: req.Name, ServerType: req.ServerType, Image: req.Image,
		Location: emptyRef(req.Location), Datacenter: emptyRef(req.Datacenter),
		StartAfterCreate: req.StartAfterCreate == nil || *req.StartAfterCreate,
		Automount:        req.Automount != nil && *req.Automount,
		Volumes:          req.Volumes, Networks: req.Networks, SSHKeys: req.SSHKeys,
		PlacementGroup: req.PlacementGroup, UserData: req.UserData,
		EnableIPv4: true, EnableIPv6: true,
	}
	if req.Labels != nil {
		in.Labels = *req.Labels
	}
	for _, f := range req.Firewalls {
		in.Firewalls = append(in.Firewalls, f.Firewall)
	}
	if pn := req.PublicNet; pn != nil {
		in.EnableIPv4 = pn.EnableIPv4 == nil || *pn.EnableIPv4
		in.EnableIPv6 = pn.EnableIPv6 == nil || *pn.EnableIPv6
		in.PrimaryIPv4, in.PrimaryIPv6 = pn.IPv4, pn.IPv6
	}
	return in
}

func (s *Sim) createServer(w http.ResponseWriter, r *http.Request) {
	var req serverCreateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.Store().createServer(req.input(), fateOf(r.Context()))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Sim) updateServer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "server")
	if err != nil {
		writeError(w, err)
		return
	}
	var req schema.ServerUpdateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	sv, err := s.Store().updateServer(id, req.Name, req.Labels)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"server": sv})
}

func (s *Sim) listServerTypes(w http.ResponseWriter, r *http.Request) {
	lq, err := parseListQuery(r.URL.Query(), []string{"id", "name"}, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	items, meta := s.Store().listServerTypes(lq.name, lq.sort, lq.page)
	writeList(w, r, "server_types", items, meta)
}

func (s *Sim) getServerType(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "server_type")
	if err == nil {
		var st schema.ServerType
		if st, err = s.Store().getServerType(id); err == nil {
			writeJSON(w, http.StatusOK, schema.ServerTypeGetResponse{ServerType: st})
			return
		}
	}
	writeError(w, err)
}

var (
	imageStatuses      = []string{"available", "creating", "unavailable"}
	imageTypes         = []string{"system", "app", "snapshot", "backup"}
	imageArchitectures = []string{"x86", "arm"}
)

// enumValues reads a repeatable query parameter whose values must be among allowed.
func enumValues(q url.Values, name string, allowed []string) ([]string, error) {
	for _, v := range q[name] {
		if !slices.Contains(allowed, v) {
			return nil, errInvalidInput(name, "invalid value '"+v+"'")
		}
	}
	return q[name], nil
}

func parseImageFilter(q url.Values) (imageFilter, listQuery, error) {
	lq, err := parseListQuery(q, []string{"id", "name", "created"}, imageStatuses)
	if err != nil {
		return imageFilter{}, lq, err
	}
	f := imageFilter{Name: lq.name, Statuses: lq.statuses, Selector: lq.selector, BoundTo: q["bound_to"]}
	if f.Architectures, err = enumValues(q, "architecture", imageArchitectures); err != nil {
		return f, lq, err
	}
	if f.Types, err = enumValues(q, "type", imageTypes); err != nil {
		return f, lq, err
	}
	// python3-hcloud sends Python's "True"; ParseBool takes it, as the API does.
	if raw := q.Get("include_deprecated"); raw != "" {
		if f.IncludeDeprecated, err = strconv.ParseBool(raw); err != nil {
			return f, lq, errInvalidInput("include_deprecated", "must be true or false")
		}
	}
	return f, lq, nil
}

func (s *Sim) listImages(w http.ResponseWriter, r *http.Request) {
	f, lq, err := parseImageFilter(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	items, meta := s.Store().listImages(f, lq.sort, lq.page)
	writeList(w, r, "images", items, meta)
}

func (s *Sim) getImage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "image")
	if err == nil {
		var im schema.Image
		if im, err = s.Store().getImage(id); err == nil {
			writeJSON(w, http.StatusOK, schema.ImageGetResponse{Image: im})
			return
		}
	}
	writeError(w, err)
}

func (s *Sim) listServersActions(w http.ResponseWriter, r *http.Request) {
	s.writeActions(w, r, actionFilter{Type: "server"})
}

// serverSub is GET /v1/servers/actions/{id} or GET /v1/servers/{id}/actions.
func (s *Sim) serverSub(w http.ResponseWriter, r *http.Request) { s.resourceSub(w, r, "server") }

func (s *Sim) getServerAction(w http.ResponseWriter, r *http.Request) {
	s.getResourceAction(w, r, "server")
}
