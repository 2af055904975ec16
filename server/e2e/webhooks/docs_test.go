package webhooks

import (
	"context"
	"net/http"
	"testing"

	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
)

// appDocExamples are the event bodies of etvas-app.md, verbatim, in document order.
var appDocExamples = []struct {
	name, body string
	want       domain.PolicyStatus
}{
	{"product.purchased", `{
  "name": "product.purchased",
  "payload": {
    "productId": "uuid-36-char-long-string",
    "contextId": "uuid-36-char-long-string"
  }
}`, domain.PolicyActive},
	{"purchase.canceled", `{
  "name": "purchase.canceled",
  "payload": {
    "productId": "uuid-36-char-long-string",
    "contextId": "uuid-36-char-long-string"
  }
}`, domain.PolicyCanceled},
	// A canceled purchase is final: suspend and repurchase are recorded as ignored.
	{"product.suspended", `{
  "name": "product.suspended",
  "payload": {
    "productId": "uuid-36-char-long-string",
    "contextId": "uuid-36-char-long-string"
  }
}`, domain.PolicyCanceled},
	{"product.repurchased", `{
  "name": "product.repurchased",
  "payload": {
    "productId": "uuid-36-char-long-string",
    "contextId": "uuid-36-char-long-string"
  }
}`, domain.PolicyCanceled},
	{"user.deleted", `{
  "name": "user.deleted",
  "payload": {
    "productId": "uuid-36-char-long-string",
    "contextId": "uuid-36-char-long-string"
  }
}`, domain.PolicyCanceled},
}

// TestAppDocumentExamples posts the etvas-app.md examples verbatim (signed, as the sandbox's
// event secret requires) and checks every one is acknowledged 2xx with the right effect.
func TestAppDocumentExamples(t *testing.T) {
	s := apptest.Start(t)
	st := s.App.Store()
	const ctxID = "uuid-36-char-long-string"
	if _, err := s.App.Sandbox().Etvas.Mint(etvasbox.MintRequest{ContextID: ctxID, ProductID: ctxID,
		Profile: &etvasbox.Profile{FirstName: "Doc", LastName: "Example", Email: "doc.example@example.com"}}); err != nil {
		t.Fatal(err)
	}
	for _, ex := range appDocExamples {
		r := postEtvas(t, s, "/etvas/events", ex.body)
		if r.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", ex.name, r.Code, r.Body)
		}
		if got := policyByContext(t, st, ctxID).Status; got != ex.want {
			t.Fatalf("%s: policy %s, want %s", ex.name, got, ex.want)
		}
	}
	if found, err := st.FindText(context.Background(), "doc.example@example.com"); err != nil || len(found) != 0 {
		t.Fatalf("after user.deleted the e-mail is in %v (%v)", found, err)
	}
}

// avataDocExamples are the two callback bodies of avata-api.txt, verbatim.
var avataDocExamples = []string{`{
"eventType": "policy-update",
"body": {
"status": "APPROVED",
"uuid": "d7b9f5b0-4b4b-11eb-ae93-0242ac130002",
"reference": "1234567890",
"details": {
"policyId": "1234567890",
"policyType": "DIGITAL_ASSET",
"startDateTime": "2021-01-01T00:00:00.000Z",
"endDateTime": "2021-01-02T00:00:00.000Z"
}
}
}`, `{
"eventType": "claim-update",
"body": {
"status": "APPROVED",
"uuid": "d7b9f5b0-4b4b-11eb-ae93-0242ac130002",
"policyUuid": "d7b9f5b0-4b4b-11eb-ae93-0242ac130002",
"details": {
"claimId": "1234567890"
}
}
}`}

// TestAvataDocumentExamples: the documented callbacks decode and verify, but name a policy Avata
// does not have; verify-by-fetch refuses them with Avata's 404 and nothing is recorded, so a
// forged-but-signed callback cannot invent state.
func TestAvataDocumentExamples(t *testing.T) {
	s := apptest.Start(t)
	for _, body := range avataDocExamples {
		before := countAll(t, s.App.Store())
		r := post(t, s, "/webhooks/avata", body, avataHeaders(body))
		if r.Code != http.StatusNotFound {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if reason := apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetReason(); reason != "PARTNER_NOT_FOUND" {
			t.Errorf("reason %s", reason)
		}
		if after := countAll(t, s.App.Store()); after != before {
			t.Errorf("store changed: %+v → %+v", before, after)
		}
	}
}
