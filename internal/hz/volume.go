package hz

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/oplog"
	"github.com/keybuzz/kbv3/internal/plan"
)

// Outcome is what an operation did to one volume, in the words of the item result's `action`.
type Outcome string

// Outcomes of the operations. In check mode an operation that would act returns the
// would_<verb> outcome instead of acting.
const (
	OutcomeDetached          Outcome = "detached"
	OutcomeAlreadyDetached   Outcome = "already_detached"
	OutcomeAbsent            Outcome = "absent"
	OutcomeDeleted           Outcome = "deleted"
	OutcomeCreated           Outcome = "created"
	OutcomeExists            Outcome = "exists"
	OutcomeResized           Outcome = "resized"
	OutcomeAttached          Outcome = "attached"
	OutcomeAlreadyAttached   Outcome = "already_attached"
	OutcomeProtectionChanged Outcome = "protection_changed"
	OutcomeOK                Outcome = "ok" // nothing to do: the volume is as asked
	OutcomeFailed            Outcome = "failed"

	OutcomeWouldDetach           Outcome = "would_detach"
	OutcomeWouldDelete           Outcome = "would_delete"
	OutcomeWouldCreate           Outcome = "would_create"
	OutcomeWouldResize           Outcome = "would_resize"
	OutcomeWouldAttach           Outcome = "would_attach"
	OutcomeWouldChangeProtection Outcome = "would_change_protection"
)

// Changed reports whether the outcome is (or, in check mode, would be) a change.
func (o Outcome) Changed() bool {
	switch o {
	case OutcomeDetached, OutcomeDeleted, OutcomeCreated, OutcomeResized, OutcomeAttached,
		OutcomeProtectionChanged, OutcomeWouldDetach, OutcomeWouldDelete, OutcomeWouldCreate,
		OutcomeWouldResize, OutcomeWouldAttach, OutcomeWouldChangeProtection,
		OutcomeUpdated, OutcomeWouldUpdate:
		return true
	}
	return false
}

// Result is what an operation did to one volume.
type Result struct {
	Outcome Outcome
	// Volume is the volume after the operation, as far as known without reading it again
	// (the snapshot holds the same): nil when it is absent or was deleted.
	Volume *hcloud.Volume
	// Server is the name of the server Volume is attached to, "" when detached.
	Server string
	// Actions are the actions the operation started, all finished successfully.
	Actions []*hcloud.Action
	// Attempts is the number of requests sent for the change (0 when there was nothing to do
	// or in check mode).
	Attempts int
}

// DetachOpts: detach volume Name from whatever server it is attached to.
type DetachOpts struct {
	Name  string
	Check bool // decide only, change nothing
}

// Validate checks the options.
func (o DetachOpts) Validate() error { return validateName(o.Name) }

// DeleteOpts: delete volume Name, which must be detached and not protected. ID, when set, is
// the id the volume must have (the reviewed delete list's): another volume of that name is left
// alone.
type DeleteOpts struct {
	Name  string
	ID    int64
	Check bool
}

// Validate checks the options.
func (o DeleteOpts) Validate() error { return validateName(o.Name) }

// CreateOpts: create volume Name in Location, or on Server (attached to it). Both may be given
// when they agree. An existing volume of that name is left as it is (OutcomeExists): comparing
// it with the plan is the caller's business.
type CreateOpts struct {
	Name      string
	SizeGB    int
	Location  string
	Server    string
	Labels    map[string]string
	Format    string // "xfs", "ext4" or "" for none
	Automount bool   // needs Server
	Check     bool
	// Unread sends the create although the snapshot did not look the name up: the caller
	// expects the volume absent (the reset's stage 0 found it so) and lets the API's
	// uniqueness_error, returned as ErrNameTaken, tell it otherwise. It saves the read of every
	// name of a batch; check mode always needs the read.
	Unread bool
}

