package avata_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
	sandbox "github.com/covergate/covergate/server/sandbox/avata"
)

const (
	nftContract = "0x06012c8cf97BEaD5deAe237070F9587f8E7A266d"
	market      = "0x7Be8076f4EA4A4AD08075C2508e481d6C946D12b"
	nftID1      = "0x" + "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
)

func (e *env) proposeNFT(t *testing.T, total string) *avata.Proposal {
	t.Helper()
	p, err := e.client.ProposeNFT(ctx(t), avata.NFTProposalRequest{
		TotalValue: num(total), Chain: avata.ChainEthereum, NFTContractID: nftContract,
		MarketplaceContractID: market, CountryCode: "nl", Token: "ETH",
	})
	if err != nil {
		t.Fatalf("ProposeNFT: %v", err)
	}
	return p
}

func (e *env) nftConfirmRequest(p *avata.Proposal, owner string) avata.NFTConfirmRequest {
	return avata.NFTConfirmRequest{
		Proposal: avata.ProposalRef{ID: p.ID},
		Purchase: avata.NFTPurchase{
			TotalValue: p.TotalValue, Chain: avata.ChainEthereum, Token: "ETH", NFTContractID: nftContract,
			MarketplaceContractID: market, CountryCode: "nl", NFTTokenID: "42", TxID: "0xfeed",
			Target: owner, Reference: "order-1", Metadata: json.RawMessage(`{"sku":"x"}`),
		},
		Customer: &avata.Customer{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"},
	}
}

// confirmNFT creates a policy owned by owner and returns its uuid after the
// policy-update callback arrived.
func (e *env) confirmNFT(t *testing.T, owner string) string {
	t.Helper()
	p := e.proposeNFT(t, "2.5")
	conf, err := e.client.ConfirmNFT(ctx(t), e.nftConfirmRequest(p, owner))
	if err != nil {
		t.Fatalf("ConfirmNFT: %v", err)
	}
	cb := e.gw.next(t)
	if cb.Policy == nil || cb.Policy.UUID != conf.ID || cb.Policy.Status != avata.PolicyAccepted {
		t.Fatalf("callback = %+v, want ACCEPTED for %s", cb, conf.ID)
	}
	return conf.ID
}

func TestNFTPolicyLifecycle(t *testing.T) {
	e := newEnv(t)
	p := e.proposeNFT(t, "1.123456789012345678")
	// 2.5 % of an 18-decimal amount, exact to the last digit.
	if p.PolicyPrice != "0.02808641972530864195" || p.TotalValue != "1.123456789012345678" ||
		p.PolicyPercentage != "2.5" || p.CoveragePercentage != "100" || p.Duration != "365" || p.ID == "" {
		t.Fatalf("proposal = %+v", p)
	}
	conf, err := e.client.ConfirmNFT(ctx(t), e.nftConfirmRequest(p, e.user.Address()))
	if err != nil {
		t.Fatalf("ConfirmNFT: %v", err)
	}
	if conf.ID == "" {
		t.Fatal("confirmation without policy id")
	}

	cb := e.gw.next(t)
	if cb.EventType != avata.EventPolicyUpdate || cb.Policy.UUID != conf.ID || cb.Policy.Status != avata.PolicyAccepted ||
		cb.Policy.Reference != "order-1" || cb.Policy.Details.PolicyType != "NFT" || cb.Policy.Details.StartDateTime == "" {
		t.Fatalf("policy-update callback = %+v", cb.Policy)
	}

	st, err := e.client.PolicyRequestStatus(ctx(t), conf.ID)
	if err != nil {
		t.Fatalf("PolicyRequestStatus: %v", err)
	}
	if st.EventType != avata.EventPolicyUpdate || st.Body.UUID != conf.ID || st.Body.Status != avata.PolicyAccepted || st.Body.Reference != "order-1" {
		t.Fatalf("request status = %+v", st)
	}

	pol, err := e.client.PolicyDetails(ctx(t), conf.ID)
	if err != nil {
		t.Fatalf("PolicyDetails: %v", err)
	}
	if pol.UUID != conf.ID || pol.Status != avata.PolicyAccepted || pol.PurchaseData.TotalValue != "1.123456789012345678" ||
		pol.PurchaseData.NFT == nil || pol.PurchaseData.NFT.Asset.ContractID != nftContract || pol.PolicyType != "NFT" {
		t.Fatalf("details = %+v", pol)
	}

	act, err := e.client.ActivatePolicy(ctx(t), avata.ActivatePolicyRequest{
		PolicyUUID: conf.ID, Chain: avata.ChainEthereum, NFTIDs: []string{nftID1}, WalletAddress: e.user.Address(), Token: "ETH",
	})
	if err != nil || act.ID != conf.ID {
		t.Fatalf("ActivatePolicy = %+v, %v", act, err)
	}

	kyc, err := e.client.SubmitKYC(ctx(t), avata.KYCRequest{PolicyUUID: conf.ID, Provider: "sumsub", Payload: json.RawMessage(`{"applicantId":"a1"}`)})
	if err != nil || kyc.PolicyUUID != conf.ID || kyc.Provider != "sumsub" || string(kyc.Payload) != `{"applicantId":"a1"}` {
		t.Fatalf("SubmitKYC = %+v, %v", kyc, err)
	}

	// Every call carried the api key and brand; the journal redacts the key.
	for _, r := range e.sb.Kit().Requests() {
		if r.Header["X-Api-Key"] != "[redacted]" || r.Header["X-Brand-Id"] != "covergate" {
			t.Errorf("%s %s headers = %v", r.Method, r.Path, r.Header)
		}
	}
}

func TestBookingAndDigitalAsset(t *testing.T) {
	e := newEnv(t)
	bp, err := e.client.ProposeBooking(ctx(t), avata.BookingProposalRequest{
		TotalValue: num("0.30000000000000004"), Chain: avata.ChainPolygon, CheckInDate: "2027-03-01", Token: "USDC",
	})
	if err != nil {
		t.Fatalf("ProposeBooking: %v", err)
	}
	if bp.TotalValue != "0.30000000000000004" || bp.PolicyPrice != "0.007500000000000001" {
		t.Fatalf("booking proposal = %+v", bp)
	}
	bc, err := e.client.ConfirmBooking(ctx(t), avata.BookingConfirmRequest{
		Proposal: avata.ProposalRef{ID: bp.ID},
		Purchase: avata.BookingPurchase{
			TotalValue: num("0.30000000000000004"), Chain: avata.ChainPolygon, Token: "USDC", CheckInDate: "2027-03-01",
			NFTIDs: []string{nftID1}, WalletAddress: e.user.Address(), Reference: "booking-9",
		},
	})
	if err != nil {
		t.Fatalf("ConfirmBooking: %v", err)
	}
	if cb := e.gw.next(t); cb.Policy.UUID != bc.ID || cb.Policy.Details.PolicyType != "BOOKING" {
		t.Fatalf("booking callback = %+v", cb.Policy)
	}

	dp, err := e.client.ProposeDigitalAsset(ctx(t), avata.DigitalAssetProposalRequest{TotalValue: num("199.99"), CountryCode: "de", CurrencyCode: "eur"})
	if err != nil {
		t.Fatalf("ProposeDigitalAsset: %v", err)
	}
	if dp.PolicyPrice != "4.99975" || dp.Duration != "" || dp.CoveragePercentage != "" {
		t.Fatalf("digital-asset proposal = %+v", dp)
	}
	dc, err := e.client.ConfirmDigitalAsset(ctx(t), avata.DigitalAssetConfirmRequest{
		Proposal: avata.ProposalRef{ID: dp.ID},
		Purchase: avata.DigitalAssetPurchase{TotalValue: num("199.990"), CurrencyCode: "eur", InvoiceID: "INV-1"},
		Customer: avata.Customer{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com", CountryCode: "de"},
	})
	if err != nil {
		t.Fatalf("ConfirmDigitalAsset (199.990 equals 199.99): %v", err)
	}
	if cb := e.gw.next(t); cb.Policy.UUID != dc.ID || cb.Policy.Details.PolicyType != "DIGITAL_ASSET" {
		t.Fatalf("digital-asset callback = %+v", cb.Policy)
	}
	pol, err := e.client.PolicyDetails(ctx(t), dc.ID)
	if err != nil || pol.PurchaseData.TotalValue != "199.99" || pol.Status != avata.PolicyAccepted {
		t.Fatalf("details = %+v, %v", pol, err)
	}
}

func TestConfirmErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		mutate     func(*avata.NFTConfirmRequest)
		wantHTTP   int
		wantCode   codes.Code
		wantReason insurancev1.ErrorReason
		wantAvata  string
		wantField  string
	}{
		{"total differs by float noise", func(r *avata.NFTConfirmRequest) { r.Purchase.TotalValue = "0.30000000000000004" },
			422, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, avata.CodeProposalMismatch, "purchase.totalValue"},
		{"chain", func(r *avata.NFTConfirmRequest) { r.Purchase.Chain = avata.ChainPolygon },
			422, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, avata.CodeProposalMismatch, "purchase.chain"},
		{"token", func(r *avata.NFTConfirmRequest) { r.Purchase.Token = "USDT" },
			422, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, avata.CodeProposalMismatch, "purchase.token"},
		{"contract", func(r *avata.NFTConfirmRequest) { r.Purchase.NFTContractID = market },
			422, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, avata.CodeProposalMismatch, "purchase.nftContractId"},
		{"unknown proposal", func(r *avata.NFTConfirmRequest) { r.Proposal.ID = "00000000-0000-0000-0000-000000000000" },
			404, codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_PARTNER_NOT_FOUND, avata.CodeNotFound, "proposal"},
		{"invalid token enum", func(r *avata.NFTConfirmRequest) { r.Purchase.Token = "DOGE" },
			400, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, avata.CodeValidation, "purchase.token"},
		{"invalid e-mail", func(r *avata.NFTConfirmRequest) { r.Customer.Email = "not-an-address" },
			400, codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, avata.CodeValidation, "customer.email"},
	}
	p := e.proposeNFT(t, "0.3")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := e.nftConfirmRequest(p, e.user.Address())
			tc.mutate(&req)
			_, err := e.client.ConfirmNFT(ctx(t), req)
			aerr := asAvataError(t, err)
			if aerr.HTTP.HTTPStatus != tc.wantHTTP || aerr.Code != tc.wantAvata {
				t.Fatalf("err = %v (http %d, code %q)", err, aerr.HTTP.HTTPStatus, aerr.Code)
			}
			code, info := errorInfo(t, err)
			if code != tc.wantCode || info.Reason != apierror.Reason(tc.wantReason) || info.Domain != apierror.Domain ||
				info.Metadata["partner"] != "avata" || info.Metadata["partner_code"] != tc.wantAvata ||
				!strings.Contains(info.Metadata["partner_message"], tc.wantField) {
				t.Fatalf("status %v, info %+v", code, info)
			}
		})
	}
	// The proposal is untouched by failed confirms: it still confirms once, then conflicts.
	if _, err := e.client.ConfirmNFT(ctx(t), e.nftConfirmRequest(p, e.user.Address())); err != nil {
		t.Fatalf("valid confirm after failures: %v", err)
	}
	e.gw.next(t)
	_, err := e.client.ConfirmNFT(ctx(t), e.nftConfirmRequest(p, e.user.Address()))
	code, info := errorInfo(t, err)
	if code != codes.Aborted || info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_CONFLICT) ||
		info.Metadata["partner_code"] != avata.CodeAlreadyConfirmed || info.Metadata["http_status"] != "409" {
		t.Fatalf("second confirm: %v %+v", code, info)
	}
	// Confirms are not idempotent: none of the failures above was retried.
	if n := e.count(avata.PathNFTConfirm); n != len(tests)+2 {
		t.Fatalf("confirm requests = %d, want %d", n, len(tests)+2)
	}
}

