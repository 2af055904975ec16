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

// namedRecords are records that name a customer without being filed under it.
type namedRecords struct {
	early, late domain.InboxRecord // unrecognized partner events about the user: before and after the customer existed
	pub         domain.Publication // a publication whose payload names the customer
	shared      domain.Publication // a publication naming this customer and the control customer
	claim       domain.Claim       // a claim on a custodial policy, filed with the customer's e-mail
	quote       domain.Quote       // an anonymous quote naming the customer's wallet
	idemKey     string             // the stored answer of that claim's creation
	idemKey2    string             // another answer naming the claim but not the e-mail
}

// seedNamed writes, for a customer identified by email, every kind of record that names the
// customer without being filed under it; the customer itself is created in the middle, so
// records written before it existed are covered too. sharedWith names another e-mail in the
// shared publication.
func seedNamed(t *testing.T, s store.Store, email, wallet, sharedWith string) (domain.Customer, namedRecords) {
	t.Helper()
	var r namedRecords
	userID := "etvas-user-" + email
	tag := strings.ReplaceAll(email, "@", "-at-") // record keys that are not themselves personal data
	event := func(key string) domain.InboxRecord {
		return domain.InboxRecord{Partner: domain.PartnerEtvas, DeliveryKey: key + tag, EventType: "user.loggedIn",
			Payload: []byte(fmt.Sprintf(`{"event":{"type":"user.loggedIn"},"user":{"id":%q,"name":"Ada Lovelace"}}`, userID))}
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		r.early, err = tx.InsertInbox(ctx, event("early-"))
		return err
	})
	c := newCustomerWith(t, s, email, userID, wallet)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		if r.late, err = tx.InsertInbox(ctx, event("late-")); err != nil {
			return err
		}
		r.late.State, r.late.Response = domain.InboxIgnored, []byte(`{"status":200}`)
		if err := tx.UpdateInbox(ctx, r.late); err != nil { // unrecognized: the outcome names no customer
			return err
		}
		if r.pub, err = tx.EnqueuePublication(ctx, domain.Publication{Destination: domain.Destination{Partner: domain.PartnerScalepoint},
			EventType: "payment_status_updated", Payload: []byte(fmt.Sprintf(`{"payment":{"payer":%q,"phone":"+4915112345678"}}`, email))}); err != nil {
			return err
		}
		if r.shared, err = tx.EnqueuePublication(ctx, domain.Publication{Destination: domain.Destination{Partner: domain.PartnerScalepoint},
			EventType: "case_note", Payload: []byte(fmt.Sprintf(`{"note":"%s and %s"}`, email, sharedWith))}); err != nil {
			return err
		}
		if r.quote, err = tx.CreateQuote(ctx, domain.Quote{Kind: domain.KindNFT, Partner: domain.PartnerAvata,
			Request: []byte(fmt.Sprintf(`{"nft":{"targetAddress":%q}}`, wallet)), TotalValue: domain.Money{Amount: "1", Currency: "ETH"},
			Premium: domain.Money{Amount: "0.01", Currency: "ETH"}}); err != nil {
			return err
		}
		p, err := tx.CreatePolicy(ctx, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindNFT, QuoteID: r.quote.ID,
			AvataPolicyUUID: "avata-" + tag, Premium: domain.Money{Amount: "0.01", Currency: "ETH"}}) // custodial: no customer
		if err != nil {
			return err
		}
		doc, err := tx.CreateClaimDocument(ctx, domain.ClaimDocument{PolicyID: p.ID, PartnerKey: "doc-" + tag,
			FileName: "receipt " + email + ".pdf", ContentType: "application/pdf", SizeBytes: 1})
		if err != nil {
			return err
		}
		if r.claim, err = tx.CreateClaim(ctx, domain.Claim{PolicyID: p.ID, ClaimantEmail: strings.ToUpper(email),
			Reason: "stolen; reach me at " + email, DocumentKeys: []string{doc.PartnerKey}}); err != nil {
			return err
		}
		r.idemKey = "claim-" + tag
		if _, err := tx.ReserveIdempotency(ctx, domain.IdempotencyRecord{Principal: "key:web", Key: r.idemKey,
			ExpireTime: time.Now().Add(time.Hour), Holder: "h", LeaseExpireTime: time.Now().Add(time.Minute)}); err != nil {
			return err
		}
		answer := []byte("\x0a\x24" + r.claim.ID + "\x12\x10" + email) // protobuf-like bytes carrying the e-mail
		if err := tx.CompleteIdempotency(ctx, "key:web", r.idemKey, "h", answer, ""); err != nil {
			return err
		}
		// An answer that names only the claim: found through the claim the e-mail found.
		r.idemKey2 = "status-" + tag
		if _, err := tx.ReserveIdempotency(ctx, domain.IdempotencyRecord{Principal: "key:web", Key: r.idemKey2,
			ExpireTime: time.Now().Add(time.Hour), Holder: "h", LeaseExpireTime: time.Now().Add(time.Minute)}); err != nil {
			return err
		}
		return tx.CompleteIdempotency(ctx, "key:web", r.idemKey2, "h", []byte("\x0a\x24"+r.claim.ID+"\x2a\x05Ada L"), "")
	})
	return c, r
}

