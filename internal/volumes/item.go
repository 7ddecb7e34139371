package volumes

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/batch"
	"github.com/keybuzz/kbv3/internal/hz"
)

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
	// Host is the plan host the item belongs to: the entry's hostname, or for an old volume
	// the server the reviewer saw it on ("" for one seen detached, which belongs to no host).
	Host string `json:"host,omitempty"`

	// changed is whether Action is (or in check mode would be) a change; diff is the volume's
	// before and after, for diff mode. Neither is printed as such.
	changed bool
	diff    *ansible.Diff
	// predicted marks a check-mode refusal that an earlier task of the run may lift (a delete
	// of a volume a detach task before it would have detached): it warns, it does not fail.
	predicted bool
}

// fail marks the item as not done with err, keeping what is known of the volume. changed stays
// as it was: a step that succeeded before the failure (the detach of a move) did change the
// volume, and the task must say so.
func (it *Item) fail(action string, err error) {
	it.Action = action
	it.Error = nameOnce(it.Volume, oneLine(err))
	it.diff = nil
}

// nameOnce keeps one mention of the volume in an item's error, where the layers of an error
// each named it again ("volumes[3] (NAME): ... volume NAME ..."): the first mention stays, and
// a later "volume NAME" becomes "the volume". result then leaves out the label of an error that
// names its volume already, so msg names each volume once too. Other volumes' names stay.
func nameOnce(name, msg string) string {
	if name == "" {
		return msg
	}
	first := indexWord(msg, "("+name+")")
	if first < 0 {
		first = indexWord(msg, "volume "+name)
		if first < 0 {
			return msg
		}
		first += len("volume " + name)
	} else {
		first += len(name) + 2
	}
	return msg[:first] + replaceWord(msg[first:], "volume "+name, "the volume")
}

// indexWord is strings.Index of old where it is not followed by a character that continues a
// volume name; -1 when there is none.
func indexWord(s, old string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], old)
		if i < 0 {
			return -1
		}
		end := off + i + len(old)
		if end >= len(s) || !isNameChar(s[end]) || !isNameChar(old[len(old)-1]) {
			return off + i
		}
		off = end
	}
}

// replaceWord replaces old in s where it is not followed by a character that continues a
// volume name, so that "volume db-1" is not found inside "volume db-10".
func replaceWord(s, old, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		if end < len(s) && isNameChar(s[end]) && isNameChar(old[len(old)-1]) {
			b.WriteString(s[:end])
		} else {
			b.WriteString(s[:i])
			b.WriteString(repl)
		}
		s = s[end:]
	}
}

func isNameChar(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// describe fills the item with what st shows of the volume.
func (it *Item) describe(st *State) {
	if st == nil {
		return
	}
	it.Volume, it.ID, it.Server, it.Location, it.Size = st.Name, st.ID, st.Server, st.Location, st.Size
}

// oneLine joins the lines of err (errors.Join puts one problem per line) so that msg and item
// errors stay one line each.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// setOutcome records what hz did to the volume. An item stays changed once a step changed it:
// a delete that finds the volume gone after detaching it still detached it.
func (it *Item) setOutcome(o hz.Outcome) {
	it.set(string(o), o.Changed())
}

// set records an action that is not one of hz's outcomes (moved, skipped).
func (it *Item) set(action string, changed bool) {
	it.Action = action
	it.changed = it.changed || changed
}

// runItems runs fn for each item with the session's concurrency under ctx's deadline. ident gives
// what is known of an item before it runs (its name, at least), so that an item the deadline
// left unstarted is still reported. An error returned by fn fails the item; fn may also set
// the item's Action itself (for example to refused).
func runItems[T any](ctx context.Context, s *session, items []T, ident func(T) Item, fn func(ctx context.Context, item T, it *Item) error) []Item {
	outcomes := batch.Run(ctx, items, s.concurrency, func(ctx context.Context, item T) (Item, error) {
		it := ident(item)
		if s.skipped(it.Host) {
			it.set(ActionSkipped, false)
			it.Error = "not attempted: host " + it.Host + " failed at an earlier stage"
			return it, nil
		}
		err := fn(ctx, item, &it)
		return it, s.explain(err)
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
func result(m *ansible.Module, items []Item) *ansible.Result {
	r := &ansible.Result{Values: map[string]any{"volumes": items}}
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
			if it.predicted && m.CheckMode {
				m.Warn("%s: %s", it.label(), it.Error)
			} else {
				r.Failed = true
			}
			if it.Volume != "" && indexWord(it.Error, it.Volume) >= 0 {
				bad = append(bad, it.Error) // it names the volume already
			} else {
				bad = append(bad, fmt.Sprintf("%s (%s)", it.label(), it.Error))
			}
		}
	}
	r.Values["failed_hosts"] = failedHosts(items)
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

// failedHosts lists, sorted and once each, the hosts of the items that failed or were refused:
// the reset playbook skips their later stages.
func failedHosts(items []Item) []string {
	out := []string{}
	for _, it := range items {
		if it.Host != "" && !it.predicted && (it.Action == ActionFailed || it.Action == ActionRefused) && !slices.Contains(out, it.Host) {
			out = append(out, it.Host)
		}
	}
	slices.Sort(out)
	return out
}

// label names the item in msg: by name, or by id when only the id is known.
func (it Item) label() string {
	if it.Volume == "" && it.ID != 0 {
		return fmt.Sprintf("id %d", it.ID)
	}
	return it.Volume
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
