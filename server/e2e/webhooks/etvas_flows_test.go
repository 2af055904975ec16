package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle/etvasrules"
	"github.com/covergate/covergate/server/partners/etvas"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
	"github.com/covergate/covergate/server/store"
)

// Issue 12 §2: Etvas webhook flows as Etvas behaves — retries hours later, timestamps in either
// unit, App events without id or timestamp, purchases during a profile outage, re-purchases,
// prices beyond the API's money bounds. Each runs on SQLite and on PostgreSQL.

// testClock is the gateway's clock (app.Config.Clock): real time plus an offset the test moves,
// so that a delivery can arrive "4 hours later".
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func withClock(c *testClock) func(*app.Config) { return func(cfg *app.Config) { cfg.Clock = c.now } }

// etvasFlows are the cases below; each gets a fresh gateway and its clock.
var etvasFlows = map[string]func(*testing.T, *apptest.Server, *testClock){
	"RetryHoursLater":         testEtvasRetryHoursLater,
	"TimestampUnits":          func(t *testing.T, s *apptest.Server, _ *testClock) { testEtvasTimestampUnits(t, s) },
	"AppContentDeduplication": func(t *testing.T, s *apptest.Server, _ *testClock) { testAppEventWithoutTimestamp(t, s) },
	"AppPurchaseOutage":       func(t *testing.T, s *apptest.Server, _ *testClock) { testAppPurchaseDuringProfileOutage(t, s) },
	"PortalRepurchase":        func(t *testing.T, s *apptest.Server, _ *testClock) { testPortalRepurchaseAfterCancel(t, s) },
	"PortalPriceBounds":       func(t *testing.T, s *apptest.Server, _ *testClock) { testPortalPriceBounds(t, s) },
	"AppPurchaseAfterCancel":  func(t *testing.T, s *apptest.Server, _ *testClock) { testAppPurchaseAfterCancel(t, s) },
	"AppUserDeletedFirst":     func(t *testing.T, s *apptest.Server, _ *testClock) { testAppUserDeletedBeforeProfile(t, s) },
}

func TestEtvasFlows(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for name, fn := range etvasFlows {
			t.Run(engine+"/"+name, func(t *testing.T) {
				t.Parallel() // the outage case waits for the partner's circuit breaker
				clk := &testClock{}
				opts := []func(*app.Config){fastJobs, withClock(clk)}
				if engine == "postgres" {
					dsn := postgresSchema(t)
					opts = append(opts, func(cfg *app.Config) { cfg.Database = dsn })
				}
				fn(t, apptest.Start(t, opts...), clk)
			})
		}
	}
}

// testEtvasRetryHoursLater: Etvas retries a delivery every ~4 h with the original body and
// timestamp. The retry is answered as a duplicate with no second effect; only beyond the window
// (26 h) is the timestamp refused — and by then the inbox still knows the delivery.
func testEtvasRetryHoursLater(t *testing.T, s *apptest.Server, clk *testClock) {
	st := s.App.Store()
	portal := portalPurchase("evt-retry", clk.now().UnixMilli())
	first := postEtvas(t, s, "/etvas-events", portal)
	if first.Code != http.StatusOK {
		t.Fatalf("first delivery: %d %s", first.Code, first.Body)
	}
	m := mintPurchase(t, s, "retry@example.com")
	app := appEventAt("product.purchased", m.ProductID, m.ContextID, clk.now().Unix()) // seconds
	appFirst := postEtvas(t, s, "/etvas/events", app)
	if appFirst.Code != http.StatusOK {
		t.Fatalf("first App delivery: %d %s", appFirst.Code, appFirst.Body)
	}
	customerProfile(t, s, m.ContextID, "retry@example.com")
	before := countAll(t, st)
	for i, later := range []time.Duration{4 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour} {
		clk.advance(later) // 4 h, 8 h, ... 24 h after the event
		r := postEtvas(t, s, "/etvas-events", portal)
		if r.Code != http.StatusOK || string(r.Body) != string(first.Body) {
			t.Fatalf("portal retry %d: %d %s, want the first answer %s", i+1, r.Code, r.Body, first.Body)
		}
		r = postEtvas(t, s, "/etvas/events", app)
		if ack := decode(t, r); r.Code != http.StatusOK || str(ack, "status") != "duplicate" || str(ack, "policyId") != str(decode(t, appFirst), "policyId") {
			t.Fatalf("App retry %d: %d %s", i+1, r.Code, r.Body)
		}
	}
	if after := countAll(t, st); after != before {
		t.Fatalf("retries changed the store: %+v → %+v", before, after)
	}
	// 27 h after the event: outside the window, refused (and still nothing changes).
	clk.advance(3 * time.Hour)
	for path, body := range map[string]string{"/etvas-events": portal, "/etvas/events": app} {
		r := postEtvas(t, s, path, body)
		if r.Code != http.StatusBadRequest || apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetReason() != "WEBHOOK_TIMESTAMP_STALE" {
			t.Fatalf("%s 27 h later: %d %s", path, r.Code, r.Body)
		}
	}
	// A new event with a stale timestamp is refused too, and records nothing.
	r := postEtvas(t, s, "/etvas-events", portalPurchase("evt-new-but-old", clk.now().Add(-27*time.Hour).UnixMilli()))
	if r.Code != http.StatusBadRequest {
		t.Fatalf("new stale event: %d %s", r.Code, r.Body)
	}
	if after := countAll(t, st); after != before {
		t.Fatalf("refused deliveries changed the store: %+v → %+v", before, after)
	}
}

