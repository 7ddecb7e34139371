package sim_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keybuzz/kbv3/internal/sim"
)

func TestScenarioPH302(t *testing.T) {
	e := start(t, fast("ph3-02"))
	servers, err := e.client.Server.All(e.ctx)
	require.NoError(t, err)
	require.Len(t, servers, 47)
	locations := map[string]int{}
	for _, s := range servers {
		locations[s.Location.Name]++
		assert.Equal(t, "prod", s.Labels["env"])
		assert.Equal(t, s.Name[:strings.LastIndex(s.Name, "-")], s.Labels["role"])
		assert.NotZero(t, s.PublicNet.IPv4.IP)
	}
	assert.Len(t, locations, 3)
	for _, loc := range []string{"fsn1", "nbg1", "hel1"} {
		assert.Positive(t, locations[loc], loc)
	}

	vols, err := e.client.Volume.All(e.ctx)
	require.NoError(t, err)
	require.Len(t, vols, 41)
	old, attachedTo := 0, map[int64]bool{}
	for _, v := range vols {
		require.NotNil(t, v.Server, v.Name)
		if strings.HasPrefix(v.Name, "vol-") {
			old++
			attachedTo[v.Server.ID] = true
		}
	}
	assert.Equal(t, 40, old)
	assert.Len(t, attachedTo, 40, "one old volume on each of 40 servers")
	for _, name := range []string{"vol-analytics-01", "vol-backup-01", "vol-db-master-01", "vol-db-slave-01", "vol-db-slave-02", "vol-haproxy-01", "vol-haproxy-02", "vol-k8s-worker-01", "vol-minio-01"} {
		e.volume(t, name)
	}
	archive := e.volume(t, "keybuzz-archive-01")
	assert.Equal(t, 100, archive.Size)
	assert.Equal(t, map[string]string{"purpose": "archive"}, archive.Labels)
	assert.Equal(t, e.server(t, "backup-01").ID, archive.Server.ID)
}

func TestScenarioIsDeterministic(t *testing.T) {
	state := func(seed int64) []byte {
		cfg := fast("ph3-02")
		cfg.Seed = seed
		s, err := sim.New(cfg)
		require.NoError(t, err)
		b, err := json.Marshal(s.Store().State())
		require.NoError(t, err)
		return b
	}
	assert.Equal(t, state(3), state(3))
	assert.NotEqual(t, state(3), state(4))
}

func TestScenarioGeneratedLarge(t *testing.T) {
	e := start(t, fast("generated:500"))
	st := e.sim.Store().State()
	assert.Len(t, st.Servers, 500)
	assert.Len(t, st.Volumes, 500)
	r := e.api(t, "GET", "/servers?name=k8s-worker-15", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Len(t, r.body["servers"], 1)
}

func TestScenarioFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "fleet.json")
	require.NoError(t, os.WriteFile(good, []byte(`{
	  "servers": [{"name": "web-01", "location": "nbg1"}, {"name": "db-01", "location": "hel1", "server_type": "ccx23", "labels": {"tier": "db"}}],
	  "volumes": [{"name": "vol-web-01", "size": 20, "server": "web-01"}, {"name": "spare", "size": 10, "location": "hel1", "protected": true}]
	}`), 0o600))
	sc, err := sim.ReadScenarioFile(good)
	require.NoError(t, err)
	e := start(t, sim.Config{ScenarioData: sc})
	web := e.server(t, "web-01")
	assert.Equal(t, map[string]string{"role": "web", "env": "prod"}, web.Labels)
	assert.Equal(t, map[string]string{"tier": "db"}, e.server(t, "db-01").Labels)
	assert.Equal(t, web.ID, e.volume(t, "vol-web-01").Server.ID)
	assert.True(t, e.volume(t, "spare").Protection.Delete)

	for name, body := range map[string]string{
		"unknown key":      `{"servers":[{"name":"a","zone":"x"}]}`,
		"unknown server":   `{"volumes":[{"name":"v","size":10,"server":"nope"}]}`,
		"location differs": `{"servers":[{"name":"a","location":"fsn1"}],"volumes":[{"name":"v","size":10,"server":"a","location":"hel1"}]}`,
		"size too small":   `{"volumes":[{"name":"v","size":5}]}`,
		"unknown type":     `{"servers":[{"name":"a","server_type":"cx11"}]}`,
		"type not sold":    `{"servers":[{"name":"a","server_type":"cax11","location":"ash"}]}`,
		"unknown image":    `{"servers":[{"name":"a","image":"windows-11"}]}`,
	} {
		p := filepath.Join(dir, "bad.json")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		sc, err := sim.ReadScenarioFile(p)
		if err == nil {
			_, err = sim.New(sim.Config{ScenarioData: sc})
		}
		assert.Error(t, err, name)
	}
	_, err = sim.New(sim.Config{Scenario: "ph9"})
	assert.Error(t, err)
}