func newCustomerWith(t *testing.T, s store.Store, email, etvasUserID, wallet string) domain.Customer {
	t.Helper()
	var c domain.Customer
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		c, err = tx.CreateCustomer(ctx, domain.Customer{
			Profile:     domain.Profile{FirstName: "Ada", LastName: "Lovelace", Email: email, Phone: "+4915112345678"},
			EtvasUserID: etvasUserID, AvataWallet: wallet,
		})
		return err
	})
	return c
}

// testErasureNamed: erasure reaches the records that name the customer without being filed under
// it — by partner user id, e-mail, wallet — written before or after the customer existed, and
// leaves another customer's records alone.
func testErasureNamed(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const email, control = "named.erase@example.com", "named.keep@example.com"
	const wallet, controlWallet = "0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222"
	c, r := seedNamed(t, s, email, wallet, control)
	kept, kr := seedNamed(t, s, control, controlWallet, "nobody@example.org")

	// Linked at write time: a delivery or publication about exactly one known customer is filed
	// under it (an ambiguous one is not, but is still linked).
	late, err := s.GetInbox(ctx, r.late.ID)
	noErr(t, err)
	pub, err := s.GetPublication(ctx, r.pub.ID)
	noErr(t, err)
	shared, err := s.GetPublication(ctx, kr.shared.ID)
	noErr(t, err)
	if late.CustomerID != c.ID || pub.CustomerID != c.ID || shared.CustomerID != kept.ID {
		t.Fatalf("filed under: late delivery %q, publication %q, control's shared publication %q; want %q, %q, %q",
			late.CustomerID, pub.CustomerID, shared.CustomerID, c.ID, c.ID, kept.ID)
	}
	for _, needle := range []string{email, "etvas-user-" + email, wallet} {
		if found, err := s.FindText(ctx, needle); err != nil || len(found) == 0 {
			t.Fatalf("seeded %q not found before erasure (%v, %v)", needle, found, err)
		}
	}
	controlBefore, err := s.FindText(ctx, control)
	noErr(t, err)

	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.EraseCustomer(ctx, c.ID, time.Now())
		return err
	})
	for _, needle := range []string{email, "etvas-user-" + email, wallet} {
		found, err := s.FindText(ctx, needle)
		noErr(t, err)
		if len(found) != 0 {
			t.Errorf("after erasure %q is still stored in %v", needle, found)
		}
	}
	early, err := s.GetInbox(ctx, r.early.ID)
	noErr(t, err)
	claim, err := s.GetClaim(ctx, r.claim.ID)
	noErr(t, err)
	if string(early.Payload) != domain.Redacted || claim.ClaimantEmail != "" || claim.Reason != "" || claim.PolicyID != r.claim.PolicyID {
		t.Errorf("early delivery %s, custodial claim %+v", early.Payload, claim)
	}
	for _, key := range []string{r.idemKey, r.idemKey2} {
		if _, err := s.GetIdempotency(ctx, "key:web", key); err == nil {
			t.Errorf("the stored answer %s naming the customer (or the customer's claim) survived", key)
		}
	}
	// The control customer's records are untouched, except the one publication naming both.
	controlAfter, err := s.FindText(ctx, control)
	noErr(t, err)
	if len(controlAfter) != len(controlBefore) {
		t.Errorf("control: before %v, after %v", controlBefore, controlAfter)
	}
	for _, id := range []string{kr.early.ID, kr.late.ID} {
		in, err := s.GetInbox(ctx, id)
		noErr(t, err)
		if string(in.Payload) == domain.Redacted {
			t.Errorf("control delivery %s redacted", id)
		}
	}
	kc, err := s.GetClaim(ctx, kr.claim.ID)
	noErr(t, err)
	if kc.ClaimantEmail == "" {
		t.Error("control claim scrubbed")
	}
	for _, key := range []string{kr.idemKey, kr.idemKey2} {
		if _, err := s.GetIdempotency(ctx, "key:web", key); err != nil {
			t.Errorf("control answer %s: %v", key, err)
		}
	}
	sh, err := s.GetPublication(ctx, r.shared.ID)
	noErr(t, err)
	if string(sh.Payload) != domain.Redacted {
		t.Errorf("publication naming both customers kept: %s", sh.Payload)
	}
}
