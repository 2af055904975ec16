package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"buf.build/go/protovalidate"
	"github.com/rs/cors"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/auth"
	"github.com/covergate/covergate/server/gateway"
	"github.com/covergate/covergate/server/interceptor"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/metrics"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/sandbox"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/tracing"
)

// inProcessBuffer is the buffer of the gateway's in-memory connection to the gRPC server.
const inProcessBuffer = 1 << 20

// App is a running gateway: a gRPC server on its own listener and an HTTP server whose gateway
// reaches the same gRPC server over an in-memory connection, so interceptors run once per call
// whichever transport it came in on.
type App struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	partners *Partners
	metrics  *metrics.Metrics
	tracing  *tracing.Tracing
	stopping chan struct{}
	grpc     *grpc.Server
	health   *health.Server
	http     *http.Server
	gwConn   *grpc.ClientConn
	mem      *bufconn.Listener
	grpcLis  net.Listener
	httpLis  net.Listener
	serving  atomic.Bool
	webhooks webhookWiring // see wire_webhooks.go
	flows    flowWiring    // see wire_flows.go
	// stopWork and waitWork stop and await the background workers.
	stopWork func()
	waitWork func() error
}

// New builds the gateway and binds its listeners (so that callers, tests included, know the
// addresses before Run). Nothing is served until Run.
func New(ctx context.Context, cfg Config, log *slog.Logger) (a *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := auth.ParseKeys(cfg.APIKeys)
	if err != nil {
		return nil, err
	}
	certs, err := auth.ParseCertPrincipals(cfg.MTLSPrincipals)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := cfg.serverTLS()
	if err != nil {
		return nil, err
	}
	if keys.Len() == 0 {
		log.Warn("no API keys configured (COVERGATE_API_KEYS): every internal API call will be refused")
	}
	// Every line logged with a request's context carries its trace id.
	log = slog.New(tracing.LogHandler(log.Handler()))
	a = &App{cfg: cfg, log: log, health: health.NewServer(), stopping: make(chan struct{})}
	defer func() {
		if err != nil {
			a.closeAll(ctx)
		}
	}()
	if err := a.listen(); err != nil {
		return nil, err
	}
	a.metrics = metrics.New()
	if a.tracing, err = tracing.Setup(ctx, "covergate", version(), os.Getenv); err != nil {
		return nil, err
	}
	raw, err := engine.Open(ctx, cfg.Database, store.Options{Logger: log.With("component", "store")})
	if err != nil {
		return nil, fmt.Errorf("app: open store: %w", err)
	}
	a.store = a.metrics.InstrumentStore(raw)
	a.metrics.Registry().MustRegister(metrics.NewOutboxCollector(a.store, time.Now))
	partnerHTTP := &http.Client{Transport: tracedTransport(partnerhttp.NewTransport(), a.tracing)}
	if a.partners, err = startPartners(ctx, cfg.Partners, partnerOptions{
		gatewayURL: "http://" + a.HTTPAddr(), observer: a.metrics.Partners(), httpClient: partnerHTTP,
	}, log); err != nil {
		return nil, err
	}
	if err := a.buildGRPC(keys, certs, tlsConfig); err != nil {
		return nil, err
	}
	if err := a.buildHTTP(ctx, tlsConfig); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) deps() api.Deps {
	pc := a.partners.Config
	return api.Deps{
		Store:      a.store,
		Etvas:      a.partners.Etvas,
		Avata:      a.partners.Avata,
		Scalepoint: a.partners.Scalepoint,
		Lifecycle:  lifecycle.New(lifecycle.Config{Now: time.Now, ClaimRoute: a.claimRoute()}),
		Settings: api.Settings{
			ScalepointCountry: pc.ScalepointCountry,
			ScalepointTenant:  pc.ScalepointTenant,
			QuoteTTL:          a.cfg.QuoteTTL,
			EtvasCurrency:     pc.EtvasCurrency,
		},
		Logger:   a.log,
		Now:      time.Now,
		Stopping: a.stopping,
	}
}

