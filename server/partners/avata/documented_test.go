package avata_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/partnerhttp"
)

// The documented examples of the Avata reference live in
// testdata/documented (INDEX.md names each one's section). These tests feed
// every documented answer to the adapter's own decoders, through the real
// client, and check every documented field comes through.

func documented(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "documented", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replay is an HTTP server answering each path with a fixed body: the
// documented example, exactly as the reference shows it.
type replay struct {
	mu     sync.Mutex
	bodies map[string][]byte
	status map[string]int
	hits   []string
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	body, ok := rp.bodies[r.URL.Path]
	status := rp.status[r.URL.Path]
	rp.hits = append(rp.hits, r.Method+" "+r.URL.Path)
	rp.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func replayClient(t *testing.T, bodies map[string][]byte) (*avata.Client, *replay) {
	t.Helper()
	rp := &replay{bodies: bodies, status: map[string]int{}}
	srv := httptest.NewServer(rp)
	c, err := avata.New(avata.Config{BaseURL: srv.URL, APIKey: "k", HTTP: partnerhttp.Config{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); srv.Close() })
	return c, rp
}

// documentedPolicy is what the adapter must read from the documented policy
// example ("string" in every field).
func checkDocumentedPolicy(t *testing.T, where string, p avata.Policy) {
	t.Helper()
	s := "string"
	nft := p.PurchaseData.NFT
	if p.UUID != s || p.PolicyID != s || p.PolicyHash != s || p.PolicyType != s || p.Status != avata.PolicyStatus(s) ||
		p.StartDateTime != s || p.EndDateTime != s || p.FinishedAt != s ||
		p.PurchaseData.Reference != s || p.PurchaseData.TotalValue != s || p.PurchaseData.Duration != s ||
		p.PurchaseData.ConfirmedAt != s || p.PurchaseData.CoveragePercentage != s || nft == nil ||
		nft.TxID != s || nft.Source != s || nft.Token != s || nft.Target != s ||
		nft.Asset != (avata.NFTAsset{Owner: s, Chain: s, TokenID: s, ContractID: s, Title: s, URI: s}) {
		t.Errorf("%s: policy = %+v (nft %+v)", where, p, nft)
	}
}

func TestDocumentedAnswersDecode(t *testing.T) {
	p := avata.DefaultPaths()
	c, rp := replayClient(t, map[string][]byte{
		p.NFTProposal.Path:          documented(t, "nft-proposal.response.json"),
		p.NFTConfirm.Path:           documented(t, "nft-confirm.response.json"),
		p.BookingProposal.Path:      documented(t, "booking-proposal.response.json"),
		p.BookingConfirm.Path:       documented(t, "booking-confirm.response.json"),
		p.DigitalAssetProposal.Path: documented(t, "digital-asset-proposal.response.json"),
		p.DigitalAssetConfirm.Path:  documented(t, "digital-asset-confirm.response.json"),
		p.PolicyActivate.Path:       []byte(""), // no answer is documented
		p.PolicyRequestStatus.Path:  documented(t, "policy-request-status.response.json"),
		p.PolicyDetails.Path:        documented(t, "policy-details.response.json"),
		p.PoliciesForWallet.Path:    documented(t, "wallet-policies.response.json"),
		p.AuthNonce.Path:            documented(t, "auth-nonce.response.json"),
		p.AuthToken.Path:            documented(t, "auth-token.response.json"),
		p.ClaimUpload.Path:          documented(t, "claim-upload.response.json"),
		p.ClaimCreate.Path:          documented(t, "claim-create.response.json"),
		p.ClaimStatus.Path:          documented(t, "claim-status.response.json"),
		p.KYC.Path:                  documented(t, "kyc.response.json"),
	})
	user, err := ethsign.NewWallet(userKey)
	if err != nil {
		t.Fatal(err)
	}

	for name, propose := range map[string]func() (*avata.Proposal, error){
		"nft": func() (*avata.Proposal, error) {
			return c.ProposeNFT(ctx(t), avata.NFTProposalRequest{TotalValue: "1", Chain: "ETHEREUM", Token: "ETH"})
		},
		"booking": func() (*avata.Proposal, error) {
			return c.ProposeBooking(ctx(t), avata.BookingProposalRequest{TotalValue: "1", Chain: "ETHEREUM", Token: "ETH"})
		},
	} {
		prop, err := propose()
		if err != nil || *prop != (avata.Proposal{ID: "string", TotalValue: "0", Duration: "0", PolicyPercentage: "0", PolicyPrice: "0",
			CoveragePercentage: "0", PolicyTermsURL: "string", PolicyLogoURL: "string", AvataLogoURL: "string"}) {
			t.Errorf("%s proposal = %+v, %v", name, prop, err)
		}
	}
	dp, err := c.ProposeDigitalAsset(ctx(t), avata.DigitalAssetProposalRequest{TotalValue: "1", CountryCode: "de", CurrencyCode: "eur"})
	if err != nil || *dp != (avata.Proposal{ID: "string", TotalValue: "0", PolicyPercentage: "0", PolicyPrice: "0",
		PolicyTermsURL: "string", PolicyLogoURL: "string", AvataLogoURL: "string"}) {
		t.Errorf("digital-asset proposal = %+v, %v", dp, err)
	}

	ref := avata.ProposalRef{ID: "p"}
	for name, confirm := range map[string]func() (*avata.Confirmation, error){
		"nft": func() (*avata.Confirmation, error) {
			return c.ConfirmNFT(ctx(t), avata.NFTConfirmRequest{Proposal: ref})
		},
		"booking": func() (*avata.Confirmation, error) {
			return c.ConfirmBooking(ctx(t), avata.BookingConfirmRequest{Proposal: ref})
		},
		"digital asset": func() (*avata.Confirmation, error) {
			return c.ConfirmDigitalAsset(ctx(t), avata.DigitalAssetConfirmRequest{Proposal: ref})
		},
	} {
		conf, err := confirm()
		if err != nil || *conf != (avata.Confirmation{ID: "string", Message: "string"}) {
			t.Errorf("%s confirm = %+v, %v", name, conf, err)
		}
	}

	if act, err := c.ActivatePolicy(ctx(t), avata.ActivatePolicyRequest{PolicyUUID: "u"}); err != nil || *act != (avata.ActivatePolicyResponse{}) {
		t.Errorf("activate with an empty answer = %+v, %v", act, err)
	}

	st, err := c.PolicyRequestStatus(ctx(t), "u")
	if err != nil || st.EventType != "string" || st.Body.Reference != "string" || st.Body.UUID != "string" || st.Body.Status != "string" {
		t.Errorf("request status = %+v, %v", st, err)
	}

	pol, err := c.PolicyDetails(ctx(t), "u")
	if err != nil {
		t.Fatalf("details: %v", err)
	}
	checkDocumentedPolicy(t, "details", *pol)

	policies, err := c.PoliciesForWallet(ctx(t), user)
	if err != nil || len(policies) != 1 {
		t.Fatalf("wallet policies = %+v, %v", policies, err)
	}
	checkDocumentedPolicy(t, "wallet policies", policies[0])

	up, err := c.UploadClaimDocuments(ctx(t), user, "u", []avata.UploadFile{{Name: "a.pdf", Content: []byte("a")}})
	if err != nil || !reflect.DeepEqual(up, &avata.UploadResponse{Keys: []string{"string"}, Message: "string"}) {
		t.Errorf("upload = %+v, %v", up, err)
	}

	// The documented create answer has no claim uuid: it decodes, with UUID "".
	claim, err := c.CreateClaim(ctx(t), user, avata.CreateClaimRequest{PolicyUUID: "u", Files: []avata.ClaimFile{{Key: "k"}}})
	if err != nil {
		t.Fatalf("create claim: %v", err)
	}
	if claim.UUID != "" || claim.Reason != "string" || claim.CreatedDate != "string" || claim.Email != "string" || claim.Status != "string" ||
		!reflect.DeepEqual(claim.Files, []avata.ClaimFile{{FileName: "string", FileVersion: "string", Key: "string"}}) {
		t.Errorf("claim = %+v", claim)
	}
	checkDocumentedPolicy(t, "claim.policy", claim.Policy)

	cs, err := c.ClaimStatus(ctx(t), user, "0bc4470f-d4c3-4d35-b760-d2a4163c98fa")
	if err != nil || cs.UUID != "" || cs.Status != avata.ClaimCreated || cs.Policy.UUID != "095be615-a8ad-4c33-8e9c-c7612fbf6c9f" {
		t.Errorf("claim status = %+v, %v", cs, err)
	}

	kyc, err := c.SubmitKYC(ctx(t), avata.KYCRequest{PolicyUUID: "u", Provider: "p"})
	if err != nil || kyc.PolicyUUID != "string" || kyc.Provider != "string" || string(kyc.Payload) != "{}" {
		t.Errorf("kyc = %+v, %v", kyc, err)
	}

	// One wallet sign-in served every wallet call (the documented token is
	// not a JWT: the adapter falls back to its TTL).
	n := 0
	for _, h := range rp.hits {
		if strings.HasSuffix(h, p.AuthToken.Path) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("sign-ins = %d, want 1", n)
	}
}

// TestPolicyMoneyAsNumbersOrStrings: the details example shows amounts as
// strings; a number, or null for an unset time, must decode to the same.
func TestPolicyMoneyAsNumbersOrStrings(t *testing.T) {
	doc := string(documented(t, "policy-details.response.json"))
	variants := map[string]struct {
		body                    string
		total, duration, cover  string
		finishedAt, confirmedAt string
	}{
		"documented strings": {strings.NewReplacer(`"totalValue": "string"`, `"totalValue": "12.50"`, `"duration": "string"`, `"duration": "365"`,
			`"coveragePercentage": "string"`, `"coveragePercentage": "100"`).Replace(doc), "12.50", "365", "100", "string", "string"},
		"numbers": {strings.NewReplacer(`"totalValue": "string"`, `"totalValue": 1.123456789012345678`, `"duration": "string"`, `"duration": 365`,
			`"coveragePercentage": "string"`, `"coveragePercentage": 1e2`).Replace(doc), "1.123456789012345678", "365", "100", "string", "string"},
		"nulls": {strings.NewReplacer(`"totalValue": "string"`, `"totalValue": 5`, `"finishedAt": "string"`, `"finishedAt": null`,
			`"confirmedAt": "string"`, `"confirmedAt": null`, `"duration": "string"`, `"duration": null`).Replace(doc), "5", "", "string", "", ""},
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			if v.body == doc {
				t.Fatal("replacement did not apply")
			}
			c, _ := replayClient(t, map[string][]byte{avata.PathPolicyDetails: []byte(v.body)})
			pol, err := c.PolicyDetails(ctx(t), "u")
			if err != nil {
				t.Fatal(err)
			}
			pd := pol.PurchaseData
			if pd.TotalValue != v.total || pd.Duration != v.duration || pd.CoveragePercentage != v.cover || pol.FinishedAt != v.finishedAt ||
				pd.ConfirmedAt != v.confirmedAt || pd.NFT == nil || pd.NFT.Asset.Title != "string" || pd.Reference != "string" {
				t.Fatalf("purchase data = %+v, finishedAt %q", pd, pol.FinishedAt)
			}
		})
	}
	// Anything else in a money field is a bad answer, not a silent zero.
	bad := strings.Replace(doc, `"totalValue": "string"`, `"totalValue": {"amount": 1}`, 1)
	c, _ := replayClient(t, map[string][]byte{avata.PathPolicyDetails: []byte(bad)})
	if _, err := c.PolicyDetails(ctx(t), "u"); err == nil {
		t.Fatal("an object as totalValue decoded")
	}
}

