//go:build reliability

package suite

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/reliability/figures"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
	"github.com/covergate/covergate/server/store"
)

// outageSeconds is the Scalepoint outage the issue asks for.
const outageSeconds = 20

// TestPartnerOutage: publications flow (PublishEvent) before, during and after a 20 s Scalepoint
// outage. None is lost, none is delivered twice (the sandbox journal, by correlation id), and
// the queue drains after recovery.
func TestPartnerOutage(t *testing.T) {
	s := apptest.Start(t)
	sp := s.App.Sandbox().Scalepoint
	events := insurancev1.NewEventServiceClient(s.Conn)
	ctx := apptest.WithToken(apptest.AllKey)

	rate := figures.Pick(50, 20) // publications per second
	before := figures.Pick(5, 2) // seconds of normal flow before the outage
	after := figures.Pick(10, 3) // seconds of flow after it
	flow := before + outageSeconds + after

	type queued struct{ id, correlation string }
	var (
		mu       sync.Mutex
		pubs     []queued
		inOutage int
	)
	outageStart := time.Now().Add(time.Duration(before) * time.Second)
	outageOn := make(chan struct{})
	go func() { // owned by the test: returns after one SetFaults, waited for through outageOn
		time.Sleep(time.Until(outageStart))
		sp.Kit().SetFaults(sandboxkit.Faults{OutageSeconds: outageSeconds})
		close(outageOn)
	}()

	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(time.Duration(flow) * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		payload, err := structpb.NewStruct(map[string]any{"case": map[string]any{"number": fmt.Sprintf("OUT-%06d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := events.PublishEvent(ctx, &insurancev1.PublishEventRequest{EventType: "case_created", Payload: payload})
		if err != nil {
			t.Fatalf("publication %d: PublishEvent failed (queueing must not depend on the partner): %v", i, err)
		}
		mu.Lock()
		pubs = append(pubs, queued{r.GetPublication().GetPublicationId(), r.GetPublication().GetCorrelationId()})
		now := time.Now()
		if now.After(outageStart) && now.Before(outageStart.Add(outageSeconds*time.Second)) {
			inOutage++
		}
		mu.Unlock()
	}
	<-outageOn
	recovered := outageStart.Add(outageSeconds * time.Second)
	// Delivery resumes when the outage window ends; if the failures opened Scalepoint's circuit
	// breaker (30 s) the first probe after it closes the breaker again. Generous limit: this is a
	// correctness test, the drain time is reported, not asserted.
	drainLimit := 3 * time.Minute
	deadline := time.Now().Add(drainLimit)
	var stats store.OutboxStats
	for {
		var err error
		stats, err = s.App.Store().OutboxStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if stats.Failed > 0 {
			t.Fatalf("%d publications FAILED for good during a 20 s outage", stats.Failed)
		}
		if stats.Pending == 0 && stats.Delivered >= int64(len(pubs)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d publications delivered %s after the flow ended", stats.Delivered, len(pubs), drainLimit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Since(recovered)
	if stats.Delivered != int64(len(pubs)) {
		t.Errorf("%d publications delivered, %d queued", stats.Delivered, len(pubs))
	}

	seen := map[string]int{}
	for _, p := range sp.Published() {
		seen[p.CorrelationID]++
	}
	lost, twice := 0, 0
	for _, p := range pubs {
		switch seen[p.correlation] {
		case 0:
			lost++
		case 1:
		default:
			twice++
			t.Errorf("publication %s (correlation %s) delivered %d times", p.id, p.correlation, seen[p.correlation])
		}
	}
	if lost > 0 {
		t.Errorf("%d publications marked delivered but never received by Scalepoint", lost)
	}
	if len(seen) != len(pubs) {
		t.Errorf("Scalepoint received %d distinct publications, we queued %d", len(seen), len(pubs))
	}
	figures.Record(t, "outage", "publications queued (during the 20 s outage)", "", "%d (%d)", len(pubs), inOutage)
	figures.Record(t, "outage", "lost / delivered twice", "0 / 0", "%d / %d", lost, twice)
	figures.Record(t, "outage", "queue drained after recovery", "yes", "yes, %s after the outage ended (%d pending left)", drained.Round(100*time.Millisecond), stats.Pending)
}
