package avata

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t, nil)
	policyUUID := h.nftPolicy(t, h.user.Address())
	tok := h.signIn(t, h.user)
	details := map[string]any{"uuid": policyUUID}
	tests := []struct {
		name   string
		op     string
		body   any
		o      opts
		status int
	}{
		{"no api key", opPolicyDetails, details, opts{noKey: true}, 401},
		{"wrong api key", opPolicyDetails, details, opts{headers: map[string]string{HeaderXAPIKey: "guess"}}, 401},
		{"wrong brand", opPolicyDetails, details, opts{headers: map[string]string{BrandHeader: "other"}}, 403},
		{"right brand", opPolicyDetails, details, opts{headers: map[string]string{BrandHeader: DefaultBrandID}}, 200},
		{"no brand (optional)", opPolicyDetails, details, opts{}, 200},
		{"wallet call without token", opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{}, 401},
		{"wallet call with a forged token", opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok[:len(tok)-4] + "AAAA"}, 401},
		{"wallet call with the token", opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok}, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(t, tc.op, tc.body, tc.o)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.raw, tc.status)
			}
			if r.status >= 400 {
				if b := r.json(t); b["message"] == "" || b["code"] == "" {
					t.Fatalf("error body %s", r.raw)
				}
			}
		})
	}
	// Expired and revoked tokens.
	h.clock.Advance(DefaultTokenTTL)
	if r := h.call(t, opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok}); r.status != 401 {
		t.Fatalf("expired token: %d", r.status)
	}
	tok = h.signIn(t, h.user)
	h.sb.RevokeTokens()
	if r := h.call(t, opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok}); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
}

func TestSignInVerifiesTheSignature(t *testing.T) {
	h := newHarness(t, nil)
	merchant, err := ethsign.NewWallet(DefaultMerchantWalletKey)
	if err != nil || merchant.Address() != DefaultMerchantWallet {
		t.Fatalf("merchant wallet %v %v", merchant, err)
	}
	nonce := func(w *ethsign.Wallet, chain string) string {
		route := RoutesFor(PathsVerb)[opNonce]
		req, _ := http.NewRequestWithContext(t.Context(), route.Method, h.srv.URL+route.Path+"?chainId="+chain+"&publicKey="+w.Address(), nil)
		req.Header.Set(HeaderXAPIKey, DefaultAPIKey)
		r := h.send(t, req)
		if r.status != 200 {
			t.Fatalf("nonce: %d %s", r.status, r.raw)
		}
		return r.json(t)["nonce"].(string)
	}
	signIn := func(sig string, chainID int, publicKey string) int {
		return h.call(t, opSignIn, map[string]any{"signature": sig, "chainId": chainID, "publicKey": publicKey}, opts{}).status
	}
	n := nonce(h.user, "1")
	foreign, _ := merchant.SignMessage(n)
	if s := signIn(foreign, 1, h.user.Address()); s != 401 {
		t.Fatalf("signature by another wallet: %d", s)
	}
	own, _ := h.user.SignMessage(n)
	if s := signIn(own, 137, h.user.Address()); s != 401 {
		t.Fatalf("nonce of chain 1 used for chain 137: %d", s)
	}
	if s := signIn(own, 1, h.user.Address()); s != 200 {
		t.Fatalf("valid sign-in: %d", s)
	}
	if s := signIn(own, 1, h.user.Address()); s != 401 {
		t.Fatalf("nonce used twice: %d", s)
	}
	n = nonce(h.user, "1")
	h.clock.Advance(DefaultNonceTTL)
	late, _ := h.user.SignMessage(n)
	if s := signIn(late, 1, h.user.Address()); s != 401 {
		t.Fatalf("expired nonce: %d", s)
	}
	for _, bad := range []string{`{"signature":"x","chainId":"one","publicKey":"0x1"}`, `{"signature":"","chainId":1,"publicKey":"` + h.user.Address() + `"}`, `{"signature":"x","chainId":1,"publicKey":"abc"}`} {
		if r := h.call(t, opSignIn, bad, opts{}); r.status != 400 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}

	// The token acts for its wallet only.
	policyUUID := h.nftPolicy(t, h.user.Address())
	merchantTok := h.signIn(t, merchant)
	if r := h.call(t, opWalletPolicies, map[string]any{"wallet": h.user.Address(), "chainId": 1}, opts{token: merchantTok}); r.status != 403 {
		t.Fatalf("another wallet's policies: %d", r.status)
	}
	if r := h.call(t, opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: merchantTok}); r.status != 403 {
		t.Fatalf("claim status of another wallet's policy: %d", r.status)
	}
	if r := h.upload(t, merchantTok, policyUUID, merchant.Address(), map[string]string{"a.txt": "a"}); r.status != 403 {
		t.Fatalf("upload to another wallet's policy: %d", r.status)
	}
	if r := h.upload(t, merchantTok, policyUUID, h.user.Address(), map[string]string{"a.txt": "a"}); r.status != 403 {
		t.Fatalf("upload naming another publicKey: %d", r.status)
	}
}

