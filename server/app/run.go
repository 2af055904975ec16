package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/covergate/covergate/server/supervise"
)

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
	if a.debugLis != nil {
		g.Go(func() error { return a.serveDebug(gctx) })
	}
	// Background workers (outbox delivery, partner event polling, ...) run under the supervisor
	// until shutdown starts; the shutdown waits for them before it closes the store. A worker
	// that fails for good makes the gateway unready and stops it (Run returns the failure).
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	a.stopWork = stopWork
	a.workers.Add(append(append(a.webhookBackground(), a.flowBackground()...), a.etvasBackground()...)...)
	workDone := make(chan error, 1)
	go func() { workDone <- a.workers.Run(workCtx) }() // owned by shutdown, which waits for it
	a.waitWork = func() error { return <-workDone }
	a.health.Resume()
	a.serving.Store(true)
	a.log.Info("covergate serving", "grpc", a.GRPCAddr(), "http", a.HTTPAddr(), "workers", a.workers.Names())
	select {
	case <-gctx.Done():
	case <-a.workers.Dead():
		// Readiness already fails (ready checks the supervisor); give load balancers a probe
		// interval to see it before the listeners close, then shut down.
		a.health.Shutdown()
		drain := time.NewTimer(a.failureDrain())
		select {
		case <-drain.C:
		case <-gctx.Done():
			drain.Stop()
		}
	}
	shutdownErr := a.shutdown()
	if err := g.Wait(); err != nil {
		return errors.Join(err, shutdownErr)
	}
	return shutdownErr
}

// failureDrain is how long a gateway whose worker died stays up answering "not ready" before it
// shuts down: about one readiness-probe interval, bounded by the shutdown budget.
func (a *App) failureDrain() time.Duration {
	return min(5*time.Second, a.cfg.ShutdownTimeout/4)
}

// AddWorker registers a background worker (before Run): it runs under the supervisor with the
// gateway's own workers (see package supervise).
func (a *App) AddWorker(w supervise.Worker) { a.workers.Add(w) }

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
		// Connections still busy at the deadline are cut, so no handler outlives the shutdown.
		errs = append(errs, fmt.Errorf("http shutdown: %w", err), a.http.Close())
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
	if a.flows.ops != nil {
		// Partner calls whose callers left are still recording their outcomes (each bounded by
		// --partner-call-timeout); what they cannot finish, the reconciler resolves after restart.
		a.flows.ops.Wait()
	}
	if a.stopWork != nil {
		a.stopWork()
		if err := a.waitWork(); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("background work: %w", err))
		}
		a.stopWork, a.waitWork = nil, nil
	}
	// The shutdown deadline may be spent by now; releasing resources gets its own short budget,
	// started only now so that the waits above cannot use it up.
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelClose()
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
	for _, l := range []net.Listener{a.grpcLis, a.httpLis, a.debugLis} {
		if l != nil {
			_ = l.Close() // already closed by Serve's shutdown in the normal path
		}
	}
	if a.mem != nil { // a typed nil in the list above would not compare equal to nil
		_ = a.mem.Close()
	}
	if a.webhooks.commit != nil {
		_ = a.webhooks.commit.Close() // gRPC has stopped: no delivery is waiting; never fails
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
