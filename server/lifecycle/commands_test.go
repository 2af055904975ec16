package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/store"
)

// lastEvent returns the newest event's type and data.
func lastEvent(t *testing.T, st store.Store) (domain.Event, map[string]any) {
	t.Helper()
	p, err := st.ListEvents(context.Background(), store.EventFilter{PageSize: store.MaxPageSize})
	if err != nil || len(p.Items) == 0 {
		t.Fatalf("events: %d, %v", len(p.Items), err)
	}
	e := p.Items[len(p.Items)-1]
	var data map[string]any
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatal(err)
	}
	return e, data
}

// wantSource checks that an event names where its change came from.
func wantSource(t *testing.T, e domain.Event, data map[string]any, s lifecycle.Source) {
	t.Helper()
	if e.Partner != s.Partner || data["source_channel"] != s.Channel || data["source_ref"] != s.Ref {
		t.Errorf("%s: partner %q, source %v/%v; want %q, %s/%s", e.Type, e.Partner, data["source_channel"], data["source_ref"], s.Partner, s.Channel, s.Ref)
	}
}

func TestCreateQuote(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	api := lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelAPI, Ref: "req-1"}
	var q domain.Quote
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		var err error
		q, err = l.CreateQuote(ctx, tx, domain.Quote{
			Kind: domain.KindDigitalAsset, Partner: domain.PartnerAvata, PartnerProposalID: "prop-1",
			TotalValue: domain.Money{Amount: "100", Currency: "EUR"}, Premium: domain.Money{Amount: "2.5", Currency: "EUR"},
			ExpireTime: t0.Add(15 * time.Minute),
		}, api)
		return err
	})
	if stored, err := st.GetQuote(context.Background(), q.ID); err != nil || stored.PartnerProposalID != "prop-1" {
		t.Fatalf("stored quote %+v, %v", stored, err)
	}
	e, data := lastEvent(t, st)
	if e.Type != domain.EventQuoteCreated || e.Subject != domain.SubjectQuotes+q.ID || data["quote_id"] != q.ID || data["partner_proposal_id"] != "prop-1" {
		t.Fatalf("event %s %s %v", e.Type, e.Subject, data)
	}
	wantSource(t, e, data, api)
}

