package hz

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/oplog"
)

// maxIDsPerPoll is how many action ids one GET /actions carries: hcloud-go's own chunk, which
// fits the API's default page of 25, so one poll is one request.
const maxIDsPerPoll = 25

// DefaultWaitTimeout bounds a wait whose context has no deadline: every wait has one.
const DefaultWaitTimeout = 300 * time.Second

// maxWaitFactor bounds, in poll intervals, how long an estimate may hold the next poll back.
const maxWaitFactor = 10

// waiter is the shared poller: items wait for their own actions, and one goroutine polls all
// running actions together, one GET /actions?id=..&id=.. per tick (per 25 actions), so the
// requests spent on waiting depend on the time the actions take, not on their number. The
// goroutine runs only while someone waits.
type waiter struct {
	c        *Client
	first    time.Duration // delay of the first poll after an idle period
	interval time.Duration

	mu      sync.Mutex
	pending map[int64]*pending
	active  bool // the polling goroutine runs
}

// pending is one action somebody waits for.
type pending struct {
	chans  []chan pollResult
	joined time.Time // when the first wait for it began: about when the action started
	// eta is when the action should finish, estimated from the progress the API reported; zero
	// while unknown. Polling before then would only spend the hourly request budget.
	eta time.Time
}

type pollResult struct {
	action *hcloud.Action
	err    error
}

func newWaiter(c *Client, first, interval time.Duration) *waiter {
	return &waiter{c: c, first: first, interval: interval, pending: map[int64]*pending{}}
}

// Wait waits until every given action (nil ones are skipped) has finished, polling together
// with every other wait of this Client. It returns an *ActionError for an action that ended in
// error, and a *WaitError naming the still running action when ctx ends first (after
// DefaultWaitTimeout when ctx has no deadline). volume names the volume in those errors.
func (c *Client) Wait(ctx context.Context, volume string, actions ...*hcloud.Action) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWaitTimeout)
		defer cancel()
	}
	start := time.Now()
	type reg struct {
		action *hcloud.Action
		ch     chan pollResult
	}
	var regs []reg
	defer func() {
		for _, r := range regs {
			c.waiter.leave(r.action.ID, r.ch)
		}
	}()
	for _, a := range actions {
		switch {
		case a == nil:
		case a.Status == hcloud.ActionStatusError:
			return &ActionError{Action: a, Volume: volume}
		case a.Status == hcloud.ActionStatusRunning:
			regs = append(regs, reg{a, c.waiter.join(a.ID)})
		}
	}
	for _, r := range regs {
		select {
		case res := <-r.ch:
			if res.err != nil {
				return fmt.Errorf("waiting for %s action %d on volume %s: %w", r.action.Command, r.action.ID, volume, res.err)
			}
			if res.action.Status == hcloud.ActionStatusError {
				return &ActionError{Action: res.action, Volume: volume}
			}
		case <-ctx.Done():
			return &WaitError{Action: r.action, Volume: volume, Elapsed: time.Since(start), Err: ctx.Err()}
		}
	}
	return nil
}

func (w *waiter) join(id int64) chan pollResult {
	ch := make(chan pollResult, 1) // the poller never blocks on a waiter that left
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pending[id]
	if p == nil {
		p = &pending{joined: time.Now()}
		w.pending[id] = p
	}
	p.chans = append(p.chans, ch)
	if !w.active {
		w.active = true
		go w.loop()
	}
	return ch
}

func (w *waiter) leave(id int64, ch chan pollResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pending[id]
	if p == nil {
		return
	}
	p.chans = slices.DeleteFunc(p.chans, func(c chan pollResult) bool { return c == ch })
	if len(p.chans) == 0 {
		delete(w.pending, id)
	}
}

// deliver hands a final result to everyone waiting for id.
func (w *waiter) deliver(id int64, res pollResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.pending[id]; p != nil {
		for _, ch := range p.chans {
			ch <- res
		}
	}
	delete(w.pending, id)
}

