package volumes

import (
	"context"
	"errors"
	"fmt"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/plan"
)

// DeleteOptions are the options of kbv3_volume_delete (plugins/modules/kbv3_volume_delete.yml).
type DeleteOptions struct {
	Common           `mapstructure:",squash"`
	Name             string             `mapstructure:"name"`
	ID               int64              `mapstructure:"id"`
	Volumes          []plan.DeleteEntry `mapstructure:"volumes"`
	Detach           bool               `mapstructure:"detach" ansible:"default=false"`
	RemoveProtection bool               `mapstructure:"remove_protection" ansible:"default=false"`
	// AllOrNothing is what one refused entry keeps from being deleted: the whole list (list), or
	// only the entries of its own host (host), as the reset's batches, whose list stage 0 already
	// approved whole, need it: one volume that drifted must not stop its batch-mates' hosts.
	AllOrNothing string `mapstructure:"all_or_nothing" ansible:"default=list,choices=list|host"`
}

// The units a refusal stops (DeleteOptions.AllOrNothing).
const (
	unitList = "list"
	unitHost = "host"
)

// DeleteSpec describes kbv3_volume_delete to the protocol.
var DeleteSpec = ansible.Spec{
	Name:              "kbv3_volume_delete",
	MutuallyExclusive: [][]string{{"name", "volumes"}, {"id", "volumes"}},
	RequiredOneOf:     [][]string{{"name", "volumes"}},
	RequiredTogether:  [][]string{{"name", "id"}},
	Tags:              map[string]string{"volumes.id": "required", "volumes.name": "required"},
}

// deleteTask is one volume of the approved list, decided against the snapshot.
type deleteTask struct {
	located
	skip error // another entry is refused, so this one is left alone
	// predicted marks a check-mode refusal that an earlier task of the same run (a detach) may
	// lift: reported refused, with a warning, without failing the check run for it.
	predicted bool
}

// errAttached is the refusal of an attached volume without detach: true.
var errAttached = errors.New("the volume is attached")

// Delete deletes exactly the volumes of the list, each named by id and name together.
//
// The whole list is checked against one snapshot first. An entry is refused when its id and
// name designate different live volumes, when the live size or server differs from the
// entry's size_gb or server, when the volume is protected (without remove_protection) or
// attached (without detach). A refused entry keeps the other entries of its unit from being
// deleted: the whole list by default, since deleting the part of an approved list that still
// matches would act on a list nobody reviewed; with all_or_nothing: host, only the entries
// reviewed on the same server (an entry reviewed detached is a unit of its own). The refused
// entries say why (action refused), the entries they stopped are reported skipped with the
// entry that stopped them, and the module fails. The entries of skip_hosts are never checked
// and never stop another: they are skipped before anything is decided for them. Missing
// volumes are absent.
func Delete(ctx context.Context, m *ansible.Module, o *DeleteOptions) (*ansible.Result, error) {
	ctx, s, done, err := o.open(ctx, m)
	if err != nil {
		return nil, err
	}
	defer done()
	snap, located, err := s.locate(ctx, o.Name, o.ID, o.Volumes, true)
	if err != nil {
		return nil, err
	}
	tasks := make([]deleteTask, len(located))
	refused := map[string][]ref{} // by unit
	for i, l := range located {
		t := deleteTask{located: l}
		if s.skipped(t.Host()) {
			tasks[i] = t // runItems reports it skipped, without a request
			continue
		}
		if t.refusal == nil && t.v != nil {
			t.refusal = o.check(t.ref, t.before)
			if m.CheckMode && errors.Is(t.refusal, errAttached) {
				// In check mode the detach task before this one changed nothing, so the volume
				// still looks attached: the real run refuses it only if nothing detaches it.
				t.refusal = fmt.Errorf("would be refused: %s: the volume is attached to %s; set detach: true, or run the detach task first (in check mode it detached nothing)", t.ref, t.before.Server)
				t.predicted = true
			}
		}
		if t.refusal != nil {
			u := o.unit(i, t.ref)
			refused[u] = append(refused[u], t.ref)
		}
		tasks[i] = t
	}
	for i := range tasks {
		t := &tasks[i]
		// A skipped host's entry may get a reason here too; runItems reports it skipped for its
		// host before looking at one.
		if rs := refused[o.unit(i, t.ref)]; len(rs) > 0 && t.refusal == nil && t.v != nil {
			t.skip = o.stopped(rs)
		}
	}

	items := runItems(ctx, s, tasks, deleteIdent, func(ctx context.Context, t deleteTask, it *Item) error {
		switch {
		case t.refusal != nil:
			it.Action, it.predicted = ActionRefused, t.predicted
			return t.refusal
		case t.skip != nil:
			it.set(ActionSkipped, false)
			it.Error = t.skip.Error()
			return nil
		case t.v == nil:
			it.setOutcome(hz.OutcomeAbsent)
			return nil
		}
		if err := s.delete(ctx, m, snap, t, it); err != nil {
			return err
		}
		if it.changed {
			it.diff = volumeDiff(t.v.Name, t.before, nil)
		}
		return nil
	})
	return result(m, items), nil
}

