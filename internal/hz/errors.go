package hz

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/keybuzz/kbv3/internal/batch"
)

// Errors of hz's own checks, made before any request; match them with errors.Is.
var (
	// ErrNotInSnapshot: an operation named a volume or server the snapshot did not look up,
	// so absence cannot be told from ignorance.
	ErrNotInSnapshot = errors.New("not in the snapshot")
	// ErrVolumeNotFound: the volume does not exist (for operations that need it to).
	ErrVolumeNotFound = errors.New("volume not found")
	// ErrServerNotFound: the server named as a target does not exist.
	ErrServerNotFound = errors.New("server not found")
	// ErrStillAttached: the volume must be detached first (delete).
	ErrStillAttached = errors.New("volume is attached")
	// ErrAttachedElsewhere: the volume is attached to another server than the one asked for.
	ErrAttachedElsewhere = errors.New("volume is attached to another server")
	// ErrProtected: the volume is delete-protected.
	ErrProtected = errors.New("volume is delete-protected")
	// ErrMismatch: the volume of that name has another id than the one the caller gave
	// (DeleteOpts.ID): the name was reused since the review.
	ErrMismatch = errors.New("volume differs")
	// ErrLocationMismatch: the volume and the server are in different locations.
	ErrLocationMismatch = errors.New("volume and server are in different locations")
	// ErrShrink: volumes can only grow.
	ErrShrink = errors.New("volumes can only grow")
	// ErrNameTaken: a create sent without a lookup (CreateOpts.Unread) met the API's
	// uniqueness_error: a volume of that name exists, and the caller reads it to decide.
	ErrNameTaken = errors.New("a volume of that name exists")
)

// IsLocked reports whether err is the API's `locked`: another action runs on the resource.
func IsLocked(err error) bool { return hcloud.IsError(err, hcloud.ErrorCodeLocked) }

// IsNotFound reports whether err is the API's `not_found`.
func IsNotFound(err error) bool { return hcloud.IsError(err, hcloud.ErrorCodeNotFound) }

// IsRateLimited reports whether err is the API's `rate_limit_exceeded`.
func IsRateLimited(err error) bool { return hcloud.IsError(err, hcloud.ErrorCodeRateLimitExceeded) }

// IsUnauthorized reports whether err is the API's `unauthorized` (a wrong token).
func IsUnauthorized(err error) bool { return hcloud.IsError(err, hcloud.ErrorCodeUnauthorized) }

// IsForbidden reports whether err is the API's `forbidden`: the token lacks a permission (a
// read-only token asked to change something).
func IsForbidden(err error) bool { return hcloud.IsError(err, hcloud.ErrorCodeForbidden) }

// IsUnreachable reports whether err is a failure to reach the endpoint that no retry mends
// (see unreachable): the endpoint, not the token, is what to check.
func IsUnreachable(err error) bool { return err != nil && !IsDeadline(err) && unreachable(err) }

// IsDeadline reports whether err ended a wait or request at the call's deadline.
func IsDeadline(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

// ActionError is an action that ended with status error.
type ActionError struct {
	Action *hcloud.Action
	Volume string // the volume it was for, as the caller named it
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("%s action %d on volume %s failed: %s: %s",
		e.Action.Command, e.Action.ID, e.Volume, e.Action.ErrorCode, e.Action.ErrorMessage)
}

// Unwrap gives hcloud-go's own form, so errors.As(err, &hcloud.ActionError{}) works too.
func (e *ActionError) Unwrap() error { return e.Action.Error() }

// WaitError is a wait the context ended while an action was still running.
type WaitError struct {
	Action  *hcloud.Action // the running action (its last known state)
	Volume  string
	Elapsed time.Duration // since the wait began
	Err     error         // the context's error
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("waiting for %s action %d on volume %s: %s after %s",
		e.Action.Command, e.Action.ID, e.Volume, batch.Reason(e.Err), roundDuration(e.Elapsed))
}

func (e *WaitError) Unwrap() error { return e.Err }

func roundDuration(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}

// class is what a failed request tells about the state of the API.
type class int

const (
	// permanent: retrying the same request cannot help.
	permanent class = iota
	// refused: the API answered without acting (locked, conflict, rate limit); retry as is.
	refused
	// unknown: the request may or may not have acted (a lost response, a 5xx); a mutation
	// looks at the volume before it retries.
	unknown
)

// unreachable reports errors that no retry can mend within a call: a name that does not
// resolve, a refused connection, TLS spoken to a plain-HTTP endpoint or a certificate that does
// not verify. They point at api_endpoint (or HCLOUD_ENDPOINT), and no request reached the API.
func unreachable(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && !dnsErr.IsTemporary {
		return true
	}
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &certErr) || errors.As(err, &recordErr) ||
		errors.As(err, &unknownAuthority) || errors.As(err, &hostnameErr) ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// classify sorts the error of one attempt; resp is its response, if any. parent is the caller's
// context: when it is done the error is final whatever it looks like.
func classify(parent context.Context, resp *hcloud.Response, err error) class {
	if err == nil || parent.Err() != nil || errors.Is(err, errPaceDeadline) {
		return permanent
	}
	var apiErr hcloud.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Code {
		case hcloud.ErrorCodeLocked, hcloud.ErrorCodeConflict, hcloud.ErrorCodeRateLimitExceeded,
			hcloud.ErrorCodeResourceUnavailable, hcloud.ErrorCodeMaintenance, "unavailable":
			return refused
		case hcloud.ErrorCodeServerError, hcloud.ErrorCodeBadGateway, hcloud.ErrorCodeTimeout,
			hcloud.ErrorCodeUnknownError:
			return unknown
		}
		return permanent
	}
	if errors.Is(err, hcloud.ErrStatusCode) {
		// An error status without the API's envelope: a proxy or load balancer answered.
		if resp == nil || resp.Response == nil {
			return unknown
		}
		switch code := resp.StatusCode; {
		case code == 409 || code == 423 || code == 429:
			return refused
		case code >= 500:
			return unknown
		}
		return permanent
	}
	if unreachable(err) {
		return permanent
	}
	// Our per-attempt timeout, a dropped connection, a reset, a truncated body: the request
	// may have reached the API.
	var netErr net.Error
	var urlErr *url.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) || errors.As(err, &urlErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return unknown
	}
	return permanent
}
