package volumes

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/sim"
	"github.com/keybuzz/kbv3/internal/sim/simtest"
)

// Tests run against a simulator whose actions take milliseconds: polls and backoffs follow.
func init() {
	tuneClient = func(o *hz.Options) {
		o.PollInterval = 5 * time.Millisecond
		o.Backoff = hcloud.ConstantBackoff(5 * time.Millisecond)
	}
}

// rig is an in-process hcloud-sim and the way to call the modules against it.
type rig struct {
	t        *testing.T
	sim      *sim.Sim
	endpoint string
}

// newRig starts a simulator of cfg (PH3-02 by default) with actions of 15 ms.
func newRig(t *testing.T, cfg sim.Config) *rig {
	t.Helper()
	if cfg.Scenario == "" && cfg.ScenarioData == nil {
		cfg.Scenario = "ph3-02"
	}
	if cfg.ActionTime == 0 {
		cfg.ActionTime = 15 * time.Millisecond
	}
	cfg.Token = simtest.Token
	endpoint, s := simtest.Start(t, cfg)
	return &rig{t: t, sim: s, endpoint: endpoint}
}

// smallFleet: two servers in fsn1, one in nbg1, and volumes in every state a module meets.
func smallFleet() *sim.Scenario {
	return &sim.Scenario{
		Servers: []sim.ScenarioServer{
			{Name: "app-01", Location: "fsn1"}, {Name: "app-02", Location: "fsn1"}, {Name: "db-01", Location: "nbg1"},
		},
		Volumes: []sim.ScenarioVolume{
			{Name: "vol-app-01", Size: 20, Server: "app-01"},
			{Name: "vol-app-02", Size: 20, Server: "app-02"},
			{Name: "vol-db-01", Size: 50, Server: "db-01"},
			{Name: "vol-spare", Size: 10, Location: "fsn1"},
			{Name: "vol-locked", Size: 10, Location: "nbg1", Protected: true},
		},
	}
}

// outcome is a module's printed result, and the mutating requests the call made.
type outcome struct {
	Changed    bool           `json:"changed"`
	Failed     bool           `json:"failed"`
	Msg        string         `json:"msg"`
	Volumes    []Item         `json:"volumes"`
	Diff       []ansible.Diff `json:"diff"`
	Warnings   []string       `json:"warnings"`
	Invocation struct {
		ModuleArgs map[string]any `json:"module_args"`
	} `json:"invocation"`

	mutating int
	elapsed  time.Duration
}

// actions are the items' actions in order.
func (o outcome) actions() []string {
	out := make([]string, len(o.Volumes))
	for i, it := range o.Volumes {
		out[i] = it.Action
	}
	return out
}

// item returns the item of a volume.
func (o outcome) item(t *testing.T, name string) Item {
	t.Helper()
	for _, it := range o.Volumes {
		if it.Volume == name {
			return it
		}
	}
	t.Fatalf("no item for %s in %+v", name, o.Volumes)
	return Item{}
}

// exec runs a module as Ansible would, with the simulator's endpoint and token, diff mode on,
// and returns what it printed.
func exec[T any](r *rig, spec ansible.Spec, run func(ctx context.Context, m *ansible.Module, o *T) (*ansible.Result, error), args map[string]any, check bool) outcome {
	r.t.Helper()
	a := map[string]any{
		"api_token": simtest.Token, "api_endpoint": r.endpoint, "timeout": 30,
		"_ansible_check_mode": check, "_ansible_diff": true, "_ansible_module_name": spec.Name,
	}
	maps.Copy(a, args)
	data, err := json.Marshal(a)
	require.NoError(r.t, err)
	before := r.sim.Stats().Requests
	start := time.Now()
	var buf bytes.Buffer
	code := ansible.Execute(r.t.Context(), spec, data, nil, &buf, run)
	var o outcome
	o.elapsed = time.Since(start)
	require.NoError(r.t, json.Unmarshal(buf.Bytes(), &o), buf.String())
	after := r.sim.Stats().Requests
	o.mutating = after.Mutating - before.Mutating
	for _, route := range []string{"GET /v1/volumes/{id}", "GET /v1/servers/{id}"} {
		assert.Equal(r.t, before.ByRoute[route], after.ByRoute[route], "no %s: one snapshot of list requests", route)
	}
	assert.Equal(r.t, o.Failed, code == 1, "exit code follows failed")
	assert.NotContains(r.t, buf.String(), simtest.Token, "the token is never printed")
	assert.NotContains(r.t, o.Msg, "\n", "msg is one line")
	if check {
		assert.Zero(r.t, o.mutating, "check mode sends no mutating request: %s", buf.String())
	}
	for _, it := range o.Volumes {
		assert.Contains(r.t, Actions[spec.Name], it.Action, "volume %s: the action is one of Actions[%s], which the docs are checked against", it.Volume, spec.Name)
	}
	return o
}

