// Package volumes is what each kbv3 module does: it composes the protocol (internal/ansible),
// the Hetzner layer (internal/hz), the plan (internal/plan) and the runner (internal/batch)
// into the six operations detach, delete, create, attach, verify and info.
//
// Every operation follows one shape: validate everything the call was given, read one snapshot
// of the volumes and servers it touches, decide each item against that snapshot, run the items
// with bounded concurrency under one deadline, and return one Item per volume.
package volumes

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/batch"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/oplog"
)

// Common are the options every module takes (documented once, in
// plugins/doc_fragments/hcloud.py). Embed it with `mapstructure:",squash"`.
type Common struct {
	APIToken    string `mapstructure:"api_token" ansible:"no_log,env=HCLOUD_TOKEN"`
	APIEndpoint string `mapstructure:"api_endpoint" ansible:"env=HCLOUD_ENDPOINT,default=https://api.hetzner.cloud/v1"`
	Timeout     int    `mapstructure:"timeout" ansible:"default=300"`
	Concurrency int    `mapstructure:"concurrency" ansible:"default=10"`
	LogPath     string `mapstructure:"log_path"`
}

// validate checks the options that need no request; hz.Options.Validate checks the rest.
func (c Common) validate() error {
	var errs []error
	if c.Timeout < 1 {
		errs = append(errs, fmt.Errorf("timeout: must be at least 1 second, got %d", c.Timeout))
	}
	if c.Concurrency < 1 || c.Concurrency > 50 {
		errs = append(errs, fmt.Errorf("concurrency: must be between 1 and 50, got %d", c.Concurrency))
	}
	return errors.Join(errs...)
}

// session is one module call's connection: the client, the operation log and the deadline.
type session struct {
	m           *ansible.Module
	client      *hz.Client
	log         *oplog.Logger
	concurrency int
}

// open validates the common options, registers the token as a secret, and returns the call's
// context (bounded by timeout) and session. The caller must call close.
func (c Common) open(ctx context.Context, m *ansible.Module) (context.Context, *session, func(), error) {
	m.AddSecret(c.APIToken)
	if err := c.validate(); err != nil {
		return nil, nil, nil, err
	}
	opts := hz.Options{Token: c.APIToken, Endpoint: c.APIEndpoint}
	if err := opts.Validate(); err != nil {
		return nil, nil, nil, err
	}
	var log *oplog.Logger
	if c.LogPath != "" {
		l, err := oplog.Open(c.LogPath, m.Name, c.APIToken)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("log_path: %w", err)
		}
		log = l
	}
	opts.Log = log
	client, err := hz.New(opts)
	if err != nil {
		_ = log.Close()
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.Timeout)*time.Second)
	s := &session{m: m, client: client, log: log, concurrency: c.Concurrency}
	closeFn := func() {
		cancel()
		if err := log.Close(); err != nil {
			m.Warn("log_path: %v", err)
		}
	}
	return ctx, s, closeFn, nil
}

// Item is the result for one volume, the same in every module (docs/ARCHITECTURE.md).
type Item struct {
	Volume     string `json:"volume"`
	ID         int64  `json:"id"`
	Server     string `json:"server"`
	Location   string `json:"location,omitempty"`
	Size       int    `json:"size,omitempty"`
	Action     string `json:"action"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`

	// changed is whether Action is (or in check mode would be) a change; diff is the volume's
	// before and after, for diff mode. Neither is printed as such.
	changed bool
	diff    *ansible.Diff
}

// ActionFailed and ActionRefused are the actions of items that did not succeed: refused means
// a safety check kept the volume as it is, before any request for it.
const (
	ActionFailed  = "failed"
	ActionRefused = "refused"
)

// fail marks the item as not done with err, keeping what is known of the volume.
func (it *Item) fail(action string, err error) {
	it.Action = action
	it.Error = err.Error()
	it.changed = false
	it.diff = nil
}