// unit names the entries that one refusal keeps from being deleted (AllOrNothing); i is the
// entry's place in the list, the unit of an entry reviewed detached under all_or_nothing: host.
func (o *DeleteOptions) unit(i int, r ref) string {
	if o.AllOrNothing != unitHost {
		return unitList
	}
	if h := r.Host(); h != "" {
		return "server " + h
	}
	return fmt.Sprintf("entry %d", i)
}

// stopped says why an entry is left alone: the refused entries of its unit.
func (o *DeleteOptions) stopped(refused []ref) error {
	unit := "a list is deleted whole or not at all"
	if o.AllOrNothing == unitHost {
		unit = "the old volumes of a server are deleted together or not at all"
	}
	if len(refused) > 1 {
		return fmt.Errorf("not deleted: %s and %d other entries were refused, and %s", refused[0], len(refused)-1, unit)
	}
	return fmt.Errorf("not deleted: %s was refused, and %s", refused[0], unit)
}

// check returns why the entry must not be deleted, or nil. live is the volume the entry
// designates.
func (o *DeleteOptions) check(r ref, live *State) error {
	if why := driftProblem(r, live); why != "" {
		return errors.New(why)
	}
	switch {
	case live.Protection && !o.RemoveProtection:
		return fmt.Errorf("%s: the volume is delete-protected; set remove_protection: true to remove the protection and delete it", r)
	case live.Server != "" && !o.Detach:
		return fmt.Errorf("%s: %w to %s; set detach: true to detach and delete it", r, errAttached, live.Server)
	}
	return nil
}

// delete detaches the volume if it is attached, removes its protection if it has one, and
// deletes it; in check mode it reports would_delete, which is what that sequence would do:
// every refusal was decided before.
func (s *session) delete(ctx context.Context, m *ansible.Module, snap *hz.Snapshot, t deleteTask, it *Item) error {
	name := t.v.Name
	if m.CheckMode {
		if t.before.Server == "" && !t.before.Protection {
			res, err := s.client.Delete(ctx, snap, hz.DeleteOpts{Name: name, ID: t.v.ID, Check: true})
			if err != nil {
				return err
			}
			it.setOutcome(res.Outcome)
			return nil
		}
		if t.before.Server != "" {
			// The log predicts the run's operations one by one: its detach, then its delete.
			if _, err := s.client.Detach(ctx, snap, hz.DetachOpts{Name: name, Check: true}); err != nil {
				return err
			}
		}
		s.client.Predict(snap, name, "", 0, hz.OutcomeWouldDelete)
		it.setOutcome(hz.OutcomeWouldDelete)
		return nil
	}
	if t.before.Server != "" {
		res, err := s.client.Detach(ctx, snap, hz.DetachOpts{Name: name})
		if err != nil {
			return fmt.Errorf("detaching before the delete: %w", err)
		}
		it.changed = it.changed || res.Outcome.Changed()
	}
	if t.before.Protection {
		res, err := s.client.ChangeProtection(ctx, snap, hz.ProtectionOpts{Name: name, Delete: false})
		if err != nil {
			return fmt.Errorf("removing the delete protection: %w", err)
		}
		it.changed = it.changed || res.Outcome.Changed()
	}
	res, err := s.client.Delete(ctx, snap, hz.DeleteOpts{Name: name, ID: t.v.ID})
	if err != nil {
		return err
	}
	it.setOutcome(res.Outcome)
	return nil
}

// deleteIdent is what a delete item shows before it runs: the live volume as the list's
// entry designates it.
func deleteIdent(t deleteTask) Item {
	it := Item{Volume: t.Name, ID: t.ID, Server: t.Server, Size: t.SizeGB, Host: t.Host()}
	it.describe(t.before)
	return it
}
