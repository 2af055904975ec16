package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/avata"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
	"github.com/covergate/covergate/server/store"
)

// TestPolicyKeepsAvataData: what Avata reports (policy id, hash, type, status, reference, start
// and end of cover, finishedAt) is on the policy after activation (the accept callback), after a
// refresh, and after a later policy-update callback.
func TestPolicyKeepsAvataData(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	policies := insurancev1.NewPolicyServiceClient(s.Conn)
	p := flowActivePolicy(t, s, "1")
	uuid := p.GetPartnerRefs().GetAvataPolicyUuid()
	remote, ok := sandboxPolicy(s, uuid)
	if !ok {
		t.Fatal("the sandbox does not know the policy")
	}
	check := func(p *insurancev1.Policy, remote avata.Policy, when string) {
		t.Helper()
		a := p.GetAvata()
		if a.GetPolicyId() != remote.PolicyID || a.GetPolicyHash() != remote.PolicyHash || a.GetPolicyType() != remote.PolicyType ||
			a.GetPartnerStatus() != string(remote.Status) || a.GetReference() != p.GetPartnerRefs().GetAvataReference() || a.GetSyncTime() == nil {
			t.Fatalf("%s: avata data = %v, sandbox policy %+v", when, a, remote)
		}
		if a.GetPolicyId() == "" || a.GetPolicyHash() == "" {
			t.Fatalf("%s: the sandbox reports no policy id or hash: the test proves nothing", when)
		}
		start, _ := time.Parse(time.RFC3339Nano, remote.StartDateTime)
		end, _ := time.Parse(time.RFC3339Nano, remote.EndDateTime)
		if start.IsZero() || !p.GetStartTime().AsTime().Equal(start) || !p.GetEndTime().AsTime().Equal(end) {
			t.Fatalf("%s: start/end = %v/%v, want %s/%s", when, p.GetStartTime(), p.GetEndTime(), remote.StartDateTime, remote.EndDateTime)
		}
	}
	flowWait(t, "Avata data after activation", func() bool {
		g, err := policies.GetPolicy(ctx, &insurancev1.GetPolicyRequest{PolicyId: p.GetPolicyId()})
		if err != nil {
			t.Fatal(err)
		}
		p = g.GetPolicy()
		return p.GetAvata().GetPolicyHash() != ""
	})
	check(p, remote, "after the accept callback")

	// A refresh reads the same data and changes nothing (no needless etag churn).
	rr, err := policies.RefreshPolicy(ctx, &insurancev1.RefreshPolicyRequest{PolicyId: p.GetPolicyId()})
	if err != nil {
		t.Fatal(err)
	}
	check(rr.GetPolicy(), remote, "after refresh")
	if rr.GetChanged() || rr.GetPolicy().GetEtag() != p.GetEtag() {
		t.Fatalf("refresh with nothing new changed the policy: %v", rr)
	}

	// Avata expires the policy: the policy-update callback brings the status and finishedAt.
	if err := s.App.Sandbox().Avata.SetPolicyStatus(uuid, string(avata.PolicyExpired)); err != nil {
		t.Fatal(err)
	}
	expired, _ := sandboxPolicy(s, uuid)
	if expired.FinishedAt == "" {
		t.Fatal("the sandbox reports no finishedAt for an expired policy: the test proves nothing")
	}
	var rest insurancev1.GetPolicyResponse
	flowWait(t, "policy EXPIRED", func() bool {
		flowREST(t, s, "GET", "/v1/policies/"+p.GetPolicyId(), "", nil, &rest)
		return rest.GetPolicy().GetStatus() == insurancev1.PolicyStatus_POLICY_STATUS_EXPIRED
	})
	check(rest.GetPolicy(), expired, "after the policy-update callback")
	finished, _ := time.Parse(time.RFC3339Nano, expired.FinishedAt)
	if !rest.GetPolicy().GetAvata().GetFinishTime().AsTime().Equal(finished) {
		t.Fatalf("finish time = %v, want %s", rest.GetPolicy().GetAvata().GetFinishTime(), expired.FinishedAt)
	}

	// A policy whose data was never received (a missed callback, or bought before Covergate kept
	// Avata's data) gets it from a refresh.
	err = s.App.Store().InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		cur, err := tx.GetPolicy(ctx, p.GetPolicyId())
		if err != nil {
			return err
		}
		cur.Avata, cur.StartTime, cur.EndTime = domain.AvataPolicyData{}, time.Time{}, time.Time{}
		_, err = tx.UpdatePolicy(ctx, cur, cur.Version)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rr, err = policies.RefreshPolicy(ctx, &insurancev1.RefreshPolicyRequest{PolicyId: p.GetPolicyId()})
	if err != nil {
		t.Fatal(err)
	}
	check(rr.GetPolicy(), expired, "after a refresh of a policy without data")
	if !rr.GetChanged() {
		t.Fatal("a refresh that filled the data reports no change")
	}
}

