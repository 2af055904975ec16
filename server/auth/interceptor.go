package auth

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	grpcmw "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/ratelimit"
)

// ProtectedPackage is the proto package whose services require an API key.
const ProtectedPackage = "covergate.insurance.v1"

type principalKey struct{}

// FromContext returns the authenticated principal of a request.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p (used by other authenticators, e.g. mTLS), and records
// p's name in the slot an outer interceptor may have placed with WithPrincipalSlot.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	if slot, ok := ctx.Value(slotKey{}).(*principalSlot); ok {
		slot.name.Store(&p.Name)
	}
	return context.WithValue(ctx, principalKey{}, p)
}

type slotKey struct{}

type principalSlot struct{ name atomic.Pointer[string] }

// WithPrincipalSlot lets an interceptor that runs before authentication (logging) learn who the
// caller turned out to be: contexts only flow inwards, so the outer one leaves a slot to fill.
func WithPrincipalSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, slotKey{}, &principalSlot{})
}

// PrincipalName returns the name recorded in ctx's slot, or "".
func PrincipalName(ctx context.Context) string {
	if slot, ok := ctx.Value(slotKey{}).(*principalSlot); ok {
		if name := slot.name.Load(); name != nil {
			return *name
		}
	}
	return ""
}

// Authenticator checks API keys and scopes for the methods of ProtectedPackage. Methods of other
// packages (health, reflection, partner webhooks, which partners authenticate their own way) pass
// through untouched.
type Authenticator struct {
	keys    *Keys
	certs   CertPrincipals    // mTLS subjects → scopes; may be empty
	scopes  map[string]string // full method name → required scope
	limiter *ratelimit.Limiter
}

// WithLimiter makes every authorized call take a token from its principal's bucket
// (RESOURCE_EXHAUSTED when empty). It is called once, before serving.
func (a *Authenticator) WithLimiter(l *ratelimit.Limiter) { a.limiter = l }

// Principals lists the names of every configured principal (API keys and mTLS subjects), the
// fixed set the rate limiter keeps buckets for.
func (a *Authenticator) Principals() []string {
	var out []string
	for _, p := range a.keys.all() {
		out = append(out, p.Name)
	}
	for cn := range a.certs {
		out = append(out, "cert:"+cn)
	}
	return out
}

type checkedKey struct{}

// checked is the HTTP gateway's verdict on a call (CheckHeader): the principal its credentials
// proved, for one method, with the rate-limit token taken. Only code in this process can set a
// context value: no client can forge it.
type checked struct {
	method    string
	principal Principal
}

// checkedFor returns the principal CheckHeader proved for fullMethod on this call, if it did.
func checkedFor(ctx context.Context, fullMethod string) (Principal, bool) {
	c, ok := ctx.Value(checkedKey{}).(*checked)
	if !ok || c.method != fullMethod {
		return Principal{}, false
	}
	return c.principal, true
}

// CheckHeader is the HTTP gateway's check of an internal-API request from its Authorization
// header values alone, before any byte of the body is read. It answers exactly what the gRPC
// interceptor would for the same call (same status, message and metadata). When charge is set it
// also takes the rate-limit token and records its verdict in the returned context: the call's
// context reaches the interceptor (REST calls run in process; Connect and gRPC-Web through the
// gRPC server's ServeHTTP), which then takes neither a second token nor a second look at the
// same credentials.
func (a *Authenticator) CheckHeader(ctx context.Context, authorization []string, fullMethod string, charge bool) (context.Context, error) {
	scope, protected := a.scopes[fullMethod]
	if !protected {
		return ctx, nil
	}
	p, err := a.keyPrincipal(authorization)
	if err != nil {
		return ctx, err
	}
	if err := a.permit(p, scope); err != nil {
		return ctx, err
	}
	if charge {
		if st := a.limiter.AllowKey(p.Name); st != nil {
			return ctx, st.Err()
		}
		ctx = context.WithValue(ctx, checkedKey{}, &checked{method: fullMethod, principal: p})
	}
	return ctx, nil
}

