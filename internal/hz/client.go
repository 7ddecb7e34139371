// Package hz is kbv3's access to the Hetzner Cloud API, on top of hcloud-go.
//
// It adds what the modules need and hcloud-go leaves to its callers: validation of the
// connection options before any request, one snapshot of the fleet from list requests,
// idempotent operations decided against that snapshot, retries of every transient failure
// (including `locked`, which hcloud-go does not retry) with each attempt in the operation log,
// pacing that slows down before the rate limit is reached, and one shared poller that waits
// for the actions of all concurrent items with one request per tick. Every wait ends at the
// caller's context deadline.
package hz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/oplog"
	"github.com/keybuzz/kbv3/internal/version"
)

// DefaultEndpoint is the Hetzner Cloud API used when no endpoint is given.
const DefaultEndpoint = hcloud.Endpoint

// Defaults for the zero values of Options.
const (
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultFirstPoll is later than the interval because volume actions take seconds (in the
	// PH3-02 report, about 3 s to attach or detach and 1 s to create): a first poll at 1 s
	// sees most creates done, and reads a detach's progress as 33%, which puts the estimated
	// end (see waiter.estimate) within 3% of it, where a poll at 500 ms reads 16% and may
	// estimate 6% late.
	DefaultFirstPoll      = time.Second
	DefaultMaxRetries     = 6
	DefaultRequestTimeout = 30 * time.Second
	DefaultRateReserve    = 50
)

// Options configure a Client. Token and Endpoint are the resolved module options: the caller
// applies the HCLOUD_TOKEN / HCLOUD_ENDPOINT fallbacks, so that its error messages and these
// agree on which option was wrong.
type Options struct {
	Token    string // api_token
	Endpoint string // api_endpoint; DefaultEndpoint when empty

	// PollInterval is the time between two polls of running actions (DefaultPollInterval).
	// FirstPoll is the delay before the first poll after the poller was idle: DefaultFirstPoll
	// when both are zero, PollInterval when only it is set.
	PollInterval time.Duration
	FirstPoll    time.Duration

	// MaxRetries bounds the retries of one request after a transient failure (locked,
	// conflict, 429, 5xx, a lost connection); negative for none. Zero, the default, retries
	// until the context's deadline, so that a 30 s lock or a minute of 503s does not fail a
	// call with minutes left; a context without a deadline then gets DefaultMaxRetries.
	// Backoff gives the delay before retry n, from 0 (exponential from 500ms, capped at 10s,
	// with jitter, when nil).
	MaxRetries int
	Backoff    func(retry int) time.Duration

	// RequestTimeout bounds one HTTP request, so that a hung connection costs one attempt
	// and not the whole call (DefaultRequestTimeout).
	RequestTimeout time.Duration

	// RateReserve is the number of remaining requests (RateLimit-Remaining) below which
	// requests are spaced at the refill rate (DefaultRateReserve; negative disables pacing).
	RateReserve int

	Log        *oplog.Logger // the operation log; nil for none
	HTTPClient *http.Client  // its Transport is wrapped by the pacer; nil for a default
}

// Validate checks the connection options. Messages name the module option at fault and never
// quote the token.
func (o Options) Validate() error {
	if o.Token == "" {
		return errors.New("api_token: missing; set api_token or HCLOUD_TOKEN")
	}
	if !validToken(o.Token) {
		return errors.New("api_token: must be printable ASCII without spaces")
	}
	if o.Endpoint != "" {
		if err := validateEndpoint(o.Endpoint); err != nil {
			return err
		}
	}
	if o.PollInterval < 0 || o.FirstPoll < 0 || o.RequestTimeout < 0 {
		return errors.New("hz: negative durations in Options")
	}
	return nil
}

// validToken accepts what can travel in an Authorization header unchanged: printable ASCII
// without spaces (hcloud-go would otherwise fail every request with a less helpful message).
func validToken(t string) bool {
	for _, r := range t {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}

func validateEndpoint(e string) error {
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("api_endpoint: must be an http(s) URL such as %s, got %s", DefaultEndpoint, e)
	}
	if !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/v1") {
		return fmt.Errorf("api_endpoint: must end with /v1, got %s", e)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("api_endpoint: must not have a query, fragment or user info, got %s", u.Redacted())
	}
	return nil
}

// Client is a Hetzner Cloud client for one module call. It is safe for concurrent use.
type Client struct {
	hc             *hcloud.Client
	log            *oplog.Logger
	maxRetries     int
	untilDeadline  bool // retries are bounded by the context's deadline, not maxRetries
	backoff        func(int) time.Duration
	requestTimeout time.Duration
	pacer          *pacer // nil when pacing is off
	waiter         *waiter
}

// New validates o and returns a Client. It makes no request.
func New(o Options) (*Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	if o.FirstPoll == 0 {
		o.FirstPoll = o.PollInterval
		if o.PollInterval == 0 {
			o.FirstPoll = DefaultFirstPoll
		}
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	untilDeadline := o.MaxRetries == 0
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.Backoff == nil {
		o.Backoff = hcloud.ExponentialBackoffWithOpts(hcloud.ExponentialBackoffOpts{
			Base: 500 * time.Millisecond, Multiplier: 2, Cap: 10 * time.Second, Jitter: true,
		})
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.RateReserve == 0 {
		o.RateReserve = DefaultRateReserve
	}

	hc := &http.Client{}
	if o.HTTPClient != nil {
		*hc = *o.HTTPClient // a copy: the caller's client keeps its own transport
	}
	var p *pacer
	if o.RateReserve > 0 {
		p = newPacer(hc.Transport, o.RateReserve)
		hc.Transport = p
	}

	name, ver, _ := strings.Cut(version.UserAgent(), "/")
	c := &Client{
		hc: hcloud.NewClient(
			hcloud.WithToken(o.Token),
			hcloud.WithEndpoint(strings.TrimSuffix(o.Endpoint, "/")),
			hcloud.WithApplication(name, ver),
			hcloud.WithHTTPClient(hc),
			// hz retries itself: per operation, so that a retried POST can first check whether
			// the lost attempt already acted, and every attempt reaches the operation log.
			hcloud.WithRetryOpts(hcloud.RetryOpts{BackoffFunc: hcloud.ConstantBackoff(0), MaxRetries: 0}),
		),
		log:            o.Log,
		pacer:          p,
		maxRetries:     o.MaxRetries,
		untilDeadline:  untilDeadline,
		backoff:        o.Backoff,
		requestTimeout: o.RequestTimeout,
	}
	c.waiter = newWaiter(c, o.FirstPoll, o.PollInterval)
	return c, nil
}

// HCloud returns the underlying hcloud-go client, for calls hz does not wrap. Requests made
// with it are paced but neither retried nor logged.
func (c *Client) HCloud() *hcloud.Client { return c.hc }

// attemptCtx bounds one request by RequestTimeout within ctx.
func (c *Client) attemptCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.requestTimeout)
}
