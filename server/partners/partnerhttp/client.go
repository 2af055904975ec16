package partnerhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Request is one logical partner call; Do may send it several times.
type Request struct {
	Operation   string // e.g. "verify_token" (label)
	Method      string
	Path        string // already escaped
	Query       url.Values
	Header      http.Header
	Body        []byte // exact bytes to send (nil = no body)
	ContentType string
	Idempotent  bool // safe to retry on transport errors / 502 / 503 / 504
}

// Response is a successful (2xx) partner answer with its body fully read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Client sends requests to one partner. It is safe for concurrent use and owns no
// goroutines; Close only releases idle connections.
type Client struct {
	cfg     Config
	base    *url.URL
	http    *http.Client
	ownHTTP bool
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// Breaker verdicts reported after each attempt. Only partner-side failures count: a 4xx
// caused by our input says the partner is healthy.
var (
	errPartnerFailure = errors.New("partner-side failure")
	errExcluded       = errors.New("not the partner's doing")
)

// New validates cfg and builds a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Partner == "" {
		return nil, errors.New("partnerhttp: config: partner name is required")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("partnerhttp: config %s: parse base URL: %w", cfg.Partner, err)
	}
	switch {
	case base.Scheme != "http" && base.Scheme != "https":
		return nil, fmt.Errorf("partnerhttp: config %s: base URL scheme must be http or https", cfg.Partner)
	case base.Host == "":
		return nil, fmt.Errorf("partnerhttp: config %s: base URL has no host", cfg.Partner)
	case base.User != nil:
		// Credentials in a URL end up in logs and error messages.
		return nil, fmt.Errorf("partnerhttp: config %s: base URL must not contain credentials", cfg.Partner)
	case base.RawQuery != "" || base.Fragment != "":
		return nil, fmt.Errorf("partnerhttp: config %s: base URL must not have a query or fragment", cfg.Partner)
	}
	cfg = cfg.withDefaults()
	// Redirects are never followed (see RedirectError), whatever client the caller passed.
	c := &Client{cfg: cfg, base: base, http: RefuseRedirects(cfg.HTTPClient), ownHTTP: cfg.HTTPClient == nil}
	observer, logger, partner := cfg.Observer, cfg.Logger, cfg.Partner
	c.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        cfg.Partner,
		MaxRequests: cfg.Breaker.HalfOpenProbes,
		Timeout:     cfg.Breaker.OpenDuration,
		ReadyToTrip: func(counts gobreaker.Counts) bool {
			return counts.ConsecutiveFailures >= cfg.Breaker.ConsecutiveFailures
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			logger.Warn("partner circuit breaker changed state",
				slog.String("partner", partner), slog.String("from", from.String()), slog.String("to", to.String()))
			observer.BreakerStateChanged(partner, from.String(), to.String())
		},
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return errors.Is(err, errExcluded) },
	})
	return c, nil
}

// Partner returns the configured partner name.
func (c *Client) Partner() string { return c.cfg.Partner }

// BaseURL returns the configured base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// BreakerState returns "closed", "half-open" or "open" (for health endpoints and tests).
func (c *Client) BreakerState() string { return c.breaker.State().String() }

// Close releases idle connections of a client New created itself; a caller-supplied
// HTTPClient is left alone.
func (c *Client) Close() {
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
}

// Do sends req, retrying where the rules allow, and returns the 2xx response. Any other
// outcome is an *Error.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	target, perr := c.resolve(req)
	if perr != nil {
		return nil, perr
	}
	delays := newDelays(c.cfg.BaseBackoff, c.cfg.MaxBackoff)
	for attempt := 1; ; attempt++ {
		resp, perr := c.attempt(ctx, req, target, attempt)
		if perr == nil {
			return resp, nil
		}
		if attempt >= c.cfg.MaxAttempts || !c.retryable(ctx, req, perr) {
			return nil, perr
		}
		wait := delays.next()
		if perr.RetryAfter > 0 {
			if perr.RetryAfter > c.cfg.MaxRetryAfter {
				return nil, perr
			}
			wait = perr.RetryAfter // the partner knows better than our backoff
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			// Waiting would burn the caller's whole budget for nothing.
			return nil, perr
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, c.contextError(req.Operation, err, perr)
		}
	}
}

