package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/etvas"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	scalepointbox "github.com/covergate/covergate/server/sandbox/scalepoint"
)

func portalPurchase(eventID string, ms int64) string {
	return fmt.Sprintf(`{"event":{"id":%q,"type":"product.purchase","timestamp":%d},
		"user":{"id":"u-1","partnerId":null},
		"data":{"product":{"id":"prod-1","name":"Cover","price":9.90,"priceType":"ONE_TIME"}}}`, eventID, ms)
}

// TestRejectedDeliveriesChangeNothing: every bad delivery gets its documented error and leaves
// the store exactly as it was.
func TestRejectedDeliveriesChangeNothing(t *testing.T) {
	s := apptest.Start(t)
	good := portalPurchase("evt-good", nowMillis(0))
	sign := func(b string) string { return etvas.SignWebhook([]byte(etvasbox.DefaultEventSecret), []byte(b)) }
	stale := portalPurchase("evt-stale", nowMillis(-27*time.Hour))
	future := portalPurchase("evt-future", nowMillis(27*time.Hour))
	oversize := `{"name":"product.purchased","payload":{"contextId":"c"},"metadata":{"pad":"` + strings.Repeat("x", 70<<10) + `"}}`
	wrongType := fmt.Sprintf(`{"event":{"id":"evt-types","type":"product.purchase","timestamp":%d},"user":{"id":["u"]}}`, nowMillis(0))
	wrongPrice := fmt.Sprintf(`{"event":{"id":"evt-price","type":"product.purchase","timestamp":%d},"user":{"id":"u"},"data":{"product":{"id":"p","price":"cheap"}}}`, nowMillis(0))
	badTimestamp := `{"event":{"id":"evt-ts","type":"product.purchase","timestamp":"soon"},"user":{"id":"u"}}`
	tests := []struct {
		name    string
		path    string
		body    string
		headers map[string]string
		code    int
		reason  string
	}{
		{"missing api key", "/etvas-events", good, map[string]string{etvas.HeaderWebhookSignature: sign(good)}, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"wrong api key", "/etvas-events", good, map[string]string{etvas.HeaderAPIKey: "nope", etvas.HeaderWebhookSignature: sign(good)}, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"wrong api key, app format", "/etvas/events", appEvent("product.purchased", "p", "c"), map[string]string{etvas.HeaderAPIKey: "nope"}, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"missing signature", "/etvas-events", good, map[string]string{etvas.HeaderAPIKey: etvasbox.DefaultAPIKey}, 400, "WEBHOOK_SIGNATURE_MISSING"},
		{"bad signature", "/etvas-events", good, map[string]string{etvas.HeaderAPIKey: etvasbox.DefaultAPIKey, etvas.HeaderWebhookSignature: sign(good + " ")}, 403, "WEBHOOK_SIGNATURE_INVALID"},
		{"signature of another body", "/etvas-events", good, map[string]string{etvas.HeaderAPIKey: etvasbox.DefaultAPIKey, etvas.HeaderWebhookSignature: sign(stale)}, 403, "WEBHOOK_SIGNATURE_INVALID"},
		{"stale timestamp", "/etvas-events", stale, etvasHeaders(stale), 400, "WEBHOOK_TIMESTAMP_STALE"},
		{"future timestamp", "/etvas-events", future, etvasHeaders(future), 400, "WEBHOOK_TIMESTAMP_STALE"},
		{"stale app timestamp", "/etvas/events", `{"name":"product.suspended","payload":{"contextId":"c"},"timestamp":1000}`,
			etvasHeaders(`{"name":"product.suspended","payload":{"contextId":"c"},"timestamp":1000}`), 400, "WEBHOOK_TIMESTAMP_STALE"},
		{"malformed json", "/etvas/events", `{"name":"product.purchased",`, etvasHeaders(`{"name":"product.purchased",`), 400, "MALFORMED_REQUEST"},
		{"wrong types", "/etvas-events", wrongType, etvasHeaders(wrongType), 400, "MALFORMED_REQUEST"},
		{"wrong price type", "/etvas-events", wrongPrice, etvasHeaders(wrongPrice), 400, "MALFORMED_REQUEST"},
		{"timestamp not a number", "/etvas-events", badTimestamp, etvasHeaders(badTimestamp), 400, "WEBHOOK_TIMESTAMP_STALE"},
		{"missing required fields", "/etvas/events", `{"name":"product.purchased","payload":{}}`, etvasHeaders(`{"name":"product.purchased","payload":{}}`), 400, "VALIDATION_FAILED"},
		{"oversize body", "/etvas/events", oversize, etvasHeaders(oversize), 413, "PAYLOAD_TOO_LARGE"},
		{"avata without signature", "/webhooks/avata", `{"eventType":"policy-update","body":{"uuid":"u"}}`, nil, 401, "WEBHOOK_SIGNATURE_MISSING"},
		{"avata bad signature", "/webhooks/avata", `{"eventType":"policy-update","body":{"uuid":"u"}}`, map[string]string{"X-Avata-Signature": strings.Repeat("ab", 32)}, 403, "WEBHOOK_SIGNATURE_INVALID"},
		{"scalepoint without token", "/webhooks/scalepoint", `{"id":"_1","attributes":{"eventType":"case_created"}}`, nil, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"scalepoint wrong token", "/webhooks/scalepoint", `{"id":"_1","attributes":{"eventType":"case_created"}}`, map[string]string{"Authorization": "Bearer " + scalepointbox.DefaultWebhookToken + "x"}, 401, "WEBHOOK_UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countAll(t, s.App.Store())
			r := post(t, s, tt.path, tt.body, tt.headers)
			if r.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", r.Code, tt.code, r.Body)
			}
			if got := apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetReason(); got != tt.reason {
				t.Errorf("reason %s, want %s", got, tt.reason)
			}
			if strings.Contains(string(r.Body), etvasbox.DefaultEventSecret) || strings.Contains(string(r.Body), etvasbox.DefaultAPIKey) {
				t.Error("the answer leaks a secret")
			}
			if after := countAll(t, s.App.Store()); after != before {
				t.Errorf("rejected delivery changed the store: %+v → %+v", before, after)
			}
		})
	}
	// The good delivery itself is accepted (so the cases above fail for their own reason).
	if r := postEtvas(t, s, "/etvas-events", good); r.Code != http.StatusOK {
		t.Fatalf("good delivery: %d %s", r.Code, r.Body)
	}
	if strings.Contains(s.Logs.String(), etvasbox.DefaultEventSecret) || strings.Contains(s.Logs.String(), etvasbox.DefaultAPIKey) {
		t.Error("a secret was logged")
	}
}

