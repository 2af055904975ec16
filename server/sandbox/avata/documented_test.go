package avata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// fixture loads a documented example from testdata (see testdata/INDEX.md).
func fixture(t *testing.T, name string) any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// mayBeNull are the documented fields the sandbox sends as null while they
// have no value yet (times that have not happened, the NFT of a policy that
// covers no NFT).
var mayBeNull = map[string]bool{"startDateTime": true, "endDateTime": true, "finishedAt": true, "confirmedAt": true, "nft": true}

// sameShape fails unless got has exactly the documented example's fields,
// each of the example's JSON type: objects the same keys (an empty example
// object {} is free-form), arrays elements like the example's first element,
// numbers numbers and strings strings.
func sameShape(t *testing.T, where string, doc, got any) {
	t.Helper()
	for _, p := range shapeProblems(where, doc, got) {
		t.Error(p)
	}
}

func shapeProblems(where string, doc, got any) []string {
	key := where[strings.LastIndex(where, ".")+1:]
	if got == nil && mayBeNull[key] {
		return nil
	}
	var out []string
	switch d := doc.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, documented an object", where, got)}
		}
		if len(d) == 0 {
			return nil
		}
		if dk, gk := keys(d), keys(g); !reflect.DeepEqual(dk, gk) {
			out = append(out, fmt.Sprintf("%s: fields %v, documented %v", where, gk, dk))
		}
		for k, dv := range d {
			if gv, ok := g[k]; ok {
				out = append(out, shapeProblems(where+"."+k, dv, gv)...)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, documented an array", where, got)}
		}
		if len(d) == 0 {
			return nil
		}
		for _, gv := range g {
			out = append(out, shapeProblems(where+"[]", d[0], gv)...)
		}
	case json.Number:
		if _, ok := got.(json.Number); !ok {
			out = append(out, fmt.Sprintf("%s: got %T (%v), documented a number", where, got, got))
		}
	case string:
		if _, ok := got.(string); !ok {
			out = append(out, fmt.Sprintf("%s: got %T (%v), documented a string", where, got, got))
		}
	default:
		out = append(out, fmt.Sprintf("%s: unexpected documented value %T", where, doc))
	}
	return out
}