// DoJSON marshals in (if non-nil) as the body, sends the request and decodes a 2xx body
// into out (if non-nil). Numbers decoded into interface values become json.Number, so
// no digit is lost; callers needing exact numbers use json.Number fields.
func (c *Client) DoJSON(ctx context.Context, req Request, in, out any) error {
	if in != nil {
		body, err := json.Marshal(in)
		if err != nil {
			return c.internalError(req.Operation, fmt.Errorf("encode request: %w", err))
		}
		req.Body = body
		if req.ContentType == "" {
			req.ContentType = "application/json"
		}
	}
	resp, err := c.Do(ctx, req)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := DecodeJSON(resp.Body, out); err != nil {
		return &Error{
			Partner: c.cfg.Partner, Operation: req.Operation, HTTPStatus: resp.Status,
			Kind: KindBadResponse,
			Err:  fmt.Errorf("decode response: %w", err),
		}
	}
	return nil
}

// DecodeJSON decodes exactly one JSON value from body into out with UseNumber semantics;
// an empty body or trailing data is an error.
func DecodeJSON(body []byte, out any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// resolve builds the absolute URL of req, refusing paths that could escape the base
// (query or fragment smuggled into Path).
func (c *Client) resolve(req Request) (string, *Error) {
	if req.Operation == "" || req.Method == "" {
		return "", c.internalError(req.Operation, errors.New("request needs an operation and a method"))
	}
	if strings.ContainsAny(req.Path, "?#") {
		return "", c.internalError(req.Operation, errors.New("path must not contain '?' or '#'"))
	}
	u := *c.base
	joined := strings.TrimRight(c.base.EscapedPath(), "/") + "/" + strings.TrimLeft(req.Path, "/")
	p, err := url.PathUnescape(joined)
	if err != nil {
		return "", c.internalError(req.Operation, fmt.Errorf("path: %w", err))
	}
	u.Path, u.RawPath = p, joined
	u.RawQuery = req.Query.Encode()
	return u.String(), nil
}

// attempt sends the request once. The returned *Error is nil on 2xx.
func (c *Client) attempt(ctx context.Context, req Request, target string, n int) (*Response, *Error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, c.contextError(req.Operation, err, nil)
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()

	hreq, err := c.newHTTPRequest(actx, req, target)
	if err != nil {
		return nil, c.internalError(req.Operation, err)
	}
	if c.cfg.Authorize != nil {
		if err := c.cfg.Authorize(actx, hreq, req.Body); err != nil {
			perr := c.authorizeError(ctx, req.Operation, err)
			c.observe(req.Operation, n, 0, OutcomeAuthorizeErr, start, perr)
			return nil, perr
		}
	}
	done, err := c.breaker.Allow()
	if err != nil {
		perr := &Error{
			Partner: c.cfg.Partner, Operation: req.Operation,
			Kind: KindCircuitOpen,
			Err:  err,
		}
		c.observe(req.Operation, n, 0, OutcomeCircuitOpen, start, perr)
		return nil, perr
	}

	hresp, err := c.http.Do(hreq)
	if re, ok := asRedirect(err); ok {
		// The partner answered; a redirect is a contract (or configuration) problem, not an
		// outage: no retry, and it does not count against the breaker.
		done(nil)
		perr := &Error{
			Partner: c.cfg.Partner, Operation: req.Operation, HTTPStatus: re.Status,
			Kind: KindBadResponse,
			Err:  re,
		}
		c.observe(req.Operation, n, re.Status, OutcomeBadResponse, start, perr)
		return nil, perr
	}
	if err != nil {
		perr, outcome, verdict := c.transportError(ctx, actx, req.Operation, err)
		done(verdict)
		c.observe(req.Operation, n, 0, outcome, start, perr)
		return nil, perr
	}
	body, err := readLimited(hresp.Body, c.cfg.MaxResponseBytes)
	hresp.Body.Close()
	if errors.Is(err, errBodyTooLarge) {
		done(nil) // the partner answered; a huge body is a contract problem, not an outage
		perr := &Error{
			Partner: c.cfg.Partner, Operation: req.Operation, HTTPStatus: hresp.StatusCode,
			Kind: KindBadResponse,
			Err:  err,
		}
		c.observe(req.Operation, n, hresp.StatusCode, OutcomeBadResponse, start, perr)
		return nil, perr
	}
	if err != nil {
		perr, outcome, verdict := c.transportError(ctx, actx, req.Operation, fmt.Errorf("read body: %w", err))
		// Keep the status the partner answered: a 2xx whose body was cut off still means the
		// partner did it (a caller must not repeat a non-idempotent call after it).
		perr.HTTPStatus = hresp.StatusCode
		done(verdict)
		c.observe(req.Operation, n, hresp.StatusCode, outcome, start, perr)
		return nil, perr
	}
	if hresp.StatusCode >= 200 && hresp.StatusCode < 300 {
		done(nil)
		c.observe(req.Operation, n, hresp.StatusCode, OutcomeOK, start, nil)
		return &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: body}, nil
	}
	perr, outcome, verdict := c.statusError(req.Operation, hresp, body)
	done(verdict)
	c.observe(req.Operation, n, hresp.StatusCode, outcome, start, perr)
	return nil, perr
}