// Validate checks the options.
func (o CreateOpts) Validate() error {
	if err := validateName(o.Name); err != nil {
		return err
	}
	if err := validateSize(o.Name, o.SizeGB); err != nil {
		return err
	}
	switch {
	case o.Location == "" && o.Server == "":
		return fmt.Errorf("volume %s: a location or a server is required", o.Name)
	case o.Automount && o.Server == "":
		return fmt.Errorf("volume %s: automount needs a server", o.Name)
	case o.Format != "" && o.Format != hcloud.VolumeFormatXFS && o.Format != hcloud.VolumeFormatExt4:
		return fmt.Errorf("volume %s: format must be xfs or ext4, got %q", o.Name, o.Format)
	}
	return nil
}

// ResizeOpts: grow volume Name to SizeGB.
type ResizeOpts struct {
	Name   string
	SizeGB int
	Check  bool
}

// Validate checks the options.
func (o ResizeOpts) Validate() error {
	if err := validateName(o.Name); err != nil {
		return err
	}
	return validateSize(o.Name, o.SizeGB)
}

// AttachOpts: attach volume Name to Server.
type AttachOpts struct {
	Name      string
	Server    string
	Automount *bool // nil: the API's default
	Check     bool
	// ID, with Unread, is the volume to attach without the snapshot having read it: the caller
	// knows it as an earlier step of its run created it (detached, SizeGB, Location). Every
	// precondition of an attach is one the API refuses on its own: a volume attached anywhere
	// (volume_already_attached, after which one read tells this server, already attached, from
	// another), a missing volume (not_found), another location (invalid_input). It saves the
	// read of every volume of a batch; check mode always needs the read.
	ID       int64
	SizeGB   int
	Location string
	Unread   bool
}

// Validate checks the options.
func (o AttachOpts) Validate() error {
	if err := validateName(o.Name); err != nil {
		return err
	}
	if o.Server == "" {
		return fmt.Errorf("volume %s: a server is required", o.Name)
	}
	if o.Unread && o.ID <= 0 {
		return fmt.Errorf("volume %s: an attach without a read needs the volume's id", o.Name)
	}
	return nil
}

// ProtectionOpts: set the delete protection of volume Name.
type ProtectionOpts struct {
	Name   string
	Delete bool
	Check  bool
}

// Validate checks the options.
func (o ProtectionOpts) Validate() error { return validateName(o.Name) }

// validateSize applies the plan's size limits, which are the API's.
func validateSize(name string, sizeGB int) error {
	if sizeGB < plan.MinSizeGB || sizeGB > plan.MaxSizeGB {
		return fmt.Errorf("volume %s: size must be %d..%d GB, got %d", name, plan.MinSizeGB, plan.MaxSizeGB, sizeGB)
	}
	return nil
}

func validateName(name string) error {
	if name == "" {
		return errors.New("volume name is empty")
	}
	return nil
}

// Detach detaches the volume if it is attached: OutcomeDetached, OutcomeAlreadyDetached, or
// OutcomeAbsent when there is no such volume.
func (c *Client) Detach(ctx context.Context, s *Snapshot, o DetachOpts) (Result, error) {
	v, err := c.known(s, o.Name, o.Validate())
	if err != nil {
		return c.refuse(s, o.Name, v, err)
	}
	switch {
	case v == nil:
		return c.noop(s, o.Name, nil, OutcomeAbsent)
	case v.Server == nil:
		return c.noop(s, o.Name, v, OutcomeAlreadyDetached)
	case o.Check:
		return c.noop(s, o.Name, v, OutcomeWouldDetach)
	}
	detached := *v
	detached.Server = nil
	return c.apply(ctx, s, v, OutcomeDetached, OutcomeAlreadyDetached, fixed(&detached), mutation{
		send: func(ctx context.Context) ([]*hcloud.Action, *hcloud.Response, error) {
			a, resp, err := c.hc.Volume.Detach(ctx, v)
			return []*hcloud.Action{a}, resp, err
		},
		made: c.madeIf(o.Name, func(cur *hcloud.Volume) bool { return cur == nil || cur.Server == nil }),
		// Detaching a volume that is gone or no longer attached: an earlier attempt or
		// someone else did it.
		madeCodes: []hcloud.ErrorCode{hcloud.ErrorCodeNotFound, hcloud.ErrorCodeInvalidInput},
	})
}