// TestDocumentedCallbacksParse: both callback examples parse with every field.
func TestDocumentedCallbacksParse(t *testing.T) {
	cb, err := avata.ParseCallback(documented(t, "callback-policy-update.json"))
	if err != nil || cb.Policy == nil || *cb.Policy != (avata.PolicyUpdate{Status: avata.PolicyApproved, UUID: "d7b9f5b0-4b4b-11eb-ae93-0242ac130002",
		Reference: "1234567890", Details: avata.PolicyUpdateDetails{PolicyID: "1234567890", PolicyType: "DIGITAL_ASSET",
			StartDateTime: "2021-01-01T00:00:00.000Z", EndDateTime: "2021-01-02T00:00:00.000Z"}}) {
		t.Errorf("policy-update = %+v, %v", cb, err)
	}
	cb, err = avata.ParseCallback(documented(t, "callback-claim-update.json"))
	if err != nil || cb.Claim == nil || *cb.Claim != (avata.ClaimUpdate{Status: avata.ClaimApproved, UUID: "d7b9f5b0-4b4b-11eb-ae93-0242ac130002",
		PolicyUUID: "d7b9f5b0-4b4b-11eb-ae93-0242ac130002", Details: avata.ClaimUpdateDetails{ClaimID: "1234567890"}}) {
		t.Errorf("claim-update = %+v, %v", cb, err)
	}
}