func (r *rig) detach(args map[string]any, check bool) outcome {
	r.t.Helper()
	return exec(r, DetachSpec, Detach, args, check)
}

func (r *rig) delete(args map[string]any, check bool) outcome {
	r.t.Helper()
	return exec(r, DeleteSpec, Delete, args, check)
}

func (r *rig) create(args map[string]any, check bool) outcome {
	r.t.Helper()
	return exec(r, CreateSpec, Create, args, check)
}

func (r *rig) attach(args map[string]any, check bool) outcome {
	r.t.Helper()
	return exec(r, AttachSpec, Attach, args, check)
}

// live is a volume as the simulator holds it.
type live struct {
	ID        int64
	Size      int
	Location  string
	Server    string
	Protected bool
	Labels    map[string]string
}

// volumes returns the simulator's volumes by name, read from its store (no request counted).
func (r *rig) volumes() map[string]live {
	st := r.sim.Store().State()
	names := map[int64]string{}
	for _, sv := range st.Servers {
		names[sv.ID] = sv.Name
	}
	out := map[string]live{}
	for _, v := range st.Volumes {
		l := live{ID: v.ID, Size: v.Size, Location: v.Location.Name, Protected: v.Protection.Delete, Labels: v.Labels}
		if v.Server != nil {
			l.Server = names[*v.Server]
		}
		out[v.Name] = l
	}
	return out
}

// id is the id of a live volume.
func (r *rig) id(name string) int64 {
	r.t.Helper()
	v, ok := r.volumes()[name]
	require.True(r.t, ok, "volume %s exists", name)
	return v.ID
}

// fault adds fault rules in the flag form.
func (r *rig) fault(lines ...string) {
	r.t.Helper()
	for _, l := range lines {
		rule, err := sim.ParseFaultRule(l)
		require.NoError(r.t, err)
		require.NoError(r.t, r.sim.AddFaults(rule))
	}
}

// predicted is the action a check-mode run reports for a real run's action.
func predicted(action string) string {
	if w, ok := map[string]string{
		"detached": "would_detach", "deleted": "would_delete", "created": "would_create", "attached": "would_attach",
		"resized": "would_resize", "updated": "would_update", ActionMoved: ActionWouldMove,
	}[action]; ok {
		return w
	}
	return action
}

// assertPredicts checks that a check-mode run reported exactly what the real run then did.
func assertPredicts(t *testing.T, check, real outcome) {
	t.Helper()
	require.Len(t, check.Volumes, len(real.Volumes))
	assert.Equal(t, real.Changed, check.Changed, "changed")
	// A check-mode refusal that an earlier task may lift ("would be refused: ...") warns
	// instead of failing; any other refusal fails both runs alike.
	predictedOnly := false
	for _, c := range check.Volumes {
		if c.Action == ActionFailed || c.Action == ActionRefused {
			if !strings.HasPrefix(c.Error, "would be refused: ") {
				predictedOnly = false
				break
			}
			predictedOnly = true
		}
	}
	if predictedOnly {
		assert.True(t, real.Failed, "the real run refuses what check mode said it would")
		assert.False(t, check.Failed, "check mode warns about a predicted refusal")
		assert.NotEmpty(t, check.Warnings)
	} else {
		assert.Equal(t, real.Failed, check.Failed, "failed")
	}
	for i, it := range real.Volumes {
		c := check.Volumes[i]
		assert.Equal(t, it.Volume, c.Volume)
		assert.Equal(t, predicted(it.Action), c.Action, "volume %s: check said %s, the run did %s", it.Volume, c.Action, it.Action)
	}
	assert.Len(t, check.Diff, len(real.Diff), "one diff per changed volume in both")
}