func TestConfirmRules(t *testing.T) {
	h := newHarness(t, nil)
	p := h.must(t, opNFTProposal, map[string]any{"totalValue": json.Number("1.123456789012345678"), "chain": "ETHEREUM", "nftContractId": contract, "token": "ETH"}, opts{})
	if p["policyPrice"] != json.Number("0.02808641972530864195") || p["totalValue"] != json.Number("1.123456789012345678") {
		t.Fatalf("proposal %v", p)
	}
	confirm := func(total, chain, token, id string) result {
		return h.call(t, opNFTConfirm, `{"proposal":{"id":"`+id+`"},"purchase":{"totalValue":`+total+`,"chain":"`+chain+`","token":"`+token+`","nftContractId":"`+contract+`"}}`, opts{})
	}
	id := p["id"].(string)
	tests := []struct {
		name               string
		total, chain, tok  string
		id                 string
		status             int
		code, field        string
		changesNothingElse bool
	}{
		{"float noise", "1.1234567890123457", "ETHEREUM", "ETH", id, 422, codeProposalMismatch, "purchase.totalValue", true},
		{"chain", "1.123456789012345678", "POLYGON", "ETH", id, 422, codeProposalMismatch, "purchase.chain", true},
		{"token", "1.123456789012345678", "ETHEREUM", "USDT", id, 422, codeProposalMismatch, "purchase.token", true},
		{"token enum", "1.123456789012345678", "ETHEREUM", "DOGE", id, 400, codeValidation, "purchase.token", true},
		{"unknown proposal", "1", "ETHEREUM", "ETH", "00000000-0000-0000-0000-000000000000", 404, codeNotFound, "proposal", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := confirm(tc.total, tc.chain, tc.tok, tc.id)
			b := r.json(t)
			if r.status != tc.status || b["code"] != tc.code || !strings.Contains(b["message"].(string), tc.field) {
				t.Fatalf("%d %v", r.status, b)
			}
		})
	}
	// Same amount written differently (exponent, trailing zeros) matches.
	if r := confirm("1123456789012345678e-18", "ETHEREUM", "ETH", id); r.status != 200 {
		t.Fatalf("exact amount in another notation: %d %s", r.status, r.raw)
	}
	if r := confirm("1.123456789012345678", "ETHEREUM", "ETH", id); r.status != 409 || r.json(t)["code"] != codeAlreadyConfirmed {
		t.Fatalf("second confirm: %d %s", r.status, r.raw)
	}
	// A digital-asset confirm needs the customer; a proposal of another product is unknown.
	dp := h.must(t, opDigitalAssetProposal, map[string]any{"totalValue": 5, "countryCode": "de", "currencyCode": "eur"}, opts{})
	if r := h.call(t, opDigitalAssetConfirm, map[string]any{"proposal": map[string]any{"id": dp["id"]}, "purchase": map[string]any{"totalValue": 5, "currencyCode": "eur"}}, opts{}); r.status != 400 {
		t.Fatalf("digital asset without customer: %d", r.status)
	}
	if r := confirm("5", "ETHEREUM", "ETH", dp["id"].(string)); r.status != 404 {
		t.Fatalf("NFT confirm of a digital-asset proposal: %d", r.status)
	}
	for _, bad := range []string{`{"totalValue":0,"chain":"ETHEREUM","nftContractId":"` + contract + `","token":"ETH"}`,
		`{"totalValue":"1","chain":"ETHEREUM","nftContractId":"` + contract + `","token":"ETH"}`,
		`{"totalValue":1,"chain":"ETHEREUM","nftContractId":"0x12","token":"ETH"}`,
		`{"totalValue":1,"chain":"ETHEREUM","nftContractId":"` + contract + `","token":"ETH"} {}`,
		`{"totalValue":1,`} {
		if r := h.call(t, opNFTProposal, bad, opts{}); r.status != 400 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
}

