package webhooks

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	scalepointbox "github.com/covergate/covergate/server/sandbox/scalepoint"
	"github.com/covergate/covergate/server/scalepointpoll"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/webhook"
)

// scalepointDocEvent is the publish example of
// https://dev.scalepoint.com/events-api-integration-from-clients-to-scalepoint (a bare envelope).
const scalepointDocEvent = `{
"eventType": "payment_status_updated",
"payloadVersion": "1.0.0",
"correlationId": "70c6d351-016f-4c9e-b1a9-d581fc3a596b",
"timestamp": "2017-07-25T10:31:28.2519514Z",
"payment": {
"uuid": "967ce1a4-a55a-4765-bd5b-bafcb4178fd3",
"status": "canceled",
"statusReason": "Payment rejected by claimant's bank"
}
}`

func inboxRecord(t *testing.T, st store.Store, key string) (domain.InboxRecord, bool) {
	t.Helper()
	rec, err := st.FindInbox(context.Background(), domain.PartnerScalepoint, key)
	if isNotFound(err) {
		return rec, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec, true
}

// TestScalepointWebhook: the documented envelope and the sandbox's pushed receive items are
// recorded once each and logged as partner_event.received.
func TestScalepointWebhook(t *testing.T) {
	s := apptest.Start(t)
	st := s.App.Store()
	r := post(t, s, "/webhooks/scalepoint", scalepointDocEvent, scalepointHeaders())
	if r.Code != http.StatusOK || str(decode(t, r), "status") != "processed" {
		t.Fatalf("documented event: %d %s", r.Code, r.Body)
	}
	// No event id in a bare envelope: the key is the hash of the whole envelope.
	rec, ok := inboxRecord(t, st, webhook.HashKey([]byte(scalepointDocEvent)))
	if !ok || rec.EventType != "payment_status_updated" || string(rec.Payload) != scalepointDocEvent || rec.State != domain.InboxProcessed {
		t.Fatalf("inbox record = %+v (found %v)", rec, ok)
	}
	before := countAll(t, st)
	r = post(t, s, "/webhooks/scalepoint", scalepointDocEvent, scalepointHeaders())
	if r.Code != http.StatusOK || str(decode(t, r), "status") != "duplicate" || countAll(t, st) != before {
		t.Fatalf("duplicate: %d %s", r.Code, r.Body)
	}

	ev, err := s.App.Sandbox().Scalepoint.Enqueue(scalepointbox.EnqueueRequest{
		Attributes: json.RawMessage(`{"eventType":"claim_updated","change":"CaseClosed"}`), Push: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "pushed event recorded", func() (bool, string) {
		_, ok := inboxRecord(t, st, "id:"+ev.ID)
		return ok, "not yet"
	})
	received := events(t, st, domain.EventPartnerEventReceived)
	if len(received) != 2 || received[1].Partner != domain.PartnerScalepoint {
		t.Fatalf("partner_event.received = %+v", received)
	}
	var data map[string]string
	if err := json.Unmarshal(received[1].Data, &data); err != nil || data["partner_event_id"] != ev.ID || data["event_type"] != "claim_updated" {
		t.Errorf("event data = %s", received[1].Data)
	}
}

// TestScalepointPollAndPushAgree: with --scalepoint-poll, events are pulled and applied in
// order, the checkpoint follows them, and an event that is also pushed is applied once.
func TestScalepointPollAndPushAgree(t *testing.T) {
	s := apptest.Start(t, func(cfg *app.Config) { cfg.Partners.ScalepointPoll = true })
	st := s.App.Store()
	sb := s.App.Sandbox().Scalepoint
	var ids []string
	for i, typ := range []string{"case_created", "claimline_changed", "case_settled"} {
		ev, err := sb.Enqueue(scalepointbox.EnqueueRequest{Attributes: json.RawMessage(`{"eventType":"` + typ + `"}`), Push: i == 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	eventually(t, "checkpoint at the last event", func() (bool, string) {
		cp, err := st.GetCheckpoint(context.Background(), scalepointpoll.DefaultCheckpoint)
		return err == nil && cp.Value == ids[2], cp.Value
	})
	for _, id := range ids {
		if _, ok := inboxRecord(t, st, "id:"+id); !ok {
			t.Errorf("event %s not recorded", id)
		}
	}
	// Wait for the push of the middle event to finish, then check it had no second effect.
	eventually(t, "push delivered", func() (bool, string) {
		for _, d := range sb.Deliveries() {
			if d.EventID == ids[1] {
				return d.OK, d.Error
			}
		}
		return false, "no delivery yet"
	})
	received := events(t, st, domain.EventPartnerEventReceived)
	if len(received) != 3 {
		t.Fatalf("partner_event.received events = %d, want 3 (one per event)", len(received))
	}
	// Each event exactly once. The pushed one may overtake the poll; the polled ones keep their order.
	pos := map[string]int{}
	for i, e := range received {
		var data map[string]string
		_ = json.Unmarshal(e.Data, &data)
		if _, twice := pos[data["partner_event_id"]]; twice {
			t.Fatalf("event %s applied twice", data["partner_event_id"])
		}
		pos[data["partner_event_id"]] = i
	}
	for _, id := range ids {
		if _, ok := pos[id]; !ok {
			t.Fatalf("event %s missing from the log", id)
		}
	}
	if pos[ids[0]] > pos[ids[2]] {
		t.Errorf("polled events out of order: %v", pos)
	}
}

// TestScalepointDedupOnEventIdentity: a pushed event is deduplicated on its own id (the
// receive-API item id, or `_id`/`id` in an envelope, numbers included), else on the hash of
// the whole envelope — never on correlationId, which events of one case share.
func TestScalepointDedupOnEventIdentity(t *testing.T) {
	const corr = "fcb07e62-af98-4b0c-b83a-3a4cdcf4bf9c"
	envelope := func(eventType, extra string) string {
		return `{"eventType":"` + eventType + `","payloadVersion":"1.0.0","correlationId":"` + corr + `","timestamp":"2020-04-28T20:43:35.0348577+02:00"` + extra + `}`
	}
	item := func(id, eventType string) string {
		return `{"id":"` + id + `","type":"` + eventType + `","timestamp":"2020-04-28T18:43:38.004451447Z","attributes":` + envelope(eventType, "") + `}`
	}
	tests := []struct {
		name          string
		first, second string
		wantKey       string // of the first; "" = the hash of its body
		same          bool   // the second is the same event (duplicate), else a different one (applied)
	}{
		{"items with different ids, same correlationId", item("_1", "case_created"), item("_2", "claim_updated"), "id:_1", false},
		{"the same item twice", item("_3", "case_created"), item("_3", "case_created"), "id:_3", true},
		{"the same item re-sent with another key order", item("_4", "case_created"),
			`{"attributes":` + envelope("case_created", "") + `,"timestamp":"2020-04-28T18:43:38.004451447Z","type":"case_created","id":"_4"}`, "id:_4", true},
		{"bare envelopes without id, same correlationId", envelope("case_created", `,"case":{"number":"A"}`), envelope("claim_updated", `,"change":"CaseClosed"`), "", false},
		{"the same bare envelope twice", envelope("case_settled", ""), envelope("case_settled", ""), "", true},
		{"envelopes with numeric _id", envelope("case_created", `,"_id":123`), envelope("case_created", `,"_id":124`), "id:123", false},
		{"envelope with string _id twice", envelope("order_created", `,"_id":"abc"`), envelope("order_created", `,"_id":"abc","note":"resent"`), "id:abc", true},
	}
	s := apptest.Start(t)
	st := s.App.Store()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(events(t, st, domain.EventPartnerEventReceived))
			r := post(t, s, "/webhooks/scalepoint", tc.first, scalepointHeaders())
			if r.Code != http.StatusOK || str(decode(t, r), "status") != "processed" {
				t.Fatalf("first: %d %s", r.Code, r.Body)
			}
			key := tc.wantKey
			if key == "" {
				key = webhook.HashKey([]byte(tc.first))
			}
			if _, ok := inboxRecord(t, st, key); !ok {
				t.Fatalf("no inbox record under %q", key)
			}
			r = post(t, s, "/webhooks/scalepoint", tc.second, scalepointHeaders())
			wantStatus, wantApplied := "processed", 2
			if tc.same {
				wantStatus, wantApplied = "duplicate", 1
			}
			if r.Code != http.StatusOK || str(decode(t, r), "status") != wantStatus {
				t.Fatalf("second: %d %s, want %s", r.Code, r.Body, wantStatus)
			}
			if n := len(events(t, st, domain.EventPartnerEventReceived)) - before; n != wantApplied {
				t.Fatalf("%d events applied, want %d", n, wantApplied)
			}
		})
	}
}
