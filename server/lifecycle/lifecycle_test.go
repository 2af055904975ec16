package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

var src = lifecycle.Source{Partner: domain.PartnerEtvas, Channel: lifecycle.ChannelWebhook, Ref: "delivery-1"}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := engine.Open(context.Background(), "sqlite:"+t.TempDir()+"/l.db", store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// inTx runs fn in a transaction and fails the test on error.
func inTx(t *testing.T, st store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := st.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func eventTypes(t *testing.T, st store.Store) []string {
	t.Helper()
	p, err := st.ListEvents(context.Background(), store.EventFilter{PageSize: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range p.Items {
		out = append(out, e.Type)
	}
	return out
}

func TestUpsertCustomer(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	var id string
	steps := []struct {
		name    string
		in      lifecycle.CustomerInput
		created bool
		events  int // events appended by the step
		check   func(domain.Customer) bool
	}{
		{"create by user id with profile", lifecycle.CustomerInput{EtvasUserID: "u1", Profile: &domain.Profile{FirstName: "Ada", Email: "ada@example.com", City: "London"}},
			true, 1, func(c domain.Customer) bool { return c.Profile.Email == "ada@example.com" }},
		{"same again: no change, no event", lifecycle.CustomerInput{EtvasUserID: "u1", Profile: &domain.Profile{FirstName: "Ada"}},
			false, 0, func(c domain.Customer) bool { return c.Profile.City == "London" }},
		{"link a context", lifecycle.CustomerInput{EtvasUserID: "u1", EtvasContextID: "ctx-1"},
			false, 1, func(c domain.Customer) bool { return len(c.EtvasContextIDs) == 1 }},
		{"found by context, merge keeps other fields", lifecycle.CustomerInput{EtvasContextID: "ctx-1", Profile: &domain.Profile{Phone: "+1"}},
			false, 1, func(c domain.Customer) bool { return c.Profile.Phone == "+1" && c.Profile.City == "London" }},
		{"replace clears what is missing", lifecycle.CustomerInput{EtvasUserID: "u1", ReplaceProfile: true, Profile: &domain.Profile{FirstName: "Ada", Email: "new@example.com"}},
			false, 1, func(c domain.Customer) bool { return c.Profile.City == "" && c.Profile.Email == "new@example.com" }},
		{"identity", lifecycle.CustomerInput{EtvasUserID: "u1", Identity: &domain.IdentityVerification{Status: "verified", VerificationID: "v"}},
			false, 1, func(c domain.Customer) bool { return c.IdentityVerification.Status == "verified" }},
	}
	total := 0
	for _, s := range steps {
		var got domain.Customer
		var created bool
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			var err error
			got, created, err = l.UpsertCustomer(ctx, tx, s.in, src)
			return err
		})
		total += s.events
		if created != s.created || !s.check(got) || len(eventTypes(t, st)) != total {
			t.Fatalf("%s: created %v, customer %+v, events %v", s.name, created, got, eventTypes(t, st))
		}
		if id == "" {
			id = got.ID
		} else if got.ID != id {
			t.Fatalf("%s: another customer %s", s.name, got.ID)
		}
	}
	if err := st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		_, _, err := l.UpsertCustomer(ctx, tx, lifecycle.CustomerInput{}, src)
		return err
	}); !errors.Is(err, lifecycle.ErrNoCustomerKey) {
		t.Fatalf("empty input: %v", err)
	}
	p, _ := st.ListEvents(context.Background(), store.EventFilter{})
	for _, e := range p.Items {
		var data map[string]any
		if err := json.Unmarshal(e.Data, &data); err != nil || e.CustomerID != id || data["source_ref"] != "delivery-1" {
			t.Errorf("event %s data %s customer %q", e.Type, e.Data, e.CustomerID)
		}
		for _, pii := range []string{"ada@example.com", "new@example.com", "Ada", "London"} {
			if strings.Contains(string(e.Data), pii) {
				t.Errorf("event %s carries personal data: %s", e.Type, e.Data)
			}
		}
	}
}