// TestDocumentedRequestsFitTheWireTypes: every field of every documented
// request example has a place in the adapter's request types, and survives
// encoding back.
func TestDocumentedRequestsFitTheWireTypes(t *testing.T) {
	tests := []struct {
		file string
		into any
	}{
		{"nft-proposal.request.json", &avata.NFTProposalRequest{}},
		{"nft-confirm.request.json", &avata.NFTConfirmRequest{}},
		{"activate-policy.request.json", &avata.ActivatePolicyRequest{}},
		{"booking-confirm.request.json", &avata.BookingConfirmRequest{}},
		{"booking-proposal.request.json", &avata.BookingProposalRequest{}},
		{"digital-asset-proposal.request.json", &avata.DigitalAssetProposalRequest{}},
		{"digital-asset-confirm.request.json", &avata.DigitalAssetConfirmRequest{}},
		{"auth-token.request.json", &avata.SignInRequest{}},
		{"wallet-policies.request.json", &avata.PoliciesForWalletRequest{}},
		{"claim-create.request.json", &avata.CreateClaimRequest{}},
		{"kyc.request.json", &avata.KYCRequest{}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw := documented(t, tc.file)
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			dec.UseNumber()
			if err := dec.Decode(tc.into); err != nil {
				t.Fatalf("decode: %v", err)
			}
			back, err := json.Marshal(tc.into)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			json.Unmarshal(raw, &want)
			json.Unmarshal(back, &got)
			// Placeholders that are empty in the example ({} metadata, 0
			// chain id) may be left out by omitempty; everything else must be
			// there with the same value.
			for _, missing := range diffFields("", want, got) {
				t.Errorf("documented field %s lost on encoding", missing)
			}
		})
	}
}

