package app

import (
	"context"
	"crypto/tls"
	"fmt"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/auth"
	"github.com/covergate/covergate/server/inprocess"
	"github.com/covergate/covergate/server/interceptor"
	"github.com/covergate/covergate/server/metrics"
	"github.com/covergate/covergate/server/tracing"
)

func (a *App) buildGRPC(keys *auth.Keys, certs auth.CertPrincipals, tlsConfig *tls.Config) error {
	validator, err := protovalidate.New()
	if err != nil {
		return fmt.Errorf("app: build validator: %w", err)
	}
	services := api.NewServices(a.deps())
	// The webhook services record deliveries through group commit (see wire_webhooks.go).
	hooks := api.NewServices(a.webhookDeps())
	services.Etvas, services.Avata, services.Scalepoint = hooks.Etvas, hooks.Avata, hooks.Scalepoint
	descriptors, err := serviceDescriptors(services)
	if err != nil {
		return err
	}
	authn, err := auth.NewAuthenticator(keys, certs, descriptors)
	if err != nil {
		return err
	}
	a.refused = a.metrics.NewRefusals()
	a.rate = a.limiter(authn, a.refused)
	authn.WithLimiter(a.rate)
	a.authn = authn
	metricsUnary, metricsStream := a.metrics.GRPCInterceptors(interceptor.Transport)
	chain := interceptor.Config{
		Logger:    a.log,
		Validator: validator,
		Auth:      append([]interceptor.Authorizer{authn}, a.webhookGuards()...),
		Unary:     a.flowUnaryInterceptors(),
		// The span first: the call's log line and metrics run inside it. A REST call run in
		// process already has the HTTP request's span.
		OuterUnary: []grpc.UnaryServerInterceptor{
			a.tracing.UnaryInterceptor(func(ctx context.Context) bool { return interceptor.Transport(ctx) == metrics.TransportHTTP }),
			metricsUnary,
		},
		OuterStream: []grpc.StreamServerInterceptor{a.tracing.StreamInterceptor(), metricsStream},
		TraceID:     tracing.TraceID,
	}
	// The gateway's unary calls run the same interceptors (the same instances) in process,
	// without HTTP/2 framing and encoding in between; streams still take the in-memory socket.
	unaryChain := interceptor.UnaryChain(chain)
	a.inproc = func(fallback grpc.ClientConnInterface) grpc.ClientConnInterface {
		return inprocess.New(services.Register, unaryChain, fallback)
	}
	opts := append(interceptor.Chain(chain),
		grpc.MaxRecvMsgSize(int(a.cfg.MaxUploadBytes)),
	)
	opts = append(opts, a.cfg.Limits.grpcOptions()...)
	creds, err := a.cfg.grpcCredentials(tlsConfig)
	if err != nil {
		return err
	}
	if creds != nil {
		opts = append(opts, creds)
	}
	a.grpc = grpc.NewServer(opts...)
	services.Register(a.grpc)
	healthpb.RegisterHealthServer(a.grpc, a.health)
	reflection.Register(a.grpc)
	a.metrics.InitializeGRPC(a.grpc)
	return nil
}

// serviceDescriptors registers the services on a throwaway registrar to learn their names, then
// looks up their descriptors, so the authenticator sees exactly what is served.
func serviceDescriptors(services api.Services) ([]protoreflect.ServiceDescriptor, error) {
	var names nameRecorder
	services.Register(&names)
	out := make([]protoreflect.ServiceDescriptor, 0, len(names))
	for _, name := range names {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, fmt.Errorf("app: descriptor of %s: %w", name, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, fmt.Errorf("app: %s is not a service", name)
		}
		out = append(out, sd)
	}
	return out, nil
}

type nameRecorder []string

func (n *nameRecorder) RegisterService(desc *grpc.ServiceDesc, _ any) {
	*n = append(*n, desc.ServiceName)
}
