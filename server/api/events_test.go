package api_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

// watchStream is a server stream that collects what WatchEvents sends.
type watchStream struct {
	grpc.ServerStream
	ctx  context.Context
	mu   sync.Mutex
	sent []*insurancev1.Event
	got  chan struct{}
}

func (w *watchStream) Context() context.Context { return w.ctx }

func (w *watchStream) Send(m *insurancev1.WatchEventsResponse) error {
	w.mu.Lock()
	w.sent = append(w.sent, m.GetEvent())
	w.mu.Unlock()
	w.got <- struct{}{}
	return nil
}

// TestWatchEventsEndsOnShutdown: a watch replays, follows a live event, and ends with
// UNAVAILABLE (resume from the last cursor) when the server starts stopping.
func TestWatchEventsEndsOnShutdown(t *testing.T) {
	ctx := context.Background()
	st, err := engine.Open(ctx, "sqlite:"+t.TempDir()+"/watch.db", store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	l := lifecycle.New(lifecycle.Config{})
	record := func(i int) {
		if err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			return l.RecordUnrecognized(ctx, tx, domain.PartnerEtvas, "x.y", "d")
		}); err != nil {
			t.Fatal(err)
		}
	}
	record(0)
	stopping := make(chan struct{})
	svc := api.NewServices(api.Deps{Store: st, Lifecycle: l, Stopping: stopping, Now: time.Now}).Events
	stream := &watchStream{ctx: ctx, got: make(chan struct{}, 10)}
	done := make(chan error, 1)
	go func() { done <- svc.WatchEvents(&insurancev1.WatchEventsRequest{}, stream) }()
	wait := func() {
		select {
		case <-stream.got:
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
	}
	wait()    // replayed
	record(1) // live
	wait()
	close(stopping)
	select {
	case err := <-done:
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("WatchEvents ended with %v, want UNAVAILABLE", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WatchEvents did not end on shutdown")
	}
	if len(stream.sent) != 2 || stream.sent[0].GetCursor() >= stream.sent[1].GetCursor() {
		t.Fatalf("sent %v", stream.sent)
	}
}