// diffFields lists the paths of non-empty documented values absent or
// different in got.
func diffFields(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		var out []string
		for k, wv := range w {
			out = append(out, diffFields(path+"."+k, wv, g[k])...)
		}
		return out
	case []any:
		g, _ := got.([]any)
		if len(w) != len(g) {
			return []string{path}
		}
		var out []string
		for i := range w {
			out = append(out, diffFields(path+"[]", w[i], g[i])...)
		}
		return out
	}
	if reflect.ValueOf(want).IsZero() && got == nil {
		return nil // {} / 0 / "" placeholder left out by omitempty
	}
	if !reflect.DeepEqual(want, got) {
		return []string{path}
	}
	return nil
}

// TestCreateClaimWithoutClaimObject: a 2xx without a claim is "claim exists"
// when it says so, a bad response otherwise.
func TestCreateClaimWithoutClaimObject(t *testing.T) {
	user, _ := ethsign.NewWallet(userKey)
	tests := []struct {
		body        string
		claimExists bool
	}{
		{`{"message":"Claim already exists for this policy"}`, true},
		{`{"message":"ok"}`, false},
		{`{}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			c, _ := replayClient(t, map[string][]byte{
				avata.PathAuthNonce: documented(t, "auth-nonce.response.json"), avata.PathAuthToken: documented(t, "auth-token.response.json"),
				avata.PathClaimCreate: []byte(tc.body),
			})
			_, err := c.CreateClaim(ctx(t), user, avata.CreateClaimRequest{PolicyUUID: "u", Files: []avata.ClaimFile{{Key: "k"}}})
			if err == nil || avata.IsClaimExists(err) != tc.claimExists {
				t.Fatalf("err = %v, IsClaimExists %v", err, avata.IsClaimExists(err))
			}
			var aerr *avata.Error
			if !errors.As(err, &aerr) {
				t.Fatalf("%T", err)
			}
		})
	}
}

// TestIsClaimExists: every reading of a duplicate claim is recognised, and
// nothing else is.
func TestIsClaimExists(t *testing.T) {
	user, _ := ethsign.NewWallet(userKey)
	tests := []struct {
		name   string
		status int
		body   string
		want   bool
	}{
		{"409 with code", 409, `{"message":"Claim already exists for this policy","code":"CLAIM_EXISTS"}`, true},
		{"409 nest body", 409, `{"statusCode":409,"message":"Claim already exists for this policy","error":"Conflict"}`, true},
		{"409 without body", 409, ``, true},
		{"400 with code", 400, `{"message":"Claim already exists for this policy","code":"CLAIM_EXISTS"}`, true},
		{"400 nest body", 400, `{"statusCode":400,"message":"Claim already exists for this policy","error":"Bad Request"}`, true},
		{"200 message", 200, `{"message":"Claim already exists for this policy"}`, true},
		{"409 other code", 409, `{"message":"claims need an ACCEPTED policy; this one is REJECTED","code":"INVALID_STATE"}`, false},
		{"409 nest, other reason", 409, `{"statusCode":409,"message":"claims need an ACCEPTED policy; this one is REJECTED","error":"Conflict"}`, false},
		{"400 validation", 400, `{"statusCode":400,"message":"email must be an e-mail address","error":"Bad Request"}`, false},
		{"404", 404, `{"message":"policy not found"}`, false},
		{"500", 500, `{"message":"claim exists"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, rp := replayClient(t, map[string][]byte{
				avata.PathAuthNonce: documented(t, "auth-nonce.response.json"), avata.PathAuthToken: documented(t, "auth-token.response.json"),
				avata.PathClaimCreate: []byte(tc.body),
			})
			rp.status[avata.PathClaimCreate] = tc.status
			_, err := c.CreateClaim(ctx(t), user, avata.CreateClaimRequest{PolicyUUID: "u", Files: []avata.ClaimFile{{Key: "k"}}})
			if err == nil || avata.IsClaimExists(err) != tc.want {
				t.Fatalf("err = %v, IsClaimExists = %v, want %v", err, avata.IsClaimExists(err), tc.want)
			}
		})
	}
	if avata.IsClaimExists(errors.New("claim exists")) || avata.IsClaimExists(nil) {
		t.Fatal("a plain error taken for claim exists")
	}
}
