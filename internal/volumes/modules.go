package volumes

import (
	"context"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
)

// The actions of items that are not what hz did to a volume (hz.Outcome). ActionFailed and
// ActionRefused are the items that did not succeed: refused means a safety check kept the
// volume as it is, before any request for it. ActionSkipped is an item left alone without a
// request, because its host failed at an earlier stage or another item of its unit was
// refused (the delete module's all_or_nothing: the list, or the host); it does not fail the call by
// itself. ActionMoved and ActionWouldMove are a volume the attach module moves from another
// server (force).
const (
	ActionFailed    = string(hz.OutcomeFailed)
	ActionRefused   = "refused"
	ActionSkipped   = "skipped"
	ActionMoved     = "moved"
	ActionWouldMove = "would_move"
)

// Actions are the words an item's action takes, by module: the one list the sidecar docs,
// README.md and docs/ARCHITECTURE.md are checked against (internal/volumes/docs_test.go), and
// every item the unit tests see is held to. Verify and info return no items.
var Actions = map[string][]string{
	DetachSpec.Name: {
		string(hz.OutcomeDetached), string(hz.OutcomeAlreadyDetached), string(hz.OutcomeAbsent),
		string(hz.OutcomeWouldDetach), ActionRefused, ActionSkipped, ActionFailed,
	},
	DeleteSpec.Name: {
		string(hz.OutcomeDeleted), string(hz.OutcomeAbsent), string(hz.OutcomeWouldDelete),
		ActionRefused, ActionSkipped, ActionFailed,
	},
	CreateSpec.Name: {
		string(hz.OutcomeCreated), string(hz.OutcomeExists), string(hz.OutcomeResized), string(hz.OutcomeUpdated),
		string(hz.OutcomeWouldCreate), string(hz.OutcomeWouldResize), string(hz.OutcomeWouldUpdate),
		ActionSkipped, ActionFailed,
	},
	AttachSpec.Name: {
		string(hz.OutcomeAttached), string(hz.OutcomeAlreadyAttached), ActionMoved,
		string(hz.OutcomeWouldAttach), ActionWouldMove, ActionRefused, ActionSkipped, ActionFailed,
	},
	VerifySpec.Name: nil,
	InfoSpec.Name:   nil,
}

// Contract is one module's contract: its options as the decoder enforces them (from the
// options struct and its Spec) and the words its items' action takes (Actions).
type Contract struct {
	Name    string
	Options []ansible.Option
	Actions []string
}

// module is one of the six: its process, and its contract.
type module struct {
	main    func()
	options func() ([]ansible.Option, error)
}

func moduleOf[T any](spec ansible.Spec, run func(context.Context, *ansible.Module, *T) (*ansible.Result, error)) module {
	return module{
		main:    func() { ansible.Main(spec, run) },
		options: func() ([]ansible.Option, error) { return ansible.Contract[T](spec) },
	}
}

var modules = map[string]module{
	DetachSpec.Name: moduleOf(DetachSpec, Detach),
	DeleteSpec.Name: moduleOf(DeleteSpec, Delete),
	CreateSpec.Name: moduleOf(CreateSpec, Create),
	AttachSpec.Name: moduleOf(AttachSpec, Attach),
	VerifySpec.Name: moduleOf(VerifySpec, Verify),
	InfoSpec.Name:   moduleOf(InfoSpec, Info),
}

// Modules maps each module's short name to its whole process, for cmd/kbv3-modules: the six
// modules ship as one binary installed under six names (see that command for why).
var Modules = func() map[string]func() {
	out := make(map[string]func(), len(modules))
	for name, m := range modules {
		out[name] = m.main
	}
	return out
}()

// Contracts returns every module's contract, by short name.
func Contracts() (map[string]Contract, error) {
	out := make(map[string]Contract, len(modules))
	for name, m := range modules {
		opts, err := m.options()
		if err != nil {
			return nil, err
		}
		out[name] = Contract{Name: name, Options: opts, Actions: Actions[name]}
	}
	return out, nil
}

// planEntryTags are the rules of a plan entry (plan.Entry, docs/PLAN.md) that the decoder
// enforces where a module takes plan entries in option list: the plan package validates them
// again, for plan files.
func planEntryTags(list string) map[string]string {
	return map[string]string{
		list + ".hostname": "required",
		list + ".size_gb":  "required",
		list + ".format":   "choices=xfs|ext4",
	}
}