func (a *App) buildGRPC(keys *auth.Keys, certs auth.CertPrincipals, tlsConfig *tls.Config) error {
	validator, err := protovalidate.New()
	if err != nil {
		return fmt.Errorf("app: build validator: %w", err)
	}
	services := api.NewServices(a.deps())
	descriptors, err := serviceDescriptors(services)
	if err != nil {
		return err
	}
	authn, err := auth.NewAuthenticator(keys, certs, descriptors)
	if err != nil {
		return err
	}
	metricsUnary, metricsStream := a.metrics.GRPCInterceptors(interceptor.Transport)
	opts := append(interceptor.Chain(interceptor.Config{
		Logger:      a.log,
		Validator:   validator,
		Auth:        append([]interceptor.Authorizer{authn}, a.webhookGuards()...),
		Unary:       a.flowUnaryInterceptors(),
		OuterUnary:  []grpc.UnaryServerInterceptor{metricsUnary},
		OuterStream: []grpc.StreamServerInterceptor{metricsStream},
		TraceID:     tracing.TraceID,
	}),
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(a.tracing.Provider), otelgrpc.WithPropagators(a.tracing.Propagator))),
		grpc.MaxRecvMsgSize(int(a.cfg.MaxUploadBytes)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
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

func (a *App) listen() error {
	var err error
	if a.grpcLis, err = net.Listen("tcp", a.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("app: listen gRPC on %s: %w", a.cfg.GRPCAddr, err)
	}
	if a.httpLis, err = net.Listen("tcp", a.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("app: listen HTTP on %s: %w", a.cfg.HTTPAddr, err)
	}
	a.mem = bufconn.Listen(inProcessBuffer)
	return nil
}

func (a *App) buildHTTP(ctx context.Context, tlsConfig *tls.Config) error {
	conn, err := grpc.NewClient("passthrough:///covergate-inprocess",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return a.mem.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(a.tracing.Provider), otelgrpc.WithPropagators(a.tracing.Propagator))),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(int(a.cfg.MaxUploadBytes)),
			grpc.MaxCallSendMsgSize(int(a.cfg.MaxUploadBytes)),
		),
	)
	if err != nil {
		return fmt.Errorf("app: gateway connection: %w", err)
	}
	a.gwConn = conn
	handler, err := gateway.New(ctx, gateway.Config{
		Conn:            conn,
		Logger:          a.log,
		MaxBodyBytes:    a.cfg.MaxBodyBytes,
		MaxUploadBytes:  a.cfg.MaxUploadBytes,
		Ready:           a.ready,
		WebhookAuth:     a.webhookAuth(),
		WebhookMetadata: a.webhookMetadata(),
		Metrics:         a.metrics.Handler(),
		ObserveHTTP:     a.metrics.ObserveHTTP,
	})
	if err != nil {
		return err
	}
	handler = otelhttp.NewHandler(handler, "covergate.http",
		otelhttp.WithTracerProvider(a.tracing.Provider), otelhttp.WithPropagators(a.tracing.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	if origins := splitList(a.cfg.CORSOrigins); len(origins) > 0 {
		handler = cors.New(cors.Options{
			AllowedOrigins: origins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
			AllowedHeaders: []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id", "Traceparent", "Tracestate"},
			ExposedHeaders: []string{"X-Request-Id"},
			MaxAge:         600,
		}).Handler(handler)
	}
	var httpTLS *tls.Config
	if tlsConfig != nil {
		httpTLS = tlsConfig.Clone()
		httpTLS.NextProtos = []string{"h2", "http/1.1"}
	}
	a.http = &http.Server{
		TLSConfig:         httpTLS,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return nil
}

func (a *App) ready(ctx context.Context) error {
	if !a.serving.Load() {
		return errors.New("shutting down")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		return errors.New("store unreachable")
	}
	return nil
}

// Sandbox is the embedded partner sandbox, or nil with live partners.
func (a *App) Sandbox() *sandbox.Sandbox { return a.partners.Sandbox }

// Metrics is the gateway's metrics registry (the webhook and outbox code record into it).
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// Store is the gateway's store (tests inspect state through it).
func (a *App) Store() store.Store { return a.store }

// GRPCAddr is the bound gRPC address.
func (a *App) GRPCAddr() string { return a.grpcLis.Addr().String() }

// HTTPAddr is the bound HTTP address.
func (a *App) HTTPAddr() string { return a.httpLis.Addr().String() }

// Run serves until ctx is canceled or a server fails, then shuts down in order.
func (a *App) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveGRPC(a.grpc, a.grpcLis) })
	g.Go(func() error { return serveGRPC(a.grpc, a.mem) })
	g.Go(func() error {
		serve := a.http.Serve
		if a.http.TLSConfig != nil {
			serve = func(l net.Listener) error { return a.http.ServeTLS(l, "", "") }
		}
		if err := serve(a.httpLis); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	// Background workers (outbox delivery, partner event polling) run until shutdown starts;
	// the shutdown waits for them before it closes the store.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	a.stopWork = stopWork
	work, _ := errgroup.WithContext(workCtx)
	for _, run := range append(a.webhookBackground(), a.flowBackground()...) {
		work.Go(func() error { return run(workCtx) })
	}
	a.waitWork = work.Wait
	a.health.Resume()
	a.serving.Store(true)
	a.log.Info("covergate serving", "grpc", a.GRPCAddr(), "http", a.HTTPAddr())
	<-gctx.Done()
	shutdownErr := a.shutdown()
	if err := g.Wait(); err != nil {
		return errors.Join(err, shutdownErr)
	}
	return shutdownErr
}

func serveGRPC(s *grpc.Server, lis net.Listener) error {
	if err := s.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpc server on %s: %w", lis.Addr(), err)
	}
	return nil
}

