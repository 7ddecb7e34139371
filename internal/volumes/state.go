package volumes

import (
	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
)

// State is a volume as diff mode shows it; the zero value (nil pointer) is "absent".
type State struct {
	Name       string            `json:"name"`
	ID         int64             `json:"id,omitempty"`
	Size       int               `json:"size"`
	Location   string            `json:"location"`
	Server     string            `json:"server"`
	Protection bool              `json:"protection"`
	Labels     map[string]string `json:"labels"`
}

// stateOf returns v as diff mode shows it, or nil when v is nil.
func stateOf(s *hz.Snapshot, v *hcloud.Volume) *State {
	if v == nil {
		return nil
	}
	l := s.Live(v)
	labels := l.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return &State{Name: l.Name, ID: l.ID, Size: l.SizeGB, Location: l.Location, Server: l.Server, Protection: l.Protected, Labels: labels}
}

// volumeDiff builds the diff entry for one volume; a nil state is shown as an empty object.
func volumeDiff(name string, before, after *State) *ansible.Diff {
	d := &ansible.Diff{BeforeHeader: "volume " + name + " (before)", AfterHeader: "volume " + name + " (after)"}
	d.Before, d.After = map[string]any{}, map[string]any{}
	if before != nil {
		d.Before = before
	}
	if after != nil {
		d.After = after
	}
	return d
}