// TestPolicyRequestStatus: Avata's policy-request status over REST and gRPC, for Avata policies
// only, with Avata's errors mapped.
func TestPolicyRequestStatus(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	p := flowActivePolicy(t, s, "1")
	var rest insurancev1.GetPolicyRequestStatusResponse
	flowREST(t, s, "GET", "/v1/policies/"+p.GetPolicyId()+"/request-status", "", nil, &rest)
	if rest.GetEventType() != "policy-update" || rest.GetPartnerStatus() != "ACCEPTED" || rest.GetAvataPolicyUuid() != p.GetPartnerRefs().GetAvataPolicyUuid() ||
		rest.GetReference() != p.GetPartnerRefs().GetAvataReference() || rest.GetMappedStatus() != insurancev1.PolicyStatus_POLICY_STATUS_ACTIVE {
		t.Fatalf("REST request status = %v", &rest)
	}
	g, err := insurancev1.NewPolicyServiceClient(s.Conn).GetPolicyRequestStatus(ctx, &insurancev1.GetPolicyRequestStatusRequest{PolicyId: p.GetPolicyId()})
	if err != nil || g.GetPartnerStatus() != "ACCEPTED" || g.GetPolicyId() != p.GetPolicyId() {
		t.Fatalf("gRPC request status = %v, %v", g, err)
	}
	flowWantREST(t, s.JSON(t, "GET", "/v1/policies/not-a-uuid/request-status", apptest.AllKey, ""), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	flowWantREST(t, s.JSON(t, "GET", "/v1/policies/01900000-0000-7000-8000-0000000000b1/request-status", apptest.AllKey, ""), http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND)
	flowWantREST(t, s.JSON(t, "GET", "/v1/policies/"+p.GetPolicyId()+"/request-status", "", ""), http.StatusUnauthorized, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED)
	s.App.Sandbox().Avata.Kit().SetFaults(sandboxkit.Faults{ErrorRate: 1, Status: http.StatusServiceUnavailable, Paths: []string{avata.PathPolicyRequestStatus}})
	defer s.App.Sandbox().Avata.Kit().SetFaults(sandboxkit.Faults{})
	_, err = insurancev1.NewPolicyServiceClient(s.Conn).GetPolicyRequestStatus(ctx, &insurancev1.GetPolicyRequestStatusRequest{PolicyId: p.GetPolicyId()})
	if info := apptest.ErrorInfo(t, status.Convert(err)); status.Code(err) != codes.Unavailable || info.GetMetadata()["partner"] != "avata" ||
		info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE) {
		t.Fatalf("Avata down = %v", err)
	}
}

// TestWalletPolicies: a customer's wallet policies at Avata, over REST and gRPC, with the token
// of the customer's wallet sign-in; each names the Covergate policy.
func TestWalletPolicies(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	w := newTestWallet(t)
	p1 := walletPolicy(t, s, w.Address(), "1", "901")
	p2 := walletPolicy(t, s, w.Address(), "2", "902")
	walletPolicy(t, s, newTestWallet(t).Address(), "3", "903") // another wallet's
	cid := p1.GetCustomerId()
	if p2.GetCustomerId() != cid {
		t.Fatalf("two policies of one wallet have customers %s and %s", cid, p2.GetCustomerId())
	}
	flowWantREST(t, s.JSON(t, "GET", "/v1/customers/"+cid+"/wallet-policies", apptest.AllKey, ""), http.StatusBadRequest,
		insurancev1.ErrorReason_ERROR_REASON_WALLET_SIGN_IN_REQUIRED)
	signInREST(t, s, cid, w)
	var rest insurancev1.ListWalletPoliciesResponse
	flowREST(t, s, "GET", "/v1/customers/"+cid+"/wallet-policies", "", nil, &rest)
	if rest.GetWalletAddress() != w.Address() || rest.GetChainId() != 1 || len(rest.GetPolicies()) != 2 {
		t.Fatalf("wallet policies = %v", &rest)
	}
	for i, want := range []*insurancev1.Policy{p1, p2} {
		got := rest.GetPolicies()[i]
		if got.GetPolicyId() != want.GetPolicyId() || got.GetAvataPolicyUuid() != want.GetPartnerRefs().GetAvataPolicyUuid() ||
			got.GetAvata().GetPolicyId() != want.GetAvata().GetPolicyId() || got.GetStartTime() == nil ||
			!strings.EqualFold(got.GetNft().GetTarget(), w.Address()) || got.GetTotalValue() == "" {
			t.Fatalf("wallet policy %d = %v, want policy %v", i, got, want)
		}
	}
	g, err := insurancev1.NewPolicyServiceClient(s.Conn).ListWalletPolicies(ctx, &insurancev1.ListWalletPoliciesRequest{CustomerId: cid})
	if err != nil || len(g.GetPolicies()) != 2 {
		t.Fatalf("gRPC wallet policies = %v, %v", g, err)
	}
	// The call is wallet-scoped: the journal shows the customer's wallet, never ours.
	for _, e := range s.App.Sandbox().Avata.Kit().Requests() {
		if e.Path == avata.PathPoliciesForWallet && !strings.Contains(e.Body, w.Address()) {
			t.Fatalf("policies-for-wallet request for another wallet: %s", e.Body)
		}
	}
	s.App.Sandbox().Avata.RevokeTokens()
	_, err = insurancev1.NewPolicyServiceClient(s.Conn).ListWalletPolicies(ctx, &insurancev1.ListWalletPoliciesRequest{CustomerId: cid})
	if info := apptest.ErrorInfo(t, status.Convert(err)); status.Code(err) != codes.FailedPrecondition ||
		info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_WALLET_SESSION_EXPIRED) {
		t.Fatalf("with a revoked token = %v", err)
	}
	flowWantREST(t, s.JSON(t, "GET", "/v1/customers/01900000-0000-7000-8000-0000000000c1/wallet-policies", apptest.AllKey, ""),
		http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND)
	// Signing in needs customers.write.
	flowWantREST(t, s.JSON(t, "POST", "/v1/customers/"+cid+"/wallet-session:start", apptest.ReaderKey, `{"walletAddress":"`+w.Address()+`"}`),
		http.StatusForbidden, insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED, "required_scope=customers.write")
}

