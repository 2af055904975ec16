package lifecycle_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/store"
)

// TestAmendPolicy: a data change without a status change is written with its event and
// source; no change writes nothing; a status change is refused (TransitionPolicy owns it).
func TestAmendPolicy(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	var p domain.Policy
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		var err error
		p, err = l.CreatePolicy(ctx, tx, domain.Policy{Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct,
			Status: domain.PolicyCanceled, StatusTime: t0, EtvasContextID: "portal:u:p"}, src)
		return err
	})
	before := len(eventTypes(t, st))
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		same, err := l.AmendPolicy(ctx, tx, p, p, "nothing", src)
		if err != nil || same.Version != p.Version {
			t.Errorf("unchanged amend: %+v %v", same, err)
		}
		moved := p
		moved.Status = domain.PolicyActive
		if _, err := l.AmendPolicy(ctx, tx, p, moved, "status", src); err == nil {
			t.Error("a status change went through AmendPolicy")
		}
		next := p
		next.EtvasContextID, next.ProductName = "portal:u:p:ended:"+p.ID, "SicurNET"
		got, err := l.AmendPolicy(ctx, tx, p, next, "portal key retired", src)
		if err != nil || got.Version != p.Version+1 || got.EtvasContextID != next.EtvasContextID || got.Status != domain.PolicyCanceled {
			t.Errorf("amend: %+v %v", got, err)
		}
		return nil
	})
	types := eventTypes(t, st)
	if len(types) != before+1 || types[len(types)-1] != domain.EventPolicyUpdated {
		t.Fatalf("events after amend: %v", types)
	}
	evs, err := st.ListEvents(context.Background(), store.EventFilter{Types: []string{domain.EventPolicyUpdated}})
	if err != nil || len(evs.Items) != 1 {
		t.Fatalf("policy.updated: %+v %v", evs.Items, err)
	}
	data := string(evs.Items[0].Data)
	for _, want := range []string{`"reason":"portal key retired"`, `"source_channel":"webhook"`, `"source_ref":"delivery-1"`, `"status":"CANCELED"`} {
		if !strings.Contains(data, want) {
			t.Errorf("policy.updated data %s lacks %s", data, want)
		}
	}
}