func TestTransitionPolicyOrdering(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	var p domain.Policy
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		var err error
		p, err = l.CreatePolicy(ctx, tx, domain.Policy{Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct, Status: domain.PolicyActive,
			EtvasContextID: "ctx", StatusTime: t0}, src)
		return err
	})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	steps := []struct {
		to     domain.PolicyStatus
		at     time.Time
		change domain.StatusChange
		status domain.PolicyStatus
		err    bool
	}{
		{domain.PolicyActive, at(30), domain.StatusUnchanged, domain.PolicyActive, false}, // confirms ACTIVE as of 30
		{domain.PolicySuspended, at(20), domain.StatusStale, domain.PolicyActive, false},  // older than 30
		{domain.PolicySuspended, at(40), domain.StatusChanged, domain.PolicySuspended, false},
		{domain.PolicyActive, at(50), domain.StatusChanged, domain.PolicyActive, false},
		{domain.PolicyRejected, at(60), 0, domain.PolicyActive, true}, // ACTIVE → REJECTED is illegal
		{domain.PolicyCanceled, at(70), domain.StatusChanged, domain.PolicyCanceled, false},
		{domain.PolicyActive, at(80), 0, domain.PolicyCanceled, true},
	}
	for i, s := range steps {
		err := st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
			cur, err := tx.GetPolicy(ctx, p.ID)
			if err != nil {
				return err
			}
			_, change, err := l.TransitionPolicy(ctx, tx, cur, s.to, s.at, "test", src)
			if err == nil && change != s.change {
				t.Errorf("step %d: change %v, want %v", i, change, s.change)
			}
			return err
		})
		var terr *domain.TransitionError
		if s.err != errors.As(err, &terr) {
			t.Fatalf("step %d: err %v", i, err)
		}
		got, _ := st.GetPolicy(context.Background(), p.ID)
		if got.Status != s.status {
			t.Fatalf("step %d: status %s, want %s", i, got.Status, s.status)
		}
	}
	want := []string{"policy.created", "policy.activated", "policy.suspended", "policy.activated", "policy.canceled"}
	if got := eventTypes(t, st); len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("events %v, want %v", got, want)
			}
		}
	}
}

func TestClaimRouteAndUnrecognized(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 },
		ClaimRoute: &domain.Destination{Partner: domain.PartnerScalepoint, Country: "dk", Tenant: "covergate"}})
	var c domain.Claim
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		p, err := l.CreatePolicy(ctx, tx, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindDigitalAsset, Status: domain.PolicyActive, AvataPolicyUUID: "ap"}, src)
		if err != nil {
			return err
		}
		if c, err = l.CreateClaim(ctx, tx, domain.Claim{PolicyID: p.ID, AvataClaimUUID: "ac", Status: domain.ClaimCreated, Reason: "my bike, see ada@example.com"}, src); err != nil {
			return err
		}
		c, _, err = l.TransitionClaim(ctx, tx, c, domain.ClaimApproved, t0.Add(time.Minute), src)
		if err != nil {
			return err
		}
		return l.RecordUnrecognized(ctx, tx, domain.PartnerAvata, "wallet-update", "d-1")
	})
	pubs, err := st.ListPublications(context.Background(), store.PublicationFilter{}, store.PageRequest{Size: 10})
	if err != nil || len(pubs.Items) != 2 {
		t.Fatalf("publications = %+v %v", pubs.Items, err)
	}
	var payload map[string]any
	if err := json.Unmarshal(pubs.Items[0].Payload, &payload); err != nil || payload["eventType"] != "claim_updated" || payload["correlationId"] == "" || payload["payloadVersion"] != "1.0.0" {
		t.Fatalf("publication payload %s", pubs.Items[0].Payload)
	}
	got := eventTypes(t, st)
	want := []string{"policy.created", "policy.activated", "claim.created", "publication.queued", "claim.status_changed", "publication.queued", "partner_event.unrecognized"}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

func TestEraseCustomer(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	var c domain.Customer
	var claim domain.Claim
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		var err error
		if c, _, err = l.UpsertCustomer(ctx, tx, lifecycle.CustomerInput{EtvasUserID: "u", Profile: &domain.Profile{Email: "erase@example.com"}}, src); err != nil {
			return err
		}
		p, err := l.CreatePolicy(ctx, tx, domain.Policy{CustomerID: c.ID, Partner: domain.PartnerAvata, Kind: domain.KindDigitalAsset, Status: domain.PolicyActive}, src)
		if err != nil {
			return err
		}
		claim, err = l.CreateClaim(ctx, tx, domain.Claim{PolicyID: p.ID, CustomerID: c.ID, Status: domain.ClaimCreated, Reason: "write to erase@example.com", ClaimantEmail: "erase@example.com"}, src)
		return err
	})
	for i := 0; i < 2; i++ {
		inTx(t, st, func(ctx context.Context, tx store.Tx) error {
			_, err := l.EraseCustomer(ctx, tx, c.ID, "test", src)
			return err
		})
	}
	if found, err := st.FindText(context.Background(), "erase@example.com"); err != nil || len(found) != 0 {
		t.Fatalf("e-mail still in %v (%v)", found, err)
	}
	if got, _ := st.GetClaim(context.Background(), claim.ID); got.Reason != "" {
		t.Fatalf("claim reason kept: %q", got.Reason)
	}
	n := 0
	for _, typ := range eventTypes(t, st) {
		if typ == domain.EventCustomerErased {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("customer.erased events = %d, want 1", n)
	}
	if err := st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		_, err := l.EraseCustomer(ctx, tx, "01900000-0000-7000-8000-000000000000", "x", src)
		return err
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("erase unknown: %v", err)
	}
}
