package partnerops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
)

// customerSessions stands in for the customers' stored wallet sessions (the API's
// CustomerWallet): a token per wallet, or none (signed out / expired).
type customerSessions struct {
	mu     sync.Mutex
	tokens map[string]avata.AccessToken
	asked  int
}

func (c *customerSessions) wallet(_ context.Context, _, wallet string) (avata.Wallet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked++
	tok, ok := c.tokens[strings.ToLower(wallet)]
	if !ok {
		return nil, errors.New("WALLET_SESSION_EXPIRED: the customer must sign in again")
	}
	return tok, nil
}

func (c *customerSessions) set(wallet string, tok avata.AccessToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens[strings.ToLower(wallet)] = tok
}

// TestCustomerWalletClaimReconciledWithTheCustomersSession: a claim on a policy bought to the
// customer's own wallet whose create answer was lost is resolved with the customer's wallet
// session — never with the merchant wallet. Without a session the call stays PENDING and Avata
// is not asked at all; once the customer has signed in again it is recorded, without filing the
// claim a second time.
func TestCustomerWalletClaimReconciledWithTheCustomersSession(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, open(t))
			raw := make([]byte, 32)
			if _, err := rand.Read(raw); err != nil {
				t.Fatal(err)
			}
			customer, err := ethsign.NewWallet(hex.EncodeToString(raw))
			if err != nil {
				t.Fatal(err)
			}
			buyer := e.process(t, 5*time.Second)
			in := e.purchase(t)
			in.NFT.Purchase.Target = customer.Address() // the NFT, and the policy, go to the customer's wallet
			in.Policy.Avata.OwnerWallet = strings.ToLower(customer.Address())
			p, err := buyer.Buy(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			jwt, err := e.client.SignIn(ctx, customer)
			if err != nil {
				t.Fatal(err)
			}
			tok := avata.AccessToken{Wallet: customer.Address(), Token: jwt}
			up, err := e.client.UploadClaimDocuments(ctx, tok, p.AvataPolicyUUID, []avata.UploadFile{
				{Name: "receipt.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4 receipt")},
			})
			if err != nil {
				t.Fatal(err)
			}
			claimID, err := domain.NewID()
			if err != nil {
				t.Fatal(err)
			}
			filing := ClaimFiling{
				Policy: p, RequestHash: "claim-hash",
				Claim: domain.Claim{ID: claimID, Reason: "The NFT never arrived.", ClaimantEmail: "ada@example.com", DocumentKeys: up.Keys},
				Request: avata.CreateClaimRequest{Reason: "The NFT never arrived.", PolicyUUID: p.AvataPolicyUUID, Email: "ada@example.com",
					Files: []avata.ClaimFile{{FileName: "receipt.pdf", FileVersion: "1", Key: up.Keys[0]}}},
			}
			// The process that dies: intent recorded, the claim filed with the customer's token,
			// nothing else recorded.
			req, err := json.Marshal(filing)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(req), jwt) {
				t.Fatal("the stored request holds the customer's token")
			}
			call, err := buyer.begin(ctx, domain.PartnerCall{
				Operation: domain.OpAvataClaimCreate, Subject: domain.SubjectClaims + claimID, DedupeKey: ClaimKey(p.ID),
				RequestHash: filing.RequestHash, Request: req, CustomerID: p.CustomerID,
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.CreateClaim(ctx, tok, filing.Request); err != nil {
				t.Fatal(err)
			}

			sessions := &customerSessions{tokens: map[string]avata.AccessToken{}}
			restarted, err := New(Config{Store: e.store, Lifecycle: e.lc, Avata: e.client, CallTimeout: 5 * time.Second,
				RecheckAfter: time.Millisecond, CustomerWallet: sessions.wallet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(restarted.Wait)

			// No session: nobody may ask or resend for the customer; the call stays PENDING.
			statusBefore, createBefore := e.calls("POST", avata.PathClaimStatus), e.calls("POST", avata.PathClaimCreate)
			e.dueNow(t, call)
			if _, err := restarted.ReconcileDue(ctx, 10); err != nil {
				t.Fatal(err)
			}
			pending, err := e.store.GetPartnerCall(ctx, call.ID)
			if err != nil {
				t.Fatal(err)
			}
			if pending.State != domain.PartnerCallPending || !strings.Contains(pending.LastError, "wallet session") || sessions.asked == 0 {
				t.Fatalf("without a session: %+v (session asked %d times)", pending, sessions.asked)
			}
			if s, c := e.calls("POST", avata.PathClaimStatus), e.calls("POST", avata.PathClaimCreate); s != statusBefore || c != createBefore {
				t.Fatalf("Avata was called without the customer's session: status %d→%d, create %d→%d", statusBefore, s, createBefore, c)
			}
			claims, err := e.store.ListClaims(ctx, store.ClaimFilter{PolicyID: p.ID}, store.PageRequest{})
			if err != nil || len(claims.Items) != 0 {
				t.Fatalf("claims without a session: %+v, %v", claims.Items, err)
			}

			// The customer signs in again: the claim Avata holds is recorded, not filed twice.
			sessions.set(customer.Address(), tok)
			e.dueNow(t, pending)
			if _, err := restarted.ReconcileDue(ctx, 10); err != nil {
				t.Fatal(err)
			}
			claims, err = e.store.ListClaims(ctx, store.ClaimFilter{PolicyID: p.ID}, store.PageRequest{})
			if err != nil || len(claims.Items) != 1 || claims.Items[0].ID != claimID {
				t.Fatalf("claims after the customer's sign-in: %+v, %v", claims.Items, err)
			}
			if n := e.calls("POST", avata.PathClaimCreate); n != createBefore {
				t.Fatalf("claim create calls = %d, want %d (no resend)", n, createBefore)
			}
			settled, err := e.store.GetPartnerCall(ctx, call.ID)
			if err != nil || settled.State != domain.PartnerCallSucceeded {
				t.Fatalf("settled call: %+v, %v", settled, err)
			}
		})
	}
}

// TestMerchantWalletNeverSignsForACustomer: a first filing on a customer's policy without a
// resolved wallet and without sessions is refused before anything is sent.
func TestMerchantWalletNeverSignsForACustomer(t *testing.T) {
	o := &Ops{cfg: Config{}}
	_, err := o.walletFor(context.Background(), ClaimFiling{Policy: domain.Policy{ID: "p1", Avata: domain.AvataPolicyData{OwnerWallet: "0xabc"}}})
	if err == nil {
		t.Fatal("a customer's policy without sessions got a wallet")
	}
}