// shutdown stops in dependency order: report NOT_SERVING (load balancers stop sending) and end
// long-lived streams, stop accepting HTTP and finish in-flight HTTP requests, then let gRPC calls
// finish (forcing them after the deadline), close the gateway connection, stop the partner
// adapters and sandbox, and close the store last, when nothing can use it any more.
func (a *App) shutdown() error {
	a.log.Info("covergate shutting down")
	a.serving.Store(false)
	a.health.Shutdown()
	close(a.stopping)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := a.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	stopped := make(chan struct{})
	go func() {
		a.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		a.log.Warn("shutdown deadline reached: closing remaining gRPC calls")
		a.grpc.Stop()
		<-stopped
	}
	// The shutdown deadline may be spent by now; releasing resources gets its own short budget.
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelClose()
	if a.stopWork != nil {
		a.stopWork()
		if err := a.waitWork(); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("background work: %w", err))
		}
	}
	if err := a.closeAll(closeCtx); err != nil {
		errs = append(errs, err)
	}
	a.log.Info("covergate stopped")
	return errors.Join(errs...)
}

// closeAll releases what New acquired, in reverse order; it also cleans up after a failed New.
func (a *App) closeAll(ctx context.Context) error {
	var errs []error
	if a.gwConn != nil {
		if err := a.gwConn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("gateway connection: %w", err))
		}
	}
	for _, l := range []net.Listener{a.grpcLis, a.httpLis, a.mem} {
		if l != nil {
			_ = l.Close() // already closed by Serve's shutdown in the normal path
		}
	}
	if a.partners != nil {
		if err := a.partners.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	if a.tracing != nil {
		if err := a.tracing.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// version is the module version and VCS revision the binary was built from.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			v += "+" + s.Value
		}
	}
	return v
}

// tracedTransport wraps a partner transport in otelhttp and keeps CloseIdleConnections reachable
// through the wrapper: http.Client.CloseIdleConnections only reaches transports that implement it,
// and without it the adapters' Close would leave idle keep-alive connections open (and the
// embedded sandbox's graceful shutdown waiting for them).
func tracedTransport(inner *http.Transport, t *tracing.Tracing) http.RoundTripper {
	return closeIdleTransport{
		RoundTripper: otelhttp.NewTransport(inner, otelhttp.WithTracerProvider(t.Provider), otelhttp.WithPropagators(t.Propagator)),
		inner:        inner,
	}
}

type closeIdleTransport struct {
	http.RoundTripper
	inner *http.Transport
}

func (c closeIdleTransport) CloseIdleConnections() { c.inner.CloseIdleConnections() }