// NewAuthenticator reads the required scope of every method of the given services. A protected
// method without a scope is a contract bug: refusing to start makes it impossible to ship an
// endpoint that is accidentally open or accidentally closed.
func NewAuthenticator(keys *Keys, certs CertPrincipals, services []protoreflect.ServiceDescriptor) (*Authenticator, error) {
	a := &Authenticator{keys: keys, certs: certs, scopes: map[string]string{}}
	var missing []string
	for _, svc := range services {
		if string(svc.ParentFile().Package()) != ProtectedPackage {
			continue
		}
		methods := svc.Methods()
		for i := 0; i < methods.Len(); i++ {
			m := methods.Get(i)
			full := fmt.Sprintf("/%s/%s", svc.FullName(), m.Name())
			scope := RequiredScope(m)
			if scope == "" {
				missing = append(missing, full)
				continue
			}
			a.scopes[full] = scope
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("auth: methods without a required_scope option: %s", strings.Join(missing, ", "))
	}
	return a, nil
}

// RequiredScope returns the method's required_scope option, or "".
func RequiredScope(m protoreflect.MethodDescriptor) string {
	opts, ok := m.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return ""
	}
	scope, _ := proto.GetExtension(opts, insurancev1.E_RequiredScope).(string)
	return scope
}

// Scopes returns a copy of the method → scope table (for documentation and tests).
func (a *Authenticator) Scopes() map[string]string {
	out := make(map[string]string, len(a.scopes))
	for k, v := range a.scopes {
		out[k] = v
	}
	return out
}

// Authorize authenticates the caller of fullMethod and returns ctx carrying the principal.
func (a *Authenticator) Authorize(ctx context.Context, fullMethod string) (context.Context, error) {
	scope, protected := a.scopes[fullMethod]
	if !protected {
		return ctx, nil
	}
	if p, ok := checkedFor(ctx, fullMethod); ok {
		return WithPrincipal(ctx, p), nil
	}
	p, ok := a.certs.certPrincipal(ctx)
	if !ok {
		var err error
		if p, err = a.keyPrincipal(metadata.ValueFromIncomingContext(ctx, "authorization")); err != nil {
			return ctx, err
		}
	}
	if err := a.permit(p, scope); err != nil {
		return ctx, err
	}
	if st := a.limiter.AllowKey(p.Name); st != nil {
		return ctx, st.Err()
	}
	return WithPrincipal(ctx, p), nil
}

func (a *Authenticator) keyPrincipal(authorization []string) (Principal, error) {
	token, err := bearerToken(authorization)
	if err != nil {
		return Principal{}, err
	}
	p, ok := a.keys.Lookup(token)
	if !ok {
		return Principal{}, apierror.New(codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
			"the bearer token is not a valid API key")
	}
	return p, nil
}

func (a *Authenticator) permit(p Principal, scope string) error {
	if !p.Allows(scope) {
		return apierror.New(codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
			fmt.Sprintf("the API key lacks scope %q", scope), "required_scope", scope, "principal", p.Name)
	}
	return nil
}

func bearerToken(values []string) (string, error) {
	if len(values) == 0 || strings.TrimSpace(values[0]) == "" {
		return "", apierror.New(codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
			"missing credentials: send `Authorization: Bearer <API key>`")
	}
	if len(values) > 1 {
		return "", apierror.New(codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
			"more than one Authorization header")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
		return "", apierror.New(codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
			"the Authorization header must be `Bearer <API key>`")
	}
	return strings.TrimSpace(token), nil
}

// UnaryInterceptor authorizes unary calls.
func (a *Authenticator) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		ctx, err := a.Authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// StreamInterceptor authorizes streaming calls.
func (a *Authenticator) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		ctx, err := a.Authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		wrapped := grpcmw.WrapServerStream(ss)
		wrapped.WrappedContext = ctx
		return next(srv, wrapped)
	}
}
