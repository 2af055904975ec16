package webhooks

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/avata"
	avatabox "github.com/covergate/covergate/server/sandbox/avata"
	"github.com/covergate/covergate/server/store"
)

// avataClient talks to the gateway's embedded Avata sandbox directly, playing the part of the
// policy/claim API flows (issue 6) so that this test depends only on the webhook path.
func avataClient(t *testing.T, s *apptest.Server) *avata.Client {
	t.Helper()
	_, avataURL, _ := s.App.Sandbox().URLs()
	rd := s.App.Sandbox().Avata.Readings() // the route table and key header the sandbox serves
	paths, err := avata.PathsNamed(rd.Paths)
	if err != nil {
		t.Fatal(err)
	}
	c, err := avata.New(avata.Config{
		BaseURL: avataURL, APIKey: avatabox.DefaultAPIKey, BrandID: avatabox.DefaultBrandID,
		MerchantWalletKey: avatabox.DefaultMerchantWalletKey, ChainID: 1,
		Paths: paths, APIKeyHeader: rd.APIKeyHeader,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// buyDigitalAsset confirms a digital-asset policy at Avata and records our PENDING policy for it,
// as the policy API does; Avata accepts it 200 ms later and calls back.
func buyDigitalAsset(t *testing.T, s *apptest.Server, c *avata.Client) domain.Policy {
	t.Helper()
	ctx := context.Background()
	prop, err := c.ProposeDigitalAsset(ctx, avata.DigitalAssetProposalRequest{TotalValue: json.Number("100"), CountryCode: "de", CurrencyCode: "eur"})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := c.ConfirmDigitalAsset(ctx, avata.DigitalAssetConfirmRequest{
		Proposal: avata.ProposalRef{ID: prop.ID},
		Purchase: avata.DigitalAssetPurchase{TotalValue: json.Number("100"), CurrencyCode: "eur", InvoiceID: "INV-" + prop.ID},
		Customer: avata.Customer{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com", CountryCode: "de"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var p domain.Policy
	err = s.App.Store().InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		p, err = tx.CreatePolicy(ctx, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindDigitalAsset,
			Status: domain.PolicyPending, AvataPolicyUUID: conf.ID, StatusTime: time.Now().Add(-time.Second)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func policyStatus(t *testing.T, st store.Store, id string) domain.PolicyStatus {
	t.Helper()
	p, err := st.GetPolicy(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Status
}

// TestAvataCallbacksEndToEnd: the sandbox's signed callbacks activate the policy and walk the
// claim to APPROVED, each change verified by fetching from Avata and logged once.
func TestAvataCallbacksEndToEnd(t *testing.T) { testAvataCallbacksEndToEnd(t, apptest.Start(t)) }

// TestAvataCallbacksEndToEndOtherReading: the same with the other route table and the api key
// in Authorization (Avata documents neither): --avata-paths and --avata-api-key-header reach
// the gateway's adapter and the embedded sandbox alike, and verify-by-fetch still works.
func TestAvataCallbacksEndToEndOtherReading(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) {
		c.Partners.AvataPaths, c.Partners.AvataAPIKeyHeader = "rest", "Authorization"
	})
	if rd := s.App.Sandbox().Avata.Readings(); rd.Paths != avatabox.PathsREST || rd.APIKeyHeader != avatabox.HeaderAuthorization {
		t.Fatalf("sandbox readings = %+v", rd)
	}
	testAvataCallbacksEndToEnd(t, s)
	for _, e := range s.App.Sandbox().Avata.Kit().Requests() {
		if e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed {
			t.Errorf("%s %s -> %d", e.Method, e.Path, e.Status)
		}
	}
}

func testAvataCallbacksEndToEnd(t *testing.T, s *apptest.Server) {
	st := s.App.Store()
	c := avataClient(t, s)
	p := buyDigitalAsset(t, s, c)
	eventually(t, "policy ACTIVE", func() (bool, string) {
		got := policyStatus(t, st, p.ID)
		return got == domain.PolicyActive, string(got)
	})

	ctx := context.Background()
	up, err := c.UploadClaimDocuments(ctx, c.MerchantWallet(), p.AvataPolicyUUID,
		[]avata.UploadFile{{Name: "receipt.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.7 receipt")}})
	if err != nil {
		t.Fatal(err)
	}
	remote, err := c.CreateClaim(ctx, c.MerchantWallet(), avata.CreateClaimRequest{Reason: "lost", PolicyUUID: p.AvataPolicyUUID,
		Email: "grace@example.com", Files: []avata.ClaimFile{{FileName: "receipt.pdf", FileVersion: "1", Key: up.Keys[0]}}})
	if err != nil {
		t.Fatal(err)
	}
	// As documented, Avata's create answer carries no claim uuid (remote.UUID is
	// ""); this test is about the callbacks, so it records the claim with the
	// uuid the sandbox assigned, as the claim flow does once it learns it.
	claimUUID := remote.UUID
	if claimUUID == "" {
		var ok bool
		if claimUUID, ok = s.App.Sandbox().Avata.ClaimUUID(p.AvataPolicyUUID); !ok {
			t.Fatal("the sandbox has no claim on the policy")
		}
	}
	var claim domain.Claim
	if err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		claim, err = tx.CreateClaim(ctx, domain.Claim{PolicyID: p.ID, AvataClaimUUID: claimUUID, Status: domain.ClaimCreated, StatusTime: time.Now().Add(-time.Second)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "claim APPROVED", func() (bool, string) {
		got, err := st.GetClaim(ctx, claim.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status == domain.ClaimApproved, string(got.Status)
	})
	var steps []string
	for _, e := range events(t, st, domain.EventClaimStatusChanged) {
		var data struct{ Status, ClaimID string }
		_ = json.Unmarshal(e.Data, &data)
		if e.Subject == domain.SubjectClaims+claim.ID {
			steps = append(steps, data.Status)
		}
	}
	if len(steps) != 3 || steps[2] != "APPROVED" {
		t.Errorf("claim.status_changed statuses = %v, want PENDING, REVIEWED, APPROVED", steps)
	}
	if n := len(events(t, st, domain.EventPolicyActivated)); n != 1 {
		t.Errorf("policy.activated events = %d, want 1", n)
	}
}

// TestAvataVerifyByFetch: the callback body is only a hint. A forged-but-signed callback that
// claims ACCEPTED for a policy Avata still has PENDING changes nothing; a callback for a policy
// we do not know is refused (404) so Avata retries it after our record commits; the status
// mapping follows Avata's API.
func TestAvataVerifyByFetch(t *testing.T) {
	s := apptest.Start(t)
	st := s.App.Store()
	c := avataClient(t, s)
	sb := s.App.Sandbox().Avata

	p := buyDigitalAsset(t, s, c)
	eventually(t, "policy ACTIVE", func() (bool, string) {
		got := policyStatus(t, st, p.ID)
		return got == domain.PolicyActive, string(got)
	})
	// Avata expires it: the callback and the fetch agree.
	if err := sb.SetPolicyStatus(p.AvataPolicyUUID, string(avata.PolicyExpired)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "policy EXPIRED", func() (bool, string) {
		got := policyStatus(t, st, p.ID)
		return got == domain.PolicyExpired, string(got)
	})

	// A callback saying REJECTED while Avata says EXPIRED: the fetched status wins (no change).
	q := buyDigitalAsset(t, s, c)
	eventually(t, "second policy ACTIVE", func() (bool, string) {
		got := policyStatus(t, st, q.ID)
		return got == domain.PolicyActive, string(got)
	})
	body, _ := avata.NewPolicyUpdateCallback(avata.PolicyUpdate{Status: avata.PolicyRejected, UUID: q.AvataPolicyUUID})
	if r := post(t, s, "/webhooks/avata", string(body), avataHeaders(string(body))); r.Code != http.StatusOK {
		t.Fatalf("lying callback: %d %s", r.Code, r.Body)
	}
	if got := policyStatus(t, st, q.ID); got != domain.PolicyActive {
		t.Fatalf("a callback body changed the policy to %s without Avata saying so", got)
	}

	// Unknown policy at Avata → the partner's 404; unknown to us → 404 too; nothing recorded.
	before := countAll(t, st)
	for _, uuid := range []string{"3f0e7f0a-0000-4000-8000-000000000000", ""} {
		if uuid == "" {
			// Known to Avata, unknown to us.
			prop, _ := c.ProposeDigitalAsset(context.Background(), avata.DigitalAssetProposalRequest{TotalValue: json.Number("5"), CountryCode: "de", CurrencyCode: "eur"})
			conf, err := c.ConfirmDigitalAsset(context.Background(), avata.DigitalAssetConfirmRequest{Proposal: avata.ProposalRef{ID: prop.ID},
				Purchase: avata.DigitalAssetPurchase{TotalValue: json.Number("5"), CurrencyCode: "eur", InvoiceID: "x"},
				Customer: avata.Customer{FirstName: "A", LastName: "B", Email: "a@example.com", CountryCode: "de"}})
			if err != nil {
				t.Fatal(err)
			}
			uuid = conf.ID
		}
		b, _ := avata.NewPolicyUpdateCallback(avata.PolicyUpdate{Status: avata.PolicyAccepted, UUID: uuid})
		r := post(t, s, "/webhooks/avata", string(b), avataHeaders(string(b)))
		if r.Code != http.StatusNotFound {
			t.Fatalf("callback for policy %s: %d %s", uuid, r.Code, r.Body)
		}
	}
	if after := countAll(t, st); after.inbox != before.inbox || after.events != before.events || after.policies != before.policies {
		t.Errorf("refused callbacks changed the store: %+v → %+v", before, after)
	}
}
