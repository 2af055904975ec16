package webhooks

import (
	"net/http"
	"strings"
	"testing"

	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/partners/avata"
)

// TestWebhookMetrics: every delivery outcome is counted in covergate_webhook_deliveries_total.
func TestWebhookMetrics(t *testing.T) {
	s := apptest.Start(t)
	m := mintPurchase(t, s, "metrics@example.com")
	purchase := appEvent("product.purchased", m.ProductID, m.ContextID)
	postEtvas(t, s, "/etvas/events", purchase)
	postEtvas(t, s, "/etvas/events", purchase)                                     // duplicate
	postEtvas(t, s, "/etvas/events", appEvent("product.teleported", "p", "c"))     // unrecognized
	post(t, s, "/etvas/events", purchase, map[string]string{"x-api-key": "wrong"}) // rejected by the middleware
	postEtvas(t, s, "/etvas/events", `{"name":"product.purchased","payload":{}}`)  // rejected by validation
	// failed: a callback about a policy Avata does not know (Etvas webhooks no longer call a
	// partner, so only a storage failure could fail one)
	unknown, _ := avata.NewPolicyUpdateCallback(avata.PolicyUpdate{Status: avata.PolicyAccepted, UUID: "3f0e7f0a-0000-4000-8000-000000000000"})
	post(t, s, "/webhooks/avata", string(unknown), avataHeaders(string(unknown)))
	r := s.Do(t, "GET", "/metrics", "", nil, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", r.Code)
	}
	body := string(r.Body)
	for _, want := range []string{
		`covergate_webhook_deliveries_total{outcome="accepted",partner="etvas",type="product.purchased"} 1`,
		`covergate_webhook_deliveries_total{outcome="duplicate",partner="etvas",type="product.purchased"} 1`,
		`covergate_webhook_deliveries_total{outcome="unrecognized",partner="etvas",type="other"} 1`,
		`covergate_webhook_deliveries_total{outcome="rejected",partner="etvas",type="none"} 2`,
		`covergate_webhook_deliveries_total{outcome="failed",partner="avata",`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s; webhook lines:\n%s", want, grepLines(body, "covergate_webhook_deliveries_total{"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
