package main

import (
	"context"
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

	"github.com/covergate/covergate/bench/baseline"
	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

// runBaseline serves GET /v1/policies/{policy_id} with a bare net/http handler that calls the
// same PolicyService implementation the gateway serves and writes the same JSON: no gRPC, no
// interceptors, no gateway. It is the practical limit the transports are compared with. It runs
// as its own process so its CPU time is measured like the gateway's.
func runBaseline(args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	database := fs.String("database", "", "store DSN (already migrated and seeded)")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := engine.Open(ctx, *database, store.Options{SkipMigrate: true, Logger: log})
	if err != nil {
		return fmt.Errorf("baseline: open store: %w", err)
	}
	defer st.Close()
	policies := api.NewServices(api.Deps{
		Store: st, Lifecycle: lifecycle.New(lifecycle.Config{Now: time.Now}), Logger: log, Now: time.Now,
		Stopping: ctx.Done(),
	}).Policies
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("baseline: listen: %w", err)
	}
	srv := &http.Server{Handler: baseline.Handler(policies), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }() // stopped by Shutdown below
	select {
	case err := <-errc:
		return fmt.Errorf("baseline: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("baseline: shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
