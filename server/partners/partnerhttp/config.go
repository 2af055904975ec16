// Package partnerhttp is the HTTP core shared by every partner adapter (Etvas, Avata,
// Scalepoint): per-attempt timeouts bounded by the caller's deadline, retries with
// exponential backoff and full jitter only where they are safe, Retry-After handling,
// a circuit breaker per partner, and partner failures as *Error with a Kind. The package
// knows nothing of the API contract: the API edge (server/apierror) turns an *Error into a
// gRPC status with an ErrorInfo.
//
// The package never logs or returns request/response bodies, URLs with query strings,
// or header values: partner traffic carries personal data and credentials.
package partnerhttp

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Defaults applied by New when the corresponding Config field is zero.
const (
	DefaultAttemptTimeout   = 10 * time.Second
	DefaultMaxAttempts      = 3
	DefaultBaseBackoff      = 200 * time.Millisecond
	DefaultMaxBackoff       = 5 * time.Second
	DefaultMaxRetryAfter    = 30 * time.Second
	DefaultMaxResponseBytes = 10 << 20
	DefaultBreakerFailures  = 5
	DefaultBreakerOpenFor   = 30 * time.Second
	DefaultBreakerProbes    = 1
)

// Config configures one partner's HTTP client. One Client (and so one circuit breaker)
// exists per partner.
type Config struct {
	Partner        string        // "etvas" | "avata" | "scalepoint": metric/log label, ErrorInfo metadata
	BaseURL        string        // e.g. https://api.etvas.com ; paths are joined to it
	HTTPClient     *http.Client  // nil → a client with a tuned transport (keep-alives, sane pool)
	AttemptTimeout time.Duration // per attempt; always also bounded by ctx's deadline (default 10s)
	MaxAttempts    int           // total attempts for retryable failures (default 3)
	Breaker        BreakerConfig // per-partner circuit breaker (sony/gobreaker/v2)
	// Authorize is called once per attempt, after the request is built and before it is
	// sent: auth headers, request signing, bearer tokens. Signing per attempt keeps
	// timestamps fresh on retries. An error returned here aborts the call (an *Error is
	// passed through unchanged) and does not count against the breaker.
	Authorize func(ctx context.Context, r *http.Request, body []byte) error
	Observer  Observer     // optional; nil = no-op
	Logger    *slog.Logger // optional; never logs bodies, secrets or PII

	// Additions beyond the fixed API (all optional).

	// BaseBackoff is the first retry interval before jitter (default 200ms); it doubles per
	// retry up to MaxBackoff (default 5s). The actual wait is uniformly random in
	// [0, interval] ("full jitter") so that many callers do not retry in lock step.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter bounds how long a partner's Retry-After may make us wait (default 30s).
	// A longer Retry-After ends the call at once with Error.RetryAfter set, so the caller
	// (or its client) can decide.
	MaxRetryAfter time.Duration
	// MaxResponseBytes bounds the response body we read (default 10 MiB). A bigger body
	// is a bad response: we never buffer unbounded partner output.
	MaxResponseBytes int64
}

// BreakerConfig configures the per-partner circuit breaker.
type BreakerConfig struct {
	// ConsecutiveFailures is the number of consecutive partner-side failures (5xx, 429,
	// transport errors, timeouts) that opens the breaker (default 5).
	ConsecutiveFailures uint32
	// OpenDuration is how long the breaker rejects calls before letting probes through
	// (default 30s).
	OpenDuration time.Duration
	// HalfOpenProbes is the number of calls let through while half-open; that many
	// consecutive successes close the breaker, one failure opens it again (default 1).
	HalfOpenProbes uint32
}

// Observer receives per-attempt outcomes and breaker transitions, typically to feed
// Prometheus metrics. Implementations must be fast and must not call back into the
// Client (BreakerStateChanged runs while the breaker holds its lock).
type Observer interface {
	ObserveCall(partner, operation string, httpStatus int, outcome string, d time.Duration)
	BreakerStateChanged(partner, from, to string)
}

// Outcome labels passed to Observer.ObserveCall.
const (
	OutcomeOK           = "ok"
	OutcomeRejected     = "rejected"
	OutcomeAuthFailed   = "auth_failed"
	OutcomeNotFound     = "not_found"
	OutcomeConflict     = "conflict"
	OutcomeTooLarge     = "too_large"
	OutcomeRateLimited  = "rate_limited"
	OutcomeUnavailable  = "unavailable"
	OutcomeTimeout      = "timeout"
	OutcomeCanceled     = "canceled"
	OutcomeCircuitOpen  = "circuit_open"
	OutcomeBadResponse  = "bad_response"
	OutcomeAuthorizeErr = "authorize_error"
)

type nopObserver struct{}

func (nopObserver) ObserveCall(string, string, int, string, time.Duration) {}
func (nopObserver) BreakerStateChanged(string, string, string)             {}

func (c Config) withDefaults() Config {
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.BaseBackoff {
		c.MaxBackoff = c.BaseBackoff
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.Breaker.ConsecutiveFailures == 0 {
		c.Breaker.ConsecutiveFailures = DefaultBreakerFailures
	}
	if c.Breaker.OpenDuration <= 0 {
		c.Breaker.OpenDuration = DefaultBreakerOpenFor
	}
	if c.Breaker.HalfOpenProbes == 0 {
		c.Breaker.HalfOpenProbes = DefaultBreakerProbes
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// NewTransport returns the tuned transport used when Config.HTTPClient is nil: keep-alives
// with a pool sized for a gateway talking to one host, and bounded handshake/header waits.
// Partner packages that need their own client (e.g. an OAuth token endpoint) can reuse it.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 100
	t.MaxIdleConnsPerHost = 32
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 0 // the per-attempt context bounds the whole exchange
	t.ExpectContinueTimeout = time.Second
	return t
}