// TestShapeCheckFindsDifferences: the comparison above can fail.
func TestShapeCheckFindsDifferences(t *testing.T) {
	doc := fixture(t, "claim-create.response.json")
	tests := []struct {
		name   string
		mutate func(claim map[string]any)
	}{
		{"extra uuid", func(c map[string]any) { c["uuid"] = "u" }},
		{"missing reason", func(c map[string]any) { delete(c, "reason") }},
		{"number for a string", func(c map[string]any) {
			c["policy"].(map[string]any)["purchaseData"].(map[string]any)["totalValue"] = json.Number("1")
		}},
		{"string for an array", func(c map[string]any) { c["files"] = "x" }},
		{"null status", func(c map[string]any) { c["status"] = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fixture(t, "claim-create.response.json")
			tc.mutate(got.(map[string]any)["claim"].(map[string]any))
			if len(shapeProblems("claim", doc, got)) == 0 {
				t.Fatal("difference not found")
			}
		})
	}
	if p := shapeProblems("claim", doc, fixture(t, "claim-create.response.json")); len(p) != 0 {
		t.Fatalf("the example differs from itself: %v", p)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestFixtureCopiesAgree: the adapter keeps the same copy of the documented
// examples; they must not drift apart.
func TestFixtureCopiesAgree(t *testing.T) {
	ours, err := filepath.Glob("testdata/*")
	if err != nil || len(ours) < 31 {
		t.Fatalf("fixtures: %v (%d files)", err, len(ours))
	}
	for _, p := range ours {
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join("..", "..", "partners", "avata", "testdata", "documented", filepath.Base(p)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the adapter's copy (%v)", filepath.Base(p), err)
		}
	}
	index, _ := os.ReadFile("testdata/INDEX.md")
	for _, p := range ours {
		if base := filepath.Base(p); base != "INDEX.md" && !bytes.Contains(index, []byte("| "+base+" |")) {
			t.Errorf("INDEX.md does not name %s", base)
		}
	}
}

// TestDocumentedRequestsDecode: the sandbox's request types read every field
// of every documented request example, and nothing is unknown to them.
func TestDocumentedRequestsDecode(t *testing.T) {
	tests := []struct {
		file string
		into any
	}{
		{"nft-proposal.request.json", &nftProposalIn{}},
		{"nft-confirm.request.json", &nftConfirmIn{}},
		{"activate-policy.request.json", &activateIn{}},
		{"booking-confirm.request.json", &bookingConfirmIn{}},
		{"booking-proposal.request.json", &bookingProposalIn{}},
		{"digital-asset-proposal.request.json", &digitalAssetProposalIn{}},
		{"digital-asset-confirm.request.json", &digitalAssetConfirmIn{}},
		{"policy-request-status.request.json", &uuidIn{}},
		{"auth-token.request.json", &signInIn{}},
		{"policy-details.request.json", &uuidIn{}},
		{"wallet-policies.request.json", &walletPoliciesIn{}},
		{"claim-status.request.json", &claimStatusIn{}},
		{"claim-create.request.json", &claimCreateIn{}},
		{"kyc.request.json", &kycIO{}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			dec.UseNumber()
			if err := dec.Decode(tc.into); err != nil {
				t.Fatalf("decode: %v", err)
			}
			// And back: every documented field survives the round trip.
			out, _ := json.Marshal(tc.into)
			var back any
			d2 := json.NewDecoder(bytes.NewReader(out))
			d2.UseNumber()
			if err := d2.Decode(&back); err != nil {
				t.Fatal(err)
			}
			sameShape(t, tc.file, fixture(t, tc.file), back)
		})
	}
}

// TestAnswersHaveTheDocumentedShape walks every operation under the default
// readings and compares each answer and each callback with its documented
// example, field for field.
func TestAnswersHaveTheDocumentedShape(t *testing.T) {
	h := newHarness(t, nil)
	check := func(file string, got any) {
		t.Helper()
		sameShape(t, file, fixture(t, file), got)
	}
	// NFT: proposal, confirm, the ACCEPTED callback.
	prop := h.must(t, opNFTProposal, map[string]any{"totalValue": json.Number("2.5"), "chain": "ETHEREUM", "nftContractId": contract,
		"countryCode": "global", "marketplaceContractId": market, "token": "ETH"}, opts{})
	check("nft-proposal.response.json", prop)
	conf := h.must(t, opNFTConfirm, map[string]any{
		"proposal": map[string]any{"id": prop["id"]},
		"purchase": map[string]any{"totalValue": json.Number("2.50"), "chain": "ETHEREUM", "nftContractId": contract, "marketplaceContractId": market,
			"countryCode": "global", "token": "ETH", "target": h.user.Address(), "nftTokenId": "7", "txId": "0xfeed", "source": "0xseller",
			"reference": "order-7", "currentBlock": "123", "metadata": map[string]any{"name": "Kitty #7", "image": "ipfs://kitty7"}},
		"customer": map[string]any{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"},
	}, opts{})
	check("nft-confirm.response.json", conf)
	policyUUID := conf["id"].(string)
	var cb map[string]any
	json.Unmarshal(h.gw.next(t), &cb)
	check("callback-policy-update.json", cb)
	if b := cb["body"].(map[string]any); b["status"] != PolicyAccepted || b["uuid"] != policyUUID || b["reference"] != "order-7" ||
		b["details"].(map[string]any)["policyType"] != kindNFT || b["details"].(map[string]any)["startDateTime"] == "" {
		t.Errorf("policy-update callback = %v", cb)
	}

	// Booking: proposal, confirm.
	bp := h.must(t, opBookingProposal, map[string]any{"totalValue": 100, "chain": "POLYGON", "nftIds": []any{}, "countryCode": "nl",
		"checkInDate": "2027-03-01", "token": "USDC"}, opts{})
	check("booking-proposal.response.json", bp)
	bc := h.must(t, opBookingConfirm, map[string]any{
		"proposal": map[string]any{"id": bp["id"]},
		"purchase": map[string]any{"reference": "b-1", "totalValue": 100, "chain": "POLYGON", "token": "USDC", "nftIds": []string{nftID},
			"walletAddress": h.user.Address(), "checkInDate": "2027-03-01", "bookingDateTime": "2026-12-01T10:00:00Z", "metadata": map[string]any{}},
	}, opts{})
	check("booking-confirm.response.json", bc)
	h.gw.next(t)

	// Digital asset: proposal (no duration, no coverage), confirm.
	dp := h.must(t, opDigitalAssetProposal, map[string]any{"totalValue": 199.99, "countryCode": "de", "currencyCode": "eur"}, opts{})
	check("digital-asset-proposal.response.json", dp)
	dc := h.must(t, opDigitalAssetConfirm, map[string]any{
		"proposal": map[string]any{"id": dp["id"]},
		"purchase": map[string]any{"reference": "d-1", "totalValue": 199.99, "invoiceId": "INV-1", "currencyCode": "eur"},
		"customer": map[string]any{"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "countryCode": "de"},
	}, opts{})
	check("digital-asset-confirm.response.json", dc)
	h.gw.next(t)

	// Policy: request status, details (money as strings), activate.
	rs := h.must(t, opRequestStatus, map[string]any{"uuid": policyUUID}, opts{})
	check("policy-request-status.response.json", rs)
	if b := rs["body"].(map[string]any); rs["eventType"] != EventPolicyUpdate || b["uuid"] != policyUUID || b["status"] != PolicyAccepted || b["reference"] != "order-7" {
		t.Errorf("request status = %v", rs)
	}
	det := h.must(t, opPolicyDetails, map[string]any{"uuid": policyUUID}, opts{})
	check("policy-details.response.json", det)
	pol := det["policy"].(map[string]any)
	pd := pol["purchaseData"].(map[string]any)
	asset := pd["nft"].(map[string]any)["asset"].(map[string]any)
	if pd["totalValue"] != "2.5" || pd["duration"] != "365" || pd["coveragePercentage"] != "100" || pol["finishedAt"] != nil ||
		pol["startDateTime"] == nil || pol["policyType"] != kindNFT || asset["title"] != "Kitty #7" || asset["uri"] != "ipfs://kitty7" ||
		asset["owner"] != h.user.Address() || asset["contractId"] != contract || !strings.HasPrefix(pol["policyHash"].(string), "0x") {
		t.Errorf("details = %v", det)
	}
	bdet := h.must(t, opPolicyDetails, map[string]any{"uuid": bc["id"]}, opts{})
	check("policy-details.response.json", bdet)
	if bdet["policy"].(map[string]any)["purchaseData"].(map[string]any)["nft"] != nil {
		t.Errorf("booking policy has an NFT: %v", bdet)
	}

	// Authentication: nonce and token.
	tok := h.signIn(t, h.user)
	check("auth-token.response.json", map[string]any{"accessToken": tok})
	nr := h.call(t, opNonce, nil, opts{})
	if nr.status != 400 {
		t.Errorf("nonce without query parameters: %d", nr.status)
	}

	// Wallet policies: the NFT (chain 1); the booking is on Polygon (137).
	wp := h.must(t, opWalletPolicies, map[string]any{"wallet": h.user.Address(), "chainId": 1}, opts{token: tok})
	check("wallet-policies.response.json", wp)
	if ps := wp["policies"].([]any); len(ps) != 1 || ps[0].(map[string]any)["policy"].(map[string]any)["uuid"] != policyUUID {
		t.Errorf("wallet policies on chain 1 = %v", wp)
	}
	wp137 := h.must(t, opWalletPolicies, map[string]any{"wallet": h.user.Address(), "chainId": 137}, opts{token: tok})
	if ps := wp137["policies"].([]any); len(ps) != 1 || ps[0].(map[string]any)["policy"].(map[string]any)["uuid"] != bc["id"] {
		t.Errorf("wallet policies on chain 137 = %v", wp137)
	}

	// Claims: upload, create (no uuid), status, the claim-update callback.
	up := h.upload(t, tok, policyUUID, h.user.Address(), map[string]string{"report.pdf": "%PDF-1.7"})
	check("claim-upload.response.json", up.json(t))
	key := up.json(t)["keys"].([]any)[0].(string)
	cr := h.must(t, opClaimCreate, map[string]any{"reason": "stolen", "policyUuid": policyUUID, "email": "ada@example.com",
		"files": []map[string]string{{"fileName": "report.pdf", "fileVersion": "1", "key": key}}}, opts{token: tok})
	check("claim-create.response.json", cr)
	if c := cr["claim"].(map[string]any); c["status"] != ClaimCreated || c["policy"].(map[string]any)["uuid"] != policyUUID || c["reason"] != "stolen" {
		t.Errorf("create claim = %v", cr)
	}
	cs := h.must(t, opClaimStatus, map[string]any{"policyUuid": policyUUID}, opts{token: tok})
	check("claim-status.response.json", cs)
	claimUUID, _ := h.sb.ClaimUUID(policyUUID)
	if err := h.sb.SetClaimStatus(claimUUID, ClaimApproved); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(h.gw.next(t), &cb)
	check("callback-claim-update.json", cb)
	if b := cb["body"].(map[string]any); b["uuid"] != claimUUID || b["policyUuid"] != policyUUID || b["status"] != ClaimApproved ||
		b["details"].(map[string]any)["claimId"] == "" || b["details"].(map[string]any)["claimId"] == claimUUID {
		t.Errorf("claim-update callback = %v", cb)
	}

	// KYC: the echo.
	kyc := h.must(t, opKYC, map[string]any{"policyUuid": policyUUID, "provider": "sumsub", "payload": map[string]any{"applicantId": "a1"}}, opts{})
	check("kyc.response.json", kyc)
	if kyc["payload"].(map[string]any)["applicantId"] != "a1" {
		t.Errorf("kyc echo = %v", kyc)
	}
}
