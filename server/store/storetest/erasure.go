package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// seedPersonalData puts email into every place the gateway may keep it.
func seedPersonalData(t *testing.T, s store.Store, email string) (domain.Customer, domain.Policy, domain.Claim) {
	t.Helper()
	c := newCustomer(t, s, email)
	var p domain.Policy
	var cl domain.Claim
	body := fmt.Sprintf(`{"event":"product.purchased","user":{"email":%q,"firstName":"Ada"}}`, email)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.AddEtvasContextID(ctx, c.ID, "ctx-"+email); err != nil {
			return err
		}
		q, err := tx.CreateQuote(ctx, domain.Quote{Kind: domain.KindNFT, Partner: domain.PartnerAvata, CustomerID: c.ID,
			Request: []byte(body), TotalValue: domain.Money{Amount: "1", Currency: "ETH"}, Premium: domain.Money{Amount: "0.01", Currency: "ETH"}})
		if err != nil {
			return err
		}
		p, err = tx.CreatePolicy(ctx, domain.Policy{CustomerID: c.ID, QuoteID: q.ID, Partner: domain.PartnerEtvas, Kind: domain.KindBooking,
			EtvasContextID: "pctx-" + c.ID, EtvasUserID: c.EtvasUserID, Premium: domain.Money{Amount: "5", Currency: "EUR"}})
		if err != nil {
			return err
		}
		// Claimants write personal details into free text: the reason and the file names.
		cl, err = tx.CreateClaim(ctx, domain.Claim{PolicyID: p.ID, CustomerID: c.ID, ClaimantEmail: email, Reason: "lost luggage, write to " + email})
		if err != nil {
			return err
		}
		if _, err := tx.CreateClaimDocument(ctx, domain.ClaimDocument{PolicyID: p.ID, PartnerKey: "k-" + c.ID,
			FileName: "receipt-" + email + ".pdf", ContentType: "application/pdf", SizeBytes: 1}); err != nil {
			return err
		}
		in, err := tx.InsertInbox(ctx, domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: "d-" + c.ID, Payload: []byte(body),
			Headers: map[string]string{"x-forwarded-email": email}, CustomerID: c.ID})
		if err != nil {
			return err
		}
		in.State, in.Response = domain.InboxProcessed, []byte(fmt.Sprintf(`{"status":200,"email":%q}`, email))
		if err := tx.UpdateInbox(ctx, in); err != nil {
			return err
		}
		if _, err := tx.AppendEvent(ctx, domain.Event{Type: domain.EventCustomerCreated, Subject: "customers/" + c.ID,
			CustomerID: c.ID, Data: []byte(fmt.Sprintf(`{"email":%q}`, email))}); err != nil {
			return err
		}
		if _, err := tx.EnqueuePublication(ctx, domain.Publication{Destination: domain.Destination{Partner: domain.PartnerScalepoint},
			EventType: "claim.created", CustomerID: c.ID, Payload: []byte(body)}); err != nil {
			return err
		}
		if _, _, err := tx.EnsureJob(ctx, domain.Job{Kind: "test.fetch", Key: "k-" + email, CustomerID: c.ID, Payload: []byte(body)}); err != nil {
			return err
		}
		if _, err := tx.ReserveIdempotency(ctx, domain.IdempotencyRecord{Principal: "key:web", Key: "k-" + email, CustomerID: c.ID,
			ExpireTime: time.Now().Add(time.Hour), Holder: "h", LeaseExpireTime: time.Now().Add(time.Minute)}); err != nil {
			return err
		}
		if _, err := tx.PutWalletSession(ctx, domain.WalletSession{CustomerID: c.ID, Wallet: "0x" + strings.Repeat("ab", 20),
			ChainID: 1, Nonce: "sign in " + email, TokenCiphertext: []byte("sealed " + email)}); err != nil {
			return err
		}
		return tx.CompleteIdempotency(ctx, "key:web", "k-"+email, "h", []byte(body), c.ID)
	})
	return c, p, cl
}

