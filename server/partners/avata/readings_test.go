package avata_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/covergate/covergate/server/partners/avata"
	sandbox "github.com/covergate/covergate/server/sandbox/avata"
)

// The reference is silent on paths, methods, the api-key header, duplicate
// claims, the claim uuid in answers, money types in policy details, success
// statuses, the activation answer and error bodies. The sandbox serves every
// plausible reading; the adapter must work against each of them, configured
// only where a reading cannot be detected (the route table and the api-key
// header).

// readingCases: the defaults, every non-default value alone, and all the
// non-default values together.
func readingCases() map[string]sandbox.Readings {
	cases := map[string]sandbox.Readings{"defaults": sandbox.DefaultReadings()}
	def := sandbox.DefaultReadings()
	for field, values := range sandbox.AllReadings() {
		for _, v := range values {
			var r sandbox.Readings
			raw := fmt.Sprintf(`{%q:%q}`, field, v)
			if field == "successStatus" {
				raw = fmt.Sprintf(`{%q:%s}`, field, v)
			}
			if err := json.Unmarshal([]byte(raw), &r); err != nil {
				panic(err)
			}
			if r == (sandbox.Readings{}) || sameReading(def, r) {
				continue
			}
			cases[field+"="+v] = r
		}
	}
	cases["all non-defaults"] = sandbox.Readings{
		Paths: sandbox.PathsREST, APIKeyHeader: sandbox.HeaderAuthorization, ClaimUUID: sandbox.ClaimUUIDPresent,
		DuplicateClaim: sandbox.DuplicateBadRequest, PolicyMoney: sandbox.MoneyNumber, SuccessStatus: http.StatusCreated,
		ActivateAnswer: sandbox.ActivateNoContent, ErrorBody: sandbox.ErrorNest,
	}
	cases["api_key over rest, 200 duplicate message"] = sandbox.Readings{
		Paths: sandbox.PathsREST, APIKeyHeader: sandbox.HeaderAPIKey, DuplicateClaim: sandbox.DuplicateOKMessage, ActivateAnswer: sandbox.ActivatePolicy,
	}
	return cases
}

// sameReading reports whether the one field set in r equals its default.
func sameReading(def, r sandbox.Readings) bool {
	merged := def
	b, _ := json.Marshal(r)
	json.Unmarshal(b, &merged)
	return merged == def
}

// adapterFor configures the adapter for the readings it cannot detect.
func adapterFor(t *testing.T, r sandbox.Readings) func(*sandbox.Config, *avata.Config) {
	return func(s *sandbox.Config, c *avata.Config) {
		s.Readings = r
		s.ClaimSteps = nil
		merged := sandbox.DefaultReadings()
		b, _ := json.Marshal(r)
		json.Unmarshal(b, &merged)
		paths, err := avata.PathsNamed(merged.Paths)
		if err != nil {
			t.Fatal(err)
		}
		c.Paths = paths
		c.APIKeyHeader = merged.APIKeyHeader
	}
}

