package sim_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPaginationOverManyPages(t *testing.T) {
	e := start(t, fast("generated:120"))
	servers, err := e.client.Server.AllWithOpts(e.ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{PerPage: 50}})
	require.NoError(t, err)
	assert.Len(t, servers, 120)
	vols, err := e.client.Volume.All(e.ctx)
	require.NoError(t, err)
	assert.Len(t, vols, 120)
	seen := map[int64]bool{}
	for _, v := range vols {
		assert.False(t, seen[v.ID], "volume %d twice", v.ID)
		seen[v.ID] = true
	}
	workers, err := e.client.Server.AllWithOpts(e.ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "role=k8s-worker,env=prod"}})
	require.NoError(t, err)
	assert.NotEmpty(t, workers)
	for _, w := range workers {
		assert.True(t, strings.HasPrefix(w.Name, "k8s-worker-"), w.Name)
	}
}

func TestPaginationMeta(t *testing.T) {
	e := start(t, fast("generated:120"))
	tests := []struct {
		query                  string
		page, perPage, entries int
		prev, next             any
		last                   float64
	}{
		{"", 1, 25, 25, nil, 2.0, 5},
		{"?per_page=500", 1, 50, 50, nil, 2.0, 3},
		{"?page=3&per_page=50", 3, 50, 20, 2.0, nil, 3},
		{"?page=9&per_page=50", 9, 50, 0, 8.0, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := e.api(t, "GET", "/volumes"+tt.query, "")
			require.Equal(t, http.StatusOK, r.status)
			p := r.body["meta"].(map[string]any)["pagination"].(map[string]any)
			keys := make([]string, 0, len(p))
			for k := range p {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			assert.Equal(t, []string{"last_page", "next_page", "page", "per_page", "previous_page", "total_entries"}, keys)
			assert.Equal(t, float64(tt.page), p["page"])
			assert.Equal(t, float64(tt.perPage), p["per_page"])
			assert.Equal(t, tt.prev, p["previous_page"])
			assert.Equal(t, tt.next, p["next_page"])
			assert.Equal(t, tt.last, p["last_page"])
			assert.Equal(t, 120.0, p["total_entries"])
			assert.Len(t, r.body["volumes"], tt.entries)
			assert.Contains(t, r.header.Get("Link"), `rel="last"`)
		})
	}
	r := e.api(t, "GET", "/volumes?page=0", "")
	assert.Equal(t, "invalid_input", errCode(r))
}

func TestLocationsAndDatacenters(t *testing.T) {
	e := start(t, fast("empty"))
	locs, err := e.client.Location.All(e.ctx)
	require.NoError(t, err)
	require.Len(t, locs, 6)
	fsn, _, err := e.client.Location.GetByName(e.ctx, "fsn1")
	require.NoError(t, err)
	require.NotNil(t, fsn)
	byID, _, err := e.client.Location.GetByID(e.ctx, fsn.ID)
	require.NoError(t, err)
	assert.Equal(t, "Falkenstein", byID.City)
	r := e.api(t, "GET", "/datacenters?name=nbg1-dc3", "")
	require.Equal(t, http.StatusOK, r.status)
	dcs := r.body["datacenters"].([]any)
	require.Len(t, dcs, 1)
	dc := dcs[0].(map[string]any)
	assert.Equal(t, "nbg1", dc["location"].(map[string]any)["name"])
	r = e.api(t, "GET", "/datacenters/2", "")
	assert.Equal(t, http.StatusOK, r.status)
	r = e.api(t, "GET", "/datacenters/99", "")
	assert.Equal(t, "not_found", errCode(r))
	r = e.api(t, "GET", "/locations?sort=name:desc", "")
	assert.Equal(t, "sin", r.body["locations"].([]any)[0].(map[string]any)["name"])
}