// TestDirectGRPCWebhookCallRefused: the webhook services cannot be reached on the gRPC port
// without a verified delivery, whatever metadata the caller makes up.
func TestDirectGRPCWebhookCallRefused(t *testing.T) {
	s := apptest.Start(t)
	before := countAll(t, s.App.Store())
	etvasClient := webhooksv1.NewEtvasWebhookServiceClient(s.Conn)
	for _, md := range []metadata.MD{
		nil,
		metadata.Pairs("x-covergate-delivery", strings.Repeat("0", 64)),
		metadata.Pairs("x-api-key", etvasbox.DefaultAPIKey),
	} {
		ctx := metadata.NewOutgoingContext(context.Background(), md)
		_, err := etvasClient.HandleAppEvent(ctx, &webhooksv1.HandleAppEventRequest{
			Name: "product.canceled", Payload: &webhooksv1.EtvasAppPayload{ContextId: "c-1"},
		})
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("direct call with %v: %v, want UNAUTHENTICATED", md, err)
		}
	}
	_, err := webhooksv1.NewScalepointWebhookServiceClient(s.Conn).HandleEvent(context.Background(), &webhooksv1.HandleEventRequest{Id: "_9", EventType: "case_created"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("direct Scalepoint call: %v", err)
	}
	if after := countAll(t, s.App.Store()); after != before {
		t.Errorf("refused calls changed the store: %+v → %+v", before, after)
	}
}

// TestUnknownEventNames: unknown names are recorded, acknowledged 2xx and visible in the log.
func TestUnknownEventNames(t *testing.T) { testUnknownEventNames(t, apptest.Start(t)) }

func testUnknownEventNames(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	portal := fmt.Sprintf(`{"event":{"id":"evt-unknown","type":"user.teleported","timestamp":%d},"user":{"id":"u-9"}}`, nowMillis(0))
	app := appEvent("product.teleported", "p", "c")
	scalepoint := `{"id":"_77","type":"x","attributes":{"eventType":"weather_changed","payloadVersion":"1.0.0","correlationId":"c","timestamp":"2024-01-01T00:00:00Z"}}`
	avataBody := `{"eventType":"wallet-update","body":{"uuid":"u-1","status":"X"}}`
	for _, tc := range []struct {
		path, body string
		headers    map[string]string
		typ        string
		partner    domain.Partner
	}{
		{"/etvas-events", portal, etvasHeaders(portal), "user.teleported", domain.PartnerEtvas},
		{"/etvas/events", app, etvasHeaders(app), "product.teleported", domain.PartnerEtvas},
		{"/webhooks/scalepoint", scalepoint, scalepointHeaders(), "weather_changed", domain.PartnerScalepoint},
		{"/webhooks/avata", avataBody, avataHeaders(avataBody), "wallet-update", domain.PartnerAvata},
	} {
		before := countAll(t, st)
		r := post(t, s, tc.path, tc.body, tc.headers)
		if r.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.typ, r.Code, r.Body)
		}
		after := countAll(t, st)
		if after.inbox != before.inbox+1 || after.events != before.events+1 || after.policies != before.policies || after.customers != before.customers {
			t.Errorf("%s: %+v → %+v, want one inbox row and one event", tc.typ, before, after)
		}
		log := events(t, st, domain.EventPartnerEventUnrecognized)
		last := log[len(log)-1]
		if last.Partner != tc.partner || !strings.Contains(string(last.Data), tc.typ) {
			t.Errorf("%s: last unrecognized event = %+v %s", tc.typ, last, last.Data)
		}
		// A repeat is a duplicate: nothing new.
		if r := post(t, s, tc.path, tc.body, tc.headers); r.Code != http.StatusOK || countAll(t, st) != after {
			t.Errorf("%s: repeat: %d %s, store %+v → %+v", tc.typ, r.Code, r.Body, after, countAll(t, st))
		}
	}
	if !strings.Contains(s.Logs.String(), "unrecognized partner event recorded") {
		t.Error("unrecognized events are not logged")
	}
}