func TestProposalValidation(t *testing.T) {
	e := newEnv(t)
	valid := avata.NFTProposalRequest{TotalValue: "10", Chain: avata.ChainEthereum, NFTContractID: nftContract, Token: "ETH"}
	tests := []struct {
		name   string
		mutate func(*avata.NFTProposalRequest)
		field  string
	}{
		{"missing total", func(r *avata.NFTProposalRequest) { r.TotalValue = "" }, "totalValue"},
		{"zero total", func(r *avata.NFTProposalRequest) { r.TotalValue = "0" }, "totalValue"},
		{"negative total", func(r *avata.NFTProposalRequest) { r.TotalValue = "-1" }, "totalValue"},
		{"chain enum", func(r *avata.NFTProposalRequest) { r.Chain = "SOLANA" }, "chain"},
		{"contract pattern", func(r *avata.NFTProposalRequest) { r.NFTContractID = "0x1234" }, "nftContractId"},
		{"marketplace pattern", func(r *avata.NFTProposalRequest) { r.MarketplaceContractID = "abc" }, "marketplaceContractId"},
		{"country enum", func(r *avata.NFTProposalRequest) { r.CountryCode = "fr" }, "countryCode"},
		{"token enum", func(r *avata.NFTProposalRequest) { r.Token = "BTC" }, "token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := valid
			tc.mutate(&req)
			_, err := e.client.ProposeNFT(ctx(t), req)
			code, info := errorInfo(t, err)
			if code != codes.InvalidArgument || info.Metadata["http_status"] != "400" || !strings.Contains(info.Metadata["partner_message"], tc.field) {
				t.Fatalf("code %v info %+v", code, info)
			}
		})
	}
	// 400 is our fault, never retried: one request per case.
	if n := e.count(avata.PathNFTProposal); n != len(tests) {
		t.Fatalf("proposal requests = %d, want %d", n, len(tests))
	}
}

