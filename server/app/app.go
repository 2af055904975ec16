package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/test/bufconn"

	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/auth"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/metrics"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	"github.com/covergate/covergate/server/ratelimit"
	"github.com/covergate/covergate/server/sandbox"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/supervise"
	"github.com/covergate/covergate/server/tokenseal"
	"github.com/covergate/covergate/server/tracing"
)

// inProcessBuffer is the buffer of the gateway's in-memory connection to the gRPC server.
const inProcessBuffer = 1 << 20

// App is a running gateway: a gRPC server on its own listener and an HTTP server whose gateway
// reaches the same gRPC server over an in-memory connection, so interceptors run once per call
// whichever transport it came in on.
type App struct {
	cfg          Config
	log          *slog.Logger
	store        store.Store
	partners     *Partners
	metrics      *metrics.Metrics
	lifecycle    *lifecycle.Lifecycle // the one set of lifecycle rules every service shares
	walletTokens *tokenseal.Sealer    // seals customers' Avata access tokens (wire_wallet.go)
	tracing      *tracing.Tracing
	stopping     chan struct{}
	grpc         *grpc.Server
	health       *health.Server
	http         *http.Server
	gwConn       *grpc.ClientConn
	// inproc builds the gateway's connection for unary calls (grpc.go), fallback for streams.
	inproc   func(fallback grpc.ClientConnInterface) grpc.ClientConnInterface
	mem      *bufconn.Listener
	grpcLis  net.Listener
	httpLis  net.Listener
	debugLis net.Listener // nil unless --debug-addr (debug.go)
	serving  atomic.Bool
	authn    *auth.Authenticator
	rate     *ratelimit.Limiter
	refused  *metrics.Refusals
	webhooks webhookWiring // see wire_webhooks.go
	flows    flowWiring    // see wire_flows.go
	etvas    etvasWiring   // see wire_etvas.go
	// workers supervises the background workers; stopWork and waitWork stop and await them.
	workers  *supervise.Supervisor
	stopWork func()
	waitWork func() error
}

// New builds the gateway and binds its listeners (so that callers, tests included, know the
// addresses before Run). Nothing is served until Run.
func New(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
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
	a := &App{cfg: cfg, log: log, health: health.NewServer(), stopping: make(chan struct{}),
		workers: supervise.New(supervise.Config{Logger: log.With("component", "supervisor")})}
	// a is not the named result: `return nil, err` must not hide from this cleanup what was
	// already opened (listeners, store, sandbox), so a failed start releases all of it.
	defer func() {
		if err != nil {
			if cerr := a.closeAll(context.WithoutCancel(ctx)); cerr != nil {
				log.Warn("start-up failed; releasing what was opened", "error", cerr)
			}
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
	a.lifecycle = lifecycle.New(lifecycle.Config{Now: time.Now, ClaimRoute: a.claimRoute()})
	if a.walletTokens, err = walletTokenSealer(cfg, log); err != nil {
		return nil, err
	}
	if err := a.buildOps(); err != nil {
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
		Store:        a.store,
		Etvas:        a.partners.Etvas,
		Avata:        a.partners.Avata,
		Scalepoint:   a.partners.Scalepoint,
		Lifecycle:    a.lifecycle,
		Jobs:         a.jobSignal(),
		WalletTokens: a.walletTokens,
		Ops:          a.flows.ops,
		Settings: api.Settings{
			ScalepointCountry: pc.ScalepointCountry,
			ScalepointTenant:  pc.ScalepointTenant,
			QuoteTTL:          a.cfg.QuoteTTL,
			EtvasCurrency:     pc.EtvasCurrency,
			WalletSessionTTL:  a.cfg.WalletSessionTTL,
			WalletNonceTTL:    a.cfg.WalletNonceTTL,
		},
		Logger:   a.log,
		Now:      time.Now,
		Stopping: a.stopping,
	}
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
	a.limitListeners()
	return a.listenDebug()
}

func (a *App) ready(ctx context.Context) error {
	if name := a.workers.FailedWorker(); name != "" {
		// The cause is in the logs; /readyz is unauthenticated and must not show internals.
		return fmt.Errorf("background worker %s failed", name)
	}
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

// PartnerOps runs the partner calls with side effects (tests drive the reconciler through it).
func (a *App) PartnerOps() *partnerops.Ops { return a.flows.ops }

// Store is the gateway's store (tests inspect state through it).
func (a *App) Store() store.Store { return a.store }

// GRPCAddr is the bound gRPC address.
func (a *App) GRPCAddr() string { return a.grpcLis.Addr().String() }

// HTTPHandler is what the HTTP listener serves (REST, webhooks, Connect, gRPC-Web, health),
// for in-process benchmarks that measure the handler's own cost without a network.
func (a *App) HTTPHandler() http.Handler { return a.http.Handler }

// HTTPAddr is the bound HTTP address.
func (a *App) HTTPAddr() string { return a.httpLis.Addr().String() }

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