func TestScenarioServerTypesAndImages(t *testing.T) {
	sc := &sim.Scenario{Servers: []sim.ScenarioServer{
		{Name: "arm-01", ServerType: "cax11", Location: "hel1"},
		{Name: "arm-02", ServerType: "cax21", Image: "ubuntu-24.04"},
		{Name: "amd-01", ServerType: "cpx11", Location: "sin", Image: "rocky-9"},
		{Name: "plain-01"},
	}}
	e := start(t, sim.Config{ScenarioData: sc})
	tests := []struct {
		server, typ, arch, image, location string
	}{
		{"arm-01", "cax11", "arm", "debian-12", "hel1"},
		{"arm-02", "cax21", "arm", "ubuntu-24.04", "fsn1"},
		{"amd-01", "cpx11", "x86", "rocky-9", "sin"},
		{"plain-01", "cx22", "x86", "debian-12", "fsn1"},
	}
	for _, tt := range tests {
		srv := e.server(t, tt.server)
		assert.Equal(t, tt.typ, srv.ServerType.Name, tt.server)
		assert.Equal(t, hcloud.Architecture(tt.arch), srv.ServerType.Architecture, tt.server)
		assert.Equal(t, tt.image, srv.Image.Name, tt.server)
		assert.Equal(t, hcloud.Architecture(tt.arch), srv.Image.Architecture, tt.server)
		assert.Equal(t, tt.location, srv.Location.Name, tt.server)
	}
}

func TestAdminAPI(t *testing.T) {
	e := start(t, fast("ph3-02"))
	e.api(t, "GET", "/volumes", "")
	e.api(t, "GET", "/volumes/1", "")
	v := e.volume(t, "vol-redis-01")
	e.api(t, "POST", "/volumes/"+itoa(v.ID)+"/actions/detach", "")

	r := e.do(t, "GET", e.base()+"/_sim/stats", "", "")
	require.Equal(t, http.StatusOK, r.status)
	var st sim.Stats
	require.NoError(t, json.Unmarshal(r.raw, &st))
	assert.Equal(t, 4, st.Requests.Total)
	assert.Equal(t, 1, st.Requests.Mutating)
	assert.Equal(t, 3, st.Requests.Read)
	assert.Equal(t, 2, st.Requests.ByRoute["GET /v1/volumes"])
	assert.Equal(t, 1, st.Requests.ByRoute["GET /v1/volumes/{id}"])
	assert.Equal(t, 1, st.Requests.ByRoute["POST /v1/volumes/{id}/actions/detach"])
	assert.Equal(t, 1, st.Requests.ByStatus["404"])
	assert.Equal(t, 1, st.Requests.ByStatus["201"])
	assert.True(t, st.RateLimit.Enabled)
	assert.Equal(t, 3600, st.RateLimit.Limit)
	for _, key := range []string{"requests", "rate_limit", "faults_hit"} {
		assert.Contains(t, string(r.raw), `"`+key+`"`)
	}

	r = e.do(t, "GET", e.base()+"/_sim/state", "", "")
	require.Equal(t, http.StatusOK, r.status)
	for _, key := range []string{"servers", "volumes", "actions", "locations", "datacenters"} {
		assert.Contains(t, r.body, key)
	}
	assert.Len(t, r.body["actions"], 1)

	r = e.do(t, "POST", e.base()+"/_sim/config", `{"action_times":{"attach_volume":"2s"}}`, "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "2s", r.body["action_times"].(map[string]any)["attach_volume"])
	r = e.do(t, "POST", e.base()+"/_sim/config", `{"action_times":{"fly":"2s"}}`, "")
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)

	r = e.do(t, "POST", e.base()+"/_sim/stats/reset", "", "")
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Zero(t, e.sim.Stats().Requests.Total)

	e.api(t, "POST", "/volumes", `{"name":"new","size":10,"location":"fsn1"}`)
	r = e.do(t, "POST", e.base()+"/_sim/reset", "", "")
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Zero(t, e.sim.Stats().Requests.Total)
	gone, _, err := e.client.Volume.GetByName(e.ctx, "new")
	require.NoError(t, err)
	assert.Nil(t, gone)
	assert.Equal(t, v.ID, e.volume(t, "vol-redis-01").ID, "a reset gives the same ids")
	assert.NotNil(t, e.volume(t, "vol-redis-01").Server)
}