func TestClaimRulesAndProgress(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ClaimSteps = []string{ClaimPending, ClaimReviewed, ClaimApproved}
		c.ClaimStepDelay = 0
	})
	policyUUID := h.nftPolicy(t, h.user.Address())
	h.gw.next(t) // ACCEPTED
	other := h.nftPolicy(t, h.user.Address())
	h.gw.next(t)
	tok := h.signIn(t, h.user)
	up := h.upload(t, tok, policyUUID, h.user.Address(), map[string]string{"a.pdf": "a", "b.png": "b"})
	keys := up.json(t)["keys"].([]any)
	if up.status != 200 || len(keys) != 2 || keys[0] == keys[1] {
		t.Fatalf("upload %d %s", up.status, up.raw)
	}
	create := func(policy, key string) result {
		return h.call(t, opClaimCreate, map[string]any{"reason": "lost", "policyUuid": policy, "email": "a@example.com",
			"files": []map[string]string{{"fileName": "a.pdf", "fileVersion": "1", "key": key}}}, opts{token: tok})
	}
	if r := create(policyUUID, "claims/nope"); r.status != 422 {
		t.Fatalf("unknown key: %d", r.status)
	}
	if r := create(other, keys[0].(string)); r.status != 422 {
		t.Fatalf("key of another policy: %d", r.status)
	}
	if r := create("0bc4470f-d4c3-4d35-b760-d2a4163c98fa", keys[0].(string)); r.status != 404 {
		t.Fatalf("unknown policy: %d", r.status)
	}
	if r := h.upload(t, tok, policyUUID, h.user.Address(), nil); r.status != 400 {
		t.Fatalf("upload without files: %d", r.status)
	}
	// A rejected policy takes no claim.
	if err := h.sb.SetPolicyStatus(other, PolicyRejected); err != nil {
		t.Fatal(err)
	}
	h.gw.next(t)
	up2 := h.upload(t, tok, other, h.user.Address(), map[string]string{"c.txt": "c"})
	if r := create(other, up2.json(t)["keys"].([]any)[0].(string)); r.status != 409 || r.json(t)["code"] != codeInvalidState {
		t.Fatalf("claim on a rejected policy: %d %s", r.status, r.raw)
	}
	// The claim walks to APPROVED with one callback per step, in order, each
	// naming the claim uuid, the policy and a claimId of its own.
	if r := create(policyUUID, keys[0].(string)); r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	claimUUID, _ := h.sb.ClaimUUID(policyUUID)
	for _, want := range []string{ClaimPending, ClaimReviewed, ClaimApproved} {
		var cb struct {
			EventType string         `json:"eventType"`
			Body      claimUpdateOut `json:"body"`
		}
		json.Unmarshal(h.gw.next(t), &cb)
		if cb.EventType != EventClaimUpdate || cb.Body.Status != want || cb.Body.UUID != claimUUID || cb.Body.PolicyUUID != policyUUID || cb.Body.Details.ClaimID == "" {
			t.Fatalf("callback %+v, want %s", cb, want)
		}
	}
	cs := h.must(t, opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok})
	if cs["claim"].(map[string]any)["status"] != ClaimApproved {
		t.Fatalf("status %v", cs)
	}
}

