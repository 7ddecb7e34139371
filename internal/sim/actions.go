package sim

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

const (
	statusRunning = "running"
	statusSuccess = "success"
	statusError   = "error"
)

type action struct {
	id      int64
	command string
	started time.Time     // when the API accepted it
	begin   time.Time     // when its work begins: after started when it waits for another action
	end     time.Time     // when it settles; zero for a stuck action
	nominal time.Duration // the configured time of its command, for a stuck action's progress
	fate    fate
	// after is the action whose end this one's work waits for (the create before the attach
	// of POST /volumes with server); waiting lists the actions that wait for this one.
	after   *action
	waiting []*action
	// failCode and failMessage are the error of a fateError action (a fault's default, or
	// what a release asked for).
	failCode, failMessage string

	status     string
	progress   int // only once settled; a running action's progress is computed on read
	finished   time.Time
	errCode    string
	errMessage string
	resources  []schema.ActionResourceReference

	// apply lands the action's change when it succeeds; an error fails the action instead.
	apply func() error
	// rollback undoes what starting the action did, when it fails.
	rollback func()
	// release frees the locks the action holds, whatever its outcome.
	release func()
}

func (a *action) running() bool { return a.status == statusRunning }

// currentProgress grows with the time spent since the work began and stays below 100 until the
// action settles; a stuck action crawls towards 95 on its command's nominal time.
func (a *action) currentProgress(now time.Time) int {
	if !a.running() {
		return a.progress
	}
	if now.Before(a.begin) {
		return 0
	}
	elapsed := now.Sub(a.begin)
	if a.end.IsZero() {
		if a.nominal <= 0 {
			return 50
		}
		return int(min(95, elapsed*100/a.nominal))
	}
	total := a.end.Sub(a.begin)
	if total <= 0 {
		return 99
	}
	return int(min(99, elapsed*100/total))
}

func (a *action) toSchema(now time.Time) schema.Action {
	out := schema.Action{
		ID: a.id, Status: a.status, Command: a.command, Progress: a.currentProgress(now),
		Started: apiTime(a.started), Resources: slices.Clone(a.resources),
	}
	if !a.running() {
		f := apiTime(a.finished)
		out.Finished = &f
	}
	if a.status == statusError {
		out.Error = &schema.ActionError{Code: a.errCode, Message: a.errMessage}
	}
	return out
}

func (a *action) touches(typ string, id int64) bool {
	for _, r := range a.resources {
		if r.Type == typ && r.ID == id {
			return true
		}
	}
	return false
}

// actionFilter selects actions for the action lists.
type actionFilter struct {
	IDs      []int64  // empty: all
	Statuses []string // empty: all
	// Type, when set, keeps only the actions that touch a resource of that type ("volume",
	// "server": /volumes/actions), and ResourceID, when not zero, only those of that one
	// (/volumes/{id}/actions).
	Type       string
	ResourceID int64
}

// touchesType reports whether a touches a resource of type typ: id, or any when id is 0.
func (a *action) touchesType(typ string, id int64) bool {
	if id != 0 {
		return a.touches(typ, id)
	}
	return slices.ContainsFunc(a.resources, func(r schema.ActionResourceReference) bool { return r.Type == typ })
}

var actionSortFields = []string{"id", "command", "status", "started", "finished"}

func compareActions(a, b *action, field string) int {
	switch field {
	case "command":
		return cmp.Compare(a.command, b.command)
	case "status":
		return cmp.Compare(a.status, b.status)
	case "started":
		return a.started.Compare(b.started)
	case "finished":
		return a.finished.Compare(b.finished)
	}
	return cmp.Compare(a.id, b.id)
}

