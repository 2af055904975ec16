// Package webhook authenticates partner webhook calls over the exact raw body, hands the
// verified delivery to the gRPC webhook services through a channel outside callers cannot
// forge, and records each delivery in the inbox together with its effect.
//
// Flow: the gateway buffers and size-limits the body; Middleware verifies it per partner and
// registers a Delivery under a random single-use token in the Registry; Metadata passes the
// token to the in-process gRPC call; Guard resolves it and puts the Delivery in the call's
// context (DeliveryFrom). A direct gRPC call to a webhook method has no live token and gets
// UNAUTHENTICATED.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/partners/scalepoint"
	"github.com/covergate/covergate/server/requestid"
)

// EtvasRetryHorizon is how long after an event Etvas may still deliver it: a failed delivery is
// retried every ~4 h, 5 more times (~24 h in all; Etvas developer documentation,
// https://www.etvas.com/developers). A retry carries the original body, timestamp
// included, so the timestamp window must be at least this long or retries would be refused as
// stale.
const EtvasRetryHorizon = 24 * time.Hour

// DefaultEtvasWindow is how far an Etvas event's timestamp may be from now: the retry horizon
// plus two hours of slack for Etvas's own scheduling. Replays inside the window are stopped by
// the signature and the inbox (every delivery key is kept for good, far longer than the
// window), so a replay is either a duplicate or too old.
const DefaultEtvasWindow = EtvasRetryHorizon + 2*time.Hour

// Routes of the partner webhooks (fixed by the partners, or by us for Avata and Scalepoint).
const (
	RouteEtvasPortal = "/etvas-events"
	RouteEtvasApp    = "/etvas/events"
	RouteAvata       = "/webhooks/avata"
	RouteScalepoint  = "/webhooks/scalepoint"
)

// Config holds the secrets partners authenticate to us with, and which of the requirements the
// partner documents do not define are switched off. Zero values are the strict setting. Secrets
// are never logged.
type Config struct {
	// EtvasAPIKey must equal the x-api-key header of Etvas calls. The Etvas App document shows
	// the header on its events, so /etvas/events always requires it; the developer-portal
	// document shows none, so on /etvas-events it can be made optional.
	EtvasAPIKey string
	// EtvasPortalAPIKeyOptional accepts developer-portal events (/etvas-events) without
	// x-api-key (a wrong key is still refused). They are then verified by x-etvas-signature when
	// EtvasEventSecret is set, else by asking Etvas to verify the event's user.auth.token
	// (EtvasVerifyToken).
	EtvasPortalAPIKeyOptional bool
	// EtvasVerifyToken asks Etvas whether a portal token is genuine (POST /verify-token). It
	// returns nil when Etvas accepts it; an error with gRPC code UNAUTHENTICATED,
	// PERMISSION_DENIED, INVALID_ARGUMENT or NOT_FOUND when Etvas refuses it; any other error
	// when Etvas could not answer (the event is then refused with 503, so Etvas retries).
	EtvasVerifyToken func(ctx context.Context, token string) error
	// EtvasEventSecret, when set, makes x-etvas-signature (hex HMAC-SHA256 of the raw body)
	// required and enables the timestamp window.
	EtvasEventSecret string
	// EtvasWindow is the accepted distance between an event's timestamp and now (default
	// DefaultEtvasWindow; it must not be shorter than EtvasRetryHorizon).
	EtvasWindow time.Duration
	// AvataCallbackSecret keys X-Avata-Signature.
	AvataCallbackSecret string
	// AvataSignatureOptional accepts Avata callbacks without X-Avata-Signature (a present one is
	// still checked when AvataCallbackSecret is set). Safe because a callback is only a hint:
	// the policy or claim is fetched from Avata before anything changes (verify by fetch).
	AvataSignatureOptional bool
	// ScalepointWebhookToken is the bearer token Scalepoint sends on pushed events.
	ScalepointWebhookToken string
	// ScalepointTokenOptional answers a pushed event without Authorization with 202 "deferred"
	// and does not apply it: the long-poll consumer fetches it from Scalepoint's authenticated
	// receive API (so it must run). A wrong token is still refused.
	ScalepointTokenOptional bool
	// MaxBodyBytes bounds the body read, after the header credentials were checked (default
	// 1 MiB); a larger body gets 413.
	MaxBodyBytes int64
	Now          func() time.Time
	// Observe, when set, counts refused calls (OutcomeRejected) and deferred ones.
	Observe Observer
}

