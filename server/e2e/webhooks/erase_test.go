package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// TestUserDeleteErasesEverywhere: after user.delete / user.deleted the customer's e-mail is in no
// table at all (raw inbox payloads and stored answers included), the customer is ERASED, its
// Etvas policies are canceled, and customer.erased is in the log.
func TestUserDeleteErasesEverywhere(t *testing.T) {
	testUserDeleteErasesEverywhere(t, apptest.Start(t))
}

func testUserDeleteErasesEverywhere(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	ctx := context.Background()

	// Portal format: the profile arrives with user.create; the delete repeats it.
	const email = "erase.me@example.com"
	create := fmt.Sprintf(`{"event":{"id":"e1","type":"user.create","timestamp":%d},"user":{"id":"del-user","partnerId":null},
		"data":{"user":{"firstName":"Erase","lastName":"Me","email":%q,"phone":"+4999"}}}`, nowMillis(0), email)
	purchase := portalStatus("e2", "product.purchase", "del-user", "prod-x", nowMillis(0))
	del := fmt.Sprintf(`{"event":{"id":"e3","type":"user.delete","timestamp":%d},"user":{"id":"del-user"},
		"data":{"user":{"email":%q}}}`, nowMillis(0), email)
	for _, b := range []string{create, purchase} {
		if r := postEtvas(t, s, "/etvas-events", b); r.Code != http.StatusOK {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	}
	c, err := st.FindCustomerByEtvasUserID(ctx, "del-user")
	if err != nil {
		t.Fatal(err)
	}
	if found, _ := st.FindText(ctx, email); len(found) == 0 {
		t.Fatal("the e-mail should be stored before the delete (test precondition)")
	}
	r := postEtvas(t, s, "/etvas-events", del)
	if r.Code != http.StatusOK || str(decode(t, r), "data.user.partnerId") != c.ID {
		t.Fatalf("user.delete: %d %s", r.Code, r.Body)
	}
	assertErased(t, s, c.ID, email)
	// The Etvas user id is gone too, including from the portal policy key.
	if found, err := st.FindText(ctx, "del-user"); err != nil || len(found) != 0 {
		t.Errorf("the Etvas user id is still in %v (%v)", found, err)
	}
	policies, err := st.ListPolicies(ctx, store.PolicyFilter{CustomerID: c.ID}, store.PageRequest{Size: 10})
	if err != nil || len(policies.Items) != 1 || policies.Items[0].Status != domain.PolicyCanceled {
		t.Errorf("policies after user.delete = %+v (%v)", policies.Items, err)
	}
	// A repeated delete is a duplicate with the same answer (rebuilt: the stored one is redacted).
	before := countAll(t, st)
	if r2 := postEtvas(t, s, "/etvas-events", del); r2.Code != http.StatusOK || string(r2.Body) != string(r.Body) || countAll(t, st) != before {
		t.Fatalf("repeated user.delete: %d %s, first answer %s", r2.Code, r2.Body, r.Body)
	}

	// App format: the profile comes from Etvas at purchase; user.deleted carries it again.
	const email2 = "app.erase@example.com"
	m := mintPurchase(t, s, email2)
	if r := postEtvas(t, s, "/etvas/events", appEvent("product.purchased", m.ProductID, m.ContextID)); r.Code != http.StatusOK {
		t.Fatalf("purchase: %d %s", r.Code, r.Body)
	}
	c2, err := st.FindCustomerByEtvasContextID(ctx, m.ContextID)
	if err != nil {
		t.Fatal(err)
	}
	deleted := fmt.Sprintf(`{"name":"user.deleted","payload":{"productId":%q,"contextId":%q},
		"profile":{"firstName":"Ada","lastName":"Lovelace","email":%q,"phoneNumber":"+4512345678"}}`, m.ProductID, m.ContextID, email2)
	if r := postEtvas(t, s, "/etvas/events", deleted); r.Code != http.StatusOK || str(decode(t, r), "status") != "processed" {
		t.Fatalf("user.deleted: %d %s", r.Code, r.Body)
	}
	assertErased(t, s, c2.ID, email2)
	if p := policyByContext(t, st, m.ContextID); p.Status != domain.PolicyCanceled {
		t.Errorf("App policy after user.deleted = %s", p.Status)
	}

	// A delete for someone we never knew is acknowledged, and its body is not kept either.
	const stranger = "stranger@example.com"
	unknown := fmt.Sprintf(`{"name":"user.deleted","payload":{"contextId":"never-seen"},"profile":{"email":%q}}`, stranger)
	if r := postEtvas(t, s, "/etvas/events", unknown); r.Code != http.StatusOK || str(decode(t, r), "status") != "ignored" {
		t.Fatalf("unknown user.deleted: %d %s", r.Code, r.Body)
	}
	if found, err := st.FindText(ctx, stranger); err != nil || len(found) != 0 {
		t.Errorf("the stranger's e-mail is stored in %v (%v)", found, err)
	}
}

func assertErased(t *testing.T, s *apptest.Server, customerID, email string) {
	t.Helper()
	st := s.App.Store()
	found, err := st.FindText(context.Background(), email)
	if err != nil || len(found) != 0 {
		t.Errorf("after erasure %s is still in %v (%v)", email, found, err)
	}
	c, err := st.GetCustomer(context.Background(), customerID)
	if err != nil || c.Status != domain.CustomerErased || c.Profile != (domain.Profile{}) {
		t.Errorf("customer after erasure = %+v (%v)", c, err)
	}
	n := 0
	for _, e := range events(t, st, domain.EventCustomerErased) {
		if e.Subject == domain.SubjectCustomers+customerID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("customer.erased events for %s = %d, want 1", customerID, n)
	}
}
