package e2e

import (
	"fmt"
	"maps"
	"path"
	"reflect"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// ArchiveVolume is the volume of the PH3-02 fleet (and of SmallFleet) that is neither planned nor
// selected: no run may touch it.
const ArchiveVolume = "keybuzz-archive-01"

// OldVolumes is the name pattern of the old volumes, the reviewed diff's default selector.
const OldVolumes = "vol-*"

// ServerName is the name of the server v is attached to, "" when detached.
func ServerName(st simproc.State, v schema.Volume) string {
	if v.Server == nil {
		return ""
	}
	if s, ok := st.ServerByID(*v.Server); ok {
		return s.Name
	}
	return fmt.Sprintf("#%d", *v.Server)
}

// PlanProblems checks entries against st: each entry's server exists, and its volume exists
// exactly once, with the planned size, in the planned location (its server's when the plan sets
// none), attached to its server. One sentence per problem.
func PlanProblems(st simproc.State, entries []plan.Entry) []string {
	var problems []string
	for _, e := range entries {
		name := e.Name()
		var found []schema.Volume
		for _, v := range st.Volumes {
			if v.Name == name {
				found = append(found, v)
			}
		}
		if len(found) != 1 {
			problems = append(problems, fmt.Sprintf("%s: %d volumes of that name, want 1", name, len(found)))
			continue
		}
		v := found[0]
		srv, ok := st.Server(e.Hostname)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: its server %s does not exist", name, e.Hostname))
		}
		if v.Size != e.SizeGB {
			problems = append(problems, fmt.Sprintf("%s: size %d GB, plan %d", name, v.Size, e.SizeGB))
		}
		want := e.Location
		if want == "" {
			want = srv.Datacenter.Location.Name
		}
		if v.Location.Name != want {
			problems = append(problems, fmt.Sprintf("%s: location %s, want %s", name, v.Location.Name, want))
		}
		if ok && (v.Server == nil || *v.Server != srv.ID) {
			problems = append(problems, fmt.Sprintf("%s: attached to %q, want %s", name, ServerName(st, v), e.Hostname))
		}
	}
	return problems
}

// Matching are the names of the volumes of st that match the glob (path.Match).
func Matching(st simproc.State, glob string) []string {
	var names []string
	for _, v := range st.Volumes {
		if ok, _ := path.Match(glob, v.Name); ok {
			names = append(names, v.Name)
		}
	}
	return names
}

// sameVolume says whether a (in after) is b (in before) unchanged: size, location, server,
// labels, protection and format. Ids are the caller's to compare.
func sameVolume(before, after simproc.State, b, a schema.Volume) bool {
	return a.Size == b.Size && a.Location.Name == b.Location.Name && ServerName(after, a) == ServerName(before, b) &&
		maps.Equal(a.Labels, b.Labels) && a.Protection == b.Protection && reflect.DeepEqual(a.Format, b.Format)
}

// describe is a volume in one phrase, for the problems of a changed volume.
func describe(st simproc.State, v schema.Volume) string {
	format := "-"
	if v.Format != nil {
		format = *v.Format
	}
	return fmt.Sprintf("%d GB %s on %q labels %v protection %v format %s",
		v.Size, v.Location.Name, ServerName(st, v), v.Labels, v.Protection.Delete, format)
}

// attachedTo names the server v is attached to, so that a problem about an old volume can be
// told apart by host even when the volume's name does not contain the host's.
func attachedTo(st simproc.State, v schema.Volume) string {
	if name := ServerName(st, v); name != "" {
		return ", attached to " + name
	}
	return ""
}

// Changed compares the named volumes of before with after (same id, name, size, location,
// server, labels, protection, format) and returns one sentence per difference.
func Changed(before, after simproc.State, names ...string) []string {
	var diffs []string
	for _, name := range names {
		b, ok := before.Volume(name)
		if !ok {
			diffs = append(diffs, name+": not in the earlier state")
			continue
		}
		a, ok := after.Volume(name)
		switch {
		case !ok:
			diffs = append(diffs, name+": gone")
		case a.ID != b.ID:
			diffs = append(diffs, fmt.Sprintf("%s: id %d, was %d", name, a.ID, b.ID))
		case !sameVolume(before, after, b, a):
			diffs = append(diffs, fmt.Sprintf("%s: now %s, was %s", name, describe(after, a), describe(before, b)))
		}
	}
	return diffs
}

// Unchanged compares every volume of before with after by id, and lists the volumes after has
// that before had not: nothing may differ after a run that must change nothing (--check).
func Unchanged(before, after simproc.State) []string {
	var problems []string
	afterByID := byID(after)
	for _, b := range before.Volumes {
		a, ok := afterByID[b.ID]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s (id %d): gone", b.Name, b.ID))
		case a.Name != b.Name || !sameVolume(before, after, b, a):
			problems = append(problems, fmt.Sprintf("%s (id %d): now %s %s, was %s", b.Name, b.ID, a.Name, describe(after, a), describe(before, b)))
		}
	}
	beforeByID := byID(before)
	for _, a := range after.Volumes {
		if _, ok := beforeByID[a.ID]; !ok {
			problems = append(problems, fmt.Sprintf("%s (id %d): new", a.Name, a.ID))
		}
	}
	return problems
}