// DefaultMaxBodyBytes is Config.MaxBodyBytes when unset.
const DefaultMaxBodyBytes = 1 << 20

// OutcomeDeferred is a pushed Scalepoint event without credentials, left to the long poll.
const OutcomeDeferred = "deferred"

// Problems lists the configurations that would leave a partner's webhooks unverifiable, or
// refuse every call, for start-up to report. pollingScalepoint says whether the Scalepoint
// long-poll consumer runs. (Etvas portal events without x-api-key are never unverified: the
// signature or Etvas's verify-token decides, and the gateway always has an Etvas client.)
func (c Config) Problems(pollingScalepoint bool) []string {
	var p []string
	if c.EtvasAPIKey == "" {
		p = append(p, "etvas: no API key to check on Etvas events (x-api-key): set etvas-api-key or etvas-webhook-api-key")
	}
	if !c.AvataSignatureOptional && c.AvataCallbackSecret == "" {
		p = append(p, "avata: avata-callback-signature-required needs avata-callback-secret (or set avata-callback-signature-required=false: callbacks are then verified by fetching from Avata)")
	}
	if !c.ScalepointTokenOptional && c.ScalepointWebhookToken == "" {
		p = append(p, "scalepoint: scalepoint-webhook-token-required needs scalepoint-webhook-token")
	}
	if c.ScalepointTokenOptional && !pollingScalepoint {
		p = append(p, "scalepoint: scalepoint-webhook-token-required=false needs scalepoint-poll=true: pushed events without the token are not applied, so only the authenticated long poll can deliver them")
	}
	return p
}

// Verifier authenticates partner webhook calls and passes verified deliveries on.
type Verifier struct {
	cfg      Config
	registry *Registry
}

// NewVerifier returns a Verifier registering deliveries in reg.
func NewVerifier(cfg Config, reg *Registry) *Verifier {
	if cfg.EtvasWindow <= 0 {
		cfg.EtvasWindow = DefaultEtvasWindow
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, registry: reg}
}

// routePartner maps a webhook route to its partner.
var routePartner = map[string]domain.Partner{
	RouteEtvasPortal: domain.PartnerEtvas,
	RouteEtvasApp:    domain.PartnerEtvas,
	RouteAvata:       domain.PartnerAvata,
	RouteScalepoint:  domain.PartnerScalepoint,
}

// IsRoute reports whether path is a partner webhook route (the gateway leaves reading its body
// to Middleware).
func IsRoute(path string) bool {
	_, ok := routePartner[path]
	return ok
}

