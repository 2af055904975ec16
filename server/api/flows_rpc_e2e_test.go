package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	scalepointbox "github.com/covergate/covergate/server/sandbox/scalepoint"
	"github.com/covergate/covergate/server/store"
)

// flowWantREST checks a REST error: HTTP status, gRPC code and ErrorInfo reason, and an optional
// metadata value ("key=value").
func flowWantREST(t *testing.T, r apptest.Result, httpStatus int, reason insurancev1.ErrorReason, meta ...string) {
	t.Helper()
	if r.Code != httpStatus {
		t.Fatalf("HTTP %d, want %d: %s", r.Code, httpStatus, r.Body)
	}
	info := apptest.ErrorInfo(t, apptest.RESTStatus(t, r))
	if info.GetReason() != apierror.Reason(reason) {
		t.Fatalf("reason %s, want %s: %s", info.GetReason(), reason, r.Body)
	}
	for _, kv := range meta {
		k, v, _ := strings.Cut(kv, "=")
		if info.GetMetadata()[k] != v {
			t.Fatalf("metadata %s = %q, want %q: %s", k, info.GetMetadata()[k], v, r.Body)
		}
	}
}

// flowActivePolicy buys an NFT policy over gRPC and waits until Avata has accepted it.
func flowActivePolicy(t *testing.T, s *apptest.Server, amount string) *insurancev1.Policy {
	t.Helper()
	ctx := apptest.WithToken(apptest.AllKey)
	q := flowNFTQuote(t, ctx, s, amount)
	policies := insurancev1.NewPolicyServiceClient(s.Conn)
	pr, err := policies.CreatePolicy(ctx, flowNFTPurchase(q.GetQuoteId(), amount))
	if err != nil {
		t.Fatal(err)
	}
	var p *insurancev1.Policy
	flowWait(t, "policy ACTIVE", func() bool {
		g, err := policies.GetPolicy(ctx, &insurancev1.GetPolicyRequest{PolicyId: pr.GetPolicy().GetPolicyId()})
		if err != nil {
			t.Fatal(err)
		}
		p = g.GetPolicy()
		return p.GetStatus() == insurancev1.PolicyStatus_POLICY_STATUS_ACTIVE
	})
	return p
}

func TestFlowPurchaseChecks(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	q := flowNFTQuote(t, ctx, s, "0.3")
	avataConfirms := func() int { return flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/nft/confirm") }

	booking := flowNFTPurchase(q.GetQuoteId(), "0.3")
	booking.Purchase = &insurancev1.CreatePolicyRequest_DigitalAsset{DigitalAsset: &insurancev1.DigitalAssetPurchase{InvoiceId: "INV-1"}}
	cases := []struct {
		name   string
		req    *insurancev1.CreatePolicyRequest
		status int
		reason insurancev1.ErrorReason
		meta   string
	}{
		{"0.1 + 0.2 is not 0.3", flowNFTPurchase(q.GetQuoteId(), "0.30000000000000004"), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_QUOTE_MISMATCH, "field=total_value.amount"},
		{"other currency", func() *insurancev1.CreatePolicyRequest {
			r := flowNFTPurchase(q.GetQuoteId(), "0.3")
			r.TotalValue.CurrencyCode = "MATIC"
			return r
		}(), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_QUOTE_MISMATCH, "field=total_value.currency_code"},
		{"other kind", booking, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_QUOTE_MISMATCH, "field=purchase"},
		{"unknown quote", flowNFTPurchase("01900000-0000-7000-8000-000000000001", "0.3"), http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND, "resource=quote"},
		{"unknown customer", func() *insurancev1.CreatePolicyRequest {
			r := flowNFTPurchase(q.GetQuoteId(), "0.3")
			r.CustomerId = "01900000-0000-7000-8000-000000000002"
			return r
		}(), http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND, "resource=customer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.JSON(t, "POST", "/v1/policies", apptest.AllKey, mustJSON(t, tc.req))
			flowWantREST(t, r, tc.status, tc.reason, tc.meta)
		})
	}
	if n := avataConfirms(); n != 0 {
		t.Fatalf("Avata confirm calls = %d, want 0: mismatches are refused before calling the carrier", n)
	}

	// An expired quote cannot be bought.
	short := apptest.Start(t, func(c *app.Config) { c.QuoteTTL = time.Nanosecond })
	eq := flowNFTQuote(t, ctx, short, "1")
	r := short.JSON(t, "POST", "/v1/policies", apptest.AllKey, mustJSON(t, flowNFTPurchase(eq.GetQuoteId(), "1")))
	flowWantREST(t, r, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_QUOTE_EXPIRED)
	if !eq.GetExpireTime().AsTime().Before(time.Now()) {
		t.Fatalf("quote expire time %v is not in the past", eq.GetExpireTime().AsTime())
	}
}

