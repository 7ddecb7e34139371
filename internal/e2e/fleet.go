package e2e

import (
	"fmt"
	"path"
	"reflect"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// ArchiveVolume is the scenario's volume that is neither planned nor selected: no run may touch it.
const ArchiveVolume = "keybuzz-archive-01"

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

// PlanProblems checks entries against st: each entry's volume exists exactly once, with the
// planned size, in the planned location (its server's when the plan sets none), attached to its
// server. One sentence per problem.
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
		if v.Size != e.SizeGB {
			problems = append(problems, fmt.Sprintf("%s: size %d GB, plan %d", name, v.Size, e.SizeGB))
		}
		want := e.Location
		if want == "" {
			if s, ok := st.Server(e.Hostname); ok {
				want = s.Location.Name
			}
		}
		if v.Location.Name != want {
			problems = append(problems, fmt.Sprintf("%s: location %s, want %s", name, v.Location.Name, want))
		}
		if got := ServerName(st, v); got != e.Hostname {
			problems = append(problems, fmt.Sprintf("%s: attached to %q, want %s", name, got, e.Hostname))
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
		case a.Size != b.Size || a.Location.Name != b.Location.Name || ServerName(after, a) != ServerName(before, b) ||
			!reflect.DeepEqual(a.Labels, b.Labels) || a.Protection != b.Protection || !reflect.DeepEqual(a.Format, b.Format):
			diffs = append(diffs, fmt.Sprintf("%s: now %d GB %s on %q labels %v protection %v, was %d GB %s on %q labels %v protection %v",
				name, a.Size, a.Location.Name, ServerName(after, a), a.Labels, a.Protection.Delete,
				b.Size, b.Location.Name, ServerName(before, b), b.Labels, b.Protection.Delete))
		}
	}
	return diffs
}

// FleetProblems checks the simulator against the whole plan after a full reset: every plan volume
// exists once as planned, no vol-* volume is left, the archive volume is as it was at Start, and
// there is no other volume.
func (e *Env) FleetProblems() []string {
	e.t.Helper()
	st := e.State()
	p := e.Plan()
	problems := PlanProblems(st, p.Volumes)
	for _, n := range Matching(st, "vol-*") {
		problems = append(problems, n+": old volume still there")
	}
	problems = append(problems, Changed(e.Initial, st, ArchiveVolume)...)
	planned := map[string]bool{ArchiveVolume: true}
	for _, en := range p.Volumes {
		planned[en.Name()] = true
	}
	for _, v := range st.Volumes {
		if ok, _ := path.Match("vol-*", v.Name); !ok && !planned[v.Name] {
			problems = append(problems, v.Name+": a volume neither planned nor in the scenario")
		}
	}
	return problems
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
