package bench

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// State is GET /_sim/state, which the harness diffs against the plan and checks runs against.
type State simproc.State

func (st *State) serverNames() map[int64]string {
	m := make(map[int64]string, len(st.Servers))
	for _, s := range st.Servers {
		m[s.ID] = s.Name
	}
	return m
}

// ServerLocations maps server names to location names.
func (st *State) ServerLocations() map[string]string {
	m := make(map[string]string, len(st.Servers))
	for _, s := range st.Servers {
		m[s.Name] = s.Datacenter.Location.Name
	}
	return m
}

// Live turns the state's volumes into the plan package's live volumes.
func (st *State) Live() []plan.Live {
	names := st.serverNames()
	out := make([]plan.Live, 0, len(st.Volumes))
	for _, v := range st.Volumes {
		l := plan.Live{ID: v.ID, Name: v.Name, SizeGB: v.Size, Location: v.Location.Name, Labels: v.Labels, Protected: v.Protection.Delete}
		if v.Server != nil {
			l.Server = names[*v.Server]
		}
		out = append(out, l)
	}
	return out
}

// DeletePatterns select the old volumes, as playbooks/volume_diff_v3.yml does by default.
var DeletePatterns = []string{"vol-*"}

// WriteDiff computes the reviewed diff of p against st (what playbooks/volume_diff_v3.yml
// writes) and stores it at dest.
func WriteDiff(p *plan.Plan, st *State, dest string) (*plan.Diff, error) {
	d, err := plan.Compute(p, st.Live(), st.ServerLocations(), plan.Selector{Names: DeletePatterns})
	if err != nil {
		return nil, err
	}
	data, err := d.Encode()
	if err != nil {
		return nil, err
	}
	return d, os.WriteFile(dest, data, 0o644)
}

// volumeKey is what "untouched" compares.
func volumeKey(v schema.Volume, servers map[int64]string) string {
	srv := ""
	if v.Server != nil {
		srv = servers[*v.Server]
	}
	labels := slices.Sorted(maps.Keys(v.Labels))
	var lb strings.Builder
	for _, k := range labels {
		fmt.Fprintf(&lb, "%s=%s,", k, v.Labels[k])
	}
	return fmt.Sprintf("id=%d name=%s size=%d loc=%s server=%s protected=%t labels=%s",
		v.ID, v.Name, v.Size, v.Location.Name, srv, v.Protection.Delete, lb.String())
}

// VerifyPlan checks the end state against the plan: each plan volume exists once with its size
// and location and is attached to its server; no volume matching DeletePatterns is left; every
// volume that was there before and that the diff does not delete is untouched; nothing else
// exists. It returns the problems, none when the fleet is right.
func VerifyPlan(p *plan.Plan, d *plan.Diff, before, after *State) []string {
	var problems []string
	servers := after.serverNames()
	serverByName := map[string]simproc.Server{}
	for _, s := range after.Servers {
		serverByName[s.Name] = s
	}
	byName := map[string][]schema.Volume{}
	for _, v := range after.Volumes {
		byName[v.Name] = append(byName[v.Name], v)
	}
	planned := map[string]bool{}
	for _, e := range p.Volumes {
		name := e.Name()
		planned[name] = true
		vs := byName[name]
		if len(vs) != 1 {
			problems = append(problems, fmt.Sprintf("%s: %d volumes with this name, want 1", name, len(vs)))
			continue
		}
		v := vs[0]
		srv, ok := serverByName[e.Hostname]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: server %s does not exist", name, e.Hostname))
			continue
		}
		if v.Size != e.SizeGB {
			problems = append(problems, fmt.Sprintf("%s: size %d, plan %d", name, v.Size, e.SizeGB))
		}
		if want := cmp.Or(e.Location, srv.Datacenter.Location.Name); v.Location.Name != want {
			problems = append(problems, fmt.Sprintf("%s: location %s, plan %s", name, v.Location.Name, want))
		}
		if v.Server == nil || *v.Server != srv.ID {
			got := "nothing"
			if v.Server != nil {
				got = servers[*v.Server]
			}
			problems = append(problems, fmt.Sprintf("%s: attached to %s, plan %s", name, got, e.Hostname))
		}
	}
	deleted := map[int64]bool{}
	for _, de := range d.Delete {
		deleted[de.ID] = true
	}
	beforeServers := before.serverNames()
	beforeByID := map[int64]schema.Volume{}
	for _, v := range before.Volumes {
		beforeByID[v.ID] = v
	}
	for _, v := range after.Volumes {
		for _, pat := range DeletePatterns {
			if ok, _ := path.Match(pat, v.Name); ok {
				problems = append(problems, fmt.Sprintf("%s (id %d): old volume left", v.Name, v.ID))
			}
		}
		if planned[v.Name] {
			continue
		}
		if b, ok := beforeByID[v.ID]; !ok {
			problems = append(problems, fmt.Sprintf("%s (id %d): not in the plan, created by the run", v.Name, v.ID))
		} else if volumeKey(b, beforeServers) != volumeKey(v, servers) {
			problems = append(problems, fmt.Sprintf("%s (id %d): changed although the diff leaves it alone", v.Name, v.ID))
		}
	}
	for _, b := range before.Volumes {
		if deleted[b.ID] || planned[b.Name] {
			continue
		}
		found := false
		for _, v := range after.Volumes {
			if v.ID == b.ID {
				found = true
				break
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s (id %d): gone although the diff leaves it alone", b.Name, b.ID))
		}
	}
	sort.Strings(problems)
	return problems
}

// VerifyUnchanged checks that no volume changed between before and after (a check-mode run).
func VerifyUnchanged(before, after *State) []string {
	keys := func(st *State) map[string]bool {
		names := st.serverNames()
		m := map[string]bool{}
		for _, v := range st.Volumes {
			m[volumeKey(v, names)] = true
		}
		return m
	}
	b, a := keys(before), keys(after)
	var problems []string
	for k := range b {
		if !a[k] {
			problems = append(problems, "changed or gone: "+k)
		}
	}
	for k := range a {
		if !b[k] {
			problems = append(problems, "new or changed: "+k)
		}
	}
	sort.Strings(problems)
	return problems
}

// GeneratedPlan is the plan of a generated fleet: one kbv3-<host>-data volume per server, of the
// size of the server's old volume, labelled like the shipped plan.
func GeneratedPlan(st *State) *plan.Plan {
	sizes := map[int64]int{}
	for _, v := range st.Volumes {
		if v.Server != nil {
			sizes[*v.Server] = max(sizes[*v.Server], v.Size)
		}
	}
	var entries []plan.Entry
	for _, s := range st.Servers {
		role := cmp.Or(s.Labels["role"], "generated")
		entries = append(entries, plan.Entry{
			Hostname: s.Name, SizeGB: max(sizes[s.ID], 10), Role: role, Mountpoint: "/data/" + role,
			Labels: map[string]string{"managed-by": "kbv3", "role": role},
		})
	}
	return plan.New(entries)
}

// WriteInventory writes a YAML inventory with one host per plan entry (the kbv3 playbook scopes
// the plan to the play's hosts).
func WriteInventory(p *plan.Plan, dest string) error {
	var b strings.Builder
	b.WriteString("---\n# Generated by kbv3-bench: one host per plan entry; never connected to.\nall:\n  hosts:\n")
	for _, e := range p.Volumes {
		fmt.Fprintf(&b, "    %s:\n", e.Hostname)
	}
	return os.WriteFile(dest, []byte(b.String()), 0o644)
}
