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
	// now and sleep are the poller's clock (time.Now, time.Sleep): a test steps them together
	// with a simulator's clock to see when each poll happens without waiting for it.
	now   func() time.Time
	sleep func(time.Duration)

	mu      sync.Mutex
	pending map[int64]*pending
	active  bool // the polling goroutine runs
	// longest is the longest run of an action estimated so far (from its start of progress to
	// its estimated end): while the rate limit paces requests, an action not yet polled is
	// taken to last that long.
	longest time.Duration
}

// pending is one action somebody waits for.
type pending struct {
	chans []chan pollResult
	// idle is the latest moment the action is known not to have progressed yet: when the first
	// wait for it began, then every poll that read 0%. An action in next_actions (the attach of
	// a create with a server) is accepted with the request but progresses only once the action
	// before it is done, so its progress counts from there, not from the request.
	idle time.Time
	// idleRead is set once a poll read 0%: the work may then have begun shortly before idle.
	idleRead bool
	// eta is when the action should finish, estimated from the progress the API reported; zero
	// while unknown. Polling before then would only spend the hourly request budget.
	eta time.Time
}

type pollResult struct {
	action *hcloud.Action
	err    error
}

func newWaiter(c *Client, first, interval time.Duration) *waiter {
	return &waiter{c: c, first: first, interval: interval, now: time.Now, sleep: time.Sleep, pending: map[int64]*pending{}}
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
	var running []*hcloud.Action
	for _, a := range actions {
		switch {
		case a == nil:
		case a.Status == hcloud.ActionStatusError:
			return &ActionError{Action: a, Volume: volume}
		case a.Status == hcloud.ActionStatusRunning:
			running = append(running, a)
		}
	}
	for i, ch := range c.waiter.join(running) {
		regs = append(regs, reg{running[i], ch})
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

// join registers a wait for each action, all at once, so that the first poll covers all of
// them (a create's action and its next_actions): one channel per action, in order.
func (w *waiter) join(actions []*hcloud.Action) []chan pollResult {
	if len(actions) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	chans := make([]chan pollResult, len(actions))
	for i, a := range actions {
		chans[i] = make(chan pollResult, 1) // the poller never blocks on a waiter that left
		p := w.pending[a.ID]
		if p == nil {
			p = &pending{idle: now}
			w.pending[a.ID] = p
		}
		p.chans = append(p.chans, chans[i])
	}
	if !w.active {
		w.active = true
		go w.loop()
	}
	return chans
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

// estimate records when a running action should finish, from the progress a poll at now read.
// An action still at 0% has not begun: that moves the start of its progress to now.
func (w *waiter) estimate(a *hcloud.Action, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pending[a.ID]
	if p == nil {
		return
	}
	if a.Progress <= 0 && now.After(p.idle) {
		p.idle, p.idleRead = now, true
	}
	p.eta = projectEnd(p.idle, now, a.Progress, p.idleRead)
	if !p.eta.IsZero() {
		w.longest = max(w.longest, p.eta.Sub(p.idle))
	}
}

// projectEnd is when an action should finish that was idle until idle and is progress percent
// done at now; zero when the progress tells nothing. Actions progress about linearly from when
// their work begins, so one 16% done half a second after it began ends about 3 s after. The API
// truncates to whole percents, so 16 stands for anything from 16 to 17; and when idle is a poll
// that read 0% (idleRead), the work may have begun up to 1% of its time before idle. The
// estimate is the latest end that both readings allow: a poll before the end costs a request
// and another wait, one after it only the delay (about 1/16th here).
func projectEnd(idle, now time.Time, progress int, idleRead bool) time.Time {
	if progress <= 0 || progress >= 100 || !now.After(idle) {
		return time.Time{}
	}
	elapsed := now.Sub(idle)
	if !idleRead {
		// idle is when the wait began, after the request that started the action.
		return idle.Add(elapsed * 100 / time.Duration(progress))
	}
	if progress == 1 {
		return time.Time{} // 0% then 1% bounds nothing: the action may be arbitrarily long
	}
	// With the work begun at idle - d/100 and progress at its lower end, d = elapsed*100/(p-1)
	// and the end is idle + 99% of d.
	return idle.Add(elapsed * 99 / time.Duration(progress-1))
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

// nextPaced is next while the rate limit paces the requests. Every poll then costs a request
// the changes still to be sent must wait for, and a call ends only once all its actions have
// (a batch waits for its slowest volume), so polling as each action should end buys nothing:
// the next poll is when the last pending action should be done. An action not polled yet (sent
// after the last poll, its requests spaced by the pacer) is taken to last as long as the
// longest estimated so far; with none estimated yet, the interval. Never more than
// maxWaitFactor intervals ahead, as for next.
func (w *waiter) nextPaced(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var latest time.Time
	for _, p := range w.pending {
		eta := p.eta
		if eta.IsZero() {
			if w.longest == 0 {
				return w.interval
			}
			eta = p.idle.Add(w.longest)
		}
		if eta.After(latest) {
			latest = eta
		}
	}
	if latest.IsZero() {
		return w.interval
	}
	return min(max(latest.Sub(now), w.interval/5), maxWaitFactor*w.interval)
}

// loop polls until nobody waits. It is bounded by the waits: each has a deadline and leaves
// at it, and once none is left the loop ends.
func (w *waiter) loop() {
	delay := w.first
	failures := 0
	for {
		w.sleep(delay)
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
		if pace := w.c.pacer.pace(); pace > 0 {
			delay = max(w.nextPaced(w.now()), 2*pace)
		} else {
			delay = w.next(w.now())
		}
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
	now := w.now()
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