// listActions returns one page of the actions that pass f. Unknown action ids are left out,
// not an error, as in the API; an unknown resource is not_found.
func (s *Store) listActions(f actionFilter, sort []sortKey, p pageReq) ([]schema.Action, pagination, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	if f.ResourceID != 0 && !s.exists(f.Type, f.ResourceID) {
		return nil, pagination{}, errNotFound(f.Type, f.ResourceID)
	}
	var candidates []*action
	switch {
	case len(f.IDs) > 0:
		seen := make(map[int64]bool, len(f.IDs))
		for _, id := range f.IDs {
			if a, ok := s.actions[id]; ok && !seen[id] {
				seen[id] = true
				candidates = append(candidates, a)
			}
		}
	case f.Type == "volume" && f.ResourceID != 0:
		for _, id := range s.volumeActions[f.ResourceID] {
			candidates = append(candidates, s.actions[id])
		}
	default:
		candidates = mapValues(s.actions)
	}
	items := candidates[:0:0]
	for _, a := range candidates {
		if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, a.status) {
			continue
		}
		if f.Type != "" && !a.touchesType(f.Type, f.ResourceID) {
			continue
		}
		items = append(items, a)
	}
	sortItems(items, sort, compareActions, func(a *action) int64 { return a.id })
	page, meta := paginate(items, p)
	out := make([]schema.Action, len(page))
	for i, a := range page {
		out[i] = a.toSchema(now)
	}
	return out, meta, nil
}

// exists reports whether the resource of type typ ("volume", "server") is there. The caller
// holds s.mu.
func (s *Store) exists(typ string, id int64) bool {
	switch typ {
	case "volume":
		_, ok := s.volumes[id]
		return ok
	case "server":
		_, ok := s.servers[id]
		return ok
	}
	return false
}

// getAction returns not_found for an unknown id. With typ set, an action that touches no
// resource of that type (or not resource id, when it is not zero) is not_found as well.
func (s *Store) getAction(id int64, typ string, rid int64) (schema.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	a, ok := s.actions[id]
	if !ok || (typ != "" && !a.touchesType(typ, rid)) {
		return schema.Action{}, errNotFound("action", id)
	}
	return a.toSchema(now), nil
}

// ReleaseInput is POST /_sim/actions/release: which stuck actions end, and how.
type ReleaseInput struct {
	// IDs are the actions to release; empty releases every stuck action.
	IDs []int64 `json:"ids"`
	// Status is "success" (the default) or "error".
	Status string `json:"status"`
	// Code and Message are the action's error when Status is "error" (default action_failed).
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ReleaseActions ends stuck actions (fault effect action_stuck) now, in id order, as if their
// time had come: a success lands the change the action would have made, an error fails it
// (a failed create_volume removes its volume) and both free the locks. An action that waits
// for a stuck one (the attach after a stuck create) is released to run its normal time once
// that one ends. It refuses the whole request, changing nothing, when an id is unknown
// (not_found) or not stuck (invalid_input), or the status is neither success nor error.
func (s *Store) ReleaseActions(in ReleaseInput) ([]schema.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.settle()
	f := fateNormal
	switch in.Status {
	case "", statusSuccess:
	case statusError:
		f = fateError
	default:
		return nil, errInvalidInput("status", "must be success or error")
	}
	stuck := func(a *action) bool { return a.running() && a.fate == fateStuck }
	var targets []*action
	if len(in.IDs) == 0 {
		for _, a := range s.actions {
			if stuck(a) {
				targets = append(targets, a)
			}
		}
	}
	for _, id := range in.IDs {
		a, ok := s.actions[id]
		switch {
		case !ok:
			return nil, errNotFound("action", id)
		case !stuck(a):
			return nil, errInvalidInput("ids", fmt.Sprintf("action %d is not stuck (status %s)", id, a.status))
		}
		if !slices.Contains(targets, a) {
			targets = append(targets, a)
		}
	}
	slices.SortFunc(targets, func(a, b *action) int { return cmp.Compare(a.id, b.id) })
	for _, a := range targets {
		a.fate = f
		if f == fateError {
			a.failCode = cmp.Or(in.Code, "action_failed")
			a.failMessage = cmp.Or(in.Message, "action failed (released with an error by the simulator's admin API)")
		}
		if a.after != nil && a.after.running() {
			continue // runs its normal time once its predecessor ends
		}
		a.end = now
		s.finish(a)
	}
	// finish may have let waiting actions begin with an end already due.
	s.settle()
	out := make([]schema.Action, len(targets))
	for i, a := range targets {
		out[i] = a.toSchema(now)
	}
	return out, nil
}
