package hz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
)

func TestClassify(t *testing.T) {
	apiErr := func(code hcloud.ErrorCode) error { return hcloud.Error{Code: code, Message: "m"} }
	bare := func(status int) (*hcloud.Response, error) {
		return &hcloud.Response{Response: &http.Response{StatusCode: status}}, fmt.Errorf("hcloud: %w %d", hcloud.ErrStatusCode, status)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		parent context.Context
		resp   *hcloud.Response
		err    error
		want   class
	}{
		{"locked", context.Background(), nil, apiErr(hcloud.ErrorCodeLocked), refused},
		{"conflict", context.Background(), nil, apiErr(hcloud.ErrorCodeConflict), refused},
		{"rate limit", context.Background(), nil, apiErr(hcloud.ErrorCodeRateLimitExceeded), refused},
		{"unavailable", context.Background(), nil, apiErr("unavailable"), refused},
		{"server error", context.Background(), nil, apiErr(hcloud.ErrorCodeServerError), unknown},
		{"timeout", context.Background(), nil, apiErr(hcloud.ErrorCodeTimeout), unknown},
		{"not found", context.Background(), nil, apiErr(hcloud.ErrorCodeNotFound), permanent},
		{"invalid input", context.Background(), nil, apiErr(hcloud.ErrorCodeInvalidInput), permanent},
		{"unauthorized", context.Background(), nil, apiErr(hcloud.ErrorCodeUnauthorized), permanent},
		{"dropped", context.Background(), nil, &url.Error{Op: "Post", URL: "x", Err: io.EOF}, unknown},
		{"attempt timeout", context.Background(), nil, fmt.Errorf("x: %w", context.DeadlineExceeded), unknown},
		{"caller's deadline", done, nil, &url.Error{Op: "Post", URL: "x", Err: io.EOF}, permanent},
		{"pacer deadline", context.Background(), nil, &url.Error{Op: "Get", URL: "x", Err: errPaceDeadline}, permanent},
		{"other", context.Background(), nil, errors.New("strange"), permanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, classify(tc.parent, tc.resp, tc.err))
		})
	}
	for status, want := range map[int]class{502: unknown, 504: unknown, 429: refused, 423: refused, 404: permanent} {
		resp, err := bare(status)
		assert.Equal(t, want, classify(context.Background(), resp, err), "bare %d", status)
	}
}
