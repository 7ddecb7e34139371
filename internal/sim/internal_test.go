package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelector(t *testing.T) {
	labels := map[string]string{"role": "db", "env": "prod"}
	tests := []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"role=db", true},
		{"role==db", true},
		{"role=web", false},
		{"role!=web", true},
		{"role!=db", false},
		{"role", true},
		{"!role", false},
		{"!owner", true},
		{"role in (web,db)", true},
		{"role notin (web,db)", false},
		{"role in (web, db),env=prod", true},
		{"role in (web,db),env=dev", false},
	}
	for _, tt := range tests {
		sel, err := parseSelector(tt.sel)
		require.NoError(t, err, tt.sel)
		assert.Equal(t, tt.want, sel.matches(labels), tt.sel)
	}
	for _, bad := range []string{"=x", "a b=c", "role in web"} {
		_, err := parseSelector(bad)
		assert.Error(t, err, bad)
	}
}

func TestPathMatches(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/v1/volumes", "/v1/volumes", true},
		{"/v1/volumes", "/v1/volumes/1", false},
		{"/v1/volumes/*", "/v1/volumes/1", true},
		{"/v1/volumes/*", "/v1/volumes/1/actions/attach", true},
		{"/v1/volumes/*", "/v1/volumes", false},
		{"/v1/volumes/*/actions/attach", "/v1/volumes/7/actions/attach", true},
		{"/v1/volumes/*/actions/attach", "/v1/volumes/7/actions/detach", false},
		{"/v1/*", "/v1/servers", true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, pathMatches(tt.pattern, tt.path), tt.pattern+" "+tt.path)
	}
}

func TestParseRateLimit(t *testing.T) {
	rl, err := ParseRateLimit("10/1s")
	require.NoError(t, err)
	assert.Equal(t, RateLimit{Limit: 10, Period: 1e9}, rl)
	rl, err = ParseRateLimit("off")
	require.NoError(t, err)
	assert.True(t, rl.Disabled)
	for _, bad := range []string{"10", "x/1h", "10/x", "0/1h"} {
		_, err := ParseRateLimit(bad)
		assert.Error(t, err, bad)
	}
}