// Delete deletes the volume: OutcomeDeleted, or OutcomeAbsent when there is no volume of that
// name. Refused before any request: with ID set, a volume of that name with another id
// (ErrMismatch); an attached volume (ErrStillAttached); a protected one (ErrProtected).
func (c *Client) Delete(ctx context.Context, s *Snapshot, o DeleteOpts) (Result, error) {
	v, err := c.known(s, o.Name, o.Validate())
	if err != nil {
		return c.refuse(s, o.Name, v, err)
	}
	switch {
	case v == nil:
		return c.noop(s, o.Name, nil, OutcomeAbsent)
	case o.ID != 0 && v.ID != o.ID:
		return c.refuse(s, o.Name, v, fmt.Errorf("%w: volume %s has id %d, expected %d", ErrMismatch, o.Name, v.ID, o.ID))
	case v.Server != nil:
		return c.refuse(s, o.Name, v, fmt.Errorf("%w to server %s; detach it first", ErrStillAttached, s.ServerName(v)))
	case v.Protection.Delete:
		return c.refuse(s, o.Name, v, fmt.Errorf("%w; remove the protection first", ErrProtected))
	case o.Check:
		return c.noop(s, o.Name, v, OutcomeWouldDelete)
	}
	return c.apply(ctx, s, v, OutcomeDeleted, OutcomeAbsent, fixed(nil), mutation{
		send: func(ctx context.Context) ([]*hcloud.Action, *hcloud.Response, error) {
			resp, err := c.hc.Volume.Delete(ctx, v)
			return nil, resp, err
		},
		made:      c.madeIf(o.Name, func(cur *hcloud.Volume) bool { return cur == nil || cur.ID != v.ID }),
		madeCodes: []hcloud.ErrorCode{hcloud.ErrorCodeNotFound},
	})
}

// Create creates the volume unless one of that name exists (OutcomeExists): OutcomeCreated
// once the volume, and its attachment when Server is set, are done.
func (c *Client) Create(ctx context.Context, s *Snapshot, o CreateOpts) (Result, error) {
	unread := o.Unread && !o.Check && !s.Covers(o.Name)
	var v *hcloud.Volume
	var err error
	if unread {
		err = o.Validate()
	} else {
		v, err = c.known(s, o.Name, o.Validate())
	}
	if err != nil {
		return c.refuse(s, o.Name, v, err)
	}
	if v != nil {
		return c.noop(s, o.Name, v, OutcomeExists)
	}
	req, sv, err := createRequest(s, o)
	if err != nil {
		return c.refuse(s, o.Name, nil, err)
	}
	if o.Check {
		e := c.entry(s, o.Name, nil)
		e.Server, e.SizeGB, e.Outcome = o.Server, o.SizeGB, string(OutcomeWouldCreate)
		c.log.Write(e)
		return Result{Outcome: OutcomeWouldCreate}, nil
	}
	var created *hcloud.Volume
	res, err := c.apply(ctx, s, &hcloud.Volume{Name: o.Name}, OutcomeCreated, OutcomeExists, func(done bool) *hcloud.Volume {
		after := *created
		if sv != nil && !done {
			// The answer to POST /volumes shows the volume before its attach action ran.
			after.Server = &hcloud.Server{ID: sv.ID}
		}
		return &after
	}, c.createMutation(o, req, cmp.Or(o.Location, ServerLocation(sv)), &created, unread))
	if err != nil || sv == nil || (res.Volume.Server != nil && res.Volume.Server.ID == sv.ID) {
		return res, err
	}
	// Found made, but not (yet) attached: attach it, which waits out a still running attach
	// as `locked` and then finds it already attached.
	ares, err := c.Attach(ctx, s, AttachOpts{Name: o.Name, Server: o.Server, Automount: hcloud.Ptr(o.Automount)})
	res.Attempts += ares.Attempts
	res.Actions = append(res.Actions, ares.Actions...)
	res.Volume, res.Server = ares.Volume, ares.Server
	if err != nil {
		res.Outcome = OutcomeFailed
		return res, err
	}
	return res, nil
}