// Middleware verifies the partner webhook routes and registers the delivery for the duration
// of next. It reads the body itself, and only after the header credentials passed: a caller
// without them costs no body read (the answer closes the connection instead of draining the
// body). The body read is bounded by MaxBodyBytes. Any other path is refused: the middleware
// guards only webhook routes.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := requestid.From(r.Context())
		partner, ok := routePartner[r.URL.Path]
		if !ok {
			writeError(w, r, http.StatusNotFound, apierror.Status(codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND,
				"no webhook route "+r.URL.Path, "request_id", rid))
			return
		}
		reject := func(httpStatus int, st *status.Status) {
			if v.cfg.Observe != nil {
				v.cfg.Observe(partner, "", OutcomeRejected)
			}
			writeError(w, r, httpStatus, st)
		}
		hv, httpStatus, st := v.checkHeaders(partner, r)
		if st != nil {
			w.Header().Set("Connection", "close") // the body stays unread: do not drain it
			reject(httpStatus, st)
			return
		}
		if hv.deferred {
			if v.cfg.Observe != nil {
				v.cfg.Observe(partner, "", OutcomeDeferred)
			}
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status":"deferred"}`))
			return
		}
		raw, httpStatus, st := v.readBody(w, r)
		if st != nil {
			w.Header().Set("Connection", "close")
			reject(httpStatus, st)
			return
		}
		headers, httpStatus, st := v.verifyBody(partner, r, raw, hv)
		if st != nil {
			reject(httpStatus, st)
			return
		}
		token, release, err := v.registry.Register(Delivery{
			Partner: partner, Raw: raw, Headers: headers, ReceiveTime: v.cfg.Now(), RequestID: rid,
		})
		if err != nil {
			writeError(w, r, http.StatusInternalServerError, apierror.Status(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL,
				"internal error", "request_id", rid))
			return
		}
		defer release()
		next.ServeHTTP(w, r.WithContext(withToken(r.Context(), token)))
	})
}

// readBody reads the whole body, bounded by MaxBodyBytes, and puts an identical reader back for
// the decoder.
func (v *Verifier) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, *status.Status) {
	rid := requestid.From(r.Context())
	limit := v.cfg.MaxBodyBytes
	tooLarge := func() ([]byte, int, *status.Status) {
		return nil, http.StatusRequestEntityTooLarge, apierror.Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE,
			"request body exceeds "+strconv.FormatInt(limit, 10)+" bytes", "limit_bytes", strconv.FormatInt(limit, 10), "request_id", rid)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, 0, nil
	}
	if r.ContentLength > limit {
		return tooLarge()
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return nil, http.StatusBadRequest, apierror.Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST,
			"could not read the request body", "request_id", rid)
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	return raw, 0, nil
}

// headerVerdict is what the header phase decided about the body phase.
type headerVerdict struct {
	signature   string // the partner's signature header, to check over the body ("" = none to check)
	verifyToken bool   // Etvas portal event without x-api-key or signature: ask Etvas about its token
	deferred    bool   // Scalepoint push without credentials: left to the long poll
}

// checkHeaders is the part of the verification that needs no body: API keys, bearer tokens and
// the presence of signature headers.
func (v *Verifier) checkHeaders(p domain.Partner, r *http.Request) (headerVerdict, int, *status.Status) {
	fail := func(httpStatus int, code codes.Code, reason insurancev1.ErrorReason, msg string) (headerVerdict, int, *status.Status) {
		return headerVerdict{}, httpStatus, apierror.Status(code, reason, msg, "partner", string(p), "request_id", requestid.From(r.Context()))
	}
	switch p {
	case domain.PartnerEtvas:
		key := r.Header.Get(etvas.HeaderAPIKey)
		keyOptional := r.URL.Path == RouteEtvasPortal && v.cfg.EtvasPortalAPIKeyOptional
		if (key != "" || !keyOptional) && !equalSecret(key, v.cfg.EtvasAPIKey) {
			return fail(http.StatusUnauthorized, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED,
				"missing or wrong x-api-key")
		}
		if v.cfg.EtvasEventSecret != "" {
			sig := r.Header.Get(etvas.HeaderWebhookSignature)
			if strings.TrimSpace(sig) == "" {
				return fail(http.StatusBadRequest, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING,
					"x-etvas-signature is required")
			}
			return headerVerdict{signature: sig}, 0, nil
		}
		return headerVerdict{verifyToken: key == ""}, 0, nil
	case domain.PartnerAvata:
		sig := r.Header.Get(avata.CallbackSignatureHeader)
		switch {
		case strings.TrimSpace(sig) != "" && (v.cfg.AvataCallbackSecret != "" || !v.cfg.AvataSignatureOptional):
			return headerVerdict{signature: sig}, 0, nil
		case v.cfg.AvataSignatureOptional:
			return headerVerdict{}, 0, nil // verify by fetch decides
		}
		return fail(http.StatusUnauthorized, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING,
			avata.CallbackSignatureHeader+" is required")
	case domain.PartnerScalepoint:
		auth := r.Header.Get("Authorization")
		if v.cfg.ScalepointTokenOptional && (auth == "" || v.cfg.ScalepointWebhookToken == "") {
			return headerVerdict{deferred: true}, 0, nil
		}
		if err := scalepoint.VerifyWebhookAuth(auth, v.cfg.ScalepointWebhookToken); err != nil {
			return fail(http.StatusUnauthorized, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED,
				"missing or wrong bearer token")
		}
		return headerVerdict{}, 0, nil
	}
	return fail(http.StatusNotFound, codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND, "unknown partner")
}

