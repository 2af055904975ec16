package etvasrules_test

import (
	"errors"
	"testing"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle/etvasrules"
	"github.com/covergate/covergate/server/partners/etvas"
)

func TestPortalPrice(t *testing.T) {
	body := func(price string) []byte { return []byte(`{"data":{"product":{"price":` + price + `}}}`) }
	for _, tt := range []struct {
		price, want string
		ok          bool
	}{
		{"123.45", "123.45", true},
		{"0.30000000000000004", "0.30000000000000004", true}, // exact, never through float64
		{"1.5e2", "150", true},
		{`"9.90"`, "9.90", true},
		{"null", "", true},
		{"999999999999999999999", "999999999999999999999", true},
		{"1e300", "", false},
		{"1e21", "", false}, // 22 integer digits
		{"-1", "", false},
		{"1e-19", "", false},
		{`"cheap"`, "", false},
	} {
		m, err := etvasrules.PortalPrice(body(tt.price), "EUR")
		var invalid *etvasrules.InvalidFieldError
		switch {
		case tt.ok && (err != nil || m.Amount != tt.want || (m.Amount != "" && m.Currency != "EUR")):
			t.Errorf("PortalPrice(%s) = %+v %v, want %s", tt.price, m, err, tt.want)
		case !tt.ok && (!errors.As(err, &invalid) || invalid.Field != "data.product.price"):
			t.Errorf("PortalPrice(%s) = %+v %v, want a data.product.price violation", tt.price, m, err)
		}
	}
}

func TestBillingAndTarget(t *testing.T) {
	if b := etvasrules.Billing("SUBSCRIPTION", "monthly"); b != (domain.Billing{PriceType: "recurring", PriceInterval: "month"}) {
		t.Errorf("Billing = %+v", b)
	}
	if b := etvasrules.Billing(" Lifetime ", ""); b != (domain.Billing{PriceType: "lifetime"}) {
		t.Errorf("unknown billing = %+v", b)
	}
	for kind, want := range map[etvas.EventKind]domain.PolicyStatus{
		etvas.EventPurchased: domain.PolicyActive, etvas.EventResumed: domain.PolicyActive,
		etvas.EventSuspended: domain.PolicySuspended, etvas.EventCanceled: domain.PolicyCanceled,
	} {
		if got := etvasrules.Target(kind); got != want {
			t.Errorf("Target(%s) = %s, want %s", kind, got, want)
		}
	}
}
