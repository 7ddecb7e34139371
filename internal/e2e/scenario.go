package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/keybuzz/kbv3/internal/plan"
	"github.com/keybuzz/kbv3/internal/sim/simproc"
)

// Server and Volume are entries of a hcloud-sim scenario file (docs/SIMULATOR.md).
type Server struct {
	Name     string `json:"name"`
	Location string `json:"location"`
}

// Volume is a volume of a scenario file; Server, when set, is the name of the server it is
// attached to (Location is then the server's).
type Volume struct {
	Name      string            `json:"name"`
	Size      int               `json:"size"`
	Server    string            `json:"server,omitempty"`
	Location  string            `json:"location,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Format    string            `json:"format,omitempty"`
	Protected bool              `json:"protected,omitempty"`
}

// Fleet is a scenario (servers and their volumes) with the plan for it. A fleet without
// servers and volumes is the simulator's built-in scenario of that Name. Unrelated names the
// volumes that are neither planned nor old: no reset may ever touch them.
type Fleet struct {
	Name      string
	Servers   []Server
	Volumes   []Volume
	Plan      []plan.Entry
	Unrelated []string
}

// SmallFleet is six servers over three locations: four attached old volumes, one detached, the
// unrelated archive volume attached to backup-01, an unrelated detached scratch volume, and a
// plan of one new volume per server.
func SmallFleet() Fleet {
	f := Fleet{Name: "small", Unrelated: []string{ArchiveVolume, "scratch-01"}}
	for _, s := range []struct {
		name, loc string
		old, size int
	}{
		{"web-01", "fsn1", 20, 20}, {"web-02", "nbg1", 20, 20}, {"db-01", "hel1", 50, 50},
		{"db-02", "fsn1", 50, 100}, {"cache-01", "nbg1", 0, 10}, {"backup-01", "hel1", 0, 30},
	} {
		f.Servers = append(f.Servers, Server{Name: s.name, Location: s.loc})
		if s.old > 0 {
			f.Volumes = append(f.Volumes, Volume{Name: "vol-" + s.name, Size: s.old, Server: s.name, Format: "xfs"})
		}
		role := strings.SplitN(s.name, "-", 2)[0]
		f.Plan = append(f.Plan, plan.Entry{Hostname: s.name, SizeGB: s.size, Role: role, Mountpoint: "/data/" + role,
			Labels: map[string]string{"managed-by": "kbv3", "role": role}})
	}
	f.Volumes = append(f.Volumes,
		Volume{Name: "vol-cache-01-old", Size: 10, Location: "nbg1"},
		Volume{Name: ArchiveVolume, Size: 100, Server: "backup-01", Labels: map[string]string{"purpose": "archive"}},
		Volume{Name: "scratch-01", Size: 10, Location: "fsn1"},
	)
	return f
}

// PH3Fleet is the report's fleet (hcloud-sim --scenario ph3-02) with the shipped plan.
func PH3Fleet(root string) (Fleet, error) {
	p, err := plan.Load(filepath.Join(root, PlanFile))
	if err != nil {
		return Fleet{}, fmt.Errorf("%s: %w", PlanFile, err)
	}
	return Fleet{Name: "ph3-02", Plan: p.Volumes, Unrelated: []string{ArchiveVolume}}, nil
}

// ScenarioJSON is the fleet as a --scenario-file.
func (f Fleet) ScenarioJSON() []byte {
	b, _ := json.MarshalIndent(map[string]any{"servers": f.Servers, "volumes": f.Volumes}, "", "  ")
	return append(b, '\n')
}

// PlanJSON is the plan file.
func (f Fleet) PlanJSON() []byte {
	b, _ := plan.New(f.Plan).Encode() // plain structs and maps: encoding cannot fail
	return b
}

// InventoryYAML is an inventory of the plan's hosts (never connected to).
func (f Fleet) InventoryYAML() []byte {
	var b bytes.Buffer
	b.WriteString("---\nall:\n  hosts:\n")
	for _, e := range f.Plan {
		fmt.Fprintf(&b, "    %s:\n      ansible_host: 192.0.2.1\n", e.Hostname)
	}
	return b.Bytes()
}

// FleetFromState is the fleet as the simulator holds it now, plan and unrelated names kept: the
// scenario to restart a simulator from (for example after an action that never finishes, whose
// change then never lands). Ids change with the restart; names, sizes, locations, attachments,
// labels, format and protection stay.
func FleetFromState(f Fleet, st simproc.State) Fleet {
	out := Fleet{Name: f.Name, Plan: f.Plan, Unrelated: f.Unrelated}
	for _, s := range st.Servers {
		out.Servers = append(out.Servers, Server{Name: s.Name, Location: s.Datacenter.Location.Name})
	}
	for _, v := range st.Volumes {
		nv := Volume{Name: v.Name, Size: v.Size, Location: v.Location.Name, Labels: v.Labels, Protected: v.Protection.Delete}
		if v.Server != nil {
			if s, ok := st.ServerByID(*v.Server); ok {
				nv.Server = s.Name
			}
		}
		if v.Format != nil {
			nv.Format = *v.Format
		}
		out.Volumes = append(out.Volumes, nv)
	}
	return out
}

// SimOptions is how to start hcloud-sim for a harness.
type SimOptions struct {
	// Binary is the simulator (default <Root>/bin/hcloud-sim).
	Binary, Root string
	// Dir receives the fleet's scenario file (when the fleet has servers or volumes).
	Dir   string
	Fleet Fleet
	// Token (default simproc.Token: long and unlike any resource name, since Ansible masks
	// no_log values wherever they occur in results).
	Token string
	// ActionTime is how long every action takes; 0 keeps the simulator's realistic times.
	ActionTime time.Duration
	// Args are more hcloud-sim flags (--fault ..., --rate-limit off, --seed N, ...).
	Args []string
	// Log, when set, receives the simulator's stderr as it comes.
	Log io.Writer
	// DieWithParent ends the simulator with the calling process, even when that is killed
	// with SIGKILL (a long benchmark).
	DieWithParent bool
}

// StartSimulator starts hcloud-sim with the fleet; ctx bounds the start-up only. Stop it with
// Sim.Stop.
func StartSimulator(ctx context.Context, o SimOptions) (*simproc.Sim, error) {
	po := simproc.Options{Binary: o.Binary, Token: o.Token, ActionTime: o.ActionTime, Args: o.Args, Stderr: o.Log,
		Scenario: o.Fleet.Name}
	if po.Binary == "" {
		po.Binary = filepath.Join(o.Root, "bin", "hcloud-sim")
	}
	if po.Token == "" {
		po.Token = simproc.Token
	}
	if o.DieWithParent {
		po.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	}
	if o.Fleet.Servers != nil || o.Fleet.Volumes != nil {
		po.Scenario, po.ScenarioFile = "", filepath.Join(o.Dir, "scenario.json")
		if err := os.WriteFile(po.ScenarioFile, o.Fleet.ScenarioJSON(), 0o644); err != nil {
			return nil, err
		}
	}
	return simproc.Start(ctx, po)
}

// StartSim starts bin/hcloud-sim of root with the fleet written to dir, 50 ms actions and the
// given extra flags: the simulator of the reliability tests and the soak.
func StartSim(ctx context.Context, root, dir string, f Fleet, token string, args ...string) (*simproc.Sim, error) {
	return StartSimulator(ctx, SimOptions{Root: root, Dir: dir, Fleet: f, Token: token, ActionTime: 50 * time.Millisecond, Args: args})
}
