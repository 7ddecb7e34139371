package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/e2e"
)

// e2eClient changes the simulator's fleet through the API, as someone else would between the
// review and the run; every call fails the test on error.
type e2eClient struct {
	t   *testing.T
	ctx context.Context
	c   *hcloud.Client
}

func e2eAPI(t *testing.T, ctx context.Context, env *e2e.Env) *e2eClient {
	return &e2eClient{t: t, ctx: ctx, c: hcloud.NewClient(hcloud.WithEndpoint(env.Endpoint), hcloud.WithToken(env.Token),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(20 * time.Millisecond)}))}
}

func (c *e2eClient) volume(name string) *hcloud.Volume {
	v, _, err := c.c.Volume.GetByName(c.ctx, name)
	require.NoError(c.t, err)
	require.NotNil(c.t, v, "volume %s", name)
	return v
}

func (c *e2eClient) server(name string) *hcloud.Server {
	s, _, err := c.c.Server.GetByName(c.ctx, name)
	require.NoError(c.t, err)
	require.NotNil(c.t, s, "server %s", name)
	return s
}

func (c *e2eClient) wait(a *hcloud.Action, err error) {
	require.NoError(c.t, err)
	require.NoError(c.t, c.c.Action.WaitFor(c.ctx, a))
}

// otherLocation is a location other than server's.
func (c *e2eClient) otherLocation(server string) string {
	if c.server(server).Location.Name == "fsn1" {
		return "nbg1"
	}
	return "fsn1"
}

// neighbour is another server in server's location, other than not.
func (c *e2eClient) neighbour(server, not string) string {
	loc := c.server(server).Location.Name
	all, err := c.c.Server.All(c.ctx)
	require.NoError(c.t, err)
	for _, s := range all {
		if s.Name != server && s.Name != not && s.Location.Name == loc {
			return s.Name
		}
	}
	c.t.Fatalf("no other server in %s", loc)
	return ""
}

func (c *e2eClient) deleteServer(name string) {
	res, _, err := c.c.Server.DeleteWithResult(c.ctx, c.server(name))
	c.wait(res.Action, err)
}

func (c *e2eClient) detach(name string) {
	a, _, err := c.c.Volume.Detach(c.ctx, c.volume(name))
	c.wait(a, err)
}

// attach attaches the volume to server, detaching it first when detachFirst.
func (c *e2eClient) attach(name, server string, detachFirst bool) {
	v := c.volume(name)
	if detachFirst {
		a, _, err := c.c.Volume.Detach(c.ctx, v)
		c.wait(a, err)
	}
	a, _, err := c.c.Volume.Attach(c.ctx, v, c.server(server))
	c.wait(a, err)
}

func (c *e2eClient) rename(name, to string) {
	_, _, err := c.c.Volume.Update(c.ctx, c.volume(name), hcloud.VolumeUpdateOpts{Name: to})
	require.NoError(c.t, err)
}

func (c *e2eClient) resize(name string, size int) {
	a, _, err := c.c.Volume.Resize(c.ctx, c.volume(name), size)
	c.wait(a, err)
}

func (c *e2eClient) protect(name string) {
	a, _, err := c.c.Volume.ChangeProtection(c.ctx, c.volume(name), hcloud.VolumeChangeProtectionOpts{Delete: hcloud.Ptr(true)})
	c.wait(a, err)
}

func (c *e2eClient) remove(name string) {
	v := c.volume(name)
	if v.Server != nil {
		a, _, err := c.c.Volume.Detach(c.ctx, v)
		c.wait(a, err)
	}
	_, err := c.c.Volume.Delete(c.ctx, v)
	require.NoError(c.t, err)
}

// create creates a volume in location, or attached to server.
func (c *e2eClient) create(name string, size int, location, server string) {
	opts := hcloud.VolumeCreateOpts{Name: name, Size: size}
	if server != "" {
		opts.Server = c.server(server)
	} else {
		opts.Location = &hcloud.Location{Name: location}
	}
	res, _, err := c.c.Volume.Create(c.ctx, opts)
	require.NoError(c.t, err)
	require.NoError(c.t, c.c.Action.WaitFor(c.ctx, append([]*hcloud.Action{res.Action}, res.NextActions...)...))
}

// fill attaches new volumes to server until it has n, and returns their names.
func (c *e2eClient) fill(server string, n int) []string {
	var names []string
	for i := len(c.server(server).Volumes); i < n; i++ {
		name := fmt.Sprintf("extra-%s-%02d", server, i)
		c.create(name, 10, "", server)
		names = append(names, name)
	}
	return names
}
