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
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
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

// Config holds the secrets partners authenticate to us with. They are never logged.
type Config struct {
	// EtvasAPIKey must equal the x-api-key header of Etvas calls (both formats).
	EtvasAPIKey string
	// EtvasEventSecret, when set, makes x-etvas-signature (hex HMAC-SHA256 of the raw body)
	// required and enables the timestamp window.
	EtvasEventSecret string
	// EtvasWindow is the accepted distance between an event's timestamp and now (default
	// DefaultEtvasWindow; it must not be shorter than EtvasRetryHorizon).
	EtvasWindow time.Duration
	// AvataCallbackSecret keys X-Avata-Signature; empty refuses every callback.
	AvataCallbackSecret string
	// ScalepointWebhookToken is the bearer token Scalepoint sends; empty refuses every call.
	ScalepointWebhookToken string
	Now                    func() time.Time
	// Observe, when set, counts refused calls (outcome OutcomeRejected).
	Observe Observer
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

// Middleware verifies the partner webhook routes and registers the delivery for the duration
// of next. The body must already be buffered and size-limited (the gateway does both). Any
// other path is refused: the middleware guards only webhook routes.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		partner, ok := routePartner[r.URL.Path]
		if !ok {
			writeError(w, r, http.StatusNotFound, apierror.Status(codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND,
				"no webhook route "+r.URL.Path, "request_id", requestid.From(r.Context())))
			return
		}
		raw, err := readBody(r)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, apierror.Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST,
				"could not read the request body", "request_id", requestid.From(r.Context())))
			return
		}
		headers, httpStatus, st := v.verify(partner, r, raw)
		if st != nil {
			if v.cfg.Observe != nil {
				v.cfg.Observe(partner, "", OutcomeRejected)
			}
			writeError(w, r, httpStatus, st)
			return
		}
		token, release, err := v.registry.Register(Delivery{
			Partner: partner, Raw: raw, Headers: headers, ReceiveTime: v.cfg.Now(), RequestID: requestid.From(r.Context()),
		})
		if err != nil {
			writeError(w, r, http.StatusInternalServerError, apierror.Status(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_INTERNAL,
				"internal error", "request_id", requestid.From(r.Context())))
			return
		}
		defer release()
		next.ServeHTTP(w, r.WithContext(withToken(r.Context(), token)))
	})
}

// readBody returns the (already buffered) body and puts an identical reader back for the
// decoder.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	return raw, nil
}

// verify authenticates one call; on failure it returns the HTTP status and the error status.
func (v *Verifier) verify(p domain.Partner, r *http.Request, raw []byte) (map[string]string, int, *status.Status) {
	rid := requestid.From(r.Context())
	fail := func(httpStatus int, code codes.Code, reason insurancev1.ErrorReason, msg string) (map[string]string, int, *status.Status) {
		return nil, httpStatus, apierror.Status(code, reason, msg, "partner", string(p), "request_id", rid)
	}
	switch p {
	case domain.PartnerEtvas:
		if !equalSecret(r.Header.Get(etvas.HeaderAPIKey), v.cfg.EtvasAPIKey) {
			return fail(http.StatusUnauthorized, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED,
				"missing or wrong x-api-key")
		}
		headers := map[string]string{}
		if v.cfg.EtvasEventSecret == "" {
			return headers, 0, nil
		}
		sig := r.Header.Get(etvas.HeaderWebhookSignature)
		switch err := etvas.VerifyWebhookSignature([]byte(v.cfg.EtvasEventSecret), raw, sig); {
		case errors.Is(err, etvas.ErrSignatureMissing):
			return fail(http.StatusBadRequest, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING,
				"x-etvas-signature is required")
		case err != nil:
			return fail(http.StatusForbidden, codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID,
				"x-etvas-signature does not match the body")
		}
		headers[etvas.HeaderWebhookSignature] = sig
		if ts, ok := etvasTimestamp(r.URL.Path, raw); ok {
			if !withinWindow(ts, v.cfg.Now(), v.cfg.EtvasWindow) {
				return fail(http.StatusBadRequest, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_TIMESTAMP_STALE,
					"event timestamp is more than "+v.cfg.EtvasWindow.String()+" away from now")
			}
		}
		return headers, 0, nil
	case domain.PartnerAvata:
		sig := r.Header.Get(avata.CallbackSignatureHeader)
		switch err := avata.VerifyCallbackSignature([]byte(v.cfg.AvataCallbackSecret), raw, sig); {
		case errors.Is(err, avata.ErrSignatureMissing):
			return fail(http.StatusUnauthorized, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING,
				avata.CallbackSignatureHeader+" is required")
		case err != nil:
			return fail(http.StatusForbidden, codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID,
				avata.CallbackSignatureHeader+" does not match the body")
		}
		return map[string]string{avata.CallbackSignatureHeader: sig}, 0, nil
	case domain.PartnerScalepoint:
		if err := scalepoint.VerifyWebhookAuth(r.Header.Get("Authorization"), v.cfg.ScalepointWebhookToken); err != nil {
			return fail(http.StatusUnauthorized, codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED,
				"missing or wrong bearer token")
		}
		return map[string]string{}, 0, nil
	}
	return fail(http.StatusNotFound, codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND, "unknown partner")
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
	d := now.Sub(at)
	if d < 0 {
		d = -d
	}
	return d <= window
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