func TestCallbacksAreSignedAndRetried(t *testing.T) {
	h := newHarness(t, nil)
	h.gw.failFirst.Store(2)
	policyUUID := h.nftPolicy(t, h.user.Address())
	body := h.gw.next(t)
	h.gw.mu.Lock()
	sig := h.gw.sigs[0]
	h.gw.mu.Unlock()
	if sig != SignCallback([]byte(DefaultCallbackSecret), body) || len(sig) != 64 {
		t.Fatalf("signature %q", sig)
	}
	if !strings.Contains(string(body), policyUUID) {
		t.Fatalf("callback %s", body)
	}
	var d []Delivery
	for range 100 { // the delivery record is written just after the gateway answered
		if d = h.sb.Deliveries(); len(d) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(d) != 1 || d[0].Attempts != 3 || !d[0].Delivered || d[0].EventType != EventPolicyUpdate {
		t.Fatalf("deliveries %+v", d)
	}
	// Control endpoints move statuses over HTTP too.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, h.srv.URL+"/_sandbox/policies/"+policyUUID+"/status", strings.NewReader(`{"status":"EXPIRED"}`))
	if r := h.send(t, req); r.status != 204 {
		t.Fatalf("control: %d %s", r.status, r.raw)
	}
	var cb map[string]any
	json.Unmarshal(h.gw.next(t), &cb)
	if cb["body"].(map[string]any)["status"] != PolicyExpired {
		t.Fatalf("callback %v", cb)
	}
	det := h.must(t, opPolicyDetails, map[string]any{"uuid": policyUUID}, opts{})
	if det["policy"].(map[string]any)["finishedAt"] == nil {
		t.Fatalf("expired policy without finishedAt: %v", det)
	}
	for _, c := range []struct{ path, body string }{
		{"/_sandbox/policies/" + policyUUID + "/status", `{"status":"DONE"}`},
		{"/_sandbox/claims/nope/status", `{"status":"APPROVED"}`},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, h.srv.URL+c.path, strings.NewReader(c.body))
		if r := h.send(t, req); r.status < 400 {
			t.Errorf("%s %s: %d", c.path, c.body, r.status)
		}
	}
}

func TestFaultsPerPath(t *testing.T) {
	h := newHarness(t, nil)
	policyUUID := h.nftPolicy(t, h.user.Address())
	details := RoutesFor(PathsVerb)[opPolicyDetails].Path
	h.sb.Kit().SetFaults(sandboxkit.Faults{FailNext: 1, Status: 429, RetryAfterSec: 7, Paths: []string{details}})
	if r := h.call(t, opNFTProposal, map[string]any{"totalValue": 1, "chain": "ETHEREUM", "nftContractId": contract, "token": "ETH"}, opts{}); r.status != 200 {
		t.Fatalf("other path faulted: %d", r.status)
	}
	r := h.call(t, opPolicyDetails, map[string]any{"uuid": policyUUID}, opts{})
	if r.status != 429 || r.header.Get("Retry-After") != "7" {
		t.Fatalf("fault: %d %v", r.status, r.header)
	}
	if r := h.call(t, opPolicyDetails, map[string]any{"uuid": policyUUID}, opts{}); r.status != 200 {
		t.Fatalf("after the fault: %d", r.status)
	}
	h.sb.Kit().SetFaults(sandboxkit.Faults{OutageSeconds: 60})
	if r := h.call(t, opPolicyDetails, map[string]any{"uuid": policyUUID}, opts{}); r.status != 503 {
		t.Fatalf("outage: %d", r.status)
	}
	// Control endpoints keep working during an outage.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+"/_sandbox/readings", nil)
	if r := h.send(t, req); r.status != 200 {
		t.Fatalf("readings during outage: %d", r.status)
	}
}

func TestPricingIsExact(t *testing.T) {
	tests := []struct{ total, price string }{
		{"0.30000000000000004", "0.007500000000000001"},
		{"199.99", "4.99975"},
		{"1e2", "2.5"},
		{"100.000", "2.5"},
		{"0.000000000000000001", "0.000000000000000000025"},
	}
	h := newHarness(t, nil)
	for _, tc := range tests {
		p := h.must(t, opDigitalAssetProposal, `{"totalValue":`+tc.total+`,"countryCode":"global","currencyCode":"eur"}`, opts{})
		if p["policyPrice"] != json.Number(tc.price) {
			t.Errorf("%s: price %v, want %s", tc.total, p["policyPrice"], tc.price)
		}
	}
}
