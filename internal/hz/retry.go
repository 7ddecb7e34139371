package hz

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/batch"
	"github.com/keybuzz/kbv3/internal/oplog"
)

// Outcomes written to the operation log for attempts, beside the item outcomes of Result.
const (
	logRetry   = "retry"               // the attempt failed and will be retried
	logFailed  = string(OutcomeFailed) // the operation gave up: the item's outcome too
	logStarted = "started"             // the request was accepted and started an action (action_id)
)

// read runs one read request with retries. Reads change nothing, so every failure but a
// permanent one is retried as is. what names the read in the log ("list volumes").
func (c *Client) read(ctx context.Context, what string, call func(ctx context.Context) (*hcloud.Response, error)) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := c.attemptCtx(ctx)
		resp, err := call(actx)
		cancel()
		if err == nil {
			return nil
		}
		if wait, ok := c.retryable(ctx, classify(ctx, resp, err), attempt); ok {
			c.log.Write(oplog.Entry{Volume: what, Outcome: logRetry, Attempt: attempt, Error: err.Error()})
			if sleepCtx(ctx, wait) == nil {
				continue
			}
		}
		return fmt.Errorf("%s: %w", what, c.finalErr(ctx, err, attempt))
	}
}

// mutation is one change of one volume, sent until it is accepted, shown to be made already,
// or refused for good.
type mutation struct {
	entry oplog.Entry // volume, id, server of the log lines
	// send makes one attempt and returns the actions it started (nil entries are fine).
	send func(ctx context.Context) ([]*hcloud.Action, *hcloud.Response, error)
	// made looks the volume up (a list request) and reports whether the change is already
	// made: asked when an attempt may have acted unseen (a lost response, a 5xx), and after an
	// error that would follow such an attempt (e.g. uniqueness_error for a create). It returns
	// ok=false when the change is not made; then the mutation retries or fails as it would have.
	made func(ctx context.Context) (bool, error)
	// madeCodes are API errors that may mean an earlier attempt, or someone else, made the
	// change; made decides.
	madeCodes []hcloud.ErrorCode
	// taken, when set, is returned for uniqueness_error when no attempt of ours may have acted,
	// instead of asking made: the caller did not read the name and decides itself.
	taken error
	// target and size, when set, fill the lines' server and size_gb before the volume has
	// them (an attach's server, a create's size); start is when the operation began.
	target string
	size   int
	start  time.Time
}

// how tells how a mutation ended up made.
type how int

const (
	sent       how = iota // an attempt was accepted
	madeUnseen            // found made after an attempt that may have acted: ours, most likely
	madeBefore            // found made with no attempt of ours acting: someone else's
)

// run sends m. It returns the started actions, or nil actions when the change proved made
// already, how it was made, and the number of attempts used.
func (c *Client) run(ctx context.Context, m mutation) (actions []*hcloud.Action, made how, attempts int, err error) {
	uncertain := false // an earlier attempt may have acted
	for attempt := 1; ; attempt++ {
		actx, cancel := c.attemptCtx(ctx)
		actions, resp, err := m.send(actx)
		cancel()
		if err == nil {
			for _, a := range actions {
				if a != nil {
					e := m.entry
					e.ActionID, e.Outcome, e.Attempt = a.ID, logStarted, attempt
					c.log.Write(e)
				}
			}
			return actions, sent, attempt, nil
		}
		cls := classify(ctx, resp, err)
		if cls == unknown {
			uncertain = true
		}
		if m.taken != nil && !uncertain && hcloud.IsError(err, hcloud.ErrorCodeUniquenessError) {
			return nil, sent, attempt, m.taken
		}
		if m.made != nil && ctx.Err() == nil &&
			(cls == unknown || (uncertain && cls == permanent) || hcloud.IsError(err, m.madeCodes...)) {
			ok, merr := m.made(ctx)
			if merr == nil && ok {
				e := m.entry
				e.Outcome, e.Attempt, e.Error = logRetry, attempt, err.Error()+" (the change is made already)"
				c.log.Write(e)
				if uncertain {
					return nil, madeUnseen, attempt, nil
				}
				return nil, madeBefore, attempt, nil
			}
		}
		e := m.entry
		e.Attempt, e.Error = attempt, err.Error()
		if !m.start.IsZero() {
			e.DurationMS = time.Since(m.start).Milliseconds()
		}
		if wait, ok := c.retryable(ctx, cls, attempt); ok {
			e.Outcome = logRetry
			c.log.Write(e)
			if sleepCtx(ctx, wait) == nil {
				continue
			}
		}
		err = c.finalErr(ctx, err, attempt)
		e.Outcome, e.Error = logFailed, err.Error()
		c.log.Write(e)
		return nil, sent, attempt, err
	}
}

// retryable says whether to retry after the given failed attempt, and after how long: never
// past the attempt budget (the deadline, by default), never into a sleep that would end after
// ctx's deadline.
func (c *Client) retryable(ctx context.Context, cls class, attempt int) (time.Duration, bool) {
	if cls == permanent || ctx.Err() != nil {
		return 0, false
	}
	if _, bounded := ctx.Deadline(); attempt > c.maxRetries && !(c.untilDeadline && bounded) {
		return 0, false
	}
	wait := c.backoff(attempt - 1)
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
		return 0, false
	}
	return wait, true
}

// finalErr words the error an operation gives up with: which attempt, and why no other.
func (c *Client) finalErr(ctx context.Context, err error, attempt int) error {
	switch {
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return fmt.Errorf("%w (attempt %d; %w)", err, attempt, ctxError{ctx.Err()})
	case attempt > 1:
		return fmt.Errorf("%w (after %d attempts)", err, attempt)
	}
	return err
}

// ctxError words a context's error for users and still matches it with errors.Is.
type ctxError struct{ err error }

func (e ctxError) Error() string { return batch.Reason(e.err) }

func (e ctxError) Unwrap() error { return e.err }
