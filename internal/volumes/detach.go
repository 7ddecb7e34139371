package volumes

import (
	"context"
	"errors"
	"fmt"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/plan"
)

// DetachOptions are the options of kbv3_volume_detach (plugins/modules/kbv3_volume_detach.yml).
type DetachOptions struct {
	Common        `mapstructure:",squash"`
	Name          string             `mapstructure:"name"`
	ID            int64              `mapstructure:"id"`
	Volumes       []plan.DeleteEntry `mapstructure:"volumes"`
	FailOnMissing bool               `mapstructure:"fail_on_missing" ansible:"default=false"`
}

// DetachSpec describes kbv3_volume_detach to the protocol.
var DetachSpec = ansible.Spec{
	Name:              "kbv3_volume_detach",
	MutuallyExclusive: [][]string{{"name", "volumes"}, {"id", "volumes"}},
	RequiredOneOf:     [][]string{{"name", "id", "volumes"}},
}

// Detach detaches every volume it is given from the server that holds it: detached,
// already_detached, absent (a failure with fail_on_missing), or refused when the id and name
// given designate different volumes, or when the entry records another attachment than the
// live one (another server, or detached: true) or another size.
func Detach(ctx context.Context, m *ansible.Module, o *DetachOptions) (*ansible.Result, error) {
	ctx, s, done, err := o.open(ctx, m)
	if err != nil {
		return nil, err
	}
	defer done()
	snap, tasks, err := s.locate(ctx, o.Name, o.ID, o.Volumes, false)
	if err != nil {
		return nil, err
	}
	items := runItems(ctx, s, tasks, detachIdent, func(ctx context.Context, t located, it *Item) error {
		switch {
		case t.refusal != nil:
			it.Action = ActionRefused
			return t.refusal
		case t.v == nil && o.FailOnMissing:
			return fmt.Errorf("%s does not exist", t.ref)
		case t.v == nil:
			if t.index < 0 {
				// One volume named by hand: absent is more likely a typo than a done job.
				m.Warn("%s does not exist (reported absent); check the name, or set fail_on_missing: true to fail on it", t.ref)
			}
			it.setOutcome(hz.OutcomeAbsent)
			return nil
		}
		if why := driftProblem(t.ref, t.before); why != "" {
			it.Action = ActionRefused
			return errors.New(why)
		}
		res, err := s.client.Detach(ctx, snap, hz.DetachOpts{Name: t.v.Name, Check: m.CheckMode})
		if err != nil {
			return err
		}
		it.setOutcome(res.Outcome)
		if it.changed {
			after := *t.before
			after.Server = ""
			it.diff = volumeDiff(t.v.Name, t.before, &after)
		}
		return nil
	})
	return result(m, items), nil
}

// detachIdent is what a detach item shows before it runs: the live volume when there is one,
// with the server it is attached to before the call.
func detachIdent(t located) Item {
	it := Item{Volume: t.Name, ID: t.ID, Host: t.Host()}
	it.describe(t.before)
	return it
}