func TestFlowQuoteChecks(t *testing.T) {
	s := apptest.Start(t)
	for _, tc := range []struct {
		name, body string
		status     int
		reason     insurancev1.ErrorReason
	}{
		{"token differs from currency", `{"nft":{"chain":"CHAIN_ETHEREUM","nftContractAddress":"` + flowNFTContract + `","token":"TOKEN_USDC"},"totalValue":{"currencyCode":"ETH","amount":"1"}}`,
			http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{"digital asset in EUR only", `{"digitalAsset":{"country":"COVER_COUNTRY_NL"},"totalValue":{"currencyCode":"USD","amount":"10"}}`,
			http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{"exponent amounts are refused", `{"digitalAsset":{"country":"COVER_COUNTRY_NL"},"totalValue":{"currencyCode":"EUR","amount":"1e3"}}`,
			http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
		{"float amounts are refused", `{"digitalAsset":{"country":"COVER_COUNTRY_NL"},"totalValue":{"currencyCode":"EUR","amount":10.5}}`,
			http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		{"unknown customer", `{"digitalAsset":{"country":"COVER_COUNTRY_NL"},"totalValue":{"currencyCode":"EUR","amount":"10"},"customerId":"01900000-0000-7000-8000-000000000003"}`,
			http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flowWantREST(t, s.JSON(t, "POST", "/v1/quotes", apptest.AllKey, tc.body), tc.status, tc.reason)
		})
	}
	if n := flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/digital-asset/proposal"); n != 0 {
		t.Fatalf("Avata was called %d times for refused quotes", n)
	}
	var q insurancev1.CreateQuoteResponse
	flowREST(t, s, "POST", "/v1/quotes", `{"digitalAsset":{"country":"COVER_COUNTRY_NL"},"totalValue":{"currencyCode":"EUR","amount":"199.99"}}`, nil, &q)
	if q.GetQuote().GetPremium().GetAmount() != "4.99975" || q.GetQuote().GetDigitalAsset().GetCountry() != insurancev1.CoverCountry_COVER_COUNTRY_NL {
		t.Fatalf("digital-asset quote = %v", q.GetQuote())
	}
	flowWantREST(t, s.JSON(t, "GET", "/v1/quotes/01900000-0000-7000-8000-000000000004", apptest.AllKey, ""), http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND)

	// Digital-asset cover needs the holder's name and e-mail; with them the purchase works.
	noHolder := `{"quoteId":"` + q.GetQuote().GetQuoteId() + `","digitalAsset":{"invoiceId":"INV-9"},"totalValue":{"currencyCode":"EUR","amount":"199.99"}}`
	flowWantREST(t, s.JSON(t, "POST", "/v1/policies", apptest.AllKey, noHolder), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	withHolder := strings.TrimSuffix(noHolder, "}") + `,"holder":{"firstName":"Max","lastName":"Muster","email":"max@example.com"}}`
	var p insurancev1.CreatePolicyResponse
	flowREST(t, s, "POST", "/v1/policies", withHolder, nil, &p)
	if p.GetPolicy().GetKind() != insurancev1.PolicyKind_POLICY_KIND_DIGITAL_ASSET || p.GetPolicy().GetPremium().GetAmount() != "4.99975" {
		t.Fatalf("digital-asset policy = %v", p.GetPolicy())
	}
}

func TestFlowPolicyManagement(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	p := flowActivePolicy(t, s, "1")
	other := flowActivePolicy(t, s, "2")

	// Paging is stable and tokens are bound to their filters.
	var page1, page2 insurancev1.ListPoliciesResponse
	flowREST(t, s, "GET", "/v1/policies?pageSize=1", "", nil, &page1)
	if len(page1.GetPolicies()) != 1 || page1.GetNextPageToken() == "" {
		t.Fatalf("page 1 = %v", &page1)
	}
	flowActivePolicy(t, s, "3") // created while paging
	flowREST(t, s, "GET", "/v1/policies?pageSize=1&pageToken="+page1.GetNextPageToken(), "", nil, &page2)
	if len(page2.GetPolicies()) != 1 || page2.GetPolicies()[0].GetPolicyId() != other.GetPolicyId() {
		t.Fatalf("page 2 = %v, want the second policy", &page2)
	}
	flowWantREST(t, s.JSON(t, "GET", "/v1/policies?pageSize=1&status=POLICY_STATUS_ACTIVE&pageToken="+page1.GetNextPageToken(), apptest.AllKey, ""),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	flowWantREST(t, s.JSON(t, "GET", "/v1/policies?pageToken=bm9wZQ", apptest.AllKey, ""),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	var byStatus insurancev1.ListPoliciesResponse
	flowREST(t, s, "GET", "/v1/policies?status=POLICY_STATUS_ACTIVE&partner=PARTNER_AVATA", "", nil, &byStatus)
	if len(byStatus.GetPolicies()) != 3 {
		t.Fatalf("filtered list = %d policies, want 3", len(byStatus.GetPolicies()))
	}
	flowREST(t, s, "GET", "/v1/policies?partner=PARTNER_ETVAS", "", nil, &byStatus)
	if len(byStatus.GetPolicies()) != 0 {
		t.Fatalf("Etvas policies = %d, want 0", len(byStatus.GetPolicies()))
	}

	// Cancel: a stale etag is 412 and changes nothing; the current one cancels.
	stale := `{"etag":"` + p.GetEtag() + `0","reason":"customer request"}`
	flowWantREST(t, s.JSON(t, "POST", "/v1/policies/"+p.GetPolicyId()+":cancel", apptest.AllKey, stale),
		http.StatusPreconditionFailed, insurancev1.ErrorReason_ERROR_REASON_ETAG_MISMATCH)
	var canceled insurancev1.CancelPolicyResponse
	flowREST(t, s, "POST", "/v1/policies/"+p.GetPolicyId()+":cancel", `{"etag":"`+p.GetEtag()+`","reason":"customer request"}`, nil, &canceled)
	if canceled.GetPolicy().GetStatus() != insurancev1.PolicyStatus_POLICY_STATUS_CANCELED || canceled.GetPolicy().GetEtag() == p.GetEtag() {
		t.Fatalf("canceled = %v", canceled.GetPolicy())
	}
	// Canceling again is a no-op; the old etag is now stale.
	flowWantREST(t, s.JSON(t, "POST", "/v1/policies/"+p.GetPolicyId()+":cancel", apptest.AllKey, `{"etag":"`+p.GetEtag()+`"}`),
		http.StatusPreconditionFailed, insurancev1.ErrorReason_ERROR_REASON_ETAG_MISMATCH)
	var again insurancev1.CancelPolicyResponse
	flowREST(t, s, "POST", "/v1/policies/"+p.GetPolicyId()+":cancel", `{}`, nil, &again)
	if again.GetPolicy().GetEtag() != canceled.GetPolicy().GetEtag() {
		t.Fatalf("second cancel changed the policy: %v", again.GetPolicy())
	}
	if got := flowEventTypes(t, s, domain.SubjectPolicies+p.GetPolicyId()); strings.Join(got, ",") != "policy.created,policy.activated,policy.canceled" {
		t.Fatalf("events = %v", got)
	}
	// A canceled policy takes no claim and cannot be refreshed back to ACTIVE.
	flowWantREST(t, s.JSON(t, "POST", "/v1/policies/"+p.GetPolicyId()+"/claim-documents", apptest.AllKey,
		`{"documents":[{"fileName":"a.pdf","contentType":"application/pdf","content":"`+base64.StdEncoding.EncodeToString([]byte(flowPDF))+`"}]}`),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE)
	rr, err := insurancev1.NewPolicyServiceClient(s.Conn).RefreshPolicy(ctx, &insurancev1.RefreshPolicyRequest{PolicyId: p.GetPolicyId()})
	if err != nil || rr.GetChanged() || rr.GetPolicy().GetStatus() != insurancev1.PolicyStatus_POLICY_STATUS_CANCELED {
		t.Fatalf("refresh of a canceled policy = %v, %v", rr, err)
	}
	// Only booking policies are activated.
	flowWantREST(t, s.JSON(t, "POST", "/v1/policies/"+other.GetPolicyId()+":activate", apptest.AllKey,
		`{"chain":"CHAIN_ETHEREUM","nftIds":["0x`+strings.Repeat("c", 64)+`"],"walletAddress":"`+flowSeller+`","token":"TOKEN_ETH"}`),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE)
	flowWantREST(t, s.JSON(t, "GET", "/v1/policies/01900000-0000-7000-8000-000000000005", apptest.AllKey, ""), http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND)
}

func TestFlowActivateBooking(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	nft := "0x" + strings.Repeat("d", 64)
	qr, err := insurancev1.NewQuoteServiceClient(s.Conn).CreateQuote(ctx, &insurancev1.CreateQuoteRequest{
		Cover: &insurancev1.CreateQuoteRequest_Booking{Booking: &insurancev1.BookingCover{
			Chain: insurancev1.Chain_CHAIN_ETHEREUM, NftIds: []string{nft}, CheckInDate: "2027-05-05", Token: insurancev1.Token_TOKEN_ETH,
		}},
		TotalValue: &insurancev1.Money{CurrencyCode: "ETH", Amount: "0.5"},
	})
	if err != nil {
		t.Fatal(err)
	}
	policies := insurancev1.NewPolicyServiceClient(s.Conn)
	pr, err := policies.CreatePolicy(ctx, &insurancev1.CreatePolicyRequest{
		QuoteId: qr.GetQuote().GetQuoteId(),
		Purchase: &insurancev1.CreatePolicyRequest_Booking{Booking: &insurancev1.BookingPurchase{
			BookingWalletAddress: flowSeller, WalletAddress: flowSeller, TxId: flowTxID, BookingTime: timestamppb.Now(),
		}},
		TotalValue: &insurancev1.Money{CurrencyCode: "ETH", Amount: "0.5"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ar, err := policies.ActivatePolicy(ctx, &insurancev1.ActivatePolicyRequest{
		PolicyId: pr.GetPolicy().GetPolicyId(), Chain: insurancev1.Chain_CHAIN_ETHEREUM, NftIds: []string{nft},
		WalletAddress: flowSeller, Token: insurancev1.Token_TOKEN_ETH,
	})
	if err != nil {
		t.Fatal(err)
	}
	if ar.GetPolicy().GetStatus() != insurancev1.PolicyStatus_POLICY_STATUS_ACTIVE {
		t.Fatalf("activated policy = %v", ar.GetPolicy())
	}
	if n := flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/policies/activate"); n != 1 {
		t.Fatalf("Avata activate calls = %d", n)
	}
	// Avata refuses a token that does not match the policy: its 422 reaches the caller.
	_, err = policies.ActivatePolicy(ctx, &insurancev1.ActivatePolicyRequest{
		PolicyId: pr.GetPolicy().GetPolicyId(), Chain: insurancev1.Chain_CHAIN_ETHEREUM, NftIds: []string{nft},
		WalletAddress: flowSeller, Token: insurancev1.Token_TOKEN_USDT,
	})
	if info := apptest.ErrorInfo(t, status.Convert(err)); info.GetMetadata()["partner"] != "avata" || info.GetMetadata()["http_status"] != "422" {
		t.Fatalf("mismatching activation = %v", err)
	}
}

func TestFlowClaimChecks(t *testing.T) {
	s := apptest.Start(t)
	p := flowActivePolicy(t, s, "1")
	other := flowActivePolicy(t, s, "2")
	upload := func(policyID, name, contentType string, content []byte) apptest.Result {
		return s.JSON(t, "POST", "/v1/policies/"+policyID+"/claim-documents", apptest.AllKey, flowJSON(t, map[string]any{
			"documents": []any{map[string]any{"fileName": name, "contentType": contentType, "content": base64.StdEncoding.EncodeToString(content)}},
		}))
	}
	// Type and size limits are checked before Avata sees the file.
	flowWantREST(t, upload(p.GetPolicyId(), "x.pdf", "application/pdf", []byte("MZ\x90\x00 not a pdf")), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	flowWantREST(t, upload(p.GetPolicyId(), "x.exe", "application/x-msdownload", []byte("MZ")), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	flowWantREST(t, upload(p.GetPolicyId(), "../etc/passwd", "application/pdf", []byte(flowPDF)), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	if n := flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/claims/upload"); n != 0 {
		t.Fatalf("Avata upload calls = %d for refused files", n)
	}
	big := upload(p.GetPolicyId(), "big.pdf", "application/pdf", append([]byte(flowPDF), make([]byte, 300<<10)...))
	if big.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("upload over the gateway limit = %d: %s", big.Code, big.Body)
	}

	var up insurancev1.UploadClaimDocumentsResponse
	r := upload(p.GetPolicyId(), "scan.jpg", "image/jpeg", []byte("\xFF\xD8\xFF\xE0 jpeg"))
	if r.Code != http.StatusOK {
		t.Fatalf("upload = %d: %s", r.Code, r.Body)
	}
	flowDecode(t, r, &up)
	var upOther insurancev1.UploadClaimDocumentsResponse
	flowDecode(t, upload(other.GetPolicyId(), "b.png", "image/png", []byte("\x89PNG\r\n\x1a\nx")), &upOther)

	claim := func(policyID, reason string, keys ...string) apptest.Result {
		return s.JSON(t, "POST", "/v1/policies/"+policyID+"/claims", apptest.AllKey, flowJSON(t, map[string]any{
			"reason": reason, "claimantEmail": "ada@example.com", "documentKeys": keys,
		}))
	}
	key := up.GetDocuments()[0].GetDocumentKey()
	flowWantREST(t, claim(p.GetPolicyId(), "          x", key), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	flowWantREST(t, claim(p.GetPolicyId(), "short", key), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	flowWantREST(t, claim(p.GetPolicyId(), "The item broke in transit\x00!", key), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	// A key uploaded for another policy does not belong to this one.
	flowWantREST(t, claim(p.GetPolicyId(), "The item broke in transit.", upOther.GetDocuments()[0].GetDocumentKey()), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	if n := flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/claims"); n != 0 {
		t.Fatalf("Avata claim calls = %d for refused claims", n)
	}
	var c insurancev1.CreateClaimResponse
	flowDecode(t, claim(p.GetPolicyId(), "The item broke in transit.", key), &c)
	// Avata allows one claim per policy: its conflict reaches the caller with its ErrorInfo.
	second := claim(p.GetPolicyId(), "The item broke in transit again.", key)
	flowWantREST(t, second, http.StatusConflict, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CONFLICT, "partner=avata", "http_status=409")

	var list insurancev1.ListClaimsResponse
	flowREST(t, s, "GET", "/v1/claims?policyId="+p.GetPolicyId(), "", nil, &list)
	if len(list.GetClaims()) != 1 || list.GetClaims()[0].GetClaimId() != c.GetClaim().GetClaimId() {
		t.Fatalf("claims of the policy = %v", list.GetClaims())
	}
	flowREST(t, s, "GET", "/v1/claims?policyId="+other.GetPolicyId(), "", nil, &list)
	if len(list.GetClaims()) != 0 {
		t.Fatalf("claims of the other policy = %v", list.GetClaims())
	}
}

func flowDecode(t *testing.T, r apptest.Result, out proto.Message) {
	t.Helper()
	if r.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.Code, r.Body)
	}
	if err := protojson.Unmarshal(r.Body, out); err != nil {
		t.Fatalf("decode: %v: %s", err, r.Body)
	}
}

func TestFlowCustomers(t *testing.T) {
	s := apptest.Start(t)
	minted, err := s.App.Sandbox().Etvas.Mint(etvasbox.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var v insurancev1.VerifyPortalTokenResponse
	flowREST(t, s, "POST", "/v1/customers:verifyPortalToken", `{"token":"`+minted.Token+`"}`, nil, &v)
	c := v.GetCustomer()
	if !v.GetCreated() || v.GetContextId() != minted.ContextID || c.GetProfile().GetEmail() != "erika.mustermann@example.com" ||
		c.GetPartnerRefs().GetEtvasContextIds()[0] != minted.ContextID {
		t.Fatalf("verify = %v", &v)
	}
	// The same token again finds the same customer.
	var again insurancev1.VerifyPortalTokenResponse
	flowREST(t, s, "POST", "/v1/customers:verifyPortalToken", `{"token":"`+minted.Token+`"}`, nil, &again)
	if again.GetCreated() || again.GetCustomer().GetCustomerId() != c.GetCustomerId() {
		t.Fatalf("second verify = %v", &again)
	}
	flowWantREST(t, s.JSON(t, "POST", "/v1/customers:verifyPortalToken", apptest.AllKey, `{"token":"not-a-token"}`),
		http.StatusUnauthorized, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED)

	// KYC for one of the customer's policies: buy one for this customer first.
	ctx := apptest.WithToken(apptest.AllKey)
	q := flowNFTQuote(t, ctx, s, "1")
	buy := flowNFTPurchase(q.GetQuoteId(), "1")
	buy.CustomerId = c.GetCustomerId()
	pr, err := insurancev1.NewPolicyServiceClient(s.Conn).CreatePolicy(ctx, buy)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetPolicy().GetCustomerId() != c.GetCustomerId() {
		t.Fatalf("policy customer = %s, want %s", pr.GetPolicy().GetCustomerId(), c.GetCustomerId())
	}
	payload, _ := structpb.NewStruct(map[string]any{"documentType": "passport", "verified": true})
	kyc, err := insurancev1.NewCustomerServiceClient(s.Conn).SubmitKyc(ctx, &insurancev1.SubmitKycRequest{
		CustomerId: c.GetCustomerId(), PolicyId: pr.GetPolicy().GetPolicyId(), Provider: "onfido", Payload: payload,
	})
	if err != nil {
		t.Fatal(err)
	}
	if k := kyc.GetCustomer().GetKyc(); k.GetProvider() != "onfido" || k.GetPolicyId() != pr.GetPolicy().GetPolicyId() || k.GetSubmitTime() == nil {
		t.Fatalf("kyc = %v", k)
	}
	if n := flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/kyc"); n != 1 {
		t.Fatalf("Avata KYC calls = %d", n)
	}
	otherOwner := flowActivePolicy(t, s, "5") // not this customer's
	_, err = insurancev1.NewCustomerServiceClient(s.Conn).SubmitKyc(ctx, &insurancev1.SubmitKycRequest{
		CustomerId: c.GetCustomerId(), PolicyId: otherOwner.GetPolicyId(), Provider: "onfido",
	})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("KYC for another customer's policy = %v", err)
	}

	// Erasure: the personal data is gone everywhere; ids and policies remain.
	var erased insurancev1.EraseCustomerResponse
	flowREST(t, s, "POST", "/v1/customers/"+c.GetCustomerId()+":erase", `{"reason":"GDPR request 17"}`, nil, &erased)
	if erased.GetCustomer().GetState() != insurancev1.CustomerState_CUSTOMER_STATE_ERASED || erased.GetCustomer().GetProfile() != nil {
		t.Fatalf("erased = %v", erased.GetCustomer())
	}
	where, err := s.App.Store().FindText(context.Background(), "erika.mustermann@example.com")
	if err != nil || len(where) != 0 {
		t.Fatalf("e-mail still stored in %v (%v)", where, err)
	}
	var got insurancev1.GetCustomerResponse
	flowREST(t, s, "GET", "/v1/customers/"+c.GetCustomerId(), "", nil, &got)
	if got.GetCustomer().GetState() != insurancev1.CustomerState_CUSTOMER_STATE_ERASED || got.GetCustomer().GetPseudonymId() != c.GetPseudonymId() {
		t.Fatalf("customer after erasure = %v", got.GetCustomer())
	}
	flowREST(t, s, "POST", "/v1/customers/"+c.GetCustomerId()+":erase", `{}`, nil, &erased) // idempotent
	flowWantREST(t, s.JSON(t, "POST", "/v1/customers/01900000-0000-7000-8000-000000000006:erase", apptest.AllKey, `{}`),
		http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND)
	if _, err := s.App.Store().GetPolicy(context.Background(), pr.GetPolicy().GetPolicyId()); err != nil {
		t.Fatalf("policy after erasure: %v", err)
	}
	if types := flowEventTypes(t, s, domain.SubjectCustomers+c.GetCustomerId()); types[len(types)-1] != domain.EventCustomerErased {
		t.Fatalf("customer events = %v", types)
	}
}

func TestFlowExternalData(t *testing.T) {
	s := apptest.Start(t)
	ctxA, ctxB := "3f1c2a9e-0000-4000-8000-00000000000a", "3f1c2a9e-0000-4000-8000-00000000000b"
	var put insurancev1.PutExternalDataResponse
	flowREST(t, s, "PUT", "/v1/external-data/settings", `{"contextId":"`+ctxA+`","data":"{\"theme\":\"dark\"}"}`, nil, &put)
	var got insurancev1.GetExternalDataResponse
	flowREST(t, s, "GET", "/v1/external-data/settings?contextId="+ctxA, "", nil, &got)
	if !got.GetFound() || got.GetData() != `{"theme":"dark"}` || got.GetKey() != "settings" {
		t.Fatalf("get = %v", &got)
	}
	// Another purchase context does not see it.
	flowREST(t, s, "GET", "/v1/external-data/settings?contextId="+ctxB, "", nil, &got)
	if got.GetFound() {
		t.Fatalf("context B sees context A's data: %v", &got)
	}
	var del insurancev1.DeleteExternalDataResponse
	flowREST(t, s, "DELETE", "/v1/external-data/settings?contextId="+ctxA, "", nil, &del)
	flowREST(t, s, "GET", "/v1/external-data/settings?contextId="+ctxA, "", nil, &got)
	if got.GetFound() {
		t.Fatalf("after delete: %v", &got)
	}
	// Limits are enforced before any call to Etvas.
	calls := len(s.App.Sandbox().Etvas.Kit().Requests())
	// 60 KB of quotes doubles when JSON-encoded: under 100 KB raw, over it encoded.
	quotes := strings.Repeat(`"`, 60<<10)
	// (over gRPC: the REST body limit of the test gateway is 64 KiB)
	_, err := insurancev1.NewCustomerServiceClient(s.Conn).PutExternalData(apptest.WithToken(apptest.AllKey),
		&insurancev1.PutExternalDataRequest{Key: "big", ContextId: ctxA, Data: quotes})
	if info := apptest.ErrorInfo(t, status.Convert(err)); status.Code(err) != codes.InvalidArgument ||
		info.GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE) {
		t.Fatalf("oversize value = %v", err)
	}
	long := strings.Repeat("k", 40) // 36-character context + ':' + 40 > 64
	flowWantREST(t, s.JSON(t, "GET", "/v1/external-data/"+long+"?contextId="+ctxA, apptest.AllKey, ""),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	flowWantREST(t, s.JSON(t, "GET", "/v1/external-data/k?contextId=a:b", apptest.AllKey, ""),
		http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	if n := len(s.App.Sandbox().Etvas.Kit().Requests()); n != calls {
		t.Fatalf("Etvas was called %d times for refused inputs", n-calls)
	}
}

func TestFlowPublicationChecks(t *testing.T) {
	s := apptest.Start(t)
	for _, tc := range []struct {
		name, body string
	}{
		{"envelope field in payload", `{"eventType":"case_created","payload":{"correlationId":"x"}}`},
		{"other destination", `{"eventType":"case_created","destination":{"country":"se","tenant":"other"},"payload":{}}`},
		{"bad event type", `{"eventType":"Case Created","payload":{}}`},
		{"missing payload", `{"eventType":"case_created"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flowWantREST(t, s.JSON(t, "POST", "/v1/publications", apptest.AllKey, tc.body), http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
		})
	}
	page, err := s.App.Store().ListPublications(context.Background(), store.PublicationFilter{}, store.PageRequest{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("publications after refused requests: %d (%v)", len(page.Items), err)
	}
	// The configured destination may be named explicitly; correlation id and version are kept.
	var pub insurancev1.PublishEventResponse
	flowREST(t, s, "POST", "/v1/publications", `{"eventType":"case_created","destination":{"country":"dk","tenant":"`+
		scalepointbox.DefaultTenant+`"},"payloadVersion":"2.1.0","correlationId":"0b0e7f3c-1a2b-4c3d-8e9f-000000000001","payload":{"case":{"id":"C-1"}}}`, nil, &pub)
	if pub.GetPublication().GetPayloadVersion() != "2.1.0" || pub.GetPublication().GetCorrelationId() != "0b0e7f3c-1a2b-4c3d-8e9f-000000000001" {
		t.Fatalf("publication = %v", pub.GetPublication())
	}
	flowWantREST(t, s.JSON(t, "GET", "/v1/publications/01900000-0000-7000-8000-000000000007", apptest.AllKey, ""), http.StatusNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND)

	// An event Scalepoint would refuse for its size is refused at once, not queued to fail.
	large := apptest.Start(t, func(c *app.Config) { c.MaxUploadBytes = 4 << 20 })
	big, _ := structpb.NewStruct(map[string]any{"blob": strings.Repeat("x", 1100<<10)})
	_, err = insurancev1.NewEventServiceClient(large.Conn).PublishEvent(apptest.WithToken(apptest.AllKey),
		&insurancev1.PublishEventRequest{EventType: "attachments_updated", Payload: big})
	if apptest.ErrorInfo(t, status.Convert(err)).GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE) {
		t.Fatalf("oversize event = %v", err)
	}
	if page, err := large.App.Store().ListPublications(context.Background(), store.PublicationFilter{}, store.PageRequest{}); err != nil || len(page.Items) != 0 {
		t.Fatalf("publications after the oversize event: %d (%v)", len(page.Items), err)
	}
}

func TestFlowBuyerWalletIsTheCustomer(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	policies := insurancev1.NewPolicyServiceClient(s.Conn)
	buyer := "0x3333333333333333333333333333333333333333"
	var customers []string
	for i, holder := range []*insurancev1.CustomerProfile{
		{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com"},
		{Phone: "+4930123456"},
	} {
		q := flowNFTQuote(t, ctx, s, "1")
		req := flowNFTPurchase(q.GetQuoteId(), "1")
		req.GetNft().TargetAddress = buyer
		req.GetNft().NftTokenId = fmt.Sprint(100 + i)
		req.Holder = holder
		pr, err := policies.CreatePolicy(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		customers = append(customers, pr.GetPolicy().GetCustomerId())
	}
	if customers[0] == "" || customers[0] != customers[1] {
		t.Fatalf("customers of one buyer wallet = %v, want one", customers)
	}
	c, err := insurancev1.NewCustomerServiceClient(s.Conn).GetCustomer(ctx, &insurancev1.GetCustomerRequest{CustomerId: customers[0]})
	if err != nil {
		t.Fatal(err)
	}
	prof := c.GetCustomer().GetProfile()
	if prof.GetEmail() != "grace@example.com" || prof.GetPhone() != "+4930123456" || c.GetCustomer().GetPartnerRefs().GetAvataWalletAddress() != buyer {
		t.Fatalf("customer = %v", c.GetCustomer())
	}
}