func TestWrongAPIKey(t *testing.T) {
	e := newEnv(t, func(_ *sandbox.Config, c *avata.Config) { c.APIKey = "wrong" })
	_, err := e.client.PolicyDetails(ctx(t), "x")
	code, info := errorInfo(t, err)
	if code != codes.Unavailable || info.Reason != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED) {
		t.Fatalf("code %v info %+v", code, info)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error leaks the api key: %v", err)
	}
}

func TestMerchantClaimLink(t *testing.T) {
	e := newEnv(t)
	const policy = "d7b9f5b0-4b4b-11eb-ae93-0242ac130002"
	link, err := e.client.MerchantClaimLink(policy)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "https://portal.avata.gg/merchant-claim/" + policy + "/"
	if !strings.HasPrefix(link, prefix) {
		t.Fatalf("link = %s", link)
	}
	sig := strings.TrimPrefix(link, prefix)
	addr, err := ethsign.RecoverAddress(policy, sig)
	if err != nil || addr != "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" {
		t.Fatalf("signature recovers %s, %v", addr, err)
	}
	if _, err := e.client.MerchantClaimLink(""); err == nil {
		t.Fatal("empty policy uuid accepted")
	}
	noWallet, err := avata.New(avata.Config{BaseURL: e.baseURL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer noWallet.Close()
	if _, err := noWallet.MerchantClaimLink(policy); err == nil {
		t.Fatal("link without merchant wallet")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  avata.Config
	}{
		{"no api key", avata.Config{BaseURL: "http://127.0.0.1:1"}},
		{"bad base url", avata.Config{BaseURL: "ftp://x", APIKey: "k"}},
		{"bad wallet key", avata.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", MerchantWalletKey: "0x1234"}},
		{"bad portal", avata.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", PortalURL: "portal"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := avata.New(tc.cfg); err == nil {
				c.Close()
				t.Fatal("accepted")
			} else if strings.Contains(err.Error(), "1234") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	cfg := avata.Config{BaseURL: "https://api.avata.gg", APIKey: "super-secret-api-key", MerchantWalletKey: merchantKey, BrandID: "covergate"}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "avata", cfg)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logs.String()} {
		if strings.Contains(out, "super-secret") || strings.Contains(out, strings.TrimPrefix(merchantKey, "0x")) {
			t.Fatalf("secret printed: %s", out)
		}
		if !strings.Contains(out, "covergate") {
			t.Fatalf("non-secret field missing: %s", out)
		}
	}
}

// BenchmarkProposeNFT measures one adapter round trip against the sandbox on
// loopback (JSON encode, HTTP, validation, pricing, decode).
func BenchmarkProposeNFT(b *testing.B) {
	sb := sandbox.New(sandbox.DefaultConfig())
	defer sb.Close()
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()
	c, err := avata.New(avata.Config{BaseURL: srv.URL, APIKey: sandbox.DefaultAPIKey, BrandID: sandbox.DefaultBrandID})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := avata.NFTProposalRequest{TotalValue: "1.123456789012345678", Chain: avata.ChainEthereum, NFTContractID: nftContract, Token: "ETH"}
	for b.Loop() {
		if _, err := c.ProposeNFT(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMerchantClaimLink measures signing a merchant-claim link.
func BenchmarkMerchantClaimLink(b *testing.B) {
	c, err := avata.New(avata.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", MerchantWalletKey: merchantKey})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		if _, err := c.MerchantClaimLink("d7b9f5b0-4b4b-11eb-ae93-0242ac130002"); err != nil {
			b.Fatal(err)
		}
	}
}