func byID(st simproc.State) map[int64]schema.Volume {
	m := make(map[int64]schema.Volume, len(st.Volumes))
	for _, v := range st.Volumes {
		m[v.ID] = v
	}
	return m
}

// Want is what a reset of a fleet may do and must reach.
type Want struct {
	// Plan is the plan the reset follows.
	Plan []plan.Entry
	// Deletes is the reviewed diff's delete list: the only volumes the reset may delete, and
	// all of which a complete reset deletes. An entry matches a volume by id or by name (a
	// simulator restarted from a fleet gives its volumes new ids).
	Deletes []plan.DeleteEntry
	// Old are name patterns (path.Match) no volume outside the plan may match after a complete
	// reset: the diff's selector (OldVolumes).
	Old []string
}

func (w Want) planned() map[string]bool {
	m := make(map[string]bool, len(w.Plan))
	for _, e := range w.Plan {
		m[e.Name()] = true
	}
	return m
}

func (w Want) deletes(v schema.Volume) bool {
	for _, d := range w.Deletes {
		if d.ID == v.ID || d.Name == v.Name {
			return true
		}
	}
	return false
}

// Safe checks what must hold after any run of the reset, complete or not, killed or not: no
// plan volume exists twice; every volume that was there before, is not planned and is not on
// the delete list is still there (same id) and unchanged; no volume that is not planned
// appeared. One sentence per problem.
func Safe(w Want, before, after simproc.State) []string {
	var problems []string
	planned := w.planned()
	count := map[string]int{}
	for _, v := range after.Volumes {
		count[v.Name]++
	}
	for _, e := range w.Plan {
		if n := count[e.Name()]; n > 1 {
			problems = append(problems, fmt.Sprintf("plan volume %s exists %d times", e.Name(), n))
		}
	}
	afterByID := byID(after)
	for _, b := range before.Volumes {
		if planned[b.Name] || w.deletes(b) {
			continue
		}
		a, ok := afterByID[b.ID]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("volume %s (id %d) is gone but is not in the diff's delete list", b.Name, b.ID))
		case a.Name != b.Name || !sameVolume(before, after, b, a):
			problems = append(problems, fmt.Sprintf("volume %s (id %d) changed although the diff leaves it alone: now %s %s, was %s",
				b.Name, b.ID, a.Name, describe(after, a), describe(before, b)))
		}
	}
	beforeByID := byID(before)
	for _, a := range after.Volumes {
		if _, ok := beforeByID[a.ID]; !ok && !planned[a.Name] {
			problems = append(problems, fmt.Sprintf("volume %s (id %d) is neither planned nor was there before", a.Name, a.ID))
		}
	}
	return problems
}

// CheckFleet checks the fleet after a complete reset: Safe, PlanProblems for every plan
// entry, no volume of the delete list left, and no volume outside the plan matching w.Old.
// One sentence per problem; none when the fleet is right.
func CheckFleet(w Want, before, after simproc.State) []string {
	problems := Safe(w, before, after)
	problems = append(problems, PlanProblems(after, w.Plan)...)
	planned := w.planned()
	for _, v := range after.Volumes {
		if planned[v.Name] {
			continue
		}
		if w.deletes(v) {
			problems = append(problems, fmt.Sprintf("old volume %s (id %d, on the diff's delete list) is still there%s", v.Name, v.ID, attachedTo(after, v)))
			continue
		}
		for _, pat := range w.Old {
			if ok, _ := path.Match(pat, v.Name); ok {
				problems = append(problems, fmt.Sprintf("old volume %s (id %d, matching %s) is still there%s", v.Name, v.ID, pat, attachedTo(after, v)))
				break
			}
		}
	}
	return problems
}

// FleetProblems checks the simulator against the whole plan after a complete reset
// (CheckFleet): from the state at Start, with the test's diff file's delete list, no old
// (vol-*) volume may be left.
func (e *Env) FleetProblems() []string {
	e.t.Helper()
	deletes, err := ReadDiffDeletes(e.Path(DiffFile))
	if err != nil {
		e.t.Fatalf("the diff's delete list: %v", err)
	}
	return CheckFleet(Want{Plan: e.Plan().Volumes, Deletes: deletes, Old: []string{OldVolumes}}, e.Initial, e.State())
}

// Mutating is how many mutating /v1 requests the simulator has counted.
func (e *Env) Mutating() int {
	e.t.Helper()
	return e.Stats().Requests.Mutating
}

// VolumeNames are the names of st's volumes.
func VolumeNames(st simproc.State) []string {
	names := make([]string, 0, len(st.Volumes))
	for _, v := range st.Volumes {
		names = append(names, v.Name)
	}
	return names
}