// createRequest builds the API request for o, with its server (nil when o names none), or
// refuses a server that is unknown or in another location than o's.
func createRequest(s *Snapshot, o CreateOpts) (hcloud.VolumeCreateOpts, *hcloud.Server, error) {
	req := hcloud.VolumeCreateOpts{Name: o.Name, Size: o.SizeGB, Labels: o.Labels}
	if o.Format != "" {
		req.Format = hcloud.Ptr(o.Format)
	}
	if o.Server == "" {
		req.Location = &hcloud.Location{Name: o.Location}
		return req, nil, nil
	}
	sv, err := s.serverFor(o.Server)
	if err != nil {
		return req, nil, err
	}
	if loc := ServerLocation(sv); o.Location != "" && loc != "" && loc != o.Location {
		return req, nil, fmt.Errorf("%w: server %s is in %s, not %s", ErrLocationMismatch, o.Server, loc, o.Location)
	}
	req.Server = &hcloud.Server{ID: sv.ID}
	req.Automount = hcloud.Ptr(o.Automount)
	return req, sv, nil
}

// createMutation sends req and sets *created to the volume, whether the answer names it or a
// look after a lost answer finds it, in wantLoc ("" when unknown).
func (c *Client) createMutation(o CreateOpts, req hcloud.VolumeCreateOpts, wantLoc string, created **hcloud.Volume, unread bool) mutation {
	m := mutation{
		send: func(ctx context.Context) ([]*hcloud.Action, *hcloud.Response, error) {
			r, resp, err := c.hc.Volume.Create(ctx, req)
			if err == nil {
				*created = r.Volume
			}
			return append([]*hcloud.Action{r.Action}, r.NextActions...), resp, err
		},
		// After a lost answer, or with uniqueness_error, the volume may exist: if it is the one
		// asked for, it counts as created.
		made: func(ctx context.Context) (bool, error) {
			cur, err := c.volumeByName(ctx, o.Name)
			if err != nil || cur == nil || cur.Size != o.SizeGB ||
				(wantLoc != "" && (cur.Location == nil || cur.Location.Name != wantLoc)) {
				return false, err
			}
			*created = cur
			return true, nil
		},
		madeCodes: []hcloud.ErrorCode{hcloud.ErrorCodeUniquenessError},
	}
	m.target, m.size = o.Server, o.SizeGB
	if unread {
		// The name was not read: a volume found under it is the caller's to judge, unless an
		// attempt of ours may have made it (a lost answer), which made still decides.
		m.taken = ErrNameTaken
	}
	return m
}

// Resize grows the volume to SizeGB: OutcomeResized, or OutcomeOK when it has that size.
// Shrinking is refused with ErrShrink, a missing volume with ErrVolumeNotFound.
func (c *Client) Resize(ctx context.Context, s *Snapshot, o ResizeOpts) (Result, error) {
	v, err := c.mustExist(s, o.Name, o.Validate())
	if err != nil {
		return c.refuse(s, o.Name, v, err)
	}
	switch {
	case o.SizeGB == v.Size:
		return c.noop(s, o.Name, v, OutcomeOK)
	case o.SizeGB < v.Size:
		return c.refuse(s, o.Name, v, fmt.Errorf("%w: volume %s has %d GB, asked for %d", ErrShrink, o.Name, v.Size, o.SizeGB))
	case o.Check:
		return c.noop(s, o.Name, v, OutcomeWouldResize)
	}
	resized := *v
	resized.Size = o.SizeGB
	return c.apply(ctx, s, v, OutcomeResized, OutcomeOK, fixed(&resized), mutation{
		send: func(ctx context.Context) ([]*hcloud.Action, *hcloud.Response, error) {
			a, resp, err := c.hc.Volume.Resize(ctx, v, o.SizeGB)
			return []*hcloud.Action{a}, resp, err
		},
		made: c.madeIf(o.Name, func(cur *hcloud.Volume) bool { return cur != nil && cur.Size >= o.SizeGB }),
	})
}