// setOutcome records what hz did to the volume.
func (it *Item) setOutcome(o hz.Outcome) {
	it.Action = string(o)
	it.changed = o.Changed()
}

// runItems runs fn for each item with the session's concurrency under ctx's deadline. ident gives
// what is known of an item before it runs (its name, at least), so that an item the deadline
// left unstarted is still reported. An error returned by fn fails the item; fn may also set
// the item's Action itself (for example to refused).
func runItems[T any](ctx context.Context, s *session, items []T, ident func(T) Item, fn func(ctx context.Context, item T, it *Item) error) []Item {
	outcomes := batch.Run(ctx, items, s.concurrency, func(ctx context.Context, item T) (Item, error) {
		it := ident(item)
		err := fn(ctx, item, &it)
		return it, err
	})
	out := make([]Item, len(items))
	for i, o := range outcomes {
		it := o.Value
		if it.Volume == "" && it.ID == 0 {
			it = ident(items[i])
		}
		if o.Err != nil {
			action := ActionFailed
			if it.Action == ActionRefused {
				action = ActionRefused
			}
			it.fail(action, o.Err)
		}
		it.DurationMS = o.Duration.Milliseconds()
		out[i] = it
	}
	return out
}

// result turns the items into the module's result: changed when any item changed (or would),
// failed when any failed or was refused, and a one-line msg of counts by action followed by
// the volumes that did not succeed.
func result(m *ansible.Module, items []Item, values map[string]any) *ansible.Result {
	r := &ansible.Result{Values: map[string]any{"volumes": items}}
	for k, v := range values {
		r.Values[k] = v
	}
	counts := map[string]int{}
	var order []string
	var bad []string
	for _, it := range items {
		if counts[it.Action] == 0 {
			order = append(order, it.Action)
		}
		counts[it.Action]++
		if it.changed {
			r.Changed = true
			if m.Diff && it.diff != nil {
				r.Diff = append(r.Diff, *it.diff)
			}
		}
		if it.Action == ActionFailed || it.Action == ActionRefused {
			r.Failed = true
			bad = append(bad, fmt.Sprintf("%s (%s)", it.Volume, it.Error))
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	parts := make([]string, 0, len(order))
	for _, a := range order {
		parts = append(parts, fmt.Sprintf("%s: %d", a, counts[a]))
	}
	if len(parts) == 0 {
		parts = append(parts, "no volumes")
	}
	r.Msg = strings.Join(parts, ", ")
	if len(bad) > 0 {
		r.Msg += "; " + strings.Join(bad, "; ")
	}
	return r
}

// rank puts failures last in msg, so the counts of what went well read first.
func rank(action string) int {
	switch action {
	case ActionRefused:
		return 1
	case ActionFailed:
		return 2
	}
	return 0
}

// State is a volume as diff mode shows it; the zero value (nil pointer) is "absent".
type State struct {
	Name       string            `json:"name"`
	ID         int64             `json:"id,omitempty"`
	Size       int               `json:"size"`
	Location   string            `json:"location"`
	Server     string            `json:"server"`
	Protection bool              `json:"protection"`
	Labels     map[string]string `json:"labels"`
}

// stateOf returns v as diff mode shows it, or nil when v is nil.
func stateOf(s *hz.Snapshot, v *hcloud.Volume) *State {
	if v == nil {
		return nil
	}
	l := s.Live(v)
	labels := l.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return &State{Name: l.Name, ID: l.ID, Size: l.SizeGB, Location: l.Location, Server: l.Server, Protection: l.Protected, Labels: labels}
}

// volumeDiff builds the diff entry for one volume; a nil state is shown as an empty object.
func volumeDiff(name string, before, after *State) *ansible.Diff {
	d := &ansible.Diff{BeforeHeader: "volume " + name + " (before)", AfterHeader: "volume " + name + " (after)"}
	d.Before, d.After = map[string]any{}, map[string]any{}
	if before != nil {
		d.Before = before
	}
	if after != nil {
		d.After = after
	}
	return d
}
