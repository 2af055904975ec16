package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/ethsign"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/store"
)

// End-to-end tests of customers' own wallets (non-custodial policies): wallet sign-in, claims
// with the customer's token, token expiry, owner-signed claim-portal links; the policy data Avata
// reports; the three partner-call RPCs. Real gateway, embedded sandboxes, SQLite (and PostgreSQL
// for the sign-in walk).

// Hardhat/Anvil account #1: a published development key (never holds funds), a known vector.
const (
	hardhat1Key     = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
	hardhat1Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
)

// newTestWallet generates a fresh wallet key in the test.
func newTestWallet(t *testing.T) *ethsign.Wallet {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	w, err := ethsign.NewWallet(hex.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func mustSign(t *testing.T, w *ethsign.Wallet, msg string) string {
	t.Helper()
	sig, err := w.SignMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// walletPolicy buys NFT cover to wallet (non-custodial) over gRPC and waits until it is ACTIVE.
func walletPolicy(t *testing.T, s *apptest.Server, wallet, amount, tokenID string) *insurancev1.Policy {
	t.Helper()
	ctx := apptest.WithToken(apptest.AllKey)
	q := flowNFTQuote(t, ctx, s, amount)
	req := flowNFTPurchase(q.GetQuoteId(), amount)
	req.GetNft().TargetAddress = wallet
	req.GetNft().NftTokenId = tokenID
	req.Holder = &insurancev1.CustomerProfile{FirstName: "Wanda", LastName: "Wallet", Email: "wanda@example.com"}
	pr, err := insurancev1.NewPolicyServiceClient(s.Conn).CreatePolicy(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var p *insurancev1.Policy
	flowWait(t, "policy ACTIVE with Avata data", func() bool {
		g, err := insurancev1.NewPolicyServiceClient(s.Conn).GetPolicy(ctx, &insurancev1.GetPolicyRequest{PolicyId: pr.GetPolicy().GetPolicyId()})
		if err != nil {
			t.Fatal(err)
		}
		p = g.GetPolicy()
		return p.GetStatus() == insurancev1.PolicyStatus_POLICY_STATUS_ACTIVE && p.GetAvata().GetPolicyId() != ""
	})
	return p
}

// signInREST runs the wallet sign-in over REST with signer's signature of the message.
func signInREST(t *testing.T, s *apptest.Server, customerID string, w *ethsign.Wallet) *insurancev1.WalletSession {
	t.Helper()
	var start insurancev1.StartWalletSignInResponse
	flowREST(t, s, "POST", "/v1/customers/"+customerID+"/wallet-session:start", `{"walletAddress":"`+strings.ToLower(w.Address())+`"}`, nil, &start)
	if start.GetWalletAddress() != w.Address() || start.GetMessage() == "" || start.GetChainId() != 1 {
		t.Fatalf("start = %v", &start)
	}
	var done insurancev1.CompleteWalletSignInResponse
	flowREST(t, s, "POST", "/v1/customers/"+customerID+"/wallet-session:complete",
		`{"walletAddress":"`+w.Address()+`","signature":"`+mustSign(t, w, start.GetMessage())+`"}`, nil, &done)
	return done.GetSession()
}

func uploadDoc(t *testing.T, s *apptest.Server, policyID string) apptest.Result {
	t.Helper()
	return s.JSON(t, "POST", "/v1/policies/"+policyID+"/claim-documents", apptest.AllKey, flowJSON(t, map[string]any{
		"documents": []any{map[string]any{"fileName": "receipt.pdf", "contentType": "application/pdf", "content": base64.StdEncoding.EncodeToString([]byte(flowPDF))}},
	}))
}

// TestWalletNonCustodialClaim walks a non-custodial policy from purchase to an approved claim
// with a token the customer's wallet (a key generated here) obtained, over REST on SQLite and
// PostgreSQL.
func TestWalletNonCustodialClaim(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { walletClaimWalk(t, apptest.Start(t)) })
	t.Run("postgres", func(t *testing.T) {
		dsn := flowPostgresDSN(t)
		walletClaimWalk(t, apptest.Start(t, func(c *app.Config) { c.Database = dsn }))
	})
}

func walletClaimWalk(t *testing.T, s *apptest.Server) {
	w := newTestWallet(t)
	p := walletPolicy(t, s, w.Address(), "1", "501")
	if got := p.GetAvata().GetOwnerWalletAddress(); got != w.Address() {
		t.Fatalf("owner wallet = %q, want %q", got, w.Address())
	}
	customerID := p.GetCustomerId()
	if customerID == "" {
		t.Fatal("a policy bought to a customer's wallet has no customer")
	}

	// Before the customer signs in, the policy cannot be claimed: a clear precondition.
	flowWantREST(t, uploadDoc(t, s, p.GetPolicyId()), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGN_IN_REQUIRED,
		"customer_id="+customerID, "wallet_address="+w.Address())

	sess := signInREST(t, s, customerID, w)
	if sess.GetWalletAddress() != w.Address() || sess.GetExpired() || !sess.GetExpireTime().AsTime().After(time.Now()) {
		t.Fatalf("session = %v", sess)
	}
	// Avata was asked with the customer's wallet, and the token stays inside Covergate.
	var signIns []string
	for _, e := range s.App.Sandbox().Avata.Kit().Requests() {
		if e.Path == "/v1/auth/token" {
			var body struct{ PublicKey string }
			_ = json.Unmarshal([]byte(e.Body), &body)
			signIns = append(signIns, body.PublicKey)
		}
	}
	if len(signIns) != 1 || signIns[0] != w.Address() {
		t.Fatalf("Avata sign-ins = %v, want one for %s", signIns, w.Address())
	}
	var got insurancev1.GetWalletSessionResponse
	r := flowREST(t, s, "GET", "/v1/customers/"+customerID+"/wallet-session", "", nil, &got)
	if strings.Contains(string(r.Body), "eyJ") || got.GetSession().GetWalletAddress() != w.Address() {
		t.Fatalf("wallet session = %s", r.Body)
	}
	if found, err := s.App.Store().FindText(context.Background(), "eyJhbGciOi"); err != nil || len(found) != 0 {
		t.Fatalf("an access token is stored in clear in %v (%v)", found, err)
	}
	if strings.Contains(s.Logs.String(), "eyJhbGciOi") {
		t.Fatal("an access token reached the logs")
	}

	// Upload and claim with the customer's token: the sandbox refuses another wallet's token
	// for this policy (403), so success proves whose token it was.
	var up insurancev1.UploadClaimDocumentsResponse
	flowDecode(t, uploadDoc(t, s, p.GetPolicyId()), &up)
	var c insurancev1.CreateClaimResponse
	flowDecode(t, s.JSON(t, "POST", "/v1/policies/"+p.GetPolicyId()+"/claims", apptest.AllKey, flowJSON(t, map[string]any{
		"reason": "The NFT never arrived in my wallet.", "claimantEmail": "wanda@example.com",
		"documentKeys": []string{up.GetDocuments()[0].GetDocumentKey()},
	})), &c)
	// Claim-update callbacks are verified with the customer's token too: the claim reaches APPROVED.
	flowWait(t, "claim APPROVED", func() bool {
		var g insurancev1.GetClaimResponse
		flowREST(t, s, "GET", "/v1/claims/"+c.GetClaim().GetClaimId(), "", nil, &g)
		return g.GetClaim().GetStatus() == insurancev1.ClaimStatus_CLAIM_STATUS_APPROVED
	})

	// The claim-portal link carries the owner's signature of the policy uuid.
	uuid := p.GetPartnerRefs().GetAvataPolicyUuid()
	ownerSig := mustSign(t, w, uuid)
	var link insurancev1.GetClaimPortalLinkResponse
	flowREST(t, s, "GET", "/v1/claims/"+c.GetClaim().GetClaimId()+"/portal-link?ownerSignature="+ownerSig, "", nil, &link)
	if link.GetUri() != "https://portal.avata.gg/merchant-claim/"+uuid+"/"+ownerSig || link.GetSignerWalletAddress() != w.Address() {
		t.Fatalf("portal link = %v", &link)
	}
	if rec, err := ethsign.RecoverAddress(uuid, strings.TrimPrefix(link.GetUri(), "https://portal.avata.gg/merchant-claim/"+uuid+"/")); err != nil || rec != w.Address() {
		t.Fatalf("link signature recovers to %s (%v), want %s", rec, err, w.Address())
	}
	// Someone else's signature, a signature of another message, or none are refused.
	foreign := mustSign(t, newTestWallet(t), uuid)
	flowWantREST(t, s.JSON(t, "GET", "/v1/claims/"+c.GetClaim().GetClaimId()+"/portal-link?ownerSignature="+foreign, apptest.AllKey, ""),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID, "wallet_address="+w.Address())
	flowWantREST(t, s.JSON(t, "GET", "/v1/claims/"+c.GetClaim().GetClaimId()+"/portal-link?ownerSignature="+mustSign(t, w, "not the uuid"), apptest.AllKey, ""),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID)
	flowWantREST(t, s.JSON(t, "GET", "/v1/claims/"+c.GetClaim().GetClaimId()+"/portal-link", apptest.AllKey, ""),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, "message="+uuid)
}

// TestWalletSessionExpiry: a token past its expiry, and a token Avata stops accepting, both
// give FAILED_PRECONDITION WALLET_SESSION_EXPIRED (no call to Avata in the first case); signing in
// again makes the calls work again. Over gRPC.
func TestWalletSessionExpiry(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	claims := insurancev1.NewClaimServiceClient(s.Conn)
	customers := insurancev1.NewCustomerServiceClient(s.Conn)
	w := newTestWallet(t)
	p := walletPolicy(t, s, w.Address(), "1", "601")
	signIn := func() {
		t.Helper()
		start, err := customers.StartWalletSignIn(ctx, &insurancev1.StartWalletSignInRequest{CustomerId: p.GetCustomerId(), WalletAddress: w.Address()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := customers.CompleteWalletSignIn(ctx, &insurancev1.CompleteWalletSignInRequest{
			CustomerId: p.GetCustomerId(), WalletAddress: w.Address(), Signature: mustSign(t, w, start.GetMessage()),
		}); err != nil {
			t.Fatal(err)
		}
	}
	upload := func() error {
		_, err := claims.UploadClaimDocuments(ctx, &insurancev1.UploadClaimDocumentsRequest{PolicyId: p.GetPolicyId(),
			Documents: []*insurancev1.ClaimDocumentUpload{{FileName: "a.pdf", ContentType: "application/pdf", Content: []byte(flowPDF)}}})
		return err
	}
	wantExpired := func(err error) {
		t.Helper()
		st := status.Convert(err)
		info := apptest.ErrorInfo(t, st)
		if st.Code() != codes.FailedPrecondition || info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_WALLET_SESSION_EXPIRED) ||
			info.GetMetadata()["wallet_address"] != w.Address() || !strings.Contains(st.Message(), "sign in") {
			t.Fatalf("error = %v, want FAILED_PRECONDITION WALLET_SESSION_EXPIRED telling to sign in again", err)
		}
	}
	uploads := func() int { return flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/claims/upload") }

	signIn()
	if err := upload(); err != nil {
		t.Fatal(err)
	}
	// 1. The token's expiry passed (moved into the past in the store, as time would).
	err := s.App.Store().InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		sess, err := tx.GetWalletSession(ctx, p.GetCustomerId())
		if err != nil {
			return err
		}
		sess.ExpireTime = time.Now().Add(-time.Second)
		_, err = tx.PutWalletSession(ctx, sess)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	before := uploads()
	wantExpired(upload())
	if uploads() != before {
		t.Fatal("an expired token was sent to Avata")
	}
	if g, err := customers.GetWalletSession(ctx, &insurancev1.GetWalletSessionRequest{CustomerId: p.GetCustomerId()}); err != nil || !g.GetSession().GetExpired() {
		t.Fatalf("session after expiry = %v, %v", g, err)
	}

	// 2. Signed in again, then Avata stops accepting the token (revoked): the answer is the same,
	// and the session now reads as expired.
	signIn()
	if err := upload(); err != nil {
		t.Fatal(err)
	}
	s.App.Sandbox().Avata.RevokeTokens()
	wantExpired(upload())
	if g, err := customers.GetWalletSession(ctx, &insurancev1.GetWalletSessionRequest{CustomerId: p.GetCustomerId()}); err != nil || !g.GetSession().GetExpired() {
		t.Fatalf("session after Avata refused the token = %v, %v", g, err)
	}
	signIn()
	if err := upload(); err != nil {
		t.Fatalf("upload after signing in again: %v", err)
	}

	// Signing out deletes the token: the next call needs a sign-in again.
	if _, err := customers.DeleteWalletSession(ctx, &insurancev1.DeleteWalletSessionRequest{CustomerId: p.GetCustomerId()}); err != nil {
		t.Fatal(err)
	}
	if info := apptest.ErrorInfo(t, status.Convert(upload())); info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGN_IN_REQUIRED) {
		t.Fatalf("after sign-out: %v", info)
	}
	_, err = customers.GetWalletSession(ctx, &insurancev1.GetWalletSessionRequest{CustomerId: p.GetCustomerId()})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetWalletSession after sign-out = %v, want NOT_FOUND", err)
	}
}

// TestWalletSignInRefusals: every wrong sign-in gets a clear error and stores no token.
func TestWalletSignInRefusals(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	customers := insurancev1.NewCustomerServiceClient(s.Conn)

	// The published Hardhat #1 key is a known vector: its address is the documented one.
	hh, err := ethsign.NewWallet(hardhat1Key)
	if err != nil || hh.Address() != hardhat1Address {
		t.Fatalf("Hardhat #1 address = %v (%v), want %s", hh, err, hardhat1Address)
	}
	p := walletPolicy(t, s, hh.Address(), "1", "701")
	other := walletPolicy(t, s, newTestWallet(t).Address(), "1", "702")
	cid := p.GetCustomerId()
	tokenCalls := func() int { return flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/auth/token") }

	// Completing before starting.
	_, err = customers.CompleteWalletSignIn(ctx, &insurancev1.CompleteWalletSignInRequest{CustomerId: cid, WalletAddress: hh.Address(), Signature: mustSign(t, hh, "x")})
	if info := apptest.ErrorInfo(t, status.Convert(err)); status.Code(err) != codes.FailedPrecondition ||
		info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGN_IN_REQUIRED) {
		t.Fatalf("complete without start = %v", err)
	}
	start, err := customers.StartWalletSignIn(ctx, &insurancev1.StartWalletSignInRequest{CustomerId: cid, WalletAddress: hh.Address(), ChainId: 137})
	if err != nil || start.GetChainId() != 137 {
		t.Fatalf("start = %v, %v", start, err)
	}
	// An invalid signature: another wallet's signature of the message, the wallet's signature of
	// another message, and bytes that are no signature at all.
	for name, sig := range map[string]string{
		"foreign wallet":  mustSign(t, newTestWallet(t), start.GetMessage()),
		"other message":   mustSign(t, hh, start.GetMessage()+" "),
		"not a signature": "0x" + strings.Repeat("ab", 65),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := customers.CompleteWalletSignIn(ctx, &insurancev1.CompleteWalletSignInRequest{CustomerId: cid, WalletAddress: hh.Address(), Signature: sig})
			st := status.Convert(err)
			if info := apptest.ErrorInfo(t, st); st.Code() != codes.InvalidArgument ||
				info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID) ||
				info.GetMetadata()["wallet_address"] != hh.Address() || len(apptest.Violations(st)) != 1 {
				t.Fatalf("complete with %s = %v", name, st.Proto())
			}
			// Over REST the same is a 400 with the same reason.
			flowWantREST(t, s.JSON(t, "POST", "/v1/customers/"+cid+"/wallet-session:complete", apptest.AllKey,
				`{"walletAddress":"`+hh.Address()+`","signature":"`+sig+`"}`), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGNATURE_INVALID)
		})
	}
	if n := tokenCalls(); n != 0 {
		t.Fatalf("Avata sign-in called %d times for invalid signatures", n)
	}
	// Malformed inputs fail validation; a wallet of another customer, the merchant wallet and a
	// bad checksum are refused.
	for name, tc := range map[string]struct {
		body   string
		status int
		reason insurancev1.ErrorReason
	}{
		"short signature":     {`{"walletAddress":"` + hh.Address() + `","signature":"0x1234"}`, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		"bad checksum":        {`{"walletAddress":"` + strings.Replace(hh.Address(), "C", "c", 1) + `","signature":"` + mustSign(t, hh, start.GetMessage()) + `"}`, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		"another's wallet":    {`{"walletAddress":"` + other.GetAvata().GetOwnerWalletAddress() + `","signature":"` + mustSign(t, hh, start.GetMessage()) + `"}`, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE},
		"merchant wallet":     {`{"walletAddress":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","signature":"` + mustSign(t, hh, start.GetMessage()) + `"}`, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		"not a wallet":        {`{"walletAddress":"0x1234","signature":"` + mustSign(t, hh, start.GetMessage()) + `"}`, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		"unknown customer id": {`{"walletAddress":"` + hh.Address() + `","signature":"` + mustSign(t, hh, start.GetMessage()) + `"}`, http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND},
	} {
		t.Run(name, func(t *testing.T) {
			id := cid
			if name == "unknown customer id" {
				id = "01900000-0000-7000-8000-0000000000aa"
			}
			flowWantREST(t, s.JSON(t, "POST", "/v1/customers/"+id+"/wallet-session:complete", apptest.AllKey, tc.body), tc.status, tc.reason)
		})
	}
	// An expired sign-in message.
	err = s.App.Store().InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		sess, err := tx.GetWalletSession(ctx, cid)
		if err != nil {
			return err
		}
		sess.NonceExpireTime = time.Now().Add(-time.Second)
		_, err = tx.PutWalletSession(ctx, sess)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	flowWantREST(t, s.JSON(t, "POST", "/v1/customers/"+cid+"/wallet-session:complete", apptest.AllKey,
		`{"walletAddress":"`+hh.Address()+`","signature":"`+mustSign(t, hh, start.GetMessage())+`"}`),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGN_IN_REQUIRED)
	if n := tokenCalls(); n != 0 {
		t.Fatalf("Avata sign-in called %d times for refused sign-ins", n)
	}
	if _, err := customers.GetWalletSession(ctx, &insurancev1.GetWalletSessionRequest{CustomerId: cid}); status.Code(err) != codes.NotFound {
		t.Fatalf("a refused sign-in left a session: %v", err)
	}
	// The right signature on chain 137 works (Hardhat #1 key, published vector).
	start, err = customers.StartWalletSignIn(ctx, &insurancev1.StartWalletSignInRequest{CustomerId: cid, WalletAddress: hh.Address(), ChainId: 137})
	if err != nil {
		t.Fatal(err)
	}
	done, err := customers.CompleteWalletSignIn(ctx, &insurancev1.CompleteWalletSignInRequest{CustomerId: cid, WalletAddress: hh.Address(), Signature: mustSign(t, hh, start.GetMessage())})
	if err != nil || done.GetSession().GetChainId() != 137 || done.GetSession().GetWalletAddress() != hardhat1Address {
		t.Fatalf("complete = %v, %v", done, err)
	}
	// The signature was spent: sending it again is refused (no message pending).
	_, err = customers.CompleteWalletSignIn(ctx, &insurancev1.CompleteWalletSignInRequest{CustomerId: cid, WalletAddress: hh.Address(), Signature: mustSign(t, hh, start.GetMessage())})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("replayed completion = %v", err)
	}
}

// TestAvataAddressReachesSandbox: the structured address arrives at Avata unchanged for NFT and
// digital-asset cover, read back from the sandbox journal at /_sandbox/requests.
func TestAvataAddressReachesSandbox(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	_, avataURL, _ := s.App.Sandbox().URLs()
	holder := func(cc string) *insurancev1.CustomerProfile {
		return &insurancev1.CustomerProfile{FirstName: "Anna", LastName: "de Vries", Email: "anna@example.com", Phone: "+31201234567",
			DateOfBirth: "1985-04-01", Address: &insurancev1.PostalAddress{
				Street: "Keizersgracht", HouseNumber: "123", HouseNumberSuffix: "A-2", PostalCode: "1015 CJ", City: "Amsterdam",
				Region: "Noord-Holland", CountryCode: cc,
			}}
	}
	journal := func(path string) []map[string]any {
		t.Helper()
		resp, err := http.Get(avataURL + "/_sandbox/requests")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var entries []struct {
			Path, Body string
		}
		if err := json.Unmarshal(raw, &entries); err != nil {
			t.Fatalf("journal: %v: %s", err, raw)
		}
		var out []map[string]any
		for _, e := range entries {
			if e.Path == path {
				var body struct{ Customer map[string]any }
				if err := json.Unmarshal([]byte(e.Body), &body); err != nil {
					t.Fatalf("journaled %s body: %v", path, err)
				}
				out = append(out, body.Customer)
			}
		}
		return out
	}
	want := func(cc string) map[string]any {
		m := map[string]any{"firstName": "Anna", "lastName": "de Vries", "email": "anna@example.com", "phoneNumber": "+31201234567",
			"dateOfBirth": "1985-04-01", "street": "Keizersgracht", "houseNumber": "123", "houseNumberSuffix": "A-2",
			"postalCode": "1015 CJ", "city": "Amsterdam", "state": "Noord-Holland"}
		if cc != "" {
			m["countryCode"] = cc
		}
		return m
	}
	same := func(got, want map[string]any) bool {
		if len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}

	// NFT cover: any ISO country, lower case like Avata's codes (FR is not in Avata's proposal
	// list and still arrives).
	for i, cc := range []string{"NL", "fr"} {
		q := flowNFTQuote(t, ctx, s, "1")
		req := flowNFTPurchase(q.GetQuoteId(), "1")
		req.GetNft().TargetAddress = newTestWallet(t).Address()
		req.GetNft().NftTokenId = fmt.Sprint(800 + i)
		req.Holder = holder(cc)
		if _, err := insurancev1.NewPolicyServiceClient(s.Conn).CreatePolicy(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	got := journal("/v1/nft/confirm")
	if len(got) != 2 || !same(got[0], want("nl")) || !same(got[1], want("fr")) {
		t.Fatalf("NFT confirm customers = %v, want %v and %v", got, want("nl"), want("fr"))
	}
	// Digital-asset cover: the country list Avata documents for it (de passes; fr is left out,
	// never replaced by another country).
	for _, cc := range []string{"DE", "FR"} {
		var qr insurancev1.CreateQuoteResponse
		flowREST(t, s, "POST", "/v1/quotes", `{"digitalAsset":{"country":"COVER_COUNTRY_DE"},"totalValue":{"currencyCode":"EUR","amount":"100"}}`, nil, &qr)
		body := mustJSON(t, &insurancev1.CreatePolicyRequest{QuoteId: qr.GetQuote().GetQuoteId(),
			Purchase:   &insurancev1.CreatePolicyRequest_DigitalAsset{DigitalAsset: &insurancev1.DigitalAssetPurchase{InvoiceId: "INV-" + cc}},
			TotalValue: &insurancev1.Money{CurrencyCode: "EUR", Amount: "100"}, Holder: holder(cc)})
		flowREST(t, s, "POST", "/v1/policies", body, nil, &insurancev1.CreatePolicyResponse{})
	}
	got = journal("/v1/digital-asset/confirm")
	if len(got) != 2 || !same(got[0], want("de")) || !same(got[1], want("")) {
		t.Fatalf("digital-asset confirm customers = %v", got)
	}
	// A country code that is not two letters is refused before Avata.
	q := flowNFTQuote(t, ctx, s, "1")
	bad := flowNFTPurchase(q.GetQuoteId(), "1")
	bad.Holder = holder("N1")
	flowWantREST(t, s.JSON(t, "POST", "/v1/policies", apptest.AllKey, mustJSON(t, bad)), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	if n := len(journal("/v1/nft/confirm")); n != 2 {
		t.Fatalf("NFT confirms = %d after a refused purchase, want 2", n)
	}
	// The customer of the buyer wallet keeps the structured address.
	var list insurancev1.ListPoliciesResponse
	flowREST(t, s, "GET", "/v1/policies?partner=PARTNER_AVATA", "", nil, &list)
	var cust insurancev1.GetCustomerResponse
	flowREST(t, s, "GET", "/v1/customers/"+list.GetPolicies()[0].GetCustomerId(), "", nil, &cust)
	a := cust.GetCustomer().GetProfile().GetAddress()
	if a.GetStreet() != "Keizersgracht" || a.GetHouseNumber() != "123" || a.GetHouseNumberSuffix() != "A-2" || a.GetCountryCode() != "NL" {
		t.Fatalf("customer address = %v", a)
	}
}

// TestWalletOfAnotherCustomer: a customer cannot start a sign-in with a wallet that belongs to
// another customer, even when it has no wallet of its own yet; nothing is asked of Avata.
func TestWalletOfAnotherCustomer(t *testing.T) {
	s := apptest.Start(t)
	owned := walletPolicy(t, s, newTestWallet(t).Address(), "1", "990")
	minted, err := s.App.Sandbox().Etvas.Mint(etvasbox.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var v insurancev1.VerifyPortalTokenResponse
	flowREST(t, s, "POST", "/v1/customers:verifyPortalToken", `{"token":"`+minted.Token+`"}`, nil, &v)
	nonces := flowRequests(s.App.Sandbox().Avata.Kit(), "GET", "/v1/auth/nonce")
	flowWantREST(t, s.JSON(t, "POST", "/v1/customers/"+v.GetCustomer().GetCustomerId()+"/wallet-session:start", apptest.AllKey,
		`{"walletAddress":"`+owned.GetAvata().GetOwnerWalletAddress()+`"}`), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE)
	if flowRequests(s.App.Sandbox().Avata.Kit(), "GET", "/v1/auth/nonce") != nonces {
		t.Fatal("Avata was asked for a nonce for another customer's wallet")
	}
}
