// Package batch runs the items of one module call with bounded concurrency under one deadline.
//
// Every item gets its own result, in input order: a failing or panicking item never stops the
// others, and an item the deadline leaves unstarted is reported failed rather than forgotten,
// so a module can always account for every volume it was given.
package batch

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultConcurrency is used when Run is given a concurrency below 1 (the modules' default).
const DefaultConcurrency = 10

// abandonGrace is how long Run waits after the deadline for started items to return on their
// own (their errors say more, e.g. which action was still running) before reporting them failed
// and returning without them: one item ignoring its context must not hang the whole call.
const abandonGrace = time.Second

// ErrNotStarted marks items the deadline left unstarted.
var ErrNotStarted = errors.New("not started")

// ErrAbandoned marks items still running after the deadline and the grace period.
var ErrAbandoned = errors.New("still running at the deadline")

// Outcome is the result of one item.
type Outcome[R any] struct {
	Value    R             // what fn returned (its zero value if fn panicked or never ran)
	Err      error         // nil when the item succeeded
	Duration time.Duration // time spent in fn; 0 for items not started
}

// Run calls fn for every item, at most concurrency at a time, and returns one Outcome per item
// in the order of items. fn gets ctx and must return soon after ctx is done. Run returns once
// every started item has returned, or abandonGrace after ctx is done, whichever comes first.
func Run[T, R any](ctx context.Context, items []T, concurrency int, fn func(ctx context.Context, item T) (R, error)) []Outcome[R] {
	if concurrency < 1 {
		concurrency = DefaultConcurrency
	}
	out := make([]Outcome[R], len(items))
	// Each item reports on its own buffered channel so that an abandoned item's late send
	// neither blocks it nor races with the results already returned.
	done := make([]chan Outcome[R], len(items))
	sem := make(chan struct{}, concurrency)
	started := 0
	for i, item := range items {
		// Checked before the select: with both cases ready, select picks at random and could
		// start an item after the deadline.
		if ctx.Err() != nil {
			break
		}
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			if acquired {
				<-sem
			}
			break
		}
		done[i] = make(chan Outcome[R], 1)
		started++
		go func() {
			defer func() { <-sem }()
			done[i] <- call(ctx, item, fn)
		}()
	}
	for i := started; i < len(items); i++ {
		out[i].Err = notStarted{cause: context.Cause(ctx)}
	}

	var grace <-chan time.Time
	for i := range started {
		select {
		case out[i] = <-done[i]:
			continue
		case <-ctx.Done():
		}
		if grace == nil {
			t := time.NewTimer(abandonGrace)
			defer t.Stop()
			grace = t.C
		}
		select {
		case out[i] = <-done[i]:
		case <-grace:
			out[i].Err = fmt.Errorf("%w: %s", ErrAbandoned, Reason(ctx.Err()))
		}
	}
	return out
}

// call runs fn for one item, turning a panic into a failed item.
func call[T, R any](ctx context.Context, item T, fn func(context.Context, T) (R, error)) (o Outcome[R]) {
	start := time.Now()
	defer func() {
		o.Duration = time.Since(start)
		if r := recover(); r != nil {
			var zero R
			o.Value = zero
			o.Err = fmt.Errorf("panic: %v", r)
		}
	}()
	o.Value, o.Err = fn(ctx, item)
	return o
}

// notStarted says why an item never ran, in the words the module result uses.
type notStarted struct{ cause error }

func (e notStarted) Error() string { return ErrNotStarted.Error() + ": " + Reason(e.cause) }

func (e notStarted) Unwrap() []error { return []error{ErrNotStarted, e.cause} }

// Reason words a context's error for users, who set a timeout rather than a context: it drops
// the "context " prefix. The hz package words its waits and retries with it too.
func Reason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case err == nil:
		return "stopped"
	default:
		return err.Error()
	}
}
