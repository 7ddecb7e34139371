package sim

import (
	"cmp"
	"container/heap"
	"sync"
	"time"
)

// Commands of the actions the simulator runs, and the keys of ActionTimes. delete_volume is not
// an action in the API (DELETE answers 204): its time is how long the DELETE takes to answer.
const (
	CmdCreateVolume     = "create_volume"
	CmdAttachVolume     = "attach_volume"
	CmdDetachVolume     = "detach_volume"
	CmdResizeVolume     = "resize_volume"
	CmdChangeProtection = "change_protection"
	CmdDeleteVolume     = "delete_volume"
	CmdCreateServer     = "create_server"
	CmdStartServer      = "start_server"
	CmdDeleteServer     = "delete_server"
	CmdStopServer       = "stop_server"
	CmdShutdownServer   = "shutdown_server"
	CmdRebootServer     = "reboot_server"
	CmdResetServer      = "reset_server"
)

// Commands lists every key ActionTimes accepts.
var Commands = []string{CmdCreateVolume, CmdAttachVolume, CmdDetachVolume, CmdResizeVolume, CmdChangeProtection, CmdDeleteVolume, CmdCreateServer, CmdStartServer, CmdDeleteServer,
	CmdStopServer, CmdShutdownServer, CmdRebootServer, CmdResetServer}

// DefaultActionTimes are close to what the real API takes: attach and detach a few seconds,
// creating a volume about one.
func DefaultActionTimes() map[string]time.Duration {
	return map[string]time.Duration{
		CmdCreateVolume:     time.Second,
		CmdAttachVolume:     3 * time.Second,
		CmdDetachVolume:     3 * time.Second,
		CmdResizeVolume:     2 * time.Second,
		CmdChangeProtection: 500 * time.Millisecond,
		CmdDeleteVolume:     300 * time.Millisecond,
		CmdCreateServer:     8 * time.Second,
		CmdStartServer:      2 * time.Second,
		CmdDeleteServer:     3 * time.Second,
		CmdStopServer:       2 * time.Second,
		CmdShutdownServer:   5 * time.Second,
		CmdRebootServer:     5 * time.Second,
		CmdResetServer:      2 * time.Second,
	}
}

// fate is what a fault rule decided for the action a request starts.
type fate int

const (
	fateNormal fate = iota
	fateError       // the action ends with status error
	fateStuck       // the action stays running forever
)

// Store holds the whole simulated project under one lock. Every method the HTTP layer calls
// takes the lock, first settles the actions whose time has come, then checks the API's rules
// and changes the state under that same lock, so no check can go stale before its change.
// Methods return copies in the API's shapes, never pointers into the store. Only what tests
// need is exported (State, the action times, ReleaseActions); the API's operations are
// unexported methods named after their routes.
type Store struct {
	mu    sync.Mutex
	clock Clock
	ids   IDSource
	times map[string]time.Duration

	locations   []*location
	datacenters []*datacenter
	servers     map[int64]*server
	serverNames map[string]*server
	volumes     map[int64]*volume
	volumeNames map[string]*volume
	actions     map[int64]*action
	// volumeActions keeps each volume's action ids, oldest first, beyond the volume's deletion.
	volumeActions map[int64][]int64
	pending       actionHeap // running actions with an end, soonest first
}

func newStore(clock Clock, ids IDSource, times map[string]time.Duration) *Store {
	locs, dcs := newGeography()
	return &Store{
		clock: clock, ids: ids, times: times,
		locations: locs, datacenters: dcs,
		servers: map[int64]*server{}, serverNames: map[string]*server{},
		volumes: map[int64]*volume{}, volumeNames: map[string]*volume{},
		actions: map[int64]*action{}, volumeActions: map[int64][]int64{},
	}
}

// SetActionTime changes how long future actions of command take; running ones keep theirs.
func (s *Store) SetActionTime(command string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times[command] = d
}

// ActionTime is the current duration of command.
func (s *Store) ActionTime(command string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.times[command]
}

// settle finishes, in order, every action whose end is not after now. The caller holds s.mu.
// This is what makes a finished attach visible in GET /volumes even if nobody polled it.
func (s *Store) settle() time.Time {
	now := s.clock.Now()
	for len(s.pending) > 0 && !s.pending[0].end.After(now) {
		s.finish(heap.Pop(&s.pending).(*action))
	}
	return now
}

// finish lands an action's change (or its failure), then lets the actions waiting for it
// begin. The caller holds s.mu.
func (s *Store) finish(a *action) {
	a.finished = a.end
	a.progress = 100
	var err error
	if a.fate == fateError {
		err = &Error{Code: cmp.Or(a.failCode, "action_failed"), Message: cmp.Or(a.failMessage, "action failed (simulated fault)")}
	} else if a.apply != nil {
		err = a.apply()
	}
	if err != nil {
		a.status = statusError
		a.errCode, a.errMessage = "action_failed", err.Error()
		if e, ok := err.(*Error); ok {
			a.errCode, a.errMessage = e.Code, e.Message
		}
		if a.rollback != nil {
			a.rollback()
		}
	} else {
		a.status = statusSuccess
	}
	if a.release != nil {
		a.release()
	}
	for _, w := range a.waiting {
		s.begin(w, a.finished)
	}
	a.waiting = nil
}

// begin starts the work of an action that waited for another: it gets its end from now on,
// unless it is stuck. The caller holds s.mu.
func (s *Store) begin(a *action, at time.Time) {
	a.begin = at
	if a.fate != fateStuck && a.running() {
		a.end = at.Add(a.nominal)
		heap.Push(&s.pending, a)
	}
}

// startAction records a running action that takes the configured time of its command. Its
// work begins now, or, when a.after is set, when that action ends. A stuck action gets no end
// and so never settles until it is released. The caller holds s.mu.
func (s *Store) startAction(a *action, now time.Time, f fate) *action {
	a.id = s.ids.NextID(kindAction)
	a.started = now
	a.nominal = s.times[a.command]
	a.status = statusRunning
	a.fate = f
	s.actions[a.id] = a
	for _, r := range a.resources {
		if r.Type == "volume" {
			s.volumeActions[r.ID] = append(s.volumeActions[r.ID], a.id)
		}
	}
	switch {
	case a.after == nil:
		s.begin(a, now)
	case a.after.running():
		// Until its predecessor ends, the action has not begun: it locks nothing yet.
		a.begin = farFuture
		a.after.waiting = append(a.after.waiting, a)
	default:
		s.begin(a, a.after.finished)
	}
	return a
}

// farFuture is the begin of an action whose predecessor has not ended.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

type actionHeap []*action

func (h actionHeap) Len() int { return len(h) }
func (h actionHeap) Less(i, j int) bool {
	if !h[i].end.Equal(h[j].end) {
		return h[i].end.Before(h[j].end)
	}
	return h[i].id < h[j].id
}
func (h actionHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *actionHeap) Push(x any)   { *h = append(*h, x.(*action)) }
func (h *actionHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return a
}

// apiTime is how the API writes timestamps: UTC, whole seconds.
func apiTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
