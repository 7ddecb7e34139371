package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// patternVolumeSub serves both GET /v1/volumes/actions/{id} and GET /v1/volumes/{id}/actions:
// as two patterns they would overlap on /v1/volumes/actions/actions, which ServeMux refuses.
// patternServerSub does the same for servers.
const (
	patternVolumeSub = "GET /v1/volumes/{a}/{b}"
	patternServerSub = "GET /v1/servers/{a}/{b}"
)

func (s *Sim) apiRoutes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/servers", s.listServers)
	m.HandleFunc("POST /v1/servers", s.createServer)
	m.HandleFunc("GET /v1/servers/{id}", s.getServer)
	m.HandleFunc("PUT /v1/servers/{id}", s.updateServer)
	m.HandleFunc("DELETE /v1/servers/{id}", s.deleteServer)
	m.HandleFunc("POST /v1/servers/{id}/actions/change_protection", s.changeServerProtection)
	m.HandleFunc("POST /v1/servers/{id}/actions/{action}", s.serverPowerAction)
	m.HandleFunc("GET /v1/servers/actions", s.listServersActions)
	m.HandleFunc(patternServerSub, s.serverSub)
	m.HandleFunc("GET /v1/servers/{id}/actions/{action_id}", s.getServerAction)
	m.HandleFunc("GET /v1/server_types", s.listServerTypes)
	m.HandleFunc("GET /v1/server_types/{id}", s.getServerType)
	m.HandleFunc("GET /v1/images", s.listImages)
	m.HandleFunc("GET /v1/images/{id}", s.getImage)
	m.HandleFunc("GET /v1/locations", s.listLocations)
	m.HandleFunc("GET /v1/locations/{id}", s.getLocation)
	m.HandleFunc("GET /v1/datacenters", s.listDatacenters)
	m.HandleFunc("GET /v1/datacenters/{id}", s.getDatacenter)

	m.HandleFunc("GET /v1/volumes", s.listVolumes)
	m.HandleFunc("POST /v1/volumes", s.createVolume)
	m.HandleFunc("GET /v1/volumes/{id}", s.getVolume)
	m.HandleFunc("PUT /v1/volumes/{id}", s.updateVolume)
	m.HandleFunc("DELETE /v1/volumes/{id}", s.deleteVolume)
	m.HandleFunc("GET /v1/volumes/actions", s.listVolumesActions)
	m.HandleFunc(patternVolumeSub, s.volumeSub)
	m.HandleFunc("GET /v1/volumes/{id}/actions/{action_id}", s.getVolumeAction)
	m.HandleFunc("POST /v1/volumes/{id}/actions/attach", s.attachVolume)
	m.HandleFunc("POST /v1/volumes/{id}/actions/detach", s.detachVolume)
	m.HandleFunc("POST /v1/volumes/{id}/actions/resize", s.resizeVolume)
	m.HandleFunc("POST /v1/volumes/{id}/actions/change_protection", s.changeVolumeProtection)

	m.HandleFunc("GET /v1/actions", s.listActions)
	m.HandleFunc("GET /v1/actions/{id}", s.getAction)

	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeError(w, errNoRoute) })
	return m
}

// decodeBody reads a JSON request body into v. An empty body counts as {} (python3-hcloud
// sends none for detach). Broken JSON is json_error; a value of the wrong type is invalid_input
// naming the field.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errJSON(err.Error())
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			if field == "" {
				field = "body"
			}
			return errInvalidInput(field, "has the wrong type: "+typeErr.Value)
		}
		return errJSON(err.Error())
	}
	return nil
}

func pathID(r *http.Request, name, kind string) (int64, error) {
	raw := r.PathValue(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, errNotFound(kind, raw)
	}
	return id, nil
}

// listQuery is what every list reads from the query string.
type listQuery struct {
	page     pageReq
	sort     []sortKey
	statuses []string
	selector selector
	name     string
}

func parseListQuery(q url.Values, sortFields, statuses []string) (listQuery, error) {
	var lq listQuery
	var err error
	if lq.page, err = parsePage(q); err != nil {
		return lq, err
	}
	if lq.sort, err = parseSort(q["sort"], sortFields...); err != nil {
		return lq, err
	}
	if lq.selector, err = parseSelector(q.Get("label_selector")); err != nil {
		return lq, err
	}
	for _, st := range q["status"] {
		if !slices.Contains(statuses, st) {
			return lq, errInvalidInput("status", "invalid status '"+st+"'")
		}
		lq.statuses = append(lq.statuses, st)
	}
	lq.name = q.Get("name")
	return lq, nil
}

