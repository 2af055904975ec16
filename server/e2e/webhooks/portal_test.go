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

// portalExamples are every request/response pair of etvas-developer-portal.txt, verbatim except
// for the non-breaking spaces of the web page's rendering (real JSON has none).
var portalExamples = []struct {
	typ, request, response string
}{
	{"user.create",
		`{
  "event": {
    "id": "5fa30c48-7c7f-4440-bbc6-fdd927e7dc48",
    "type": "user.create",
    "timestamp": 19786584376
  },
  "user": {
    "id": "52f3d719-a192-4153-a05c-2b6bcc26c839",
    "partnerId": null,
    "auth": {
      "token": "378aee42-49a8-41ef-acdb-52d1259814de",
      "expires": 2086584376
    }
  },
  "data": {
    "user": {
      "salutation":"Mr.",
      "firstName": "john",
      "lastName": "Doe",
      "email": "john@doe.com",
      "phone": "+1303500600",
      "dateOfBirth": "1990-12-21",
      "address1":"2698 Sundown Lane",
      "address2":"Ap. 255",
      "city":"Berlin",
      "region/state":"Brandenburg",
      "country":"Germany",
      "postalCode": "10101"
    },
    "webIdentity": {
      "status": "verified",
      "verificationId": "450a936a-aa4a-4d3d-a3dd-333d73c8ba99"
    }
  }
}`,
		`{
  "status": 200,
  "event": {
    "id": "5fa30c48-7c7f-4440-bbc6-fdd927e7dc48"
  },
  "data": {
    "user": {
      "id": "52f3d719-a192-4153-a05c-2b6bcc26c839",
      "partnerId": "u-111111"
    }
  }
}`},
	{"product.purchase",
		`{
  "event": {
    "id": "5fa30c48-7c7f-4440-bbc6-fdd927e7dc48",
    "type": "product.purchase",
    "timestamp": 19786584376
  },
  "user": {
    "id": "52f3d719-a192-4153-a05c-2b6bcc26c839",
    "partnerId": "u-12345",
    "auth": {
      "token": "378aee42-49a8-41ef-acdb-52d1259814de",
      "expires": 2086584376
    }
  },
  "data": {
    "product": {
      "id": "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6",
      "name": "SicurNET",
      "price": 123.45,
      "priceType": "SUBSCRIPTION",
      "priceInterval": "MONTHLY"
    }
  }
}`,
		`{
  "status": 200,
  "event": {
    "id": "5fa30c48-7c7f-4440-bbc6-fdd927e7dc48"
  },
  "user": {
    "id": "4a759a3a-9f3b-48a3-b570-95426285f7c2",
    "partnerId": "u-111111"
  },
  "data": {
    "product": {
      "id": "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6",
      "partnerId": "p-222222"
    }
  }
}`},
	{"product.cancel",
		`{
  "event": {
    "id": "bd6016af-ffe8-422d-9419-7a71d890e002",
    "type": "product.cancel",
    "timestamp": 19786584376
  },
  "user": {
    "id": "4a759a3a-9f3b-48a3-b570-95426285f7c2",
    "partnerId": "u-111111",
    "auth": {
      "token": "378aee42-49a8-41ef-acdb-52d1259814de",
      "expires": 2086584376
    }
  },
  "data": {
    "product": {
      "id": "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6",
      "partnerId": "p-222222",
      "name": "SicurNET",
      "price": 123.45,
      "priceType": "SUBSCRIPTION",
      "priceInterval": "MONTHLY"
    }
  }
}`,
		`{
  "status": 200,
  "event": {
    "id": "bd6016af-ffe8-422d-9419-7a71d890e002"
  },
  "user": {
    "id": "4a759a3a-9f3b-48a3-b570-95426285f7c2",
    "partnerId": "u-111111"
  },
  "data": {
    "product": {
      "id": "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6",
      "partnerId": "p-222222"
    }
  }
}`},
	{"product.suspend",
		`{
  "event": {
    "id": "6fc09149-3102-4f8a-9cc0-77cddfb5d700",
    "type": "product.suspend",
    "timestamp": 19786584376
  },
  "user": {
    "id": "4a759a3a-9f3b-48a3-b570-95426285f7c2",
    "partnerId": "u-111111",
    "auth": {
      "token": "378aee42-49a8-41ef-acdb-52d1259814de",
      "expires": 2086584376
    }
  },
  "data": {
    "product": {
      "id": "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6",
      "partnerId": "p-222222",
      "name": "SicurNET",
      "price": 123.45,
      "priceType": "SUBSCRIPTION",
      "priceInterval": "MONTHLY"
    }
  }
}`,
		`{
  "status": 200,
  "event": {
    "id": "6fc09149-3102-4f8a-9cc0-77cddfb5d700"
  },
  "user": {
    "id": "52f3d719-a192-4153-a05c-2b6bcc26c839",
    "partnerId": "u-111111"
  },
  "data": {
    "product": {
      "id": "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6",
      "partnerId": "p-222222"
    }
  }
}`},
	{"product.resume",
		`{
  "event": {
    "id": "10276225-6741-4abc-9b06-fdcedace8005",
    "type": "product.resume",
    "timestamp": 19786584376
  },
  "user": {
    "id": "4a759a3a-9f3b-48a3-b570-95426285f7c2",
    "partnerId": "u-111111",
    "auth": {
      "token": "378aee42-49a8-41ef-acdb-52d1259814de",
      "expires": 2086584376
    }
  },
  "data": {
    "product": {
      "id": "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6",
      "partnerId": "p-222222",
      "name": "SicurNET",
      "price": 123.45,
      "priceType": "SUBSCRIPTION",
      "priceInterval": "MONTHLY"
    }
  }
}`,
		`{
  "status": 200,
  "event": {
    "id": "10276225-6741-4abc-9b06-fdcedace8005"
  },
  "user": {
    "id": "52f3d719-a192-4153-a05c-2b6bcc26c839",
    "partnerId": "u-111111"
  },
  "data": {
    "product": {
      "id": "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6",
      "partnerId": "p-222222"
    }
  }
}`},
	{"user.update",
		`{
  "event": {
    "id": "2a689b77-c2d5-4152-a417-650f717711b9",
    "type": "user.update",
    "timestamp": 19786584376
  },
  "user": {
    "id": "52f3d719-a192-4153-a05c-2b6bcc26c839",
    "partnerId": "u-111111",
    "auth": {
      "token": "378aee42-49a8-41ef-acdb-52d1259814de",
      "expires": 2086584376
    }
  },
  "data": {
    "user": {
      "salutation":"Mr.",
      "firstName": "john",
      "lastName": "Doe",
      "email": "john@doe.com",
      "phone": "+1303500600",
      "dateOfBirth": "1990-12-21",
      "address1":"2698 Sundown Lane",
      "address2":"Ap. 255",
      "city":"Berlin",
      "region/state":"Brandenburg",
      "country":"Germany",
      "postalCode": "10101"
    },
    "webIdentity": {
      "status": "verified",
      "verificationId": "450a936a-aa4a-4d3d-a3dd-333d73c8ba99"
    }
  }
}`,
		`{
  "status": 200,
  "event": {
    "id": "2a689b77-c2d5-4152-a417-650f717711b9"
  },
  "data": {
    "user": {
      "id": "52f3d719-a192-4153-a05c-2b6bcc26c839",
      "partnerId": "u-111111"
    }
  }
}`},
}

// TestPortalDocumentExamples posts every developer-portal example, signed and with a current
// timestamp, in document order, and checks the documented answer shape, our ids in it, and the
// resulting state.
func TestPortalDocumentExamples(t *testing.T) {
	s := apptest.Start(t)
	st := s.App.Store()
	ctx := context.Background()
	for i, ex := range portalExamples {
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
