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
	keys   *Keys
	certs  CertPrincipals    // mTLS subjects → scopes; may be empty
	scopes map[string]string // full method name → required scope
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
	p, ok := a.certs.certPrincipal(ctx)
	if !ok {
		token, err := bearerToken(ctx)
		if err != nil {
			return ctx, err
		}
		if p, ok = a.keys.Lookup(token); !ok {
			return ctx, apierror.New(codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
				"the bearer token is not a valid API key")
		}
	}
	if !p.Allows(scope) {
		return ctx, apierror.New(codes.PermissionDenied, insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED,
			fmt.Sprintf("the API key lacks scope %q", scope), "required_scope", scope, "principal", p.Name)
	}
	return WithPrincipal(ctx, p), nil
}

func bearerToken(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
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