func TestEveryReading(t *testing.T) {
	for name, r := range readingCases() {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, adapterFor(t, r))
			rd := e.sb.Readings()

			// NFT: proposal, confirm, ACCEPTED callback, status, details.
			p := e.proposeNFT(t, "1.123456789012345678")
			conf, err := e.client.ConfirmNFT(ctx(t), e.nftConfirmRequest(p, e.user.Address()))
			if err != nil {
				t.Fatalf("ConfirmNFT: %v", err)
			}
			if cb := e.gw.next(t); cb.Policy == nil || cb.Policy.UUID != conf.ID || cb.Policy.Status != avata.PolicyAccepted {
				t.Fatalf("callback %+v", cb)
			}
			st, err := e.client.PolicyRequestStatus(ctx(t), conf.ID)
			if err != nil || st.Body.UUID != conf.ID || st.Body.Status != avata.PolicyAccepted || st.Body.Reference != "order-1" {
				t.Fatalf("PolicyRequestStatus = %+v, %v", st, err)
			}
			pol, err := e.client.PolicyDetails(ctx(t), conf.ID)
			if err != nil {
				t.Fatalf("PolicyDetails: %v", err)
			}
			if pol.PurchaseData.TotalValue != "1.123456789012345678" || pol.PurchaseData.Duration != "365" || pol.PurchaseData.CoveragePercentage != "100" ||
				pol.PolicyType != "NFT" || pol.StartDateTime == "" || pol.EndDateTime == "" || pol.FinishedAt != "" || pol.PolicyID == "" || pol.PolicyHash == "" ||
				pol.PurchaseData.NFT == nil || pol.PurchaseData.NFT.Asset.ContractID != nftContract || pol.PurchaseData.NFT.Asset.Title == "" {
				t.Fatalf("details = %+v", pol)
			}

			// Activation, whatever it answers.
			act, err := e.client.ActivatePolicy(ctx(t), avata.ActivatePolicyRequest{
				PolicyUUID: conf.ID, Chain: avata.ChainEthereum, NFTIDs: []string{nftID1}, WalletAddress: e.user.Address(), Token: "ETH",
			})
			if err != nil {
				t.Fatalf("ActivatePolicy: %v", err)
			}
			if rd.ActivateAnswer == sandbox.ActivateConfirmation && act.ID != conf.ID {
				t.Fatalf("activate = %+v", act)
			}

			// KYC echo; digital asset (no duration) and booking proposals.
			if kyc, err := e.client.SubmitKYC(ctx(t), avata.KYCRequest{PolicyUUID: conf.ID, Provider: "sumsub", Payload: json.RawMessage(`{"a":1}`)}); err != nil || kyc.PolicyUUID != conf.ID {
				t.Fatalf("SubmitKYC = %+v, %v", kyc, err)
			}
			if dp, err := e.client.ProposeDigitalAsset(ctx(t), avata.DigitalAssetProposalRequest{TotalValue: "199.99", CountryCode: "de", CurrencyCode: "eur"}); err != nil || dp.PolicyPrice != "4.99975" || dp.Duration != "" {
				t.Fatalf("ProposeDigitalAsset = %+v, %v", dp, err)
			}
			if bp, err := e.client.ProposeBooking(ctx(t), avata.BookingProposalRequest{TotalValue: "10", Chain: avata.ChainPolygon, CheckInDate: "2027-03-01", Token: "USDC"}); err != nil || bp.ID == "" {
				t.Fatalf("ProposeBooking = %+v, %v", bp, err)
			}

			// Wallet: sign-in, policies, upload, claim, status, duplicate.
			policies, err := e.client.PoliciesForWallet(ctx(t), e.user)
			if err != nil || len(policies) != 1 || policies[0].UUID != conf.ID || policies[0].PurchaseData.TotalValue != "1.123456789012345678" {
				t.Fatalf("PoliciesForWallet = %+v, %v", policies, err)
			}
			up, err := e.client.UploadClaimDocuments(ctx(t), e.user, conf.ID, []avata.UploadFile{{Name: "report.pdf", ContentType: "application/pdf", Content: []byte("%PDF")}})
			if err != nil || len(up.Keys) != 1 {
				t.Fatalf("Upload = %+v, %v", up, err)
			}
			req := avata.CreateClaimRequest{Reason: "stolen", PolicyUUID: conf.ID, Email: "ada@example.com",
				Files: []avata.ClaimFile{{FileName: "report.pdf", FileVersion: "1", Key: up.Keys[0]}}}
			claim, err := e.client.CreateClaim(ctx(t), e.user, req)
			if err != nil {
				t.Fatalf("CreateClaim: %v", err)
			}
			sbClaim, _ := e.sb.ClaimUUID(conf.ID)
			wantUUID := ""
			if rd.ClaimUUID == sandbox.ClaimUUIDPresent {
				wantUUID = sbClaim
			}
			if claim.UUID != wantUUID || claim.Status != avata.ClaimCreated || claim.Policy.UUID != conf.ID || claim.Policy.PurchaseData.TotalValue != "1.123456789012345678" {
				t.Fatalf("claim = %+v (want uuid %q)", claim, wantUUID)
			}
			cs, err := e.client.ClaimStatus(ctx(t), e.user, conf.ID)
			if err != nil || cs.UUID != wantUUID || cs.Status != avata.ClaimCreated || cs.Policy.UUID != conf.ID {
				t.Fatalf("ClaimStatus = %+v, %v", cs, err)
			}
			again, err := e.client.CreateClaim(ctx(t), e.user, req)
			switch rd.DuplicateClaim {
			case sandbox.DuplicateOKClaim: // the existing claim again: success, nothing new
				if err != nil || again.Status != avata.ClaimCreated || again.Policy.UUID != conf.ID {
					t.Fatalf("duplicate = %+v, %v", again, err)
				}
			default:
				if !avata.IsClaimExists(err) {
					t.Fatalf("duplicate claim not recognised: %v", err)
				}
				if code, info := errorInfo(t, err); code != codes.Aborted && code != codes.InvalidArgument {
					t.Fatalf("duplicate claim: %v %+v", code, info)
				}
			}

			// A claim on a rejected policy is refused, and is not a duplicate.
			other, err := e.client.ConfirmNFT(ctx(t), e.nftConfirmRequest(e.proposeNFT(t, "2"), e.user.Address()))
			if err != nil {
				t.Fatal(err)
			}
			e.gw.next(t)
			if err := e.sb.SetPolicyStatus(other.ID, sandbox.PolicyRejected); err != nil {
				t.Fatal(err)
			}
			up2, err := e.client.UploadClaimDocuments(ctx(t), e.user, other.ID, []avata.UploadFile{{Name: "b.pdf", Content: []byte("%PDF")}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.client.CreateClaim(ctx(t), e.user, avata.CreateClaimRequest{Reason: "r", PolicyUUID: other.ID, Email: "a@example.com",
				Files: []avata.ClaimFile{{FileName: "b.pdf", Key: up2.Keys[0]}}})
			if code, _ := errorInfo(t, err); code != codes.Aborted || avata.IsClaimExists(err) {
				t.Fatalf("claim on a rejected policy: %v (claim exists %v)", err, avata.IsClaimExists(err))
			}

			// Errors: an unknown policy is NotFound whatever the error body.
			_, err = e.client.PolicyDetails(ctx(t), "0bc4470f-d4c3-4d35-b760-d2a4163c98fa")
			if code, info := errorInfo(t, err); code != codes.NotFound || info.Metadata["http_status"] != "404" {
				t.Fatalf("unknown policy: %v %+v", code, info)
			}
			if avata.IsClaimExists(err) {
				t.Fatal("a 404 taken for claim exists")
			}

			// Every request went to a route of the reading, with the key in its header.
			routes := sandbox.RoutesFor(rd.Paths)
			for _, j := range e.sb.Kit().Requests() {
				known := false
				for _, rt := range routes {
					known = known || (rt.Method == j.Method && rt.Path == j.Path)
				}
				if !known || j.Status == 404 && !strings.Contains(j.Query+j.Body, "0bc4470f") {
					t.Errorf("%s %s -> %d", j.Method, j.Path, j.Status)
				}
				if j.Status == 401 {
					t.Errorf("%s %s unauthorised", j.Method, j.Path)
				}
			}
		})
	}
}