func testErasure(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const email, control = "erase.me@example.com", "keep.me@example.com"
	c, p, cl := seedPersonalData(t, s, email)
	kept, _, _ := seedPersonalData(t, s, control)

	// The audit must see the seeded data before erasure, or it proves nothing.
	before, err := s.FindText(ctx, email)
	noErr(t, err)
	for _, col := range []string{"customers.email", "customers.street", "wallet_sessions.nonce", "wallet_sessions.token", "claims.claimant_email", "claims.reason", "claim_documents.file_name", "inbox.payload", "inbox.headers", "inbox.response",
		"events.data", "quotes.request", "publications.payload", "idempotency.response", "jobs.payload"} {
		if !contains(before, col) {
			t.Fatalf("FindText did not find the seeded e-mail in %s (found %v)", col, before)
		}
	}

	now := time.Now()
	var erased domain.Customer
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		erased, err = tx.EraseCustomer(ctx, c.ID, now)
		return err
	})
	if erased.Status != domain.CustomerErased || erased.ID != c.ID || erased.PseudonymID != c.PseudonymID ||
		erased.Profile != (domain.Profile{}) || erased.EtvasUserID != "" || len(erased.EtvasContextIDs) != 0 || erased.EraseTime.IsZero() {
		t.Fatalf("erased customer: %+v", erased)
	}
	// Every seeded value specific to this customer embeds the e-mail
	// (identity verification id, Etvas user id, context id, address line).
	found, err := s.FindText(ctx, email)
	noErr(t, err)
	if len(found) != 0 {
		t.Fatalf("after erasure %q is still stored in %v", email, found)
	}
	// The control customer's data is untouched.
	after, err := s.FindText(ctx, control)
	noErr(t, err)
	if len(after) != len(before) {
		t.Fatalf("control customer's data changed: before %v, after %v", before, after)
	}
	got, err := s.GetCustomer(ctx, kept.ID)
	noErr(t, err)
	if got.Profile.Email != control || got.Status != domain.CustomerActive {
		t.Fatalf("control customer: %+v", got)
	}
	// Business records survive under the pseudonymous customer.
	gp, err := s.GetPolicy(ctx, p.ID)
	noErr(t, err)
	gc, err := s.GetClaim(ctx, cl.ID)
	noErr(t, err)
	if gp.CustomerID != c.ID || gp.EtvasUserID != "" || gc.ClaimantEmail != "" || gc.CustomerID != c.ID {
		t.Fatalf("policy %+v / claim %+v after erasure", gp, gc)
	}
	evs, err := s.ListEvents(ctx, store.EventFilter{CustomerID: c.ID})
	noErr(t, err)
	if len(evs.Items) != 1 || evs.Items[0].Type != domain.EventCustomerCreated || string(evs.Items[0].Data) != domain.Redacted {
		t.Fatalf("redacted events: %+v", evs.Items)
	}
	pubs, err := s.ListPublications(ctx, store.PublicationFilter{Status: domain.PublicationFailed}, store.PageRequest{})
	noErr(t, err)
	if len(pubs.Items) != 1 || pubs.Items[0].CustomerID != c.ID {
		t.Fatalf("pending publication of the erased customer was not canceled: %+v", pubs.Items)
	}
	jobs, err := s.ListJobs(ctx, store.JobFilter{Status: domain.JobFailed}, store.PageRequest{})
	noErr(t, err)
	if len(jobs.Items) != 1 || jobs.Items[0].CustomerID != c.ID || jobs.Items[0].LastError != "canceled: customer erased" {
		t.Fatalf("pending job of the erased customer was not canceled: %+v", jobs.Items)
	}
	// Erasing twice is fine; unknown customers are not found.
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		again, err := tx.EraseCustomer(ctx, c.ID, now.Add(time.Hour))
		if err == nil && !again.EraseTime.Equal(erased.EraseTime) {
			t.Errorf("second erasure moved the erase time: %v → %v", erased.EraseTime, again.EraseTime)
		}
		return err
	})
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.EraseCustomer(ctx, "01890000-0000-7000-8000-000000000000", now)
		return err
	})
	wantErr(t, err, store.ErrNotFound)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