// verifyBody finishes the verification over the exact raw body: signatures, the Etvas timestamp
// window, the Etvas portal token. It returns the headers of interest for the delivery.
func (v *Verifier) verifyBody(p domain.Partner, r *http.Request, raw []byte, hv headerVerdict) (map[string]string, int, *status.Status) {
	rid := requestid.From(r.Context())
	fail := func(httpStatus int, code codes.Code, reason insurancev1.ErrorReason, msg string) (map[string]string, int, *status.Status) {
		return nil, httpStatus, apierror.Status(code, reason, msg, "partner", string(p), "request_id", rid)
	}
	switch p {
	case domain.PartnerEtvas:
		headers := map[string]string{}
		if hv.verifyToken {
			return v.verifyPortalToken(r.Context(), raw, fail)
		}
		if hv.signature == "" {
			return headers, 0, nil
		}
		if etvas.VerifyWebhookSignature([]byte(v.cfg.EtvasEventSecret), raw, hv.signature) != nil {
			return fail(http.StatusForbidden, codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID,
				"x-etvas-signature does not match the body")
		}
		headers[etvas.HeaderWebhookSignature] = hv.signature
		if ts, ok := etvasTimestamp(r.URL.Path, raw); ok {
			if !withinWindow(ts, v.cfg.Now(), v.cfg.EtvasWindow) {
				return fail(http.StatusBadRequest, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_TIMESTAMP_STALE,
					"event timestamp is more than "+v.cfg.EtvasWindow.String()+" away from now")
			}
		}
		return headers, 0, nil
	case domain.PartnerAvata:
		if hv.signature == "" {
			return map[string]string{}, 0, nil
		}
		if avata.VerifyCallbackSignature([]byte(v.cfg.AvataCallbackSecret), raw, hv.signature) != nil {
			return fail(http.StatusForbidden, codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID,
				avata.CallbackSignatureHeader+" does not match the body")
		}
		return map[string]string{avata.CallbackSignatureHeader: hv.signature}, 0, nil
	}
	return map[string]string{}, 0, nil
}

// verifyPortalToken verifies a developer-portal event that came without x-api-key and without
// a signature: Etvas must accept its user.auth.token. The document gives every portal event
// this token; Etvas tokens live about an hour, so a retry Etvas sends later fails here — a
// deployment that needs late retries enables x-api-key or the signature.
func (v *Verifier) verifyPortalToken(ctx context.Context, raw []byte,
	fail func(int, codes.Code, insurancev1.ErrorReason, string) (map[string]string, int, *status.Status),
) (map[string]string, int, *status.Status) {
	var body struct {
		User struct {
			Auth struct {
				Token string `json:"token"`
			} `json:"auth"`
		} `json:"user"`
	}
	if json.Unmarshal(raw, &body) != nil || body.User.Auth.Token == "" || v.cfg.EtvasVerifyToken == nil {
		return fail(http.StatusUnauthorized, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED,
			"an Etvas portal event without x-api-key must carry user.auth.token")
	}
	err := v.cfg.EtvasVerifyToken(ctx, body.User.Auth.Token)
	switch apierror.Code(err) {
	case codes.OK:
		return map[string]string{}, 0, nil
	case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument, codes.NotFound:
		return fail(http.StatusUnauthorized, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED,
			"Etvas did not accept the event's user.auth.token")
	}
	return fail(http.StatusServiceUnavailable, codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE,
		"could not verify the event's token with Etvas; retry later")
}

