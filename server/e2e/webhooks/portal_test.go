package webhooks

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
)

// portalExamples are the developer-portal event/answer pairs of the committed fixtures
// (server/partners/etvas/testdata/documented), in document order; the example without a body
// (User Deleted) is left out.
func portalExamples(t *testing.T) []struct{ typ, request, response string } {
	t.Helper()
	var out []struct{ typ, request, response string }
	for _, e := range documentedInbound(t) {
		if e.partner == domain.PartnerEtvas && e.document == "developer-portal" && e.body != nil {
			out = append(out, struct{ typ, request, response string }{e.event, string(e.body), string(e.answer)})
		}
	}
	if len(out) != 6 {
		t.Fatalf("developer-portal examples with a body: %d, want the 6 the document shows", len(out))
	}
	return out
}

// TestPortalDocumentExamples posts every developer-portal example, signed and with a current
// timestamp, in document order, and checks the documented answer shape, our ids in it, and the
// resulting state.
func TestPortalDocumentExamples(t *testing.T) {
	s := apptest.Start(t)
	st := s.App.Store()
	ctx := context.Background()
	for i, ex := range portalExamples(t) {
		body := withTimestamp(ex.request, nowMillis(0))
		r := postEtvas(t, s, "/etvas-events", body)
		if r.Code != http.StatusOK {
			t.Fatalf("example %d (%s): status %d: %s", i, ex.typ, r.Code, r.Body)
		}
		got, req, doc := decode(t, r), decode(t, apptest.Result{Body: []byte(body)}), decode(t, apptest.Result{Body: []byte(ex.response)})
		if gs, ds := slices.Sorted(maps.Keys(shape(got, "", nil))), slices.Sorted(maps.Keys(shape(doc, "", nil))); !slices.Equal(gs, ds) {
			t.Errorf("%s: answer shape %v, documented %v", ex.typ, gs, ds)
		}
		if path(got, "status") != float64(200) || str(got, "event.id") != str(req, "event.id") {
			t.Errorf("%s: answer %s does not acknowledge event %s", ex.typ, r.Body, str(req, "event.id"))
		}
		userID := str(req, "user.id")
		customer, err := st.FindCustomerByEtvasUserID(ctx, userID)
		if err != nil {
			t.Fatalf("%s: customer of Etvas user %s: %v", ex.typ, userID, err)
		}
		switch ex.typ {
		case "user.create", "user.update":
			if str(got, "data.user.id") != userID || str(got, "data.user.partnerId") != customer.ID {
				t.Errorf("%s: data.user = %v, want {%s %s}", ex.typ, path(got, "data.user"), userID, customer.ID)
			}
		default:
			productID := str(req, "data.product.id")
			policy := policyByContext(t, st, api.PortalPolicyKey(userID, productID))
			if str(got, "user.id") != userID || str(got, "user.partnerId") != customer.ID ||
				str(got, "data.product.id") != productID || str(got, "data.product.partnerId") != policy.ID {
				t.Errorf("%s: answer %s, want user {%s %s} product {%s %s}", ex.typ, r.Body, userID, customer.ID, productID, policy.ID)
			}
		}
	}

	buyer, err := st.FindCustomerByEtvasUserID(ctx, "52f3d719-a192-4153-a05c-2b6bcc26c839")
	if err != nil {
		t.Fatal(err)
	}
	if p := buyer.Profile; p.Email != "john@doe.com" || p.FirstName != "john" || p.Region != "Brandenburg" || p.PostalCode != "10101" ||
		buyer.IdentityVerification.Status != "verified" {
		t.Errorf("customer profile = %+v %+v", p, buyer.IdentityVerification)
	}
	bought := policyByContext(t, st, api.PortalPolicyKey(buyer.EtvasUserID, "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6"))
	want := domain.Policy{Status: domain.PolicyActive, CustomerID: buyer.ID, Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct,
		ProductName: "SicurNET", Premium: domain.Money{Amount: "123.45", Currency: "EUR"}, Billing: domain.Billing{PriceType: "recurring", PriceInterval: "month"}}
	if bought.Status != want.Status || bought.CustomerID != want.CustomerID || bought.Partner != want.Partner || bought.Kind != want.Kind ||
		bought.ProductName != want.ProductName || bought.Premium != want.Premium || bought.Billing != want.Billing {
		t.Errorf("purchased policy = %+v", bought)
	}
	// The cancel/suspend/resume examples name another user (4a759…) who never purchased: the
	// cancel creates that purchase as CANCELED (so a late purchase cannot revive it); suspend and
	// resume cannot apply to a canceled policy and are recorded as ignored.
	other := policyByContext(t, st, api.PortalPolicyKey("4a759a3a-9f3b-48a3-b570-95426285f7c2", "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6"))
	if other.Status != domain.PolicyCanceled {
		t.Errorf("policy of the cancel example = %s, want CANCELED", other.Status)
	}
	var types []string
	for _, e := range events(t, st) {
		types = append(types, e.Type)
	}
	wantTypes := []string{
		domain.EventCustomerCreated,                            // user.create
		domain.EventPolicyCreated, domain.EventPolicyActivated, // product.purchase
		domain.EventCustomerCreated,                           // product.cancel: the other user
		domain.EventPolicyCreated, domain.EventPolicyCanceled, // product.cancel
	}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("event log = %v, want %v", types, wantTypes)
	}
}