// Attach attaches the volume to Server: OutcomeAttached, or OutcomeAlreadyAttached. A volume
// attached elsewhere is refused with ErrAttachedElsewhere, one in another location than the
// server with ErrLocationMismatch, before any request. `locked` (the server is busy with
// another volume) is retried.
func (c *Client) Attach(ctx context.Context, s *Snapshot, o AttachOpts) (Result, error) {
	if o.Unread && !o.Check && !s.Covers(o.Name) {
		return c.attachUnread(ctx, s, o)
	}
	v, err := c.mustExist(s, o.Name, o.Validate())
	if err != nil {
		return c.refuse(s, o.Name, v, err)
	}
	sv, err := s.serverFor(o.Server)
	if err != nil {
		return c.refuse(s, o.Name, v, err)
	}
	switch loc := ServerLocation(sv); {
	case v.Server != nil && v.Server.ID == sv.ID:
		return c.noop(s, o.Name, v, OutcomeAlreadyAttached)
	case v.Server != nil:
		return c.refuse(s, o.Name, v, fmt.Errorf("%w: %s, not %s; detach it first", ErrAttachedElsewhere, s.ServerName(v), o.Server))
	case loc != "" && v.Location != nil && v.Location.Name != loc:
		return c.refuse(s, o.Name, v, fmt.Errorf("%w: volume in %s, server %s in %s", ErrLocationMismatch, v.Location.Name, o.Server, loc))
	case o.Check:
		return c.noopOn(s, o.Name, v, o.Server, OutcomeWouldAttach)
	}
	return c.attachVolume(ctx, s, v, sv, o)
}

// attachUnread is Attach of volume o.ID, which the snapshot did not read: the API's refusals
// stand in for the checks Attach makes against the snapshot (see AttachOpts.ID).
func (c *Client) attachUnread(ctx context.Context, s *Snapshot, o AttachOpts) (Result, error) {
	if err := o.Validate(); err != nil {
		return c.refuse(s, o.Name, nil, err)
	}
	sv, err := s.serverFor(o.Server)
	if err != nil {
		return c.refuse(s, o.Name, nil, err)
	}
	v := &hcloud.Volume{ID: o.ID, Name: o.Name, Size: o.SizeGB}
	if o.Location != "" {
		v.Location = &hcloud.Location{Name: o.Location}
	}
	return c.attachVolume(ctx, s, v, sv, o)
}

// attachVolume sends the attach of v to sv and waits for it. volume_already_attached is
// answered by reading the volume: attached to sv, the change is made (OutcomeAlreadyAttached);
// anywhere else, the API's refusal stands.
func (c *Client) attachVolume(ctx context.Context, s *Snapshot, v *hcloud.Volume, sv *hcloud.Server, o AttachOpts) (Result, error) {
	attached := *v
	attached.Server = &hcloud.Server{ID: sv.ID}
	return c.apply(ctx, s, v, OutcomeAttached, OutcomeAlreadyAttached, fixed(&attached), mutation{
		send: func(ctx context.Context) ([]*hcloud.Action, *hcloud.Response, error) {
			a, resp, err := c.hc.Volume.AttachWithOpts(ctx, v, hcloud.VolumeAttachOpts{Server: &hcloud.Server{ID: sv.ID}, Automount: o.Automount})
			return []*hcloud.Action{a}, resp, err
		},
		made: c.madeIf(o.Name, func(cur *hcloud.Volume) bool {
			return cur != nil && cur.ID == v.ID && cur.Server != nil && cur.Server.ID == sv.ID
		}),
		madeCodes: []hcloud.ErrorCode{hcloud.ErrorCodeVolumeAlreadyAttached},
		target:    o.Server,
	})
}