// equalSecret compares in constant time (hashing first, so neither length nor content leaks);
// an unconfigured secret matches nothing.
func equalSecret(got, want string) bool {
	if want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// withinWindow reports whether the Etvas timestamp ts (seconds or milliseconds, see
// EtvasEventTime) is at most window away from now, in either direction: an old replay and a
// badly skewed clock are both refused. Zero or negative is refused.
func withinWindow(ts int64, now time.Time, window time.Duration) bool {
	at, ok := EtvasEventTime(ts)
	if !ok {
		return false
	}
	// Compare times, not now.Sub(at): a Duration saturates at ±292 years, and negating the
	// saturated minimum leaves it negative, so a timestamp centuries away (the developer-portal
	// examples' 19786584376 s is the year 2597) would pass as "within the window".
	return !at.Before(now.Add(-window)) && !at.After(now.Add(window))
}

// secondsBelow splits Etvas timestamps by magnitude: the developer portal's examples and the
// App SDK disagree on the unit (the SDK checks milliseconds; other sources send Unix seconds).
// A value below 1e11 is taken as seconds (1e11 s is the year 5138), anything else as
// milliseconds (1e11 ms is March 1973). Every real event time — now ±decades — is far from the
// boundary in both units, so the rule never misreads a plausible timestamp.
const secondsBelow = 100_000_000_000

// EtvasEventTime converts an Etvas event timestamp given in seconds or milliseconds since the
// Unix epoch (decided by magnitude, see secondsBelow); ok is false for zero or negative values.
func EtvasEventTime(ts int64) (time.Time, bool) {
	switch {
	case ts <= 0:
		return time.Time{}, false
	case ts < secondsBelow:
		return time.Unix(ts, 0).UTC(), true
	}
	return time.UnixMilli(ts).UTC(), true
}

// etvasTimestamp reads the event time (seconds or milliseconds) of an already verified body: the App
// format's top-level `timestamp`, the portal format's `event.timestamp`. ok is false when the
// body has none (the window then does not apply) or is not JSON (the decoder reports that).
func etvasTimestamp(path string, raw []byte) (int64, bool) {
	var body struct {
		Timestamp json.RawMessage `json:"timestamp"`
		Event     struct {
			Timestamp json.RawMessage `json:"timestamp"`
		} `json:"event"`
	}
	if json.Unmarshal(raw, &body) != nil {
		return 0, false
	}
	field := body.Timestamp
	if path == RouteEtvasPortal {
		field = body.Event.Timestamp
	}
	return Millis(field)
}

// Millis parses a JSON number or numeric string (an Etvas timestamp); ok is false for an absent or
// null value. A value that is present but not a number yields (0, true), which every window
// check refuses.
func Millis(field json.RawMessage) (int64, bool) {
	if len(field) == 0 || string(field) == "null" {
		return 0, false
	}
	var s string
	if json.Unmarshal(field, &s) == nil {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, true
		}
		return n, true
	}
	var n json.Number
	if json.Unmarshal(field, &n) != nil {
		return 0, true
	}
	i, err := n.Int64()
	if err != nil {
		return 0, true
	}
	return i, true
}

var statusJSON = protojson.MarshalOptions{}

// writeError answers with a google.rpc.Status JSON body, as the gateway does for every error.
func writeError(w http.ResponseWriter, _ *http.Request, httpStatus int, st *status.Status) {
	body, err := statusJSON.Marshal(st.Proto())
	if err != nil {
		body, httpStatus = []byte(`{"code":13,"message":"internal error"}`), http.StatusInternalServerError
	}
	if httpStatus == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="covergate"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}
