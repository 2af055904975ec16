package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
)

func portalStatus(eventID, typ, userID, productID string, ms int64) string {
	return fmt.Sprintf(`{"event":{"id":%q,"type":%q,"timestamp":%d},"user":{"id":%q},
		"data":{"product":{"id":%q,"name":"Cover","price":12.5,"priceType":"SUBSCRIPTION","priceInterval":"YEARLY"}}}`,
		eventID, typ, ms, userID, productID)
}

// TestOutOfOrderEvents: events carrying timestamps never undo newer state, whatever order they
// arrive in; a duplicate of an old event changes nothing.
func TestOutOfOrderEvents(t *testing.T) { testOutOfOrderEvents(t, apptest.Start(t)) }

func testOutOfOrderEvents(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	base := nowMillis(-time.Minute)
	at := func(sec int) int64 { return base + int64(sec)*1000 }
	tests := []struct {
		name   string
		events []struct {
			typ string
			sec int
		}
		want domain.PolicyStatus
	}{
		{"late suspend after resume", []struct {
			typ string
			sec int
		}{{"product.purchase", 0}, {"product.resume", 30}, {"product.suspend", 20}}, domain.PolicyActive},
		{"in order suspend resume suspend", []struct {
			typ string
			sec int
		}{{"product.purchase", 0}, {"product.suspend", 10}, {"product.resume", 20}, {"product.suspend", 30}}, domain.PolicySuspended},
		{"cancel before its purchase", []struct {
			typ string
			sec int
		}{{"product.cancel", 40}, {"product.purchase", 0}}, domain.PolicyCanceled},
		{"suspend before its purchase, then resume", []struct {
			typ string
			sec int
		}{{"product.suspend", 10}, {"product.purchase", 0}, {"product.resume", 20}}, domain.PolicyActive},
		{"old purchase retried after cancel", []struct {
			typ string
			sec int
		}{{"product.purchase", 0}, {"product.cancel", 10}, {"product.resume", 5}}, domain.PolicyCanceled},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, product := fmt.Sprintf("user-%d", i), fmt.Sprintf("product-%d", i)
			for j, ev := range tt.events {
				body := portalStatus(fmt.Sprintf("evt-%d-%d", i, j), ev.typ, user, product, at(ev.sec))
				if r := postEtvas(t, s, "/etvas-events", body); r.Code != http.StatusOK {
					t.Fatalf("%s: %d %s", ev.typ, r.Code, r.Body)
				}
			}
			p := policyByContext(t, st, api.PortalPolicyKey(user, product))
			if p.Status != tt.want {
				t.Fatalf("policy %s, want %s", p.Status, tt.want)
			}
			if tt.want == domain.PolicyActive || p.Premium.Amount != "" {
				if p.Premium != (domain.Money{Amount: "12.5", Currency: "EUR"}) || p.Billing != (domain.Billing{PriceType: "recurring", PriceInterval: "year"}) {
					t.Errorf("policy terms = %+v %+v", p.Premium, p.Billing)
				}
			}
		})
	}

	// Re-sending the first event of a finished sequence is a duplicate with the same answer.
	first := portalStatus("evt-0-0", "product.purchase", "user-0", "product-0", at(0))
	before := countAll(t, st)
	r := postEtvas(t, s, "/etvas-events", first)
	if r.Code != http.StatusOK || countAll(t, st) != before {
		t.Fatalf("duplicate: %d %s, store %+v → %+v", r.Code, r.Body, before, countAll(t, st))
	}
	if p := policyByContext(t, st, api.PortalPolicyKey("user-0", "product-0")); p.Status != domain.PolicyActive ||
		str(decode(t, r), "data.product.partnerId") != p.ID {
		t.Fatalf("duplicate answer %s for policy %+v", r.Body, p)
	}
	_ = context.Background()
}
