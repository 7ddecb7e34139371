package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func (s *Sim) adminRoutes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	m.HandleFunc("POST /_sim/stats/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Store().State())
	})
	m.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	m.HandleFunc("POST /_sim/faults", s.postFaults)
	m.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.Reset(); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_sim/config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.currentConfig())
	})
	m.HandleFunc("POST /_sim/config", s.postConfig)
	m.HandleFunc("POST /_sim/actions/release", s.releaseActions)
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeError(w, errNoRoute) })
	return m
}

// postFaults takes one rule or a list of rules, in the JSON form, and answers with all rules.
func (s *Sim) postFaults(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, errJSON(err.Error()))
		return
	}
	var rules []FaultRule
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(trimmed, &rules)
	} else {
		var one FaultRule
		err = json.Unmarshal(trimmed, &one)
		rules = []FaultRule{one}
	}
	if err != nil {
		writeError(w, errJSON(err.Error()))
		return
	}
	if err := s.AddFaults(rules...); err != nil {
		writeError(w, &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, s.Faults())
}

// releaseActions ends stuck actions: POST /_sim/actions/release with a ReleaseInput (an empty
// body releases every stuck action with success). It answers the released actions.
func (s *Sim) releaseActions(w http.ResponseWriter, r *http.Request) {
	var in ReleaseInput
	if err := decodeBody(r, &in); err != nil {
		writeError(w, err)
		return
	}
	actions, err := s.Store().ReleaseActions(in)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"actions": actions})
}

// ConfigUpdate is the body of POST /_sim/config; absent parts are left as they are.
type ConfigUpdate struct {
	ActionTimes map[string]Duration `json:"action_times,omitempty"`
	RateLimit   *RateLimitUpdate    `json:"rate_limit,omitempty"`
}

// RateLimitUpdate is the rate_limit part of ConfigUpdate.
type RateLimitUpdate struct {
	Limit   int      `json:"limit"`
	Period  Duration `json:"period"`
	Enabled bool     `json:"enabled"`
}

func (s *Sim) currentConfig() ConfigUpdate {
	st := s.Store()
	times := map[string]Duration{}
	for _, c := range Commands {
		times[c] = Duration(st.ActionTime(c))
	}
	rl := s.limiterConfig()
	return ConfigUpdate{ActionTimes: times, RateLimit: &RateLimitUpdate{Limit: rl.Limit, Period: Duration(rl.Period), Enabled: !rl.Disabled}}
}

func (s *Sim) postConfig(w http.ResponseWriter, r *http.Request) {
	var up ConfigUpdate
	if err := decodeBody(r, &up); err != nil {
		writeError(w, err)
		return
	}
	for c := range up.ActionTimes {
		if !isCommand(c) {
			writeError(w, errInvalidInput("action_times", "unknown command '"+c+"'"))
			return
		}
	}
	for c, d := range up.ActionTimes {
		s.Store().SetActionTime(c, time.Duration(d))
	}
	if up.RateLimit != nil {
		s.SetRateLimit(RateLimit{Disabled: !up.RateLimit.Enabled, Limit: up.RateLimit.Limit, Period: time.Duration(up.RateLimit.Period)})
	}
	writeJSON(w, http.StatusOK, s.currentConfig())
}

// State is the whole project in the API's shapes: GET /_sim/state.
type State struct {
	Servers     []serverJSON      `json:"servers"`
	Volumes     []schema.Volume   `json:"volumes"`
	Actions     []schema.Action   `json:"actions"`
	Locations   []schema.Location `json:"locations"`
	Datacenters []datacenterJSON  `json:"datacenters"`
}

// State returns everything, each kind sorted by id.
func (s *Store) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	st := State{
		Servers: []serverJSON{}, Volumes: []schema.Volume{}, Actions: []schema.Action{},
		Locations: []schema.Location{}, Datacenters: []datacenterJSON{},
	}
	servers := mapValues(s.servers)
	sortItems(servers, nil, compareServers, func(sv *server) int64 { return sv.id })
	for _, sv := range servers {
		st.Servers = append(st.Servers, sv.toSchema(now, s.locations))
	}
	volumes := mapValues(s.volumes)
	sortItems(volumes, nil, compareVolumes, func(v *volume) int64 { return v.id })
	for _, v := range volumes {
		st.Volumes = append(st.Volumes, v.toSchema())
	}
	actions := mapValues(s.actions)
	sortItems(actions, nil, compareActions, func(a *action) int64 { return a.id })
	for _, a := range actions {
		st.Actions = append(st.Actions, a.toSchema(now))
	}
	for _, l := range s.locations {
		st.Locations = append(st.Locations, l.Location)
	}
	for _, d := range s.datacenters {
		st.Datacenters = append(st.Datacenters, d.toSchema())
	}
	return st
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
