package sim

import (
	"net/http"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// powerAction is one of the server's power actions: its command, the status while it runs
// ("" keeps the current one) and the status it leaves.
type powerAction struct {
	command, during, after string
}

// powerActions are POST /servers/{id}/actions/{name}. The simulated operating system honours
// ACPI, so a shutdown ends off like a poweroff, only slower.
var powerActions = map[string]powerAction{
	"poweron":  {CmdStartServer, "starting", "running"},
	"poweroff": {CmdStopServer, "stopping", "off"},
	"shutdown": {CmdShutdownServer, "stopping", "off"},
	"reboot":   {CmdRebootServer, "", "running"},
	"reset":    {CmdResetServer, "", "running"},
}

// startServerAction runs a power action or a protection change on a server, which stays
// locked until it ends: begin changes the server when the action is accepted, apply when it
// succeeds; a failed action restores the status the server had. It returns not_found, and
// locked while another action of the server runs.
func (s *Store) startServerAction(id int64, command string, begin, apply func(sv *server), f fate) (schema.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	sv, ok := s.servers[id]
	switch {
	case !ok:
		return schema.Action{}, errNotFound("server", id)
	case sv.locked(now):
		return schema.Action{}, errLocked("server", sv.id)
	}
	before := sv.status
	a := &action{command: command, resources: []schema.ActionResourceReference{{ID: sv.id, Type: "server"}}}
	a.apply = func() error {
		if s.servers[sv.id] != sv {
			return &Error{Code: "action_failed", Message: "server no longer exists"}
		}
		apply(sv)
		return nil
	}
	a.rollback = func() { sv.status = before }
	a.release = func() { sv.unbusy(a) }
	sv.busy = append(sv.busy, a)
	if begin != nil {
		begin(sv)
	}
	return s.startAction(a, now, f).toSchema(now), nil
}

func (s *Store) powerServer(id int64, name string, f fate) (schema.Action, error) {
	pa := powerActions[name]
	begin := func(sv *server) {
		if pa.during != "" && sv.status != pa.after {
			sv.status = pa.during
		}
	}
	return s.startServerAction(id, pa.command, begin, func(sv *server) { sv.status = pa.after }, f)
}

// changeServerProtection sets delete and rebuild protection; the API wants both equal.
func (s *Store) changeServerProtection(id int64, del, rebuild *bool, f fate) (schema.Action, error) {
	switch {
	case del != nil && rebuild != nil && *del != *rebuild:
		return schema.Action{}, errInvalidInput("rebuild", "delete and rebuild protection must have the same value")
	case del == nil && rebuild != nil:
		del = rebuild
	}
	return s.startServerAction(id, CmdChangeProtection, nil, func(sv *server) {
		if del != nil {
			sv.protect = *del
		}
	}, f)
}

func (s *Sim) serverPowerAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("action")
	if _, ok := powerActions[name]; !ok {
		writeError(w, errNoRoute)
		return
	}
	id, err := pathID(r, "id", "server")
	if err == nil {
		var req struct{}
		err = decodeBody(r, &req)
	}
	if err == nil {
		var a schema.Action
		if a, err = s.Store().powerServer(id, name, fateOf(r.Context())); err == nil {
			writeJSON(w, http.StatusCreated, schema.ActionGetResponse{Action: a})
			return
		}
	}
	writeError(w, err)
}

func (s *Sim) changeServerProtection(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", "server")
	var req schema.ServerActionChangeProtectionRequest
	if err == nil {
		err = decodeBody(r, &req)
	}
	if err == nil {
		var a schema.Action
		if a, err = s.Store().changeServerProtection(id, req.Delete, req.Rebuild, fateOf(r.Context())); err == nil {
			writeJSON(w, http.StatusCreated, schema.ActionGetResponse{Action: a})
			return
		}
	}
	writeError(w, err)
}
