package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/plan"
)

// Preparation is what one run of the reset playbook has to do, decided once at its start from
// the plan file, the reviewed diff and one snapshot of the live volumes (kbv3_volume_info with
// plan_path and diff_path). The playbook's stages work through Todo only, so a rerun after
// success sends no module a volume and costs two list requests, and --check predicts each stage
// from the same decisions the real run makes.
type Preparation struct {
	// Full is true when every plan host is a host of the play: only then may the old volumes the
	// diff saw detached be deleted, and every volume matching the selector must be gone after.
	Full bool `json:"full"`
	// Entries are the plan entries of the play's hosts; Deletes the delete entries in scope.
	Entries []plan.Entry       `json:"entries"`
	Deletes []plan.DeleteEntry `json:"deletes"`
	// Forbidden are the name patterns no volume may match after the run (for the verify stage).
	Forbidden []string `json:"forbidden"`
	Todo      Todo     `json:"todo"`
}

// Todo lists, per stage, the entries whose volume still needs that stage. Create also lists
// existing volumes that differ from the plan (size, location, labels), so that the create module
// resizes, relabels or fails them with both values before anything is attached.
type Todo struct {
	Detach []plan.DeleteEntry `json:"detach"`
	Delete []plan.DeleteEntry `json:"delete"`
	Create []plan.Entry       `json:"create"`
	Attach []plan.Entry       `json:"attach"`
}

// loadReset reads and validates the plan and the reviewed diff files, strictly: every problem
// names the file and the entry, and nothing is asked of the API before both are sound.
func loadReset(planPath, diffPath string) (*plan.Plan, *plan.Diff, error) {
	p, err := plan.Load(planPath)
	if err != nil {
		return nil, nil, fmt.Errorf("plan_path: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, nil, fmt.Errorf("plan_path %s: %w", planPath, err)
	}
	d, err := plan.LoadDiff(diffPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("diff_path %s does not exist: compute it with playbooks/volume_diff_v3.yml, review it, then run the reset again; the reset deletes only what that file lists", diffPath)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("diff_path: %w", err)
	}
	if err := d.Validate(p); err != nil {
		return nil, nil, fmt.Errorf("diff_path %s: %w", diffPath, err)
	}
	return p, d, nil
}

// prepare scopes the plan and the diff to the play's hosts, checks every delete entry in scope
// against the live volumes exactly as kbv3_volume_delete will (a refusal here stops the run
// before any change), and decides each stage's work. hosts nil means the whole plan.
func prepare(m *ansible.Module, p *plan.Plan, d *plan.Diff, hosts, inventory []string, snap *hz.Snapshot) (*Preparation, error) {
	prep := &Preparation{Full: true, Entries: p.Volumes}
	if hosts != nil {
		sub, unplanned := p.Only(hosts)
		prep.Entries = sub.Volumes
		prep.Full = len(sub.Volumes) == len(p.Volumes)
		if len(unplanned) > 0 {
			if len(unplanned) == 1 {
				m.Warn("1 host of the play has no plan entry, nothing is done for it: %s", short(unplanned))
			} else {
				m.Warn("%d hosts of the play have no plan entry, nothing is done for them: %s", len(unplanned), short(unplanned))
			}
		}
	}
	if inventory != nil {
		var absent []string
		for _, e := range p.Volumes {
			if !slices.Contains(inventory, e.Hostname) {
				absent = append(absent, e.Hostname)
			}
		}
		if len(absent) > 0 {
			m.Warn("%d plan hosts are not in the inventory, their volumes are left alone: %s", len(absent), short(absent))
		}
	}
	inPlay := map[string]bool{}
	for _, e := range prep.Entries {
		inPlay[e.Hostname] = true
	}
	for _, e := range d.Delete {
		// A limited run deletes only what the reviewer saw attached to its hosts; an old volume
		// seen detached belongs to no host and waits for a run over the whole plan.
		if prep.Full || inPlay[e.Server] {
			prep.Deletes = append(prep.Deletes, e)
		}
	}
	if prep.Full {
		prep.Forbidden = slices.Clone(d.Selector.Names)
	} else {
		for _, e := range prep.Deletes {
			prep.Forbidden = append(prep.Forbidden, e.Name)
		}
	}
	if prep.Forbidden == nil {
		prep.Forbidden = []string{}
	}

	var refusals []string
	check := DeleteOptions{Detach: true}
	for _, e := range prep.Deletes {
		r := ref{index: slices.Index(d.Delete, e), list: "delete", DeleteEntry: e}
		v, err := r.resolve(snap)
		if err == nil && v != nil {
			err = check.check(r, stateOf(snap, v))
		}
		switch {
		case err != nil:
			refusals = append(refusals, err.Error())
		case v == nil:
		default:
			if v.Server != nil && e.Server != "" && snap.ServerName(v) == e.Server {
				e.ServerID = v.Server.ID
			}
			prep.Todo.Delete = append(prep.Todo.Delete, e)
			if v.Server != nil {
				prep.Todo.Detach = append(prep.Todo.Detach, e)
			}
		}
	}
	if len(refusals) > 0 {
		return nil, fmt.Errorf("the reviewed diff no longer matches the live volumes, nothing was changed (refused: %d): %s",
			len(refusals), strings.Join(refusals, "; "))
	}

	for _, e := range prep.Entries {
		// The stages get the server's id and location with the entry, so that no batch reads
		// the servers again. An entry whose location disagrees with its server's goes without
		// them: the create stage reads the server and fails that entry, naming both locations.
		if sv := snap.Server(e.Hostname); sv != nil {
			if loc := locationOfServer(sv); e.Location == "" || e.Location == loc {
				e.ServerID, e.Location = sv.ID, loc
			}
		}
		v := snap.Volume(e.Name())
		if v == nil {
			prep.Todo.Create = append(prep.Todo.Create, e)
			prep.Todo.Attach = append(prep.Todo.Attach, e)
			continue
		}
		live := snap.Live(v)
		location := e.Location
		if location == "" {
			location = locationOfServer(snap.Server(e.Hostname))
		}
		if live.SizeGB != e.SizeGB || (location != "" && live.Location != location) ||
			(e.Labels != nil && !maps.Equal(live.Labels, e.Labels)) {
			prep.Todo.Create = append(prep.Todo.Create, e)
		}
		if live.Server != e.Hostname {
			prep.Todo.Attach = append(prep.Todo.Attach, e)
		}
	}
	for _, l := range []*[]plan.DeleteEntry{&prep.Deletes, &prep.Todo.Detach, &prep.Todo.Delete} {
		if *l == nil {
			*l = []plan.DeleteEntry{}
		}
	}
	for _, l := range []*[]plan.Entry{&prep.Entries, &prep.Todo.Create, &prep.Todo.Attach} {
		if *l == nil {
			*l = []plan.Entry{}
		}
	}
	return prep, nil
}

// short lists at most ten names, so that a warning about a large fleet stays one line.
func short(names []string) string {
	if len(names) <= 10 {
		return fmt.Sprint(names)
	}
	return fmt.Sprintf("%v and %d more", names[:10], len(names)-10)
}
