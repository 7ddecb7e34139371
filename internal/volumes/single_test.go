package volumes

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSingleProblems(t *testing.T) {
	cases := []struct {
		name, volume, server, location string
		labels                         map[string]string
		want                           []string // one substring per problem, in order
	}{
		{name: "all good", volume: "db-1", server: "web-01", location: "fsn1", labels: map[string]string{"role": "db"}},
		{name: "empty server and location are not checked", volume: "db-1"},
		{name: "bad volume name", volume: "bad/name", want: []string{`volume name "bad/name"`}},
		{name: "bad server", volume: "db-1", server: "web_01", want: []string{`server "web_01" is not a valid server name`}},
		{name: "bad location", volume: "db-1", location: "FSN1", want: []string{`location "FSN1" is not a location name`}},
		{name: "bad label key and value", volume: "db-1", labels: map[string]string{"my role": "x", "ok": "-bad"},
			want: []string{`label key "my role"`, `label "ok": value "-bad"`}},
		{name: "every problem at once", volume: "-x", server: "a..b", location: "fsn-1", labels: map[string]string{"hetzner.cloud/x": "y"},
			want: []string{`volume name "-x"`, `server "a..b"`, `location "fsn-1"`, `reserved by Hetzner`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := singleProblems(c.volume, c.server, c.location, c.labels)
			require.Len(t, got, len(c.want), "%v", got)
			for i, w := range c.want {
				assert.Contains(t, got[i].Error(), w)
			}
		})
	}
}