// estimate records when a running action should finish, from its progress: actions progress
// about linearly, so an action 16% done half a second after it started ends about 3 s after.
// The API reports whole percents, so 16 stands for anything from 16 to 17. The estimate takes
// the lower end, which makes it the latest end the report allows: a poll before the end costs
// a request and another wait, one after it only the delay (at most 1/16th here).
func (w *waiter) estimate(a *hcloud.Action, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pending[a.ID]
	if p == nil {
		return
	}
	p.eta = time.Time{}
	if a.Progress > 0 && a.Progress < 100 {
		elapsed := now.Sub(p.joined)
		p.eta = p.joined.Add(elapsed * 100 / time.Duration(a.Progress))
	}
}

// next is the delay before the next poll: the interval, or longer when every pending action is
// known to need longer, but never more than maxWaitFactor intervals, so that a wrong estimate
// costs little. Near the estimate it polls at a fifth of the interval, so that the end of an
// action is seen soon after it happens.
func (w *waiter) next(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var soonest time.Time
	for _, p := range w.pending {
		if p.eta.IsZero() {
			return w.interval
		}
		if soonest.IsZero() || p.eta.Before(soonest) {
			soonest = p.eta
		}
	}
	if soonest.IsZero() {
		return w.interval
	}
	return min(max(soonest.Sub(now), w.interval/5), maxWaitFactor*w.interval)
}

// loop polls until nobody waits. It is bounded by the waits: each has a deadline and leaves
// at it, and once none is left the loop ends.
func (w *waiter) loop() {
	delay := w.first
	failures := 0
	for {
		time.Sleep(delay)
		w.mu.Lock()
		ids := slices.Sorted(maps.Keys(w.pending))
		if len(ids) == 0 {
			w.active = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()

		failed := false
		for chunk := range slices.Chunk(ids, maxIDsPerPoll) {
			if err := w.poll(chunk, failures); err != nil {
				failed = true
			}
		}
		if failed {
			failures++
		} else {
			failures = 0
		}
		delay = max(w.next(time.Now()), 2*w.c.pacer.pace())
		if failed {
			delay = max(delay, w.interval)
		}
	}
}

// poll asks for one chunk of actions, once: a failed poll is simply the next tick's job, up to
// the retry budget in consecutive failed ticks. failures counts the ticks failed so far.
func (w *waiter) poll(ids []int64, failures int) error {
	// The poll serves many waits with their own deadlines; it is bounded by the request
	// timeout alone, and the waits leave at theirs.
	parent := context.Background()
	ctx, cancel := w.c.attemptCtx(parent)
	defer cancel()
	actions, resp, err := w.c.hc.Action.List(ctx, hcloud.ActionListOpts{ID: ids})
	if err != nil {
		cls := classify(parent, resp, err)
		// Every wait leaves at its own deadline, so by default a failing poll is tried again at
		// the next tick for as long as anyone waits (an API outage of a minute must not fail
		// actions that are running fine).
		if cls != permanent && (w.c.untilDeadline || failures < w.c.maxRetries) {
			w.c.log.Write(oplog.Entry{Volume: "poll actions", Outcome: logRetry, Attempt: failures + 1, Error: err.Error()})
			return err
		}
		err = fmt.Errorf("polling actions: %w", w.c.finalErr(parent, err, failures+1))
		for _, id := range ids {
			w.deliver(id, pollResult{err: err})
		}
		return err
	}
	seen := make(map[int64]bool, len(actions))
	now := time.Now()
	for _, a := range actions {
		seen[a.ID] = true
		if a.Status != hcloud.ActionStatusRunning {
			w.deliver(a.ID, pollResult{action: a})
		} else {
			w.estimate(a, now)
		}
	}
	for _, id := range ids {
		if !seen[id] {
			// An action the API does not know will never finish; waiting would only end at
			// the deadline with a misleading message.
			w.deliver(id, pollResult{err: fmt.Errorf("action %d not found", id)})
		}
	}
	return nil
}
