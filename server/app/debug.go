package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// The debug listener serves Go's profiling endpoints (net/http/pprof) for measuring the gateway
// under load (`make bench` profiles it there). It is off by default and, when on, bound to
// loopback only: profiles reveal code paths and timings, and a CPU profile costs the server CPU,
// so it must never be reachable from the network or share the API listener.

func (cfg *Config) registerDebugFlags(fs *flag.FlagSet) {
	fs.StringVar(&cfg.DebugAddr, "debug-addr", cfg.DebugAddr, "loopback address serving Go profiling endpoints (/debug/pprof/) for performance work; empty = off")
}

func (cfg Config) validateDebug() []string {
	if cfg.DebugAddr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(cfg.DebugAddr)
	if err != nil {
		return []string{fmt.Sprintf("debug-addr %q: want host:port", cfg.DebugAddr)}
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return []string{fmt.Sprintf("debug-addr %q: must be a loopback address (127.0.0.1, [::1] or localhost)", cfg.DebugAddr)}
	}
	return nil
}

// listenDebug binds the debug listener when one is configured (with the others, so start-up
// fails early on a taken port and tests learn the address before Run).
func (a *App) listenDebug() error {
	if a.cfg.DebugAddr == "" {
		return nil
	}
	lis, err := net.Listen("tcp", a.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("app: listen debug on %s: %w", a.cfg.DebugAddr, err)
	}
	a.debugLis = lis
	return nil
}

// DebugAddr is the debug listener's address, "" when it is off.
func (a *App) DebugAddr() string {
	if a.debugLis == nil {
		return ""
	}
	return a.debugLis.Addr().String()
}

// serveDebug serves the profiling endpoints until ctx ends.
func (a *App) serveDebug(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() }) // a profile in progress is cut short
	defer stop()
	a.log.Info("debug listener serving profiles", "addr", a.DebugAddr())
	if err := srv.Serve(a.debugLis); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("debug server: %w", err)
	}
	return nil
}