// testEtvasTimestampUnits: seconds and milliseconds are both accepted in both formats, and the
// event time used for ordering is the same instant either way.
func testEtvasTimestampUnits(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	now := time.Now().Truncate(time.Second)
	for i, ts := range []int64{now.Unix(), now.UnixMilli()} {
		user := fmt.Sprintf("u-units-%d", i)
		body := fmt.Sprintf(`{"event":{"id":"evt-units-%d","type":"product.purchase","timestamp":%d},"user":{"id":%q},
			"data":{"product":{"id":"prod-units","price":5}}}`, i, ts, user)
		if r := postEtvas(t, s, "/etvas-events", body); r.Code != http.StatusOK {
			t.Fatalf("portal timestamp %d: %d %s", ts, r.Code, r.Body)
		}
		if p := policyByContext(t, st, api.PortalPolicyKey(user, "prod-units")); !p.StatusTime.Equal(now) {
			t.Errorf("portal timestamp %d: status time %v, want %v", ts, p.StatusTime, now)
		}
		ctxID := fmt.Sprintf("ctx-units-%d", i)
		if r := postEtvas(t, s, "/etvas/events", appEventAt("product.suspended", "p", ctxID, ts)); r.Code != http.StatusOK {
			t.Fatalf("App timestamp %d: %d %s", ts, r.Code, r.Body)
		}
		if p := policyByContext(t, st, ctxID); !p.StatusTime.Equal(now) || p.Status != domain.PolicySuspended {
			t.Errorf("App timestamp %d: %+v, want SUSPENDED at %v", ts, p, now)
		}
	}
}

// testAppEventWithoutTimestamp: an App event as documented (no id, no timestamp) is
// deduplicated on its content: the same body again is a duplicate whatever happened in
// between, so a captured body cannot suspend a policy a second time.
func testAppEventWithoutTimestamp(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	m := mintPurchase(t, s, "content@example.com")
	if r := postEtvas(t, s, "/etvas/events", appEvent("product.purchased", m.ProductID, m.ContextID)); r.Code != http.StatusOK {
		t.Fatalf("purchase: %d %s", r.Code, r.Body)
	}
	// The profile job attaches the customer's profile (and appends its event) after the answer:
	// wait for it, so that the counts below see only what the deliveries did.
	customerProfile(t, s, m.ContextID, "content@example.com")
	suspend := appEvent("product.suspended", m.ProductID, m.ContextID)
	first := decode(t, postEtvas(t, s, "/etvas/events", suspend))
	if str(first, "status") != "processed" || policyByContext(t, st, m.ContextID).Status != domain.PolicySuspended {
		t.Fatalf("suspend: %v", first)
	}
	again := decode(t, postEtvas(t, s, "/etvas/events", suspend))
	if str(again, "status") != "duplicate" || str(again, "deliveryId") != str(first, "deliveryId") {
		t.Fatalf("same suspend again: %v", again)
	}
	// Resumed (with a timestamp, so it is a new event), then the captured suspend body is
	// replayed: a duplicate, not a second suspension.
	if r := postEtvas(t, s, "/etvas/events", appEventAt("product.repurchased", m.ProductID, m.ContextID, nowMillis(time.Second))); r.Code != http.StatusOK {
		t.Fatalf("resume: %d %s", r.Code, r.Body)
	}
	before := countAll(t, st)
	replay := decode(t, postEtvas(t, s, "/etvas/events", strings.ReplaceAll(suspend, "\n", ""))) // other spacing, same content
	if str(replay, "status") != "duplicate" {
		t.Fatalf("replayed suspend: %v", replay)
	}
	if p := policyByContext(t, st, m.ContextID); p.Status != domain.PolicyActive {
		t.Fatalf("replayed suspend changed the policy: %s", p.Status)
	}
	if after := countAll(t, st); after != before {
		t.Fatalf("replay changed the store: %+v → %+v", before, after)
	}
	if n := len(events(t, st, domain.EventPolicySuspended)); n != 1 {
		t.Fatalf("policy.suspended events = %d, want 1", n)
	}
}

