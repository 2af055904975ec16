package scalepointpoll_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/partners/scalepoint"
	"github.com/covergate/covergate/server/scalepointpoll"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

// fakeScalepoint serves events _1.._n, one per page, and records the positions asked for.
type fakeScalepoint struct {
	mu     sync.Mutex
	n      int
	asked  []string
	failAt int // fail the receive call with this index (1-based) once
}

func (f *fakeScalepoint) Receive(ctx context.Context, last string) (scalepoint.Page, error) {
	f.mu.Lock()
	f.asked = append(f.asked, last)
	call := len(f.asked)
	f.mu.Unlock()
	if call == f.failAt {
		return scalepoint.Page{}, errors.New("scalepoint unavailable")
	}
	var next int
	if last != "" {
		fmt.Sscanf(last, "_%d", &next)
	}
	next++
	if next > f.n {
		<-ctx.Done() // long poll held until the consumer stops
		return scalepoint.Page{}, ctx.Err()
	}
	id := fmt.Sprintf("_%d", next)
	return scalepoint.Page{Events: []scalepoint.Event{{ID: id, Type: "case_created",
		Attributes: scalepoint.Attributes{EventType: "case_created"}}}, Next: id}, nil
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := engine.Open(context.Background(), "sqlite:"+t.TempDir()+"/poll.db", store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// run runs a consumer until want events were processed in total, then stops it.
func run(t *testing.T, st store.Store, fake *fakeScalepoint, processed *[]string, failProcess map[string]int, want int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	c, err := scalepointpoll.New(scalepointpoll.Config{
		Client: fake, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Process: func(_ context.Context, ev scalepoint.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if failProcess[ev.ID] > 0 {
				failProcess[ev.ID]--
				return errors.New("store busy")
			}
			*processed = append(*processed, ev.ID)
			if len(*processed) == want {
				cancel()
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("consumer did not finish within 10s")
	}
}

func TestConsumerResumesFromCheckpoint(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last, after the store is closed
	st := openStore(t)
	var processed []string
	fake := &fakeScalepoint{n: 3, failAt: 2}
	run(t, st, fake, &processed, map[string]int{"_2": 2}, 3)
	if fmt.Sprint(processed) != "[_1 _2 _3]" {
		t.Fatalf("processed %v, want _1 _2 _3 in order despite failures", processed)
	}
	cp, err := st.GetCheckpoint(context.Background(), scalepointpoll.DefaultCheckpoint)
	if err != nil || cp.Value != "_3" {
		t.Fatalf("checkpoint = %+v, %v", cp, err)
	}
	// A new consumer (a restart) asks for what follows the checkpoint, not for the start.
	fake2 := &fakeScalepoint{n: 5}
	var again []string
	run(t, st, fake2, &again, nil, 2)
	if fmt.Sprint(again) != "[_4 _5]" || fake2.asked[0] != "_3" {
		t.Fatalf("after restart processed %v, first position asked %q", again, fake2.asked[0])
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := scalepointpoll.New(scalepointpoll.Config{}); err == nil {
		t.Fatal("New accepted an empty config")
	}
}
