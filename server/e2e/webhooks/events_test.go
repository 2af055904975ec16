package webhooks

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
)

// unknownEvent posts one App event with an unknown name: one inbox row and exactly one
// partner_event.unrecognized event per call.
func unknownEvent(t *testing.T, s *apptest.Server, i int) {
	t.Helper()
	body := appEvent(fmt.Sprintf("test.event_%d", i), "p", fmt.Sprintf("ctx-%d", i))
	if r := postEtvas(t, s, "/etvas/events", body); r.Code != http.StatusOK {
		t.Errorf("event %d: %d %s", i, r.Code, r.Body)
	}
}

// TestWatchEventsExactlyOnce: a client watching while events are written concurrently,
// disconnecting and resuming from its last cursor, sees every event exactly once, in order.
func TestWatchEventsExactlyOnce(t *testing.T) {
	s := apptest.Start(t)
	client := insurancev1.NewEventServiceClient(s.Conn)
	const total = 60
	for i := 0; i < 10; i++ { // some history to replay first
		unknownEvent(t, s, i)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // writers run while the client watches, disconnects and resumes
		defer wg.Done()
		for i := 10; i < total; i++ {
			unknownEvent(t, s, i)
		}
	}()
	seen := map[int64]bool{}
	var cursors []int64
	last := int64(0)
	for session := 0; len(cursors) < total; session++ {
		if session > 20 {
			t.Fatalf("only %d of %d events after %d sessions", len(cursors), total, session)
		}
		ctx, cancel := context.WithTimeout(apptest.WithToken(apptest.AllKey), 10*time.Second)
		stream, err := client.WatchEvents(ctx, &insurancev1.WatchEventsRequest{AfterCursor: last})
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 7 && len(cursors) < total; n++ { // disconnect every 7 events
			msg, err := stream.Recv()
			if err != nil {
				t.Fatalf("session %d: %v", session, err)
			}
			e := msg.GetEvent()
			if seen[e.GetCursor()] || e.GetCursor() <= last {
				t.Fatalf("event %d delivered twice or out of order (last %d)", e.GetCursor(), last)
			}
			seen[e.GetCursor()], last = true, e.GetCursor()
			cursors = append(cursors, e.GetCursor())
		}
		cancel()
	}
	wg.Wait()
	stored := events(t, s.App.Store())
	if len(stored) != total {
		t.Fatalf("store has %d events, want %d", len(stored), total)
	}
	for i, e := range stored {
		if cursors[i] != e.Cursor {
			t.Fatalf("watched cursor %d = %d, stored %d", i, cursors[i], e.Cursor)
		}
	}
}

// TestWatchEventsREST: over HTTP the stream is newline-delimited JSON, filtered, and follows
// live events.
func TestWatchEventsREST(t *testing.T) {
	s := apptest.Start(t)
	m := mintPurchase(t, s, "watch@example.com")
	if r := postEtvas(t, s, "/etvas/events", appEvent("product.purchased", m.ProductID, m.ContextID)); r.Code != http.StatusOK {
		t.Fatal(r.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.HTTPURL+"/v1/events:watch?types=policy.activated&types=policy.suspended", nil)
	req.Header.Set("Authorization", "Bearer "+apptest.AllKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: %d", resp.StatusCode)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() map[string]any {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("stream ended: %v", lines.Err())
		}
		var line map[string]any
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", lines.Text(), err)
		}
		return line
	}
	if got := next(); str(got, "result.event.type") != domain.EventPolicyActivated || str(got, "result.event.partner") != "PARTNER_ETVAS" {
		t.Fatalf("first line = %v", got)
	}
	// A live event arrives on the open stream; the customer.* / policy.created events are filtered out.
	if r := postEtvas(t, s, "/etvas/events", appEvent("product.suspended", m.ProductID, m.ContextID)); r.Code != http.StatusOK {
		t.Fatal(r.Code)
	}
	got := next()
	if str(got, "result.event.type") != domain.EventPolicySuspended || str(got, "result.event.data.status") != "SUSPENDED" {
		t.Fatalf("live line = %v", got)
	}
}

// TestListEvents pages the log over REST with filters; the page token is bound to its filters.
func TestListEvents(t *testing.T) {
	s := apptest.Start(t)
	for i := 0; i < 5; i++ {
		unknownEvent(t, s, i)
	}
	sp := `{"id":"_5","attributes":{"eventType":"case_created"}}`
	if r := post(t, s, "/webhooks/scalepoint", sp, scalepointHeaders()); r.Code != http.StatusOK {
		t.Fatal(r.Code, string(r.Body))
	}
	var all []string
	token := ""
	for page := 0; ; page++ {
		q := "/v1/events?page_size=2&types=partner_event.unrecognized"
		if token != "" {
			q += "&page_token=" + token
		}
		r := s.JSON(t, "GET", q, apptest.AllKey, "")
		if r.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", q, r.Code, r.Body)
		}
		var body struct {
			Events []struct {
				Cursor string
				Type   string
			}
			NextPageToken string
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		for _, e := range body.Events {
			if e.Type != domain.EventPartnerEventUnrecognized {
				t.Errorf("filter leaked %s", e.Type)
			}
			all = append(all, e.Cursor)
		}
		if token = body.NextPageToken; token == "" {
			break
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 5 {
		t.Fatalf("paged %d events, want 5: %v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		a, _ := strconv.ParseInt(all[i-1], 10, 64)
		b, _ := strconv.ParseInt(all[i], 10, 64)
		if b <= a {
			t.Fatalf("cursors not increasing: %v", all)
		}
	}
	r := s.JSON(t, "GET", "/v1/events?partner=PARTNER_SCALEPOINT", apptest.AllKey, "")
	var byPartner struct{ Events []map[string]any }
	if err := json.Unmarshal(r.Body, &byPartner); err != nil || r.Code != http.StatusOK ||
		len(byPartner.Events) != 1 || byPartner.Events[0]["type"] != domain.EventPartnerEventReceived {
		t.Fatalf("partner filter: %d %s", r.Code, r.Body)
	}
	// A token used with other filters is refused; no key is refused.
	first := s.JSON(t, "GET", "/v1/events?page_size=1&types=partner_event.unrecognized", apptest.AllKey, "")
	tok := str(decode(t, first), "nextPageToken")
	if r := s.JSON(t, "GET", "/v1/events?page_size=1&page_token="+tok, apptest.AllKey, ""); r.Code != http.StatusBadRequest {
		t.Errorf("token with other filters: %d %s", r.Code, r.Body)
	}
	if r := s.JSON(t, "GET", "/v1/events", "", ""); r.Code != http.StatusUnauthorized {
		t.Errorf("without a key: %d", r.Code)
	}
	if r := s.JSON(t, "GET", "/v1/events", apptest.ReaderKey, ""); r.Code != http.StatusForbidden {
		t.Errorf("with a key lacking events.read: %d", r.Code)
	}
	_, err := insurancev1.NewEventServiceClient(s.Conn).ListEvents(context.Background(), &insurancev1.ListEventsRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC without a key: %v", err)
	}
}
