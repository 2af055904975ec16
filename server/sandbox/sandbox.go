// Package sandbox runs the three partner sandboxes (Etvas, Avata, Scalepoint) as real
// HTTP servers, for `covergate sandbox` (standalone) and `covergate serve --partners
// sandbox` (embedded), and implements the `covergate sandbox` command line, including
// `covergate sandbox send`, which delivers a correctly signed partner event to a gateway.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/covergate/covergate/server/sandbox/avata"
	"github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/scalepoint"
)

// DefaultAddr is where a sandbox listens when no address is configured: loopback, any
// free port.
const DefaultAddr = "127.0.0.1:0"

// Config configures Start.
type Config struct {
	EtvasAddr      string // default 127.0.0.1:0
	AvataAddr      string // default 127.0.0.1:0
	ScalepointAddr string // default 127.0.0.1:0
	// GatewayURL is the gateway the sandboxes deliver webhooks/callbacks to; empty = none.
	GatewayURL string
	// ScalepointPublishID is how the Scalepoint sandbox's 201 carries _id (see
	// scalepoint.Config.PublishID); empty = the documented number.
	ScalepointPublishID string
	Logger              *slog.Logger // optional
}

// Sandbox is the three running partner sandboxes.
type Sandbox struct {
	Etvas      *etvas.Server
	Avata      *avata.Server
	Scalepoint *scalepoint.Server

	logger  *slog.Logger
	servers []*http.Server
	urls    [3]string
	wg      sync.WaitGroup // one per serving goroutine
	once    sync.Once
	err     error
}

// partnerServer pairs a partner's name, address and handler for startup.
type partnerServer struct {
	name    string
	addr    string
	handler http.Handler
}

// Start listens on the three addresses and serves the sandboxes (built from each
// package's DefaultConfig plus cfg.GatewayURL) until Close. If any listener cannot be
// opened nothing keeps running.
func Start(ctx context.Context, cfg Config) (*Sandbox, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ec := etvas.DefaultConfig()
	ec.GatewayURL = cfg.GatewayURL
	ac := avata.DefaultConfig()
	ac.GatewayURL = cfg.GatewayURL
	ac.Logger = logger
	sc := scalepoint.DefaultConfig()
	sc.GatewayURL = cfg.GatewayURL
	sc.Logger = logger

	s := &Sandbox{logger: logger, Etvas: etvas.New(ec), Avata: avata.New(ac), Scalepoint: scalepoint.New(sc)}
	if cfg.ScalepointPublishID != "" {
		if err := s.Scalepoint.SetPublishID(cfg.ScalepointPublishID); err != nil {
			s.closePartners()
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	parts := []partnerServer{
		{"etvas", orDefault(cfg.EtvasAddr), s.Etvas.Handler()},
		{"avata", orDefault(cfg.AvataAddr), s.Avata.Handler()},
		{"scalepoint", orDefault(cfg.ScalepointAddr), s.Scalepoint.Handler()},
	}
	var lc net.ListenConfig
	listeners := make([]net.Listener, 0, len(parts))
	for _, p := range parts {
		ln, err := lc.Listen(ctx, "tcp", p.addr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			s.closePartners()
			return nil, fmt.Errorf("sandbox: listen for %s on %s: %w", p.name, p.addr, err)
		}
		listeners = append(listeners, ln)
	}
	for i, p := range parts {
		srv := &http.Server{
			Handler:           p.handler,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		s.servers = append(s.servers, srv)
		s.urls[i] = "http://" + listeners[i].Addr().String()
		s.wg.Add(1)
		go s.serve(p.name, srv, listeners[i])
	}
	logger.Info("partner sandboxes started", slog.String("etvas", s.urls[0]), slog.String("avata", s.urls[1]), slog.String("scalepoint", s.urls[2]))
	return s, nil
}

func orDefault(addr string) string {
	if addr == "" {
		return DefaultAddr
	}
	return addr
}

func (s *Sandbox) serve(name string, srv *http.Server, ln net.Listener) {
	defer s.wg.Done()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.logger.Error("sandbox server stopped", slog.String("partner", name), slog.String("error", err.Error()))
	}
}

// URLs returns the base URLs of the Etvas, Avata and Scalepoint sandboxes.
func (s *Sandbox) URLs() (etvasURL, avataURL, scalepointURL string) {
	return s.urls[0], s.urls[1], s.urls[2]
}

// shutdownGrace is how long Close lets the sandboxes' connections finish before closing them.
const shutdownGrace = time.Second

// Close stops everything, in order: the partners' own goroutines first (callback
// retries, held long polls, which would otherwise keep connections busy), then the HTTP
// servers gracefully until ctx ends (then forcibly), then it waits for the serving
// goroutines. Safe to call more than once.
func (s *Sandbox) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.closePartners()
		var errs []error
		for _, srv := range s.servers {
			// The partners' goroutines are stopped and the gateway that called us is shutting
			// down, so what is left is idle — or new: net/http counts a connection that has not
			// sent a request yet as busy for 5 s, which would hold a graceful shutdown that
			// long. A fake has nothing to drain: after a short grace the rest is closed, and
			// only a caller's own deadline running out is an error.
			grace, cancel := context.WithTimeout(ctx, shutdownGrace)
			err := srv.Shutdown(grace)
			cancel()
			if err != nil {
				_ = srv.Close()
				if ctx.Err() != nil {
					errs = append(errs, fmt.Errorf("sandbox: shutdown: %w", ctx.Err()))
				}
			}
		}
		s.wg.Wait()
		s.err = errors.Join(errs...)
	})
	return s.err
}

func (s *Sandbox) closePartners() {
	s.Avata.Close()
	s.Scalepoint.Close()
	s.Etvas.Close()
}
