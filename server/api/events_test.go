package api_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
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
	ctx    context.Context
	mu     sync.Mutex
	header metadata.MD // sent headers; nil until SendHeader
	sent   []*insurancev1.Event
	got    chan struct{}
}

// SendHeader records the headers; they must come before any event.
func (w *watchStream) SendHeader(md metadata.MD) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.header != nil || len(w.sent) > 0 {
		return status.Error(codes.Internal, "headers sent twice or after a message")
	}
	w.header = md.Copy()
	if w.header == nil {
		w.header = metadata.MD{}
	}
	return nil
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

// TestWatchEventsSendsHeadersAtOnce: with nothing to replay, the stream's headers (marked as
// started, which the REST gateway waits for) go out before any event exists.
func TestWatchEventsSendsHeadersAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st, err := engine.Open(ctx, "sqlite:"+t.TempDir()+"/watch.db", store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc := api.NewServices(api.Deps{Store: st, Lifecycle: lifecycle.New(lifecycle.Config{}), Stopping: make(chan struct{}), Now: time.Now}).Events
	stream := &watchStream{ctx: ctx, got: make(chan struct{}, 10)}
	done := make(chan error, 1)
	go func() { done <- svc.WatchEvents(&insurancev1.WatchEventsRequest{}, stream) }()
	deadline := time.Now().Add(10 * time.Second) // bounds a hang, not a timing assertion
	for {
		stream.mu.Lock()
		header := stream.header
		stream.mu.Unlock()
		if header != nil {
			if got := header.Get(api.WatchStartedHeader); len(got) != 1 {
				t.Errorf("header %v lacks %s", header, api.WatchStartedHeader)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no headers within 10s on an empty log")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled && err != context.Canceled {
		t.Errorf("WatchEvents ended with %v after the client left", err)
	}
}