// TestWrongReadingIsVisible: an adapter configured for one table against a
// sandbox serving the other fails loudly (404), never half-works.
func TestWrongReadingIsVisible(t *testing.T) {
	e := newEnv(t, func(s *sandbox.Config, c *avata.Config) { s.Readings.Paths = sandbox.PathsREST })
	_, err := e.client.ProposeDigitalAsset(ctx(t), avata.DigitalAssetProposalRequest{TotalValue: "1", CountryCode: "de", CurrencyCode: "eur"})
	if code, _ := errorInfo(t, err); code != codes.NotFound {
		t.Fatalf("code %v", code)
	}
	e = newEnv(t, func(s *sandbox.Config, c *avata.Config) { s.Readings.APIKeyHeader = sandbox.HeaderAPIKey })
	_, err = e.client.ProposeDigitalAsset(ctx(t), avata.DigitalAssetProposalRequest{TotalValue: "1", CountryCode: "de", CurrencyCode: "eur"})
	if code, info := errorInfo(t, err); code != codes.Unavailable || info.Metadata["http_status"] != "401" {
		t.Fatalf("code %v %+v", code, info)
	}
}

func TestPathsConfig(t *testing.T) {
	if _, err := avata.PathsNamed("soap"); err == nil {
		t.Fatal("unknown table accepted")
	}
	bad := []avata.Paths{
		{NFTProposal: avata.Route{Method: "DELETE", Path: "/x"}},
		{NFTProposal: avata.Route{Method: "POST", Path: "x"}},
		{NFTProposal: avata.Route{Method: "POST", Path: "/x?y=1"}},
		{AuthNonce: avata.Route{Method: "POST", Path: "/nonce"}},
		{ClaimUpload: avata.Route{Method: "GET", Path: "/upload"}},
		{PolicyActivate: avata.Route{Method: "GET", Path: "/activate"}},
		{ClaimCreate: avata.Route{Method: "GET", Path: "/claims"}},
	}
	// A table mixing both readings route by route is fine.
	mixed := avata.Paths{PolicyDetails: avata.Route{Method: "GET", Path: "/v2/policy"}}
	if c, err := avata.New(avata.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", Paths: mixed}); err != nil {
		t.Fatalf("partial table: %v", err)
	} else {
		c.Close()
	}
	for _, p := range bad {
		if c, err := avata.New(avata.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", Paths: p}); err == nil {
			c.Close()
			t.Errorf("%+v accepted", p)
		}
	}
}
