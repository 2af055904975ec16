package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/vanguard"
	"connectrpc.com/vanguard/vanguardgrpc"
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	protovalidatemw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/protovalidate"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/covergate/covergate/bench/gatewayproc"
	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

// Peers are what a team would build instead of Covergate, serving the same PolicyService
// implementation on the same store (issue 17). Each runs as its own process, like the gateway and
// the baseline, so its CPU time is measured from /proc.
const (
	// peerGateway is grpc-gateway's default setup: a gRPC server with no interceptors and a
	// runtime.ServeMux registered with Register...HandlerFromEndpoint, dialing it over loopback.
	peerGateway = "grpc-gateway"
	// peerGatewayMW is the same with the usual go-grpc-middleware v2 stack on the gRPC server:
	// Prometheus metrics, slog logging (one line per call), recovery, bearer-token auth and
	// protovalidate — the guarantees Covergate gives, built from the usual libraries.
	peerGatewayMW = "grpc-gateway+mw"
	// peerVanguard is connectrpc.com/vanguard transcoding REST to the bare gRPC server in process
	// (vanguardgrpc.NewTranscoder).
	peerVanguard = "vanguard"
	// peerGRPC is a bare grpc.NewServer() with the service registered: the gRPC limit.
	peerGRPC = "bare-gRPC"
)

var peerKinds = []string{peerGateway, peerGatewayMW, peerVanguard, peerGRPC}

// peerJSON matches the gateway's internal API answers (every field present).
var peerJSON = protojson.MarshalOptions{EmitDefaultValues: true}

// runPeer serves one peer: gRPC on -grpc-addr, REST (and /readyz) on -http-addr.
func runPeer(args []string) error {
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	kind := fs.String("kind", "", "peer to serve: grpc-gateway, grpc-gateway+mw, vanguard or bare-gRPC")
	database := fs.String("database", "", "store DSN (already migrated and seeded)")
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:0", "gRPC listen address")
	httpAddr := fs.String("http-addr", "127.0.0.1:0", "HTTP listen address (REST, /readyz)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// Logs go to stderr (the benchmark's log file), JSON, like the gateway's.
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := engine.Open(ctx, *database, store.Options{SkipMigrate: true, Logger: log})
	if err != nil {
		return fmt.Errorf("peer: open store: %w", err)
	}
	defer st.Close()
	policies := api.NewServices(api.Deps{
		Store: st, Lifecycle: lifecycle.New(lifecycle.Config{Now: time.Now}), Logger: log, Now: time.Now,
		Stopping: ctx.Done(),
	}).Policies

	var opts []grpc.ServerOption
	httpMux := http.NewServeMux()
	httpMux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	switch *kind {
	case peerGateway, peerVanguard, peerGRPC:
	case peerGatewayMW:
		mw, metrics, err := middlewareStack(log)
		if err != nil {
			return err
		}
		opts = append(opts, mw...)
		httpMux.Handle("GET /metrics", metrics)
	default:
		return fmt.Errorf("peer: unknown -kind %q", *kind)
	}
	srv := grpc.NewServer(opts...)
	insurancev1.RegisterPolicyServiceServer(srv, policies)
	grpcLis, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		return fmt.Errorf("peer: listen gRPC: %w", err)
	}
	switch *kind {
	case peerGateway, peerGatewayMW:
		gw := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{MarshalOptions: peerJSON}))
		err := insurancev1.RegisterPolicyServiceHandlerFromEndpoint(ctx, gw, grpcLis.Addr().String(),
			[]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())})
		if err != nil {
			return fmt.Errorf("peer: register gateway: %w", err)
		}
		httpMux.Handle("/v1/", gw)
	case peerVanguard:
		t, err := vanguardgrpc.NewTranscoder(srv, vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec {
			c := vanguard.NewJSONCodec(res)
			c.MarshalOptions.EmitUnpopulated, c.MarshalOptions.EmitDefaultValues = false, true
			return c
		}))
		if err != nil {
			return fmt.Errorf("peer: vanguard: %w", err)
		}
		httpMux.Handle("/v1/", t)
	}
	httpLis, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return fmt.Errorf("peer: listen HTTP: %w", err)
	}
	hs := &http.Server{Handler: httpMux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(grpcLis) }() // stopped by GracefulStop below
	go func() { errc <- hs.Serve(httpLis) }()  // stopped by Shutdown below
	select {
	case err := <-errc:
		return fmt.Errorf("peer %s: serve: %w", *kind, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutdownErr := hs.Shutdown(shutdownCtx)
	srv.GracefulStop()
	for range 2 {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return shutdownErr
}

// middlewareStack is the go-grpc-middleware v2 chain as its documentation sets it up: metrics
// outermost, then logging, recovery, auth and validation.
func middlewareStack(log *slog.Logger) ([]grpc.ServerOption, http.Handler, error) {
	reg := prometheus.NewRegistry()
	metrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	if err := reg.Register(metrics); err != nil {
		return nil, nil, fmt.Errorf("peer: register metrics: %w", err)
	}
	validator, err := protovalidate.New()
	if err != nil {
		return nil, nil, fmt.Errorf("peer: validator: %w", err)
	}
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	want := sha256.Sum256([]byte(gatewayproc.APIKey))
	authenticate := func(ctx context.Context) (context.Context, error) {
		token, err := grpcauth.AuthFromMD(ctx, "bearer")
		if err != nil {
			return nil, err
		}
		got := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return nil, status.Error(codes.Unauthenticated, "invalid API key")
		}
		return ctx, nil
	}
	panics := recovery.WithRecoveryHandler(func(any) error { return status.Error(codes.Internal, "internal error") })
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(
		metrics.UnaryServerInterceptor(),
		logging.UnaryServerInterceptor(logger, logging.WithLogOnEvents(logging.FinishCall)),
		recovery.UnaryServerInterceptor(panics),
		grpcauth.UnaryServerInterceptor(authenticate),
		protovalidatemw.UnaryServerInterceptor(validator),
	)}, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