// portalEvent is a developer-portal product event of user u-again for product prod-again.
func portalEvent(id, typ string, ms int64, partnerID string) string {
	return fmt.Sprintf(`{"event":{"id":%q,"type":%q,"timestamp":%d},"user":{"id":"u-again","partnerId":"u-1"},
		"data":{"product":{"id":"prod-again","partnerId":%q,"name":"SicurNET","price":12.5,"priceType":"SUBSCRIPTION","priceInterval":"MONTHLY"}}}`,
		id, typ, ms, partnerID)
}

// testPortalRepurchaseAfterCancel: buying a product again after canceling it creates a new
// policy (the portal key moves to it); the same re-purchase delivered twice is still one new
// policy; the old policy stays CANCELED and is still reachable by its id.
func testPortalRepurchaseAfterCancel(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	key := api.PortalPolicyKey("u-again", "prod-again")
	t0 := nowMillis(0)
	buy := portalEvent("evt-buy-1", "product.purchase", t0, "")
	r := postEtvas(t, s, "/etvas-events", buy)
	if r.Code != http.StatusOK {
		t.Fatalf("purchase: %d %s", r.Code, r.Body)
	}
	oldID := str(decode(t, r), "data.product.partnerId")
	if r := postEtvas(t, s, "/etvas-events", portalEvent("evt-cancel-1", "product.cancel", t0+1000, oldID)); r.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Code, r.Body)
	}
	rebuy := portalEvent("evt-buy-2", "product.purchase", t0+2000, "")
	r = postEtvas(t, s, "/etvas-events", rebuy)
	if r.Code != http.StatusOK {
		t.Fatalf("re-purchase after cancel: %d %s", r.Code, r.Body)
	}
	newID := str(decode(t, r), "data.product.partnerId")
	if newID == "" || newID == oldID {
		t.Fatalf("re-purchase answered policy %q, old %q", newID, oldID)
	}
	before := countAll(t, st)
	for _, dup := range []string{rebuy, buy} { // the re-purchase again, and the first purchase again
		if r := postEtvas(t, s, "/etvas-events", dup); r.Code != http.StatusOK {
			t.Fatalf("duplicate: %d %s", r.Code, r.Body)
		}
	}
	if after := countAll(t, st); after != before || after.policies != 2 {
		t.Fatalf("duplicates changed the store: %+v → %+v", before, after)
	}
	cur := policyByContext(t, st, key)
	old, err := st.GetPolicy(context.Background(), oldID)
	if err != nil || cur.ID != newID || cur.Status != domain.PolicyActive || old.Status != domain.PolicyCanceled ||
		old.EtvasContextID == key || !strings.HasPrefix(old.EtvasContextID, key) || cur.Premium.Amount != "12.5" || cur.CustomerID != old.CustomerID {
		t.Fatalf("after re-purchase: current %+v, old %+v (%v)", cur, old, err)
	}
	// Over gRPC, both policies are there with their statuses.
	client := insurancev1.NewPolicyServiceClient(s.Conn)
	for id, want := range map[string]insurancev1.PolicyStatus{newID: insurancev1.PolicyStatus_POLICY_STATUS_ACTIVE, oldID: insurancev1.PolicyStatus_POLICY_STATUS_CANCELED} {
		got, err := client.GetPolicy(apptest.WithToken(apptest.AllKey), &insurancev1.GetPolicyRequest{PolicyId: id})
		if err != nil || got.GetPolicy().GetStatus() != want {
			t.Fatalf("GetPolicy %s: %v %v, want %s", id, got.GetPolicy().GetStatus(), err, want)
		}
	}
	// The moved key is a recorded change, with its source.
	updated := events(t, st, domain.EventPolicyUpdated)
	if !slices.ContainsFunc(updated, func(e domain.Event) bool {
		return e.Subject == domain.SubjectPolicies+oldID && strings.Contains(string(e.Data), `"source_channel":"webhook"`)
	}) {
		t.Fatalf("no policy.updated for the retired key: %+v", updated)
	}
	// A cancel of the new policy cancels it, not the old one; a late cancel of the old one
	// (by its partnerId) leaves the new one alone.
	if r := postEtvas(t, s, "/etvas-events", portalEvent("evt-cancel-old-late", "product.cancel", t0+3000, oldID)); r.Code != http.StatusOK {
		t.Fatalf("late cancel of the old policy: %d %s", r.Code, r.Body)
	}
	if got := policyByContext(t, st, key); got.ID != newID || got.Status != domain.PolicyActive {
		t.Fatalf("a cancel of the old policy touched the new one: %+v", got)
	}
	if r := postEtvas(t, s, "/etvas-events", portalEvent("evt-cancel-2", "product.cancel", t0+4000, newID)); r.Code != http.StatusOK {
		t.Fatalf("cancel of the new policy: %d %s", r.Code, r.Body)
	}
	if got := policyByContext(t, st, key); got.ID != newID || got.Status != domain.PolicyCanceled {
		t.Fatalf("after canceling the new policy: %+v", got)
	}
	// A purchase older than the cancel that ended the policy is not a re-purchase.
	if r := postEtvas(t, s, "/etvas-events", portalEvent("evt-buy-stale", "product.purchase", t0+3500, "")); r.Code != http.StatusOK {
		t.Fatalf("stale purchase: %d %s", r.Code, r.Body)
	}
	if c := countAll(t, st); c.policies != 2 {
		t.Fatalf("a purchase older than the cancel made a new policy: %d policies", c.policies)
	}
}

