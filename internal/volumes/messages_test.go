package volumes

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keybuzz/kbv3/internal/sim"
)

// every module, each with arguments that make it read the snapshot.
var everyModule = []struct {
	name string
	run  func(r *rig, args map[string]any) outcome
	args map[string]any
}{
	{"detach", func(r *rig, a map[string]any) outcome { return r.detach(a, false) }, map[string]any{"name": "vol-app-01"}},
	{"delete", func(r *rig, a map[string]any) outcome { return r.delete(a, false) }, map[string]any{"name": "vol-spare", "id": 1}},
	{"create", func(r *rig, a map[string]any) outcome { return r.create(a, false) }, map[string]any{"name": "vol-new", "size": 10, "location": "fsn1"}},
	{"attach", func(r *rig, a map[string]any) outcome { return r.attach(a, false) }, map[string]any{"name": "vol-spare", "server": "app-01"}},
	{"info", func(r *rig, a map[string]any) outcome { return exec(r, InfoSpec, Info, a, false) }, map[string]any{}},
	{"verify", func(r *rig, a map[string]any) outcome { return exec(r, VerifySpec, Verify, a, false) },
		map[string]any{"volumes": []map[string]any{{"hostname": "app-01", "volume": "vol-app-01", "size_gb": 20}}}},
}

// TestMessagesNameWhatToFix: a refused token, a missing permission and an unreachable endpoint
// are said the same way by every module, naming the option to fix and the endpoint; an
// unreachable endpoint never blames the token.
func TestMessagesNameWhatToFix(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(r *rig, args map[string]any)
		want     []string
		wantNot  []string
		endpoint func(r *rig) string
	}{
		{
			name:  "a refused token",
			setup: func(r *rig, args map[string]any) { args["api_token"] = strings.Repeat("w", 64) },
			want:  []string{"api_token: the API refused the token", "api_token or HCLOUD_TOKEN"},
		},
		{
			name:  "a token without the permission",
			setup: func(r *rig, args map[string]any) { r.fault("GET /v1/volumes status=403 code=forbidden") },
			want:  []string{"api_token: the API denied the token the permission", "api_token or HCLOUD_TOKEN"},
		},
		{
			name: "TLS spoken to a plain-HTTP endpoint",
			setup: func(r *rig, args map[string]any) {
				args["api_endpoint"] = strings.Replace(r.endpoint, "http://", "https://", 1)
			},
			want:    []string{"api_endpoint: cannot reach the API at https://", "api_endpoint or HCLOUD_ENDPOINT"},
			wantNot: []string{"api_token", "HCLOUD_TOKEN", "attempts"},
		},
		{
			name:    "a refused connection",
			setup:   func(r *rig, args map[string]any) { args["api_endpoint"] = "http://127.0.0.1:1/v1" },
			want:    []string{"api_endpoint: cannot reach the API at http://127.0.0.1:1/v1", "api_endpoint or HCLOUD_ENDPOINT"},
			wantNot: []string{"api_token", "HCLOUD_TOKEN", "attempts"},
		},
	}
	for _, tc := range cases {
		for _, mod := range everyModule {
			t.Run(tc.name+"/"+mod.name, func(t *testing.T) {
				r := newRig(t, sim.Config{ScenarioData: smallFleet()})
				args := map[string]any{}
				for k, v := range mod.args {
					args[k] = v
				}
				tc.setup(r, args)
				out := mod.run(r, args)
				assert.True(t, out.Failed)
				for _, w := range tc.want {
					assert.Contains(t, out.Msg, w)
				}
				if _, own := args["api_endpoint"]; !own {
					assert.Contains(t, out.Msg, r.endpoint, "the message names the endpoint")
				}
				for _, w := range tc.wantNot {
					assert.NotContains(t, out.Msg, w)
				}
			})
		}
	}
}

// TestForbiddenMutation: a read-only token reads the snapshot and is denied the change; the
// item's error says which option to fix.
func TestForbiddenMutation(t *testing.T) {
	r := newRig(t, sim.Config{ScenarioData: smallFleet()})
	r.fault("POST /v1/volumes/*/actions/detach status=403 code=forbidden")
	out := r.detach(map[string]any{"name": "vol-app-01"}, false)
	assert.True(t, out.Failed)
	assert.Equal(t, []string{ActionFailed}, out.actions())
	assert.Contains(t, out.Volumes[0].Error, "api_token or HCLOUD_TOKEN")
	assert.Contains(t, out.Volumes[0].Error, r.endpoint)
	assert.Equal(t, 1, strings.Count(out.Msg, "vol-app-01"), out.Msg)
}
