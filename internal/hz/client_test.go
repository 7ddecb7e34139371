package hz

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptionsValidate(t *testing.T) {
	const token = "tok3nWithNoSpaces0123456789"
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"defaults", Options{Token: token}, ""},
		{"explicit endpoint", Options{Token: token, Endpoint: "https://api.hetzner.cloud/v1"}, ""},
		{"trailing slash", Options{Token: token, Endpoint: "http://127.0.0.1:8080/v1/"}, ""},
		{"missing token", Options{Endpoint: "http://x:1/v1"}, "api_token: missing; set api_token or HCLOUD_TOKEN"},
		{"token with newline", Options{Token: "abc\ndef"}, "api_token: must be printable ASCII without spaces"},
		{"token with space", Options{Token: "abc def"}, "api_token: must be printable ASCII without spaces"},
		{"no /v1", Options{Token: token, Endpoint: "http://x:1/"}, "api_endpoint: must end with /v1, got http://x:1/"},
		{"not a URL", Options{Token: token, Endpoint: "api.hetzner.cloud/v1"}, "api_endpoint: must be an http(s) URL such as https://api.hetzner.cloud/v1, got api.hetzner.cloud/v1"},
		{"wrong scheme", Options{Token: token, Endpoint: "ftp://x/v1"}, "api_endpoint: must be an http(s) URL such as https://api.hetzner.cloud/v1, got ftp://x/v1"},
		{"query", Options{Token: token, Endpoint: "http://x/v1?a=b"}, "api_endpoint: must not have a query, fragment or user info, got http://x/v1?a=b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				c, err := New(tc.opts)
				require.NoError(t, err)
				assert.NotNil(t, c.HCloud())
				return
			}
			require.EqualError(t, err, tc.wantErr)
			assert.NotContains(t, err.Error(), token)
			_, err = New(tc.opts)
			require.EqualError(t, err, tc.wantErr, "New validates before anything else")
		})
	}
}