// testPortalPriceBounds: a price beyond the API's Money bounds is refused with a clear 400 and
// stores nothing; the largest price the API accepts is stored exactly.
func testPortalPriceBounds(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	for _, price := range []string{"1e300", "1234567890123456789012", "0.0000000000000000001", "-1", "1e-30"} {
		t.Run(price, func(t *testing.T) {
			body := fmt.Sprintf(`{"event":{"id":"evt-price-%s","type":"product.purchase","timestamp":%d},"user":{"id":"u-price"},
				"data":{"product":{"id":"prod-price","price":%s}}}`, price, nowMillis(0), price)
			before := countAll(t, st)
			r := post(t, s, "/etvas-events", body, map[string]string{
				etvas.HeaderAPIKey: etvasbox.DefaultAPIKey, etvas.HeaderWebhookSignature: etvas.SignWebhook([]byte(etvasbox.DefaultEventSecret), []byte(body)),
			})
			if r.Code != http.StatusBadRequest {
				t.Fatalf("price %s: %d %s", price, r.Code, r.Body)
			}
			status := apptest.RESTStatus(t, r)
			if reason := apptest.ErrorInfo(t, status).GetReason(); reason != "VALIDATION_FAILED" || !slices.Contains(apptest.Violations(status), "data.product.price|DECIMAL") {
				t.Fatalf("price %s: %s %v: %s", price, reason, apptest.Violations(status), r.Body)
			}
			if after := countAll(t, s.App.Store()); after != before {
				t.Fatalf("refused price changed the store: %+v → %+v", before, after)
			}
		})
	}
	largest := "999999999999999999999.5"
	body := fmt.Sprintf(`{"event":{"id":"evt-price-max","type":"product.purchase","timestamp":%d},"user":{"id":"u-price"},
		"data":{"product":{"id":"prod-price","price":%s}}}`, nowMillis(0), largest)
	if r := postEtvas(t, s, "/etvas-events", body); r.Code != http.StatusOK {
		t.Fatalf("largest price: %d %s", r.Code, r.Body)
	}
	if p := policyByContext(t, st, api.PortalPolicyKey("u-price", "prod-price")); p.Premium.Amount != largest {
		t.Fatalf("largest price stored as %q", p.Premium.Amount)
	}
}

