package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle/etvasrules"
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

// appEventAt is appEvent with a top-level timestamp (milliseconds), as the Etvas SDK sends it.
func appEventAt(name, productID, contextID string, ms int64) string {
	return fmt.Sprintf(`{"name":%q,"payload":{"productId":%q,"contextId":%q},"timestamp":%d}`, name, productID, contextID, ms)
}

// customerProfile waits until the purchase's customer carries the profile from Etvas (the
// profile job attaches it after the purchase was answered) and returns it.
func customerProfile(t *testing.T, s *apptest.Server, contextID, email string) domain.Customer {
	t.Helper()
	var c domain.Customer
	eventually(t, "profile of context "+contextID+" attached", func() (bool, string) {
		var err error
		c, err = s.App.Store().FindCustomerByEtvasContextID(context.Background(), contextID)
		return err == nil && c.Profile.Email == email, fmt.Sprintf("%+v %v", c.Profile, err)
	})
	return c
}

// TestAppEventsEveryName drives one purchase through every App event name seen in Etvas sources (the App document and the etvas-sdk).
// Repeated names carry a timestamp (as the Etvas SDK's events do), so each step is a new event;
// the same body without one is a duplicate (TestAppEventWithoutTimestampIsDeduplicatedOnContent).
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
	c := customerProfile(t, s, m.ContextID, "ada@example.com")
	if c.Profile.FirstName != "Ada" || p.CustomerID != c.ID || p.Status != domain.PolicyActive {
		t.Fatalf("after purchase: customer %+v, policy %+v", c, p)
	}

	steps := []struct {
		name string
		want domain.PolicyStatus
	}{
		{"product.suspended", domain.PolicySuspended},
		{"product.repurchased", domain.PolicyActive},
		{"purchase.suspended", domain.PolicySuspended},
		{"product.resumed", domain.PolicyActive},
		{"product.suspended", domain.PolicySuspended},
		{"purchase.resumed", domain.PolicyActive},
		{"product.suspended", domain.PolicySuspended},
		{"product.repurchased", domain.PolicyActive},
		{"purchase.canceled", domain.PolicyCanceled},
		{"product.canceled", domain.PolicyCanceled},
	}
	base := nowMillis(time.Second) // after the purchase's receive time
	for i, step := range steps {
		r := postEtvas(t, s, "/etvas/events", appEventAt(step.name, m.ProductID, m.ContextID, base+int64(i)*1000))
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
	customerProfile(t, s, m2.ContextID, "grace@example.com")
}

// TestAppPurchaseDuplicate: a re-delivered purchase gets its first answer, with status
// duplicate, without a second profile fetch and without a second effect.
func TestAppPurchaseDuplicate(t *testing.T) { testAppPurchaseDuplicate(t, apptest.Start(t)) }

func testAppPurchaseDuplicate(t *testing.T, s *apptest.Server) {
	m := mintPurchase(t, s, "dup@example.com")
	body := appEvent("product.purchased", m.ProductID, m.ContextID)
	first := decode(t, postEtvas(t, s, "/etvas/events", body))
	customerProfile(t, s, m.ContextID, "dup@example.com") // the profile job has run
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

// TestAppPurchaseDuringProfileOutage: Etvas's profile endpoint is down when the formal
// product.purchased arrives. The purchase is still answered 2xx once the policy exists (a
// failure would mark it failed at Etvas and need a human); the profile job retries, visibly,
// and attaches the customer's profile after the outage ends.
func TestAppPurchaseDuringProfileOutage(t *testing.T) {
	testAppPurchaseDuringProfileOutage(t, apptest.Start(t, fastJobs))
}

// fastJobs makes failed background jobs retry within a test's patience.
func fastJobs(cfg *app.Config) {
	cfg.JobRetryInitial, cfg.JobRetryMax, cfg.JobMaxAttempts = 20*time.Millisecond, 200*time.Millisecond, 100_000
}

func testAppPurchaseDuringProfileOutage(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	m := mintPurchase(t, s, "outage@example.com")
	kit := s.App.Sandbox().Etvas.Kit()
	kit.SetFaults(sandboxkit.Faults{FailNext: 1 << 30, Status: http.StatusServiceUnavailable, Paths: []string{"/user/profile"}})
	body := appEvent("product.purchased", m.ProductID, m.ContextID)
	r := postEtvas(t, s, "/etvas/events", body)
	if r.Code != http.StatusOK || str(decode(t, r), "status") != "processed" {
		t.Fatalf("purchase with Etvas's profile down: %d %s", r.Code, r.Body)
	}
	p := policyByContext(t, st, m.ContextID)
	if p.Status != domain.PolicyActive || p.CustomerID == "" || str(decode(t, r), "policyId") != p.ID {
		t.Fatalf("policy after the purchase: %+v", p)
	}
	// The job keeps failing while Etvas is down, and says why.
	eventually(t, "profile job retried", func() (bool, string) {
		j, err := st.FindJob(context.Background(), etvasrules.ProfileJobKind, m.ContextID)
		return err == nil && j.Status == domain.JobPending && j.Attempts >= 1 && j.LastError != "", fmt.Sprintf("%+v %v", j, err)
	})
	c, err := st.GetCustomer(context.Background(), p.CustomerID)
	if err != nil || c.Profile.Email != "" {
		t.Fatalf("customer before Etvas answered: %+v %v", c, err)
	}
	// A retried delivery meanwhile is a duplicate, not a second purchase.
	if r := postEtvas(t, s, "/etvas/events", body); r.Code != http.StatusOK || str(decode(t, r), "status") != "duplicate" {
		t.Fatalf("retried purchase: %d %s", r.Code, r.Body)
	}
	kit.SetFaults(sandboxkit.Faults{})
	// Etvas is back: the job attaches the profile (after the partner's circuit breaker lets
	// calls through again).
	waitFor(t, time.Minute, "profile attached after the outage", func() (bool, string) {
		j, err := st.FindJob(context.Background(), etvasrules.ProfileJobKind, m.ContextID)
		return err == nil && j.Status == domain.JobDone, fmt.Sprintf("%+v %v", j, err)
	})
	c, err = st.GetCustomer(context.Background(), p.CustomerID)
	if err != nil || c.Profile.Email != "outage@example.com" || c.Profile.FirstName != "Ada" {
		t.Fatalf("customer after the outage: %+v %v", c, err)
	}
	if got := policyByContext(t, st, m.ContextID); got.ID != p.ID || got.CustomerID != c.ID {
		t.Fatalf("policy after the outage: %+v", got)
	}
	updated := events(t, st, domain.EventCustomerUpdated)
	if len(updated) == 0 || !strings.Contains(string(updated[len(updated)-1].Data), `"source_channel":"job"`) {
		t.Fatalf("customer.updated from the job: %+v", updated)
	}
	if n := len(events(t, st, domain.EventPolicyCreated)); n != 1 {
		t.Fatalf("policy.created events = %d, want 1", n)
	}
}