// TestNotifyCustomer: an Etvas customer is notified in its purchase context (POST /user/notify
// at the Etvas sandbox), over REST and gRPC; wrong contexts, customers without one and bad input
// are refused before Etvas; an Etvas outage is UNAVAILABLE.
func TestNotifyCustomer(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	etvas := s.App.Sandbox().Etvas
	first, err := etvas.Mint(etvasbox.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var v insurancev1.VerifyPortalTokenResponse
	flowREST(t, s, "POST", "/v1/customers:verifyPortalToken", `{"token":"`+first.Token+`"}`, nil, &v)
	cid := v.GetCustomer().GetCustomerId()

	var rest insurancev1.NotifyCustomerResponse
	flowREST(t, s, "POST", "/v1/customers/"+cid+":notify", `{"locale":"de-DE","subject":"Ihre Police","message":"Ihre Police ist aktiv."}`, nil, &rest)
	if rest.GetContextId() != first.ContextID {
		t.Fatalf("notified in %q, want %q", rest.GetContextId(), first.ContextID)
	}
	got, err := insurancev1.NewCustomerServiceClient(s.Conn).NotifyCustomer(ctx, &insurancev1.NotifyCustomerRequest{
		CustomerId: cid, ContextId: first.ContextID, Locale: "en", Subject: "Your policy", Message: "Your claim was approved.",
	})
	if err != nil || got.GetContextId() != first.ContextID {
		t.Fatalf("gRPC notify = %v, %v", got, err)
	}
	notes := etvas.Notifications()
	if len(notes) != 2 || notes[0].ContextID != first.ContextID || notes[0].Locale != "de-DE" || notes[0].Subject != "Ihre Police" ||
		notes[0].Message != "Ihre Police ist aktiv." || notes[1].Locale != "en" || notes[1].Message != "Your claim was approved." {
		t.Fatalf("Etvas notifications = %+v", notes)
	}

	other, err := etvas.Mint(etvasbox.MintRequest{Profile: &etvasbox.Profile{FirstName: "Otto", Email: "otto@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	var ov insurancev1.VerifyPortalTokenResponse
	flowREST(t, s, "POST", "/v1/customers:verifyPortalToken", `{"token":"`+other.Token+`"}`, nil, &ov)
	walletOnly := walletPolicy(t, s, newTestWallet(t).Address(), "1", "950")
	for name, tc := range map[string]struct {
		customer, body string
		status         int
		reason         insurancev1.ErrorReason
	}{
		"another customer's context": {cid, `{"contextId":"` + other.ContextID + `","locale":"en","subject":"s","message":"m"}`, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		"no Etvas context":           {walletOnly.GetCustomerId(), `{"locale":"en","subject":"s","message":"m"}`, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE},
		"bad locale":                 {cid, `{"locale":"english please","subject":"s","message":"m"}`, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		"empty message":              {cid, `{"locale":"en","subject":"s","message":""}`, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		"unknown customer":           {"01900000-0000-7000-8000-0000000000d1", `{"locale":"en","subject":"s","message":"m"}`, http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND},
	} {
		t.Run(name, func(t *testing.T) {
			flowWantREST(t, s.JSON(t, "POST", "/v1/customers/"+tc.customer+":notify", apptest.AllKey, tc.body), tc.status, tc.reason)
		})
	}
	if n := len(etvas.Notifications()); n != 2 {
		t.Fatalf("Etvas notifications = %d after refused requests, want 2", n)
	}
	etvas.Kit().SetFaults(sandboxkit.Faults{ErrorRate: 1, Status: http.StatusServiceUnavailable, Paths: []string{"/user/notify"}})
	defer etvas.Kit().SetFaults(sandboxkit.Faults{})
	_, err = insurancev1.NewCustomerServiceClient(s.Conn).NotifyCustomer(ctx, &insurancev1.NotifyCustomerRequest{CustomerId: cid, Locale: "en", Subject: "s", Message: "m"})
	if info := apptest.ErrorInfo(t, status.Convert(err)); status.Code(err) != codes.Unavailable || info.GetMetadata()["partner"] != "etvas" {
		t.Fatalf("Etvas down = %v", err)
	}
	// The wallet sign-in links a wallet to an Etvas customer that had none.
	w := newTestWallet(t)
	signInREST(t, s, cid, w)
	var c insurancev1.GetCustomerResponse
	flowREST(t, s, "GET", "/v1/customers/"+cid, "", nil, &c)
	if c.GetCustomer().GetPartnerRefs().GetAvataWalletAddress() != strings.ToLower(w.Address()) {
		t.Fatalf("customer wallet after sign-in = %q, want %s", c.GetCustomer().GetPartnerRefs().GetAvataWalletAddress(), w.Address())
	}
	// Erasure ends the wallet session.
	flowREST(t, s, "POST", "/v1/customers/"+cid+":erase", `{"reason":"test"}`, nil, &insurancev1.EraseCustomerResponse{})
	flowWantREST(t, s.JSON(t, "GET", "/v1/customers/"+cid+"/wallet-session", apptest.AllKey, ""), http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND)
}

// TestActivateRecordsAvataData: the answer to :activate already carries the cover dates and ids
// Avata reports for the activated booking policy, over REST.
func TestActivateRecordsAvataData(t *testing.T) {
	s := apptest.Start(t)
	nft := "0x" + strings.Repeat("e", 64)
	var q insurancev1.CreateQuoteResponse
	flowREST(t, s, "POST", "/v1/quotes", `{"booking":{"chain":"CHAIN_ETHEREUM","nftIds":["`+nft+`"],"checkInDate":"2027-06-06","token":"TOKEN_ETH"},
		"totalValue":{"currencyCode":"ETH","amount":"0.5"}}`, nil, &q)
	var created insurancev1.CreatePolicyResponse
	flowREST(t, s, "POST", "/v1/policies", `{"quoteId":"`+q.GetQuote().GetQuoteId()+`","booking":{"bookingWalletAddress":"`+flowSeller+
		`","walletAddress":"`+flowSeller+`","txId":"`+flowTxID+`","bookingTime":"2026-12-01T10:00:00Z"},"totalValue":{"currencyCode":"ETH","amount":"0.5"}}`, nil, &created)
	var act insurancev1.ActivatePolicyResponse
	flowREST(t, s, "POST", "/v1/policies/"+created.GetPolicy().GetPolicyId()+":activate",
		`{"chain":"CHAIN_ETHEREUM","nftIds":["`+nft+`"],"walletAddress":"`+flowSeller+`","token":"TOKEN_ETH"}`, nil, &act)
	remote, _ := sandboxPolicy(s, created.GetPolicy().GetPartnerRefs().GetAvataPolicyUuid())
	p := act.GetPolicy()
	if p.GetStatus() != insurancev1.PolicyStatus_POLICY_STATUS_ACTIVE || p.GetAvata().GetPolicyId() != remote.PolicyID ||
		p.GetAvata().GetPolicyHash() != remote.PolicyHash || p.GetAvata().GetPolicyType() != "BOOKING" || p.GetStartTime() == nil || p.GetEndTime() == nil ||
		p.GetAvata().GetOwnerWalletAddress() != "0x2222222222222222222222222222222222222222" {
		t.Fatalf("activated policy = %v (sandbox %+v)", p, remote)
	}
}

// sandboxPolicy is what the Avata sandbox reports about a policy, read from its documented
// policy-details body with the adapter's decoder (the sandbox shares no types with it).
func sandboxPolicy(s *apptest.Server, uuid string) (avata.Policy, bool) {
	raw, ok := s.App.Sandbox().Avata.PolicyDetails(uuid)
	if !ok {
		return avata.Policy{}, false
	}
	var out struct {
		Policy avata.Policy `json:"policy"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return avata.Policy{}, false
	}
	return out.Policy, true
}