func (c *Client) newHTTPRequest(ctx context.Context, req Request, target string) (*http.Request, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, target, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	if req.ContentType != "" {
		hreq.Header.Set("Content-Type", req.ContentType)
	}
	if hreq.Header.Get("Accept") == "" {
		hreq.Header.Set("Accept", "application/json")
	}
	return hreq, nil
}

// retryable reports whether another attempt may succeed and is safe.
func (c *Client) retryable(ctx context.Context, req Request, perr *Error) bool {
	if ctx.Err() != nil {
		return false
	}
	if perr.HTTPStatus == http.StatusTooManyRequests {
		return true // the partner did not process it, so even a POST is safe to repeat
	}
	return req.Idempotent && perr.Retryable
}

// statusError maps a non-2xx answer.
func (c *Client) statusError(op string, hresp *http.Response, body []byte) (*Error, string, error) {
	kind, outcome := classifyStatus(hresp.StatusCode)
	perr := &Error{
		Partner: c.cfg.Partner, Operation: op, HTTPStatus: hresp.StatusCode,
		PartnerMessage: PartnerMessageFromBody(body),
		Body:           body,
		Kind:           kind,
		Err:            fmt.Errorf("http status %d", hresp.StatusCode),
	}
	var verdict error
	switch hresp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		perr.RetryAfter = ParseRetryAfter(hresp.Header.Get("Retry-After"), time.Now())
	}
	switch {
	case hresp.StatusCode == http.StatusTooManyRequests:
		perr.Retryable = true
		verdict = errPartnerFailure
	case hresp.StatusCode == http.StatusBadGateway, hresp.StatusCode == http.StatusServiceUnavailable,
		hresp.StatusCode == http.StatusGatewayTimeout:
		perr.Retryable = true
		verdict = errPartnerFailure
	case hresp.StatusCode >= 500:
		verdict = errPartnerFailure
	}
	return perr, outcome, verdict
}

