package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"buf.build/go/protovalidate"
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
)

// inProcessBuffer is the buffer of the gateway's in-memory connection to the gRPC server.
const inProcessBuffer = 1 << 20

// App is a running gateway: a gRPC server on its own listener and an HTTP server whose gateway
// reaches the same gRPC server over an in-memory connection, so interceptors run once per call
// whichever transport it came in on.
type App struct {
	cfg     Config
	log     *slog.Logger
	grpc    *grpc.Server
	health  *health.Server
	http    *http.Server
	gwConn  *grpc.ClientConn
	mem     *bufconn.Listener
	grpcLis net.Listener
	httpLis net.Listener
	serving atomic.Bool
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
	if keys.Len() == 0 {
		log.Warn("no API keys configured (COVERGATE_API_KEYS): every internal API call will be refused")
	}
	a = &App{cfg: cfg, log: log, health: health.NewServer()}
	defer func() {
		if err != nil {
			a.closeListeners()
		}
	}()
	if err := a.buildGRPC(keys); err != nil {
		return nil, err
	}
	if err := a.listen(); err != nil {
		return nil, err
	}
	if err := a.buildHTTP(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) buildGRPC(keys *auth.Keys) error {
	validator, err := protovalidate.New()
	if err != nil {
		return fmt.Errorf("app: build validator: %w", err)
	}
	services := api.Pending()
	descriptors, err := serviceDescriptors(services)
	if err != nil {
		return err
	}
	authn, err := auth.NewAuthenticator(keys, descriptors)
	if err != nil {
		return err
	}
	opts := append(interceptor.Chain(interceptor.Config{Logger: a.log, Validator: validator, Auth: authn}),
		grpc.MaxRecvMsgSize(int(a.cfg.MaxUploadBytes)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	a.grpc = grpc.NewServer(opts...)
	services.Register(a.grpc)
	healthpb.RegisterHealthServer(a.grpc, a.health)
	reflection.Register(a.grpc)
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

func (a *App) buildHTTP(ctx context.Context) error {
	conn, err := grpc.NewClient("passthrough:///covergate-inprocess",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return a.mem.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
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
		Conn:           conn,
		Logger:         a.log,
		MaxBodyBytes:   a.cfg.MaxBodyBytes,
		MaxUploadBytes: a.cfg.MaxUploadBytes,
		Ready:          a.ready,
	})
	if err != nil {
		return err
	}
	a.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return nil
}

func (a *App) ready(context.Context) error {
	if !a.serving.Load() {
		return errors.New("shutting down")
	}
	return nil
}

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
		if err := a.http.Serve(a.httpLis); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
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

// shutdown stops in dependency order: report NOT_SERVING (load balancers stop sending), stop
// accepting HTTP and finish in-flight HTTP requests, then let gRPC calls finish (forcing them
// after the deadline), then close the gateway connection.
func (a *App) shutdown() error {
	a.log.Info("covergate shutting down")
	a.serving.Store(false)
	a.health.Shutdown()
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
	if err := a.gwConn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("gateway connection: %w", err))
	}
	a.log.Info("covergate stopped")
	return errors.Join(errs...)
}

func (a *App) closeListeners() {
	for _, l := range []net.Listener{a.grpcLis, a.httpLis, a.mem} {
		if l != nil {
			_ = l.Close()
		}
	}
	if a.gwConn != nil {
		_ = a.gwConn.Close()
	}
}