func TestPublishEvent(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	api := lifecycle.Source{Partner: domain.PartnerScalepoint, Channel: lifecycle.ChannelAPI, Ref: "req-2"}
	dest := domain.Destination{Partner: domain.PartnerScalepoint, Country: "dk", Tenant: "t"}
	event := func(fields string) domain.ScalepointEvent {
		var f map[string]json.RawMessage
		if err := json.Unmarshal([]byte(fields), &f); err != nil {
			t.Fatal(err)
		}
		return domain.ScalepointEvent{Destination: dest, EventType: "case_created", CorrelationID: "corr-1", Fields: f}
	}
	publish := func(in lifecycle.PublishInput) (domain.Publication, error) {
		var pub domain.Publication
		err := st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
			var err error
			pub, err = l.PublishEvent(ctx, tx, in, api)
			return err
		})
		return pub, err
	}

	refused := []struct {
		name  string
		in    lifecycle.PublishInput
		check func(error) bool
	}{
		{"envelope field in the payload", lifecycle.PublishInput{Event: event(`{"correlationId":"spoof"}`)}, func(err error) bool {
			var c *domain.EnvelopeConflictError
			return errors.As(err, &c) && c.Field == domain.EnvelopeCorrelationID
		}},
		{"larger than the limit", lifecycle.PublishInput{Event: event(`{"blob":"0123456789012345678901234567890123456789"}`), MaxPayloadBytes: 64}, func(err error) bool {
			var tl *lifecycle.PayloadTooLargeError
			return errors.As(err, &tl) && tl.Limit == 64 && tl.Size > 64
		}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := publish(tc.in); !tc.check(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if got := eventTypes(t, st); len(got) != 0 {
		t.Fatalf("refused publications appended %v", got)
	}

	pub, err := publish(lifecycle.PublishInput{Event: event(`{"case":{"id":"C-1"}}`), MaxPayloadBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	want, err := domain.ScalepointEnvelope("case_created", domain.DefaultPayloadVersion, "corr-1", t0, map[string]json.RawMessage{"case": json.RawMessage(`{"id":"C-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetPublication(context.Background(), pub.ID)
	if err != nil || string(stored.Payload) != string(want) || stored.Status != domain.PublicationPending || stored.Destination != dest {
		t.Fatalf("stored publication %+v (%s), %v; want payload %s", stored, stored.Payload, err, want)
	}
	e, data := lastEvent(t, st)
	if e.Type != domain.EventPublicationQueued || data["publication_id"] != pub.ID || data["correlation_id"] != "corr-1" || data["tenant"] != "t" {
		t.Fatalf("event %s %v", e.Type, data)
	}
	wantSource(t, e, data, api)
}

func TestRecordScalepointEvent(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	for _, tc := range []struct {
		name       string
		ev         lifecycle.ScalepointEvent
		channel    string
		recognized bool
		wantType   string
	}{
		{"known, pushed", lifecycle.ScalepointEvent{ID: "_1", EventType: "case_created", CorrelationID: "c", PayloadVersion: "1.0.0", Timestamp: "2026-05-01T10:00:00Z"},
			lifecycle.ChannelWebhook, true, domain.EventPartnerEventReceived},
		{"known, polled", lifecycle.ScalepointEvent{ID: "_2", EventType: "claim_updated"}, lifecycle.ChannelPoll, true, domain.EventPartnerEventReceived},
		{"unknown", lifecycle.ScalepointEvent{EventType: "weather_changed"}, lifecycle.ChannelPoll, false, domain.EventPartnerEventUnrecognized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			delivery := "d-" + tc.name
			s := lifecycle.Source{Channel: tc.channel, Ref: delivery}
			var recognized bool
			inTx(t, st, func(ctx context.Context, tx store.Tx) error {
				var err error
				recognized, err = l.RecordScalepointEvent(ctx, tx, tc.ev, delivery, s)
				return err
			})
			e, data := lastEvent(t, st)
			if recognized != tc.recognized || e.Type != tc.wantType || e.Subject != domain.SubjectDeliveries+delivery || data["event_type"] != tc.ev.EventType {
				t.Fatalf("recognized %v, event %s %s %v", recognized, e.Type, e.Subject, data)
			}
			if tc.recognized && (data["partner_event_id"] != tc.ev.ID || tc.ev.CorrelationID != "" && data["correlation_id"] != tc.ev.CorrelationID) {
				t.Errorf("event data %v lacks the event's ids", data)
			}
			s.Partner = domain.PartnerScalepoint
			wantSource(t, e, data, s)
		})
	}
}

func TestWalletSessionCommands(t *testing.T) {
	st := openStore(t)
	l := lifecycle.New(lifecycle.Config{Now: func() time.Time { return t0 }})
	api := lifecycle.Source{Partner: domain.PartnerAvata, Channel: lifecycle.ChannelAPI, Ref: "req-3"}
	const wallet = "0x00000000000000000000000000000000000000a1"
	var c domain.Customer
	inTx(t, st, func(ctx context.Context, tx store.Tx) error {
		var err error
		c, _, err = l.UpsertCustomer(ctx, tx, lifecycle.CustomerInput{EtvasUserID: "u-wallet"}, api)
		return err
	})
	run := func(fn func(ctx context.Context, tx store.Tx) error) error {
		return st.InTx(context.Background(), fn)
	}
	session := func() domain.WalletSession {
		t.Helper()
		s, err := st.GetWalletSession(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Start, complete: the token is stored and the wallet becomes the customer's.
	start := domain.WalletSession{CustomerID: c.ID, Wallet: wallet, ChainID: 1, Nonce: "n1", NonceExpireTime: t0.Add(5 * time.Minute)}
	if err := run(func(ctx context.Context, tx store.Tx) error {
		_, err := l.StartWalletSignIn(ctx, tx, start)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := domain.WalletSession{CustomerID: c.ID, Wallet: wallet, ChainID: 1, TokenCiphertext: []byte("sealed-1"), ExpireTime: t0.Add(time.Hour)}
	if err := run(func(ctx context.Context, tx store.Tx) error {
		_, err := l.CompleteWalletSignIn(ctx, tx, done, api)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if s := session(); string(s.TokenCiphertext) != "sealed-1" || s.Nonce != "" {
		t.Fatalf("completed session %+v", s)
	}
	if cur, err := st.GetCustomer(context.Background(), c.ID); err != nil || cur.AvataWallet != wallet {
		t.Fatalf("customer wallet %q, %v", cur.AvataWallet, err)
	}
	e, data := lastEvent(t, st)
	if e.Type != domain.EventCustomerUpdated {
		t.Fatalf("linking the wallet appended %s", e.Type)
	}
	wantSource(t, e, data, api)

	// A new sign-in of the same wallet keeps the live token; forgetting it keeps the token too.
	start.Nonce = "n2"
	if err := run(func(ctx context.Context, tx store.Tx) error {
		_, err := l.StartWalletSignIn(ctx, tx, start)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if s := session(); s.Nonce != "n2" || string(s.TokenCiphertext) != "sealed-1" {
		t.Fatalf("restarted session %+v", s)
	}
	if err := run(func(ctx context.Context, tx store.Tx) error { return l.ForgetWalletSignIn(ctx, tx, session()) }); err != nil {
		t.Fatal(err)
	}
	if s := session(); s.Nonce != "" || string(s.TokenCiphertext) != "sealed-1" {
		t.Fatalf("session after forgetting the message %+v", s)
	}

	// Expire: the token goes, the expiry moves to now.
	if err := run(func(ctx context.Context, tx store.Tx) error { return l.ExpireWalletSession(ctx, tx, c.ID, t0) }); err != nil {
		t.Fatal(err)
	}
	if s := session(); len(s.TokenCiphertext) != 0 || !s.ExpireTime.Equal(t0) {
		t.Fatalf("expired session %+v", s)
	}

	// Delete, then an erased customer cannot complete a sign-in.
	var deleted bool
	if err := run(func(ctx context.Context, tx store.Tx) error {
		var err error
		deleted, err = l.DeleteWalletSession(ctx, tx, c.ID)
		return err
	}); err != nil || !deleted {
		t.Fatalf("delete = %v, %v", deleted, err)
	}
	if _, err := st.GetWalletSession(context.Background(), c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after delete: %v", err)
	}
	if err := run(func(ctx context.Context, tx store.Tx) error {
		_, err := l.EraseCustomer(ctx, tx, c.ID, domain.ErasureReason("customer_request"), api)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err := run(func(ctx context.Context, tx store.Tx) error {
		_, err := l.CompleteWalletSignIn(ctx, tx, done, api)
		return err
	})
	if !errors.Is(err, lifecycle.ErrCustomerErased) {
		t.Fatalf("sign-in of an erased customer = %v", err)
	}
}
