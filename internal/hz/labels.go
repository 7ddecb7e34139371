package hz

import (
	"context"
	"maps"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// Outcomes of UpdateLabels.
const (
	OutcomeUpdated     Outcome = "updated"
	OutcomeWouldUpdate Outcome = "would_update"
)

// LabelsOpts: set the labels of volume Name to exactly Labels (nil or empty: none).
type LabelsOpts struct {
	Name   string
	Labels map[string]string
	Check  bool
}

// Validate checks the options.
func (o LabelsOpts) Validate() error { return validateName(o.Name) }

// UpdateLabels sets the volume's labels: OutcomeUpdated, or OutcomeOK when they are as asked.
// The API changes labels at once, without an action to wait for.
func (c *Client) UpdateLabels(ctx context.Context, s *Snapshot, o LabelsOpts) (Result, error) {
	v, err := c.mustExist(s, o.Name, o.Validate())
	if err != nil {
		return c.refuse(s, o.Name, v, err)
	}
	switch {
	case maps.Equal(v.Labels, o.Labels):
		return c.noop(s, o.Name, v, OutcomeOK)
	case o.Check:
		return c.noop(s, o.Name, v, OutcomeWouldUpdate)
	}
	// Not nil: hcloud-go leaves nil labels out of the request, which would keep the old ones.
	labels := maps.Clone(o.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	updated := *v
	updated.Labels = labels
	return c.apply(ctx, s, v, OutcomeUpdated, OutcomeOK, fixed(&updated), mutation{
		send: func(ctx context.Context) ([]*hcloud.Action, *hcloud.Response, error) {
			_, resp, err := c.hc.Volume.Update(ctx, v, hcloud.VolumeUpdateOpts{Labels: labels})
			return nil, resp, err
		},
		made: c.madeIf(o.Name, func(cur *hcloud.Volume) bool { return cur != nil && maps.Equal(cur.Labels, o.Labels) }),
	})
}