// transportError maps a failure to get (or read) an answer. The *url.Error wrapper is
// dropped because it carries the full URL, whose query may hold personal data.
func (c *Client) transportError(ctx, actx context.Context, op string, err error) (*Error, string, error) {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = fmt.Errorf("%s: %w", strings.ToLower(uerr.Op), uerr.Err)
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled) && !deadlineReached(ctx):
		return c.contextError(op, context.Canceled, nil), OutcomeCanceled, errExcluded
	case ctx.Err() != nil:
		// The caller's deadline ran out while the partner was still working: counts
		// against the partner, which answers slower than our callers can wait.
		perr := c.contextError(op, context.DeadlineExceeded, nil)
		return perr, OutcomeTimeout, errPartnerFailure
	case actx.Err() != nil:
		return &Error{
			Partner: c.cfg.Partner, Operation: op,
			Kind: KindTimeout,
			Err:  fmt.Errorf("attempt timed out after %s: %w", c.cfg.AttemptTimeout, err), Retryable: true,
		}, OutcomeTimeout, errPartnerFailure
	default:
		return &Error{
			Partner: c.cfg.Partner, Operation: op,
			Kind: KindUnavailable,
			Err:  err, Retryable: true,
		}, OutcomeUnavailable, errPartnerFailure
	}
}

// deadlineSkew is how close to its deadline a canceled caller is taken to have run out of time.
// A gRPC client whose deadline expires cancels the stream (RST_STREAM) a moment before the
// server's own deadline, derived from the same grpc-timeout, fires: the server context then
// ends Canceled although the cause is the deadline. Without this, callers with deadlines
// never let a slow partner open its breaker.
const deadlineSkew = 100 * time.Millisecond

// deadlineReached reports whether ctx has a deadline that has passed or is within deadlineSkew.
func deadlineReached(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < deadlineSkew
}

// authorizeError maps a failure of Config.Authorize (e.g. the OAuth token endpoint).
func (c *Client) authorizeError(ctx context.Context, op string, err error) *Error {
	var perr *Error
	if errors.As(err, &perr) {
		return perr
	}
	if ctx.Err() != nil {
		return c.contextError(op, ctx.Err(), nil)
	}
	return &Error{
		Partner: c.cfg.Partner, Operation: op,
		Kind: KindUnauthorized,
		Err:  fmt.Errorf("authorize: %w", err),
	}
}

// contextError maps the caller's context ending; last is the previous attempt's error,
// kept as context for the log line.
func (c *Client) contextError(op string, ctxErr error, last *Error) *Error {
	perr := &Error{Partner: c.cfg.Partner, Operation: op}
	if errors.Is(ctxErr, context.Canceled) {
		perr.Kind = KindCanceled
	} else {
		perr.Kind = KindTimeout
	}
	perr.Err = ctxErr
	if last != nil {
		perr.HTTPStatus = last.HTTPStatus
		perr.PartnerMessage = last.PartnerMessage
		perr.Err = fmt.Errorf("%w (previous attempt: %s)", ctxErr, last.Error())
	}
	return perr
}

func (c *Client) internalError(op string, err error) *Error {
	return &Error{
		Partner: c.cfg.Partner, Operation: op,
		Kind: KindInternal, Err: err,
	}
}

func (c *Client) observe(op string, attempt, httpStatus int, outcome string, start time.Time, perr *Error) {
	d := time.Since(start)
	c.cfg.Observer.ObserveCall(c.cfg.Partner, op, httpStatus, outcome, d)
	// Partner-side trouble is worth a warning; our own 4xx outcomes (not found, rejected
	// input) are routine and stay at debug level so they do not drown the real signal.
	level := slog.LevelDebug
	if perr != nil {
		level = slog.LevelInfo
		if perr.partnerSide() {
			level = slog.LevelWarn
		}
	}
	c.cfg.Logger.LogAttrs(context.Background(), level, "partner call",
		slog.String("partner", c.cfg.Partner), slog.String("operation", op),
		slog.Int("attempt", attempt), slog.Int("http_status", httpStatus),
		slog.String("outcome", outcome), slog.Duration("duration", d))
}

var errBodyTooLarge = errors.New("response body exceeds the configured limit")

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, errBodyTooLarge
	}
	return body, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