// ChangeProtection sets the volume's delete protection: OutcomeProtectionChanged, or
// OutcomeOK when it is as asked.
func (c *Client) ChangeProtection(ctx context.Context, s *Snapshot, o ProtectionOpts) (Result, error) {
	v, err := c.mustExist(s, o.Name, o.Validate())
	if err != nil {
		return c.refuse(s, o.Name, v, err)
	}
	switch {
	case v.Protection.Delete == o.Delete:
		return c.noop(s, o.Name, v, OutcomeOK)
	case o.Check:
		return c.noop(s, o.Name, v, OutcomeWouldChangeProtection)
	}
	changed := *v
	changed.Protection.Delete = o.Delete
	return c.apply(ctx, s, v, OutcomeProtectionChanged, OutcomeOK, fixed(&changed), mutation{
		send: func(ctx context.Context) ([]*hcloud.Action, *hcloud.Response, error) {
			a, resp, err := c.hc.Volume.ChangeProtection(ctx, v, hcloud.VolumeChangeProtectionOpts{Delete: hcloud.Ptr(o.Delete)})
			return []*hcloud.Action{a}, resp, err
		},
		made: c.madeIf(o.Name, func(cur *hcloud.Volume) bool { return cur != nil && cur.Protection.Delete == o.Delete }),
	})
}

// known returns the snapshot's volume of that name after checking that the snapshot covers it.
func (c *Client) known(s *Snapshot, name string, invalid error) (*hcloud.Volume, error) {
	if invalid != nil {
		return nil, invalid
	}
	if !s.Covers(name) {
		return nil, fmt.Errorf("volume %s: %w", name, ErrNotInSnapshot)
	}
	return s.Volume(name), nil
}

// mustExist is known for the operations that need the volume: a missing one is
// ErrVolumeNotFound.
func (c *Client) mustExist(s *Snapshot, name string, invalid error) (*hcloud.Volume, error) {
	v, err := c.known(s, name, invalid)
	if err == nil && v == nil {
		err = fmt.Errorf("%w: %s", ErrVolumeNotFound, name)
	}
	return v, err
}

// madeIf builds a mutation's made from a test of the volume's current state (nil: absent).
func (c *Client) madeIf(name string, test func(cur *hcloud.Volume) bool) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		cur, err := c.volumeByName(ctx, name)
		if err != nil {
			return false, err
		}
		return test(cur), nil
	}
}

// apply runs m for volume v, waits for its actions, and records the volume as after returns
// it (nil: gone) in s. after learns whether the change was found made rather than sent. The
// outcome is already when someone else made the change since the snapshot.
func (c *Client) apply(ctx context.Context, s *Snapshot, v *hcloud.Volume, outcome, already Outcome, after func(done bool) *hcloud.Volume, m mutation) (Result, error) {
	start := time.Now()
	m.entry = c.entry(s, v.Name, v)
	if m.target != "" {
		// The server the change is for: an attach's line names where the volume goes.
		m.entry.Server = m.target
	}
	if m.size != 0 {
		m.entry.SizeGB = m.size
	}
	m.start = start
	actions, made, attempts, err := c.run(ctx, m)
	done := made != sent
	if made == madeBefore {
		outcome = already
	}
	res := Result{Outcome: OutcomeFailed, Volume: v, Server: s.ServerName(v), Attempts: attempts}
	if err != nil {
		return res, fmt.Errorf("%s: %w", verb(outcome), err)
	}
	if !done {
		if err := c.Wait(ctx, v.Name, actions...); err != nil {
			e := m.entry
			e.Outcome, e.Attempt, e.Error, e.ActionID = logFailed, attempts, err.Error(), lastID(actions)
			e.DurationMS = time.Since(start).Milliseconds()
			c.log.Write(e)
			return res, err
		}
		for _, a := range actions {
			if a != nil {
				res.Actions = append(res.Actions, a)
			}
		}
	}
	now := after(done)
	if now != nil {
		s.put(now)
	} else {
		s.remove(v.Name)
	}
	res.Outcome, res.Volume, res.Server = outcome, now, s.ServerName(now)
	// The line shows the server the volume is on after the change, or was on before it.
	e := m.entry
	if now != nil {
		e.ID, e.SizeGB = now.ID, now.Size
		if name := s.ServerName(now); name != "" {
			e.Server = name
		}
	}
	e.Outcome, e.Attempt, e.ActionID = string(outcome), attempts, lastID(actions)
	e.DurationMS = time.Since(start).Milliseconds()
	c.log.Write(e)
	return res, nil
}

