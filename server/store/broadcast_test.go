package store_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func closed(ch <-chan struct{}) bool {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return true
			}
		default:
			return false
		}
	}
}

func TestBroadcaster(t *testing.T) {
	b := store.NewBroadcaster()
	ctx, cancelCtx := context.WithCancel(context.Background())
	a, cancelA := b.Subscribe(context.Background())
	c, _ := b.Subscribe(ctx)

	// Many signals coalesce into one pending wake-up per subscriber, and a
	// signal never blocks even though nobody reads.
	for range 100 {
		b.Signal()
	}
	for _, ch := range []<-chan struct{}{a, c} {
		if _, ok := <-ch; !ok {
			t.Fatal("no signal")
		}
		select {
		case <-ch:
			t.Fatal("signals were not coalesced")
		default:
		}
	}

	cancelA()
	cancelA() // idempotent
	if !closed(a) {
		t.Fatal("cancel did not close the channel")
	}
	cancelCtx()
	// The context's end unsubscribes c; wait for the close.
	if _, ok := <-c; ok {
		if _, ok := <-c; ok {
			t.Fatal("context end did not close the channel")
		}
	}

	d, cancelD := b.Subscribe(context.Background())
	defer cancelD()
	b.Close()
	if !closed(d) {
		t.Fatal("Close did not close subscriber channels")
	}
	e, cancelE := b.Subscribe(context.Background())
	defer cancelE()
	if !closed(e) {
		t.Fatal("Subscribe after Close returned an open channel")
	}
	b.Signal() // after Close: no panic
}
