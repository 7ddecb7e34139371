package volumes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/keybuzz/kbv3/internal/ansible"
	"github.com/keybuzz/kbv3/internal/hz"
	"github.com/keybuzz/kbv3/internal/oplog"
)

// Common are the options every module takes (documented once, in
// plugins/doc_fragments/hcloud.py). Embed it with `mapstructure:",squash"`.
type Common struct {
	APIToken    string `mapstructure:"api_token" ansible:"no_log,env=HCLOUD_TOKEN"`
	APIEndpoint string `mapstructure:"api_endpoint" ansible:"env=HCLOUD_ENDPOINT,default=https://api.hetzner.cloud/v1"`
	Timeout     int    `mapstructure:"timeout" ansible:"default=300"`
	Concurrency int    `mapstructure:"concurrency" ansible:"default=10"`
	LogPath     string `mapstructure:"log_path" ansible:"type=path"`
	// RunID stamps the operation log's lines (the reset playbook passes stage 0's).
	RunID string `mapstructure:"run_id"`
	// Deadline, in Unix seconds, ends the call earlier than timeout would: the reset playbook
	// gives every batch of a stage the stage's deadline, so that a stage ends by stage_timeout
	// however many batches it has.
	Deadline int64 `mapstructure:"deadline"`
	// SkipHosts are hosts that failed at an earlier stage: their volumes are reported skipped,
	// without a request, so that one host's failure stays with that host.
	SkipHosts []string `mapstructure:"skip_hosts"`
	// Observed is what the reset's stage 0 read (its reset.observed, returned in check mode
	// only). In check mode the call predicts from it without a request when it holds all the
	// call needs; a real run ignores it and reads before it changes anything.
	Observed *Observed `mapstructure:"observed"`
}

// endpoint is the API the call speaks to, for records (the token is never part of it).
func (c Common) endpoint() string {
	return cmp.Or(c.APIEndpoint, os.Getenv("HCLOUD_ENDPOINT"), hz.DefaultEndpoint)
}

// validate checks the options that need no request; hz.Options.Validate checks the rest.
func (c Common) validate() error {
	var errs []error
	if c.Timeout < 1 {
		errs = append(errs, fmt.Errorf("timeout: must be at least 1 second, got %d", c.Timeout))
	}
	if c.Concurrency < 1 || c.Concurrency > 50 {
		errs = append(errs, fmt.Errorf("concurrency: must be between 1 and 50, got %d", c.Concurrency))
	}
	if c.Deadline < 0 {
		errs = append(errs, fmt.Errorf("deadline: must be a Unix time in seconds, got %d", c.Deadline))
	}
	return errors.Join(errs...)
}

// tuneClient, when set, adjusts every call's client options: tests shorten polls and backoffs
// with it, so that production keeps hz's defaults without a knob users could misuse.
var tuneClient func(*hz.Options)

// session is one module call's connection: the client, the operation log and the deadline.
type session struct {
	client      *hz.Client
	concurrency int
	skip        map[string]bool // hosts whose volumes are skipped (Common.SkipHosts)
	endpoint    string          // the API spoken to, for messages (never the token)
	observed    *Observed       // check mode only: stage 0's reads (Common.Observed)
}

// open validates the common options, registers the token as a secret, and returns the call's
// context (bounded by timeout) and session. The caller must call close.
func (c Common) open(ctx context.Context, m *ansible.Module) (context.Context, *session, func(), error) {
	m.AddSecret(c.APIToken)
	if c.APIEndpoint == "" {
		// api_endpoint: '' (a variable that templated to nothing) must not leave a rehearsal
		// against HCLOUD_ENDPOINT for the real API.
		c.APIEndpoint = os.Getenv("HCLOUD_ENDPOINT")
	}
	if err := c.validate(); err != nil {
		return nil, nil, nil, err
	}
	opts := hz.Options{Token: c.APIToken, Endpoint: c.APIEndpoint}
	if err := opts.Validate(); err != nil {
		return nil, nil, nil, err
	}
	var log *oplog.Logger
	if c.LogPath != "" {
		l, err := oplog.Open(c.LogPath, m.Name, c.APIToken)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("log_path: %w", err)
		}
		log = l
	}
	log.SetRun(c.RunID, m.CheckMode)
	opts.Log = log
	if tuneClient != nil {
		tuneClient(&opts)
	}
	client, err := hz.New(opts)
	if err != nil {
		_ = log.Close()
		return nil, nil, nil, err
	}
	deadline := time.Now().Add(time.Duration(c.Timeout) * time.Second)
	if d := time.Unix(c.Deadline, 0); c.Deadline > 0 && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	s := &session{client: client, concurrency: c.Concurrency, skip: map[string]bool{}, endpoint: c.endpoint()}
	if m.CheckMode {
		s.observed = c.Observed
	}
	for _, h := range c.SkipHosts {
		s.skip[h] = true
	}
	closeFn := func() {
		cancel()
		if err := log.Close(); err != nil {
			m.Warn("log_path: %v", err)
		}
	}
	return ctx, s, closeFn, nil
}

// skipped tells whether host failed at an earlier stage (Common.SkipHosts): its volumes are
// reported skipped without a request, and nothing is decided for them.
func (s *session) skipped(host string) bool {
	return host != "" && s.skip[host]
}

// snapshot reads the call's one snapshot, the first request of every call: every module reads
// it here, so that a wrong token or endpoint is said the same way in all six.
func (s *session) snapshot(ctx context.Context, o hz.SnapshotOpts) (*hz.Snapshot, error) {
	if snap := s.recorded(o); snap != nil {
		return snap, nil
	}
	snap, err := s.client.Snapshot(ctx, o)
	if err != nil {
		return nil, s.explain(err)
	}
	return snap, nil
}

// explain words the errors that no retry can mend in terms of the option to fix: a refused
// token or a missing permission names api_token/HCLOUD_TOKEN, an endpoint that cannot be
// reached names api_endpoint/HCLOUD_ENDPOINT, and each names the endpoint. Others are as is.
func (s *session) explain(err error) error {
	switch {
	case err == nil:
		return nil
	case hz.IsUnauthorized(err):
		return fmt.Errorf("api_token: the API refused the token (set api_token or HCLOUD_TOKEN to a read/write token of the project of %s): %w", s.endpoint, err)
	case hz.IsForbidden(err):
		return fmt.Errorf("api_token: the API denied the token the permission (set api_token or HCLOUD_TOKEN to a token with Read & Write permission of the project of %s): %w", s.endpoint, err)
	case hz.IsUnreachable(err):
		return fmt.Errorf("api_endpoint: cannot reach the API at %s, and retrying cannot help (check api_endpoint or HCLOUD_ENDPOINT): %w", s.endpoint, err)
	}
	return err
}