// fixed is an after for apply that does not depend on how the change was made.
func fixed(v *hcloud.Volume) func(bool) *hcloud.Volume {
	return func(bool) *hcloud.Volume { return v }
}

// Predict records a check-mode outcome that the caller decided without an operation of this
// package (a delete of a volume an earlier task of the run would have detached, an attach of a
// volume an earlier task would have created), so that the log shows every prediction.
// server, when set, is the server the predicted change is for (an attach's target).
func (c *Client) Predict(s *Snapshot, name, server string, sizeGB int, outcome Outcome) {
	v := s.Volume(name)
	if v == nil && sizeGB > 0 {
		// A volume an earlier task of the run creates: its line carries the size it will have.
		v = &hcloud.Volume{Name: name, Size: sizeGB}
	}
	_, _ = c.noopOn(s, name, v, server, outcome)
}

// noop records and returns an outcome reached without a request.
func (c *Client) noop(s *Snapshot, name string, v *hcloud.Volume, outcome Outcome) (Result, error) {
	return c.noopOn(s, name, v, "", outcome)
}

// noopOn is noop with the server the outcome is for, when that is not the volume's own.
func (c *Client) noopOn(s *Snapshot, name string, v *hcloud.Volume, server string, outcome Outcome) (Result, error) {
	e := c.entry(s, name, v)
	if server != "" {
		e.Server = server
	}
	e.Outcome = string(outcome)
	c.log.Write(e)
	return Result{Outcome: outcome, Volume: v, Server: s.ServerName(v)}, nil
}

// refuse records and returns an operation failed before any request.
func (c *Client) refuse(s *Snapshot, name string, v *hcloud.Volume, err error) (Result, error) {
	e := c.entry(s, name, v)
	e.Outcome, e.Error = logFailed, err.Error()
	c.log.Write(e)
	return Result{Outcome: OutcomeFailed, Volume: v, Server: s.ServerName(v)}, err
}

func (c *Client) entry(s *Snapshot, name string, v *hcloud.Volume) oplog.Entry {
	e := oplog.Entry{Volume: name}
	if v != nil {
		e.ID, e.Server, e.SizeGB = v.ID, s.ServerName(v), v.Size
	}
	return e
}

func lastID(actions []*hcloud.Action) int64 {
	for i := len(actions) - 1; i >= 0; i-- {
		if actions[i] != nil {
			return actions[i].ID
		}
	}
	return 0
}

// verb names the operation of an outcome in errors ("attach: ...").
func verb(o Outcome) string {
	switch o {
	case OutcomeDetached:
		return "detach"
	case OutcomeDeleted:
		return "delete"
	case OutcomeCreated:
		return "create"
	case OutcomeResized:
		return "resize"
	case OutcomeAttached:
		return "attach"
	case OutcomeProtectionChanged:
		return "change protection"
	case OutcomeUpdated:
		return "update labels"
	}
	return string(o)
}

// ServerLocation is the location a volume must be in to be attached to sv: the one place the
// modules read a server's location from; "" when sv or its location is unknown.
func ServerLocation(sv *hcloud.Server) string {
	if sv != nil && sv.Location != nil {
		return sv.Location.Name
	}
	return ""
}