// writeList writes {"<key>": items, "meta": {"pagination": ...}} and the Link header.
func writeList[T any](w http.ResponseWriter, r *http.Request, key string, items []T, meta pagination) {
	if items == nil {
		items = []T{}
	}
	setLinkHeader(w, r, meta)
	writeJSON(w, http.StatusOK, map[string]any{key: items, "meta": listMeta{Pagination: meta}})
}

func (s *Sim) listLocations(w http.ResponseWriter, r *http.Request) {
	lq, err := parseListQuery(r.URL.Query(), []string{"id", "name"}, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	items, meta := s.Store().listLocations(lq.name, lq.sort, lq.page)
	writeList(w, r, "locations", items, meta)
}

func (s *Sim) getLocation(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "location")
	if err == nil {
		var l schema.Location
		if l, err = s.Store().getLocation(id); err == nil {
			writeJSON(w, http.StatusOK, schema.LocationGetResponse{Location: l})
			return
		}
	}
	writeError(w, err)
}

func (s *Sim) listDatacenters(w http.ResponseWriter, r *http.Request) {
	lq, err := parseListQuery(r.URL.Query(), []string{"id", "name"}, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	items, meta := s.Store().listDatacenters(lq.name, lq.sort, lq.page)
	// The API also names the recommended datacenter; clients read it only when creating servers.
	setLinkHeader(w, r, meta)
	writeJSON(w, http.StatusOK, map[string]any{"datacenters": items, "recommendation": recommendedDatacenter, "meta": listMeta{Pagination: meta}})
}

const recommendedDatacenter = 4

func (s *Sim) getDatacenter(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "datacenter")
	if err == nil {
		var d datacenterJSON
		if d, err = s.Store().getDatacenter(id); err == nil {
			writeJSON(w, http.StatusOK, map[string]any{"datacenter": d})
			return
		}
	}
	writeError(w, err)
}

var actionStatuses = []string{statusRunning, statusSuccess, statusError}

func parseActionIDs(q url.Values) ([]int64, error) {
	var ids []int64
	for _, raw := range q["id"] {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, errInvalidInput("id", "invalid id '"+raw+"'")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (s *Sim) writeActions(w http.ResponseWriter, r *http.Request, f actionFilter) {
	q := r.URL.Query()
	lq, err := parseListQuery(q, actionSortFields, actionStatuses)
	if err == nil {
		f.IDs, err = parseActionIDs(q)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	f.Statuses = lq.statuses
	items, meta, err := s.Store().listActions(f, lq.sort, lq.page)
	if err != nil {
		writeError(w, err)
		return
	}
	writeList(w, r, "actions", items, meta)
}

// resourceSub is GET /v1/{typ}s/actions/{id} or GET /v1/{typ}s/{id}/actions.
func (s *Sim) resourceSub(w http.ResponseWriter, r *http.Request, typ string) {
	switch {
	case r.PathValue("a") == "actions":
		id, err := pathID(r, "b", "action")
		if err == nil {
			var a schema.Action
			if a, err = s.Store().getAction(id, typ, 0); err == nil {
				writeJSON(w, http.StatusOK, schema.ActionGetResponse{Action: a})
				return
			}
		}
		writeError(w, err)
	case r.PathValue("b") == "actions":
		id, err := pathID(r, "a", typ)
		if err != nil {
			writeError(w, err)
			return
		}
		s.writeActions(w, r, actionFilter{Type: typ, ResourceID: id})
	default:
		writeError(w, errNoRoute)
	}
}

// getResourceAction is GET /v1/{typ}s/{id}/actions/{action_id}.
func (s *Sim) getResourceAction(w http.ResponseWriter, r *http.Request, typ string) {
	rid, err := pathID(r, "id", typ)
	if err == nil {
		var id int64
		if id, err = pathID(r, "action_id", "action"); err == nil {
			var a schema.Action
			if a, err = s.Store().getAction(id, typ, rid); err == nil {
				writeJSON(w, http.StatusOK, schema.ActionGetResponse{Action: a})
				return
			}
		}
	}
	writeError(w, err)
}

func (s *Sim) listActions(w http.ResponseWriter, r *http.Request) {
	s.writeActions(w, r, actionFilter{})
}

func (s *Sim) getAction(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "action")
	if err == nil {
		var a schema.Action
		if a, err = s.Store().getAction(id, "", 0); err == nil {
			writeJSON(w, http.StatusOK, schema.ActionGetResponse{Action: a})
			return
		}
	}
	writeError(w, err)
}
