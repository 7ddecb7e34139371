package sim

import (
	"net/http"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var volumeStatuses = []string{"available", "creating"}

func (s *Sim) listVolumes(w http.ResponseWriter, r *http.Request) {
	lq, err := parseListQuery(r.URL.Query(), []string{"id", "name", "created"}, volumeStatuses)
	if err != nil {
		writeError(w, err)
		return
	}
	items, meta := s.Store().listVolumes(volumeFilter{Name: lq.name, Selector: lq.selector, Statuses: lq.statuses}, lq.sort, lq.page)
	writeList(w, r, "volumes", items, meta)
}

func (s *Sim) getVolume(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "volume")
	if err == nil {
		var v schema.Volume
		if v, err = s.Store().getVolume(id); err == nil {
			writeJSON(w, http.StatusOK, schema.VolumeGetResponse{Volume: v})
			return
		}
	}
	writeError(w, err)
}

func (s *Sim) createVolume(w http.ResponseWriter, r *http.Request) {
	var req schema.VolumeCreateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	in := createVolumeInput{Name: req.Name, Size: req.Size, Location: req.Location, Format: req.Format}
	if req.Location != nil && req.Location.ID == 0 && req.Location.Name == "" {
		in.Location = nil
	}
	if req.Server != nil {
		in.Server = *req.Server
		if in.Server == 0 {
			writeError(w, errNotFound("server", 0))
			return
		}
	}
	if req.Labels != nil {
		in.Labels = *req.Labels
	}
	if req.Automount != nil {
		in.Automount = *req.Automount
	}
	resp, err := s.Store().createVolume(in, fateOf(r.Context()))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Sim) updateVolume(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "volume")
	if err != nil {
		writeError(w, err)
		return
	}
	var req schema.VolumeUpdateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	v, err := s.Store().updateVolume(id, req.Name, req.Labels)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, schema.VolumeUpdateResponse{Volume: v})
}

// deleteVolume answers 204 after the delete_volume time: the real DELETE is synchronous.
func (s *Sim) deleteVolume(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "volume")
	if err == nil {
		err = s.Store().deleteVolume(id)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.sleep(r, s.Store().ActionTime(CmdDeleteVolume))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) listVolumesActions(w http.ResponseWriter, r *http.Request) {
	s.writeActions(w, r, actionFilter{Type: "volume"})
}

// volumeSub is GET /v1/volumes/actions/{id} or GET /v1/volumes/{id}/actions.
func (s *Sim) volumeSub(w http.ResponseWriter, r *http.Request) { s.resourceSub(w, r, "volume") }

func (s *Sim) getVolumeAction(w http.ResponseWriter, r *http.Request) {
	s.getResourceAction(w, r, "volume")
}

// volumeAction decodes the body of a volume action into req and runs start with the volume id.
func volumeAction[T any](s *Sim, w http.ResponseWriter, r *http.Request, start func(id int64, req T, f fate) (schema.Action, error)) {
	id, err := pathID(r, "id", "volume")
	if err != nil {
		writeError(w, err)
		return
	}
	var req T
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	a, err := start(id, req, fateOf(r.Context()))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, schema.ActionGetResponse{Action: a})
}

func (s *Sim) attachVolume(w http.ResponseWriter, r *http.Request) {
	// automount is accepted and has no effect: the simulator has no operating system to mount in.
	volumeAction(s, w, r, func(id int64, req schema.VolumeActionAttachVolumeRequest, f fate) (schema.Action, error) {
		return s.Store().attachVolume(id, req.Server, f)
	})
}

func (s *Sim) detachVolume(w http.ResponseWriter, r *http.Request) {
	volumeAction(s, w, r, func(id int64, _ struct{}, f fate) (schema.Action, error) {
		return s.Store().detachVolume(id, f)
	})
}

func (s *Sim) resizeVolume(w http.ResponseWriter, r *http.Request) {
	volumeAction(s, w, r, func(id int64, req schema.VolumeActionResizeVolumeRequest, f fate) (schema.Action, error) {
		return s.Store().resizeVolume(id, req.Size, f)
	})
}

func (s *Sim) changeVolumeProtection(w http.ResponseWriter, r *http.Request) {
	volumeAction(s, w, r, func(id int64, req schema.VolumeActionChangeProtectionRequest, f fate) (schema.Action, error) {
		return s.Store().changeVolumeProtection(id, req.Delete, f)
	})
}
