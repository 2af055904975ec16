package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/store/pgtest"
)

// TestThreeReplicasOnPostgreSQL runs three gateways on one PostgreSQL schema, as production does,
// and proves the properties that make that safe: every publication is delivered exactly once
// although all three replicas run outbox workers, a watcher on one replica sees every event
// written through the others (in commit order, no gaps, no duplicates), and an idempotency key
// holds across replicas.
func TestThreeReplicasOnPostgreSQL(t *testing.T) {
	dsn := pgtest.FreshDSN(t)
	replicas := make([]*apptest.Server, 3)
	for i := range replicas {
		replicas[i] = apptest.Start(t, func(c *app.Config) { c.Database = dsn })
	}
	events := func(i int) insurancev1.EventServiceClient { return insurancev1.NewEventServiceClient(replicas[i].Conn) }

	// A watcher on replica 0, started before anything is written.
	watchCtx, stopWatch := context.WithCancel(apptest.WithToken(apptest.AllKey))
	defer stopWatch()
	stream, err := events(0).WatchEvents(watchCtx, &insurancev1.WatchEventsRequest{Types: []string{"publication.queued"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan *insurancev1.Event, 1000)
	watchErr := make(chan error, 1)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				watchErr <- err
				return
			}
			seen <- resp.GetEvent()
		}
	}()

	// 30 publications written through replicas 1 and 2, concurrently.
	const n = 30
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			payload, _ := structpb.NewStruct(map[string]any{"payment": map[string]any{"uuid": fmt.Sprint(i), "status": "paid"}})
			resp, err := events(1+i%2).PublishEvent(apptest.WithToken(apptest.AllKey), &insurancev1.PublishEventRequest{
				EventType: "payment_status_updated", Payload: payload,
			})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = resp.GetPublication().GetPublicationId()
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("PublishEvent: %v", err)
	}

	// The watcher on replica 0 sees all 30, each once, cursors strictly increasing.
	var last int64
	got := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case e := <-seen:
			if e.GetCursor() <= last {
				t.Fatalf("cursor %d after %d: not strictly increasing", e.GetCursor(), last)
			}
			last = e.GetCursor()
			if got[e.GetSubject()] {
				t.Fatalf("event for %s seen twice", e.GetSubject())
			}
			got[e.GetSubject()] = true
		case err := <-watchErr:
			t.Fatalf("watch ended: %v", err)
		case <-deadline:
			t.Fatalf("watcher on replica 0 saw %d of %d events written on replicas 1 and 2", len(got), n)
		}
	}
	for _, id := range ids {
		if !got["publications/"+id] {
			t.Errorf("watcher missed publication %s", id)
		}
	}

	// Every publication is delivered, by whichever replica's worker leased it, exactly once
	// across the three Scalepoint sandboxes.
	waitDelivered(t, events(0), ids)
	perCorrelation := map[string]int{}
	for _, r := range replicas {
		for _, p := range r.App.Sandbox().Scalepoint.Published() {
			perCorrelation[p.CorrelationID]++
		}
	}
	if len(perCorrelation) != n {
		t.Errorf("Scalepoint received %d distinct publications, want %d", len(perCorrelation), n)
	}
	for id, count := range perCorrelation {
		if count != 1 {
			t.Errorf("publication with correlation id %s delivered %d times", id, count)
		}
	}

	// The same idempotency key sent to two replicas yields one publication.
	ctx := metadata.AppendToOutgoingContext(apptest.WithToken(apptest.AllKey), "idempotency-key", "replicas-key-1")
	payload, _ := structpb.NewStruct(map[string]any{"payment": map[string]any{"uuid": "idem", "status": "paid"}})
	first, err := events(1).PublishEvent(ctx, &insurancev1.PublishEventRequest{EventType: "payment_status_updated", Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	second, err := events(2).PublishEvent(ctx, &insurancev1.PublishEventRequest{EventType: "payment_status_updated", Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := first.GetPublication().GetPublicationId(), second.GetPublication().GetPublicationId(); a != b {
		t.Errorf("idempotency key across replicas: publication %s then %s", a, b)
	}
	stopWatch()
	if err := <-watchErr; err != nil && !errors.Is(err, io.EOF) && watchCtx.Err() == nil {
		t.Errorf("watch: %v", err)
	}
}

func waitDelivered(t *testing.T, c insurancev1.EventServiceClient, ids []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			resp, err := c.GetPublication(apptest.WithToken(apptest.AllKey), &insurancev1.GetPublicationRequest{PublicationId: id})
			if err != nil {
				t.Fatalf("GetPublication %s: %v", id, err)
			}
			if resp.GetPublication().GetStatus() == insurancev1.PublicationStatus_PUBLICATION_STATUS_DELIVERED {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("publication %s still %v after 30s (last error %q)", id, resp.GetPublication().GetStatus(), resp.GetPublication().GetLastError())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
