package webhooks

import (
	"context"
	"sync"
	"testing"
	"time"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/store/pgtest"
)

// postgresSchema returns a DSN of a fresh schema (pgtest: dropped when t ends; PostgreSQL is
// required, never skipped).
func postgresSchema(t *testing.T) string { return pgtest.FreshDSN(t) }

// TestWatchEventsAcrossReplicas: two gateways on one PostgreSQL database; a client watching on
// one sees, exactly once and in order, every event the other commits from concurrent webhook
// deliveries, across a disconnect and resume.
func TestWatchEventsAcrossReplicas(t *testing.T) {
	dsn := postgresSchema(t)
	useDB := func(cfg *app.Config) { cfg.Database = dsn }
	writer := apptest.Start(t, useDB)
	watcher := apptest.Start(t, useDB)
	client := insurancev1.NewEventServiceClient(watcher.Conn)

	const total = 30
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ { // three concurrent writers on the other replica
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 3 {
				unknownEvent(t, writer, i)
			}
		}()
	}
	var got []int64
	last := int64(0)
	for session := 0; len(got) < total; session++ {
		if session > 10 {
			t.Fatalf("only %d of %d events", len(got), total)
		}
		ctx, cancel := context.WithTimeout(apptest.WithToken(apptest.AllKey), 15*time.Second)
		stream, err := client.WatchEvents(ctx, &insurancev1.WatchEventsRequest{AfterCursor: last, Types: []string{"partner_event.unrecognized"}})
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 11 && len(got) < total; n++ {
			msg, err := stream.Recv()
			if err != nil {
				t.Fatalf("session %d after %d events: %v", session, len(got), err)
			}
			c := msg.GetEvent().GetCursor()
			if c <= last {
				t.Fatalf("cursor %d after %d: duplicate or out of order", c, last)
			}
			got, last = append(got, c), c
		}
		cancel()
	}
	wg.Wait()
	stored := events(t, writer.App.Store())
	if len(stored) != total {
		t.Fatalf("stored %d events, want %d", len(stored), total)
	}
	for i, e := range stored {
		if got[i] != e.Cursor {
			t.Fatalf("watched %v, stored cursor %d at %d", got, e.Cursor, i)
		}
	}
}

// TestFlowsOnPostgres runs the main webhook flows against PostgreSQL, whose transactions differ
// from SQLite's (concurrent writers, ON CONFLICT waits, advisory-locked event appends).
func TestFlowsOnPostgres(t *testing.T) {
	for name, fn := range map[string]func(*testing.T, *apptest.Server){
		"AppEventsEveryName":         testAppEventsEveryName,
		"AppPurchaseDuplicate":       testAppPurchaseDuplicate,
		"UserDeleteErasesEverywhere": testUserDeleteErasesEverywhere,
		"ConcurrentDuplicates":       testConcurrentDuplicatesApplyOnce,
		"OutOfOrderEvents":           testOutOfOrderEvents,
		"UnknownEventNames":          testUnknownEventNames,
		"AvataCallbacks":             testAvataCallbacksEndToEnd,
	} {
		t.Run(name, func(t *testing.T) {
			dsn := postgresSchema(t)
			fn(t, apptest.Start(t, func(cfg *app.Config) { cfg.Database = dsn }))
		})
	}
}
