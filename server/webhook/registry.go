package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	grpcmw "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
)

// MetadataKey is the gRPC metadata key that carries a verified delivery's token from the HTTP
// side to the webhook services. Only the gateway's own metadata function sets it (from the
// request context); the gateway's header allowlist keeps clients from sending it.
const MetadataKey = "x-covergate-delivery"

// ServicePackage is the proto package whose methods Guard protects.
const ServicePackage = "covergate.webhooks.v1"

// Delivery is one verified partner call, as the webhook services see it.
type Delivery struct {
	Partner domain.Partner
	// Raw is the request body exactly as received and verified.
	Raw []byte
	// Headers are the request headers of interest (signature, timestamps), never secrets.
	Headers     map[string]string
	ReceiveTime time.Time
	RequestID   string
	// report is where the processing records its outcome for the Guard's observer.
	report *report
}

// Outcomes of a delivery, as counted by an Observer.
const (
	OutcomeAccepted     = "accepted"     // recorded and applied (or recorded as ignored)
	OutcomeDuplicate    = "duplicate"    // seen before: answered from the inbox, no effect
	OutcomeUnrecognized = "unrecognized" // recorded and acknowledged, type unknown
	OutcomeRejected     = "rejected"     // refused: credentials, signature, timestamp, invalid body
	OutcomeFailed       = "failed"       // could not be applied now; nothing recorded, partner retries
)

// UnrecognizedType is the event-type label of unrecognized events: their names come from the
// partner and are unbounded, so they are not used as metric labels (the event log has them).
const UnrecognizedType = "other"

// Observer counts deliveries (metrics). eventType is empty when the delivery was refused before
// it was decoded.
type Observer func(partner domain.Partner, eventType, outcome string)

type report struct {
	eventType, outcome string
}

// Report records the outcome of the delivery being processed in ctx (no-op outside a guarded
// webhook call, e.g. in the Scalepoint poller). Record calls it; services need not.
func Report(ctx context.Context, eventType, outcome string) {
	if d, ok := DeliveryFrom(ctx); ok && d.report != nil {
		d.report.eventType, d.report.outcome = eventType, outcome
	}
}

// Registry holds the deliveries being processed, each under a random single-use token. It lives
// in the process: the token never leaves it (the HTTP side and the gRPC side share it through
// the in-memory connection's metadata).
type Registry struct {
	mu      sync.Mutex
	entries map[string]Delivery
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{entries: map[string]Delivery{}} }

// Register stores d under a fresh 256-bit random token; release removes it.
func (r *Registry) Register(d Delivery) (token string, release func(), err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("webhook: delivery token: %w", err)
	}
	token = hex.EncodeToString(b[:])
	r.mu.Lock()
	r.entries[token] = d
	r.mu.Unlock()
	return token, func() {
		r.mu.Lock()
		delete(r.entries, token)
		r.mu.Unlock()
	}, nil
}

// Resolve returns the delivery registered under token.
func (r *Registry) Resolve(token string) (Delivery, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.entries[token]
	return d, ok
}

// Len is the number of deliveries in flight (for tests and metrics).
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

type tokenKey struct{}

type deliveryKey struct{}

// withToken puts the delivery token in an HTTP request context.
func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// Metadata returns the gRPC metadata of a verified webhook request: the delivery token from the
// request context (set by Middleware), never from a header. Use it as the gateway's
// WebhookMetadata.
func Metadata(ctx context.Context, _ *http.Request) metadata.MD {
	if tok, ok := ctx.Value(tokenKey{}).(string); ok && tok != "" {
		return metadata.Pairs(MetadataKey, tok)
	}
	return nil
}

// DeliveryFrom returns the verified delivery of a webhook call (set by Guard).
func DeliveryFrom(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(Delivery)
	return d, ok
}

// WithDelivery returns ctx carrying d, for callers that process partner events outside an HTTP
// request (the Scalepoint poller) and for tests.
func WithDelivery(ctx context.Context, d Delivery) context.Context {
	return context.WithValue(ctx, deliveryKey{}, d)
}

// Guard authenticates calls to the webhook services: they must carry the token of a delivery
// that Middleware verified and is still processing. It implements interceptor.Authorizer;
// methods of other packages pass through.
type Guard struct {
	reg     *Registry
	observe Observer
}

// NewGuard returns a Guard over reg. observe, when not nil, counts every webhook call's outcome.
func NewGuard(reg *Registry, observe Observer) *Guard { return &Guard{reg: reg, observe: observe} }

// servicePartner is the partner each webhook service accepts deliveries from.
var servicePartner = map[string]domain.Partner{
	ServicePackage + ".EtvasWebhookService":      domain.PartnerEtvas,
	ServicePackage + ".AvataWebhookService":      domain.PartnerAvata,
	ServicePackage + ".ScalepointWebhookService": domain.PartnerScalepoint,
}

// authorize returns ctx carrying the delivery, or UNAUTHENTICATED.
func (g *Guard) authorize(ctx context.Context, fullMethod string) (context.Context, error) {
	service, ok := webhookService(fullMethod)
	if !ok {
		return ctx, nil
	}
	deny := apierror.New(codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED,
		"partner webhooks are accepted only on their HTTP routes, with the partner's credentials")
	values := metadata.ValueFromIncomingContext(ctx, MetadataKey)
	if len(values) != 1 || values[0] == "" {
		return ctx, deny
	}
	d, ok := g.reg.Resolve(values[0])
	if !ok || d.Partner != servicePartner[service] {
		return ctx, deny
	}
	d.report = &report{}
	return WithDelivery(ctx, d), nil
}

// observed counts the outcome of a webhook call that reached its service.
func (g *Guard) observed(ctx context.Context, err error) {
	d, ok := DeliveryFrom(ctx)
	if g.observe == nil || !ok || d.report == nil {
		return
	}
	outcome := d.report.outcome
	switch {
	case err != nil && apierror.Code(err) == codes.InvalidArgument:
		outcome = OutcomeRejected
	case err != nil:
		outcome = OutcomeFailed
	case outcome == "":
		outcome = OutcomeAccepted
	}
	g.observe(d.Partner, d.report.eventType, outcome)
}

// webhookService returns the service name of a method of ServicePackage.
func webhookService(fullMethod string) (string, bool) {
	rest, ok := strings.CutPrefix(fullMethod, "/"+ServicePackage+".")
	if !ok {
		return "", false
	}
	svc, _, ok := strings.Cut(rest, "/")
	return ServicePackage + "." + svc, ok
}

// UnaryInterceptor authorizes unary calls.
func (g *Guard) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		ctx, err := g.authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		resp, err := next(ctx, req)
		g.observed(ctx, err)
		return resp, err
	}
}

// StreamInterceptor authorizes streaming calls (the webhook services have none today).
func (g *Guard) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		ctx, err := g.authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		wrapped := grpcmw.WrapServerStream(ss)
		wrapped.WrappedContext = ctx
		return next(srv, wrapped)
	}
}