// testAppPurchaseAfterCancel: an App purchase whose own context was canceled first (Etvas
// retrying a failed purchase hours after the customer canceled; App events carry no
// timestamp) is acknowledged 2xx — failing it would mark the purchase failed at Etvas and need
// a human — and the customer's cancel stands.
func testAppPurchaseAfterCancel(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	m := mintPurchase(t, s, "late@example.com")
	if r := postEtvas(t, s, "/etvas/events", appEvent("purchase.canceled", m.ProductID, m.ContextID)); r.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Code, r.Body)
	}
	r := postEtvas(t, s, "/etvas/events", appEvent("product.purchased", m.ProductID, m.ContextID))
	p := policyByContext(t, st, m.ContextID)
	if r.Code != http.StatusOK || str(decode(t, r), "policyId") != p.ID {
		t.Fatalf("purchase after cancel: %d %s", r.Code, r.Body)
	}
	if p.Status != domain.PolicyCanceled || p.CustomerID == "" {
		t.Fatalf("policy after a late purchase: %+v", p)
	}
	customerProfile(t, s, m.ContextID, "late@example.com")
}

// testAppUserDeletedBeforeProfile: the customer deletes their Etvas account while the profile
// job still waits for Etvas. The erasure cancels the job, so the profile can never land on the
// erased customer.
func testAppUserDeletedBeforeProfile(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	m := mintPurchase(t, s, "erase-first@example.com")
	kit := s.App.Sandbox().Etvas.Kit()
	kit.SetFaults(sandboxkit.Faults{FailNext: 1 << 30, Status: http.StatusServiceUnavailable, Paths: []string{"/user/profile"}})
	if r := postEtvas(t, s, "/etvas/events", appEvent("product.purchased", m.ProductID, m.ContextID)); r.Code != http.StatusOK {
		t.Fatalf("purchase: %d %s", r.Code, r.Body)
	}
	p := policyByContext(t, st, m.ContextID)
	if r := postEtvas(t, s, "/etvas/events", appEvent("user.deleted", m.ProductID, m.ContextID)); r.Code != http.StatusOK {
		t.Fatalf("user.deleted: %d %s", r.Code, r.Body)
	}
	kit.SetFaults(sandboxkit.Faults{})
	j, err := st.GetJob(context.Background(), mustJobID(t, st, p.CustomerID))
	if err != nil || j.Status != domain.JobFailed || j.LastError != "canceled: customer erased" || strings.Contains(j.Key+string(j.Payload), m.ContextID) {
		t.Fatalf("profile job after the erasure: %+v %v", j, err)
	}
	c, err := st.GetCustomer(context.Background(), p.CustomerID)
	if err != nil || c.Status != domain.CustomerErased || c.Profile != (domain.Profile{}) {
		t.Fatalf("customer: %+v %v", c, err)
	}
	if got := policyByID(t, st, p.ID); got.Status != domain.PolicyCanceled {
		t.Fatalf("policy of the deleted user: %s", got.Status)
	}
}

// mustJobID returns the id of the customer's only job (its key was erased with the context id).
func mustJobID(t *testing.T, st store.Store, customerID string) string {
	t.Helper()
	page, err := st.ListJobs(context.Background(), store.JobFilter{Kind: etvasrules.ProfileJobKind}, store.PageRequest{Size: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range page.Items {
		if j.CustomerID == customerID {
			return j.ID
		}
	}
	t.Fatalf("no profile job of customer %s", customerID)
	return ""
}

func policyByID(t *testing.T, st store.Store, id string) domain.Policy {
	t.Helper()
	p, err := st.GetPolicy(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
