package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// appEvent is an Etvas App event exactly as etvas-app.md shows it (no timestamp).
func appEvent(name, productID, contextID string) string {
	return fmt.Sprintf(`{
  "name": %q,
  "payload": {
    "productId": %q,
    "contextId": %q
  }
}`, name, productID, contextID)
}

// mintPurchase makes the Etvas sandbox know a purchase context with a profile.
func mintPurchase(t *testing.T, s *apptest.Server, email string) etvasbox.MintResponse {
	t.Helper()
	m, err := s.App.Sandbox().Etvas.Mint(etvasbox.MintRequest{Profile: &etvasbox.Profile{
		FirstName: "Ada", LastName: "Lovelace", Email: email, PhoneNumber: "+4512345678",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func profileFetches(s *apptest.Server) int {
	n := 0
	for _, e := range s.App.Sandbox().Etvas.Kit().Requests() {
		if e.Path == "/user/profile" {
			n++
		}
	}
	return n
}

// TestAppEventsEveryName drives one purchase through every App event name PARTNER-NOTES lists,
// in the documents' shape (no timestamp): suspend/resume pairs work any number of times, even
// though the bodies repeat exactly.
func TestAppEventsEveryName(t *testing.T) { testAppEventsEveryName(t, apptest.Start(t)) }

func testAppEventsEveryName(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	m := mintPurchase(t, s, "ada@example.com")

	r := postEtvas(t, s, "/etvas/events", appEvent("product.purchased", m.ProductID, m.ContextID))
	if r.Code != http.StatusOK {
		t.Fatalf("purchase: %d %s", r.Code, r.Body)
	}
	ack := decode(t, r)
	p := policyByContext(t, st, m.ContextID)
	if str(ack, "status") != "processed" || str(ack, "policyId") != p.ID || str(ack, "deliveryId") == "" {
		t.Fatalf("purchase answer = %s (policy %s)", r.Body, p.ID)
	}
	c, err := st.FindCustomerByEtvasContextID(context.Background(), m.ContextID)
	if err != nil || c.Profile.Email != "ada@example.com" || c.Profile.FirstName != "Ada" || p.CustomerID != c.ID || p.Status != domain.PolicyActive {
		t.Fatalf("after purchase: customer %+v (%v), policy %+v", c, err, p)
	}

	steps := []struct {
		name string
		want domain.PolicyStatus
	}{
		{"product.suspended", domain.PolicySuspended},
		{"product.repurchased", domain.PolicyActive},
		{"purchase.suspended", domain.PolicySuspended},
		{"product.resumed", domain.PolicyActive},
		{"product.suspended", domain.PolicySuspended}, // the very same body as the first step
		{"purchase.resumed", domain.PolicyActive},
		{"product.suspended", domain.PolicySuspended},
		{"product.repurchased", domain.PolicyActive},
		{"purchase.canceled", domain.PolicyCanceled},
		{"product.canceled", domain.PolicyCanceled},
	}
	for i, step := range steps {
		r := postEtvas(t, s, "/etvas/events", appEvent(step.name, m.ProductID, m.ContextID))
		if r.Code != http.StatusOK {
			t.Fatalf("step %d %s: %d %s", i, step.name, r.Code, r.Body)
		}
		if got := policyByContext(t, st, m.ContextID).Status; got != step.want {
			t.Fatalf("step %d %s: policy %s, want %s", i, step.name, got, step.want)
		}
	}
	if n := len(events(t, st, domain.EventPolicySuspended)); n != 4 {
		t.Errorf("policy.suspended events = %d, want 4", n)
	}
	if n := len(events(t, st, domain.EventPolicyCanceled)); n != 1 {
		t.Errorf("policy.canceled events = %d, want 1", n)
	}

	// purchase.succeeded is the other name of a purchase.
	m2 := mintPurchase(t, s, "grace@example.com")
	if r := postEtvas(t, s, "/etvas/events", appEvent("purchase.succeeded", m2.ProductID, m2.ContextID)); r.Code != http.StatusOK {
		t.Fatalf("purchase.succeeded: %d %s", r.Code, r.Body)
	}
	if got := policyByContext(t, st, m2.ContextID).Status; got != domain.PolicyActive {
		t.Fatalf("purchase.succeeded: policy %s", got)
	}
}

// TestAppPurchaseDuplicate: a re-delivered purchase gets its first answer, with status
// duplicate, without a second profile fetch and without a second effect.
func TestAppPurchaseDuplicate(t *testing.T) { testAppPurchaseDuplicate(t, apptest.Start(t)) }

func testAppPurchaseDuplicate(t *testing.T, s *apptest.Server) {
	m := mintPurchase(t, s, "dup@example.com")
	body := appEvent("product.purchased", m.ProductID, m.ContextID)
	first := decode(t, postEtvas(t, s, "/etvas/events", body))
	before, fetches := countAll(t, s.App.Store()), profileFetches(s)
	for _, variant := range []string{body, strings.ReplaceAll(body, "\n", "")} { // same event, other spacing
		r := postEtvas(t, s, "/etvas/events", variant)
		again := decode(t, r)
		if r.Code != http.StatusOK || str(again, "status") != "duplicate" || str(again, "deliveryId") != str(first, "deliveryId") ||
			str(again, "policyId") != str(first, "policyId") {
			t.Fatalf("duplicate answer = %d %s, first %v", r.Code, r.Body, first)
		}
	}
	if after := countAll(t, s.App.Store()); after != before {
		t.Errorf("duplicate changed the store: %+v → %+v", before, after)
	}
	if profileFetches(s) != fetches {
		t.Error("duplicate fetched the profile again")
	}
}

// TestAppPurchaseFormalFailure: when the profile cannot be fetched the purchase is answered
// non-2xx with a clear error, nothing is recorded, and Etvas's retry succeeds.
func TestAppPurchaseFormalFailure(t *testing.T) {
	s := apptest.Start(t)
	m := mintPurchase(t, s, "retry@example.com")
	kit := s.App.Sandbox().Etvas.Kit()
	kit.SetFaults(sandboxkit.Faults{FailNext: 100, Status: http.StatusServiceUnavailable, Paths: []string{"/user/profile"}})
	before := countAll(t, s.App.Store())
	body := appEvent("product.purchased", m.ProductID, m.ContextID)
	r := postEtvas(t, s, "/etvas/events", body)
	if r.Code < 500 {
		t.Fatalf("purchase with Etvas down: %d %s", r.Code, r.Body)
	}
	if info := apptest.ErrorInfo(t, apptest.RESTStatus(t, r)); !strings.HasPrefix(info.GetReason(), "ERROR_REASON_PARTNER_") {
		t.Errorf("reason = %s", info.GetReason())
	}
	if after := countAll(t, s.App.Store()); after != before {
		t.Fatalf("failed purchase left state: %+v → %+v", before, after)
	}
	kit.SetFaults(sandboxkit.Faults{})
	if r := postEtvas(t, s, "/etvas/events", body); r.Code != http.StatusOK || str(decode(t, r), "status") != "processed" {
		t.Fatalf("retried purchase: %d %s", r.Code, r.Body)
	}
}
