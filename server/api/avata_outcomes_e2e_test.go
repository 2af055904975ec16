package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/partnerhttp"
	avatabox "github.com/covergate/covergate/server/sandbox/avata"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
	"github.com/covergate/covergate/server/store"
)

// End-to-end tests of Avata side effects whose answers are incomplete, late or lost: claims
// whose create answer carries no uuid (as Avata documents it), "claim exists" answers, a confirm
// answered after the client's deadline, and a process that died between Avata's yes and our
// commit. Each runs on SQLite and PostgreSQL; the API calls go over REST and gRPC.

// outcomeDatabases are the stores every test here runs on.
var outcomeDatabases = []struct {
	name   string
	mutate func(t *testing.T) func(*app.Config)
}{
	{"sqlite", func(t *testing.T) func(*app.Config) { return func(*app.Config) {} }},
	{"postgres", func(t *testing.T) func(*app.Config) {
		dsn := flowPostgresDSN(t)
		return func(c *app.Config) { c.Database = dsn }
	}},
}

// uploadDoc uploads one PDF for a claim on policyID over gRPC and returns its key.
func uploadClaimDoc(t *testing.T, s *apptest.Server, policyID string) string {
	t.Helper()
	up, err := insurancev1.NewClaimServiceClient(s.Conn).UploadClaimDocuments(apptest.WithToken(apptest.AllKey), &insurancev1.UploadClaimDocumentsRequest{
		PolicyId:  policyID,
		Documents: []*insurancev1.ClaimDocumentUpload{{FileName: "receipt.pdf", ContentType: "application/pdf", Content: []byte(flowPDF)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return up.GetDocuments()[0].GetDocumentKey()
}

// claimCallbackIDs returns the details.claimId the sandbox sent in its claim-update callbacks
// for claimUUID.
func claimCallbackIDs(t *testing.T, box *avatabox.Server, claimUUID string) []string {
	t.Helper()
	var ids []string
	for _, d := range box.Deliveries() {
		if d.EventType != avata.EventClaimUpdate {
			continue
		}
		cb, err := avata.ParseCallback([]byte(d.Body))
		if err != nil {
			t.Fatal(err)
		}
		if cb.Claim.UUID == claimUUID && !slices.Contains(ids, cb.Claim.Details.ClaimID) {
			ids = append(ids, cb.Claim.Details.ClaimID)
		}
	}
	return ids
}

func TestAvataClaimWithoutUUIDIsRecordedAndCompletedByCallbacks(t *testing.T) {
	for _, db := range outcomeDatabases {
		for _, transport := range []string{"rest", "grpc"} {
			t.Run(db.name+"/"+transport, func(t *testing.T) {
				s := apptest.Start(t, db.mutate(t))
				box := s.App.Sandbox().Avata
				if err := box.SetReadings(avatabox.Readings{ClaimUUID: avatabox.ClaimUUIDAbsent}); err != nil { // as documented: no claim uuid
					t.Fatal(err)
				}
				p := flowActivePolicy(t, s, "2")
				key := uploadClaimDoc(t, s, p.GetPolicyId())
				reason := "The NFT never arrived in my wallet."

				var created *insurancev1.Claim
				switch transport {
				case "rest":
					var cr insurancev1.CreateClaimResponse
					flowDecode(t, s.JSON(t, "POST", "/v1/policies/"+p.GetPolicyId()+"/claims", apptest.AllKey, flowJSON(t, map[string]any{
						"reason": reason, "claimantEmail": "ada@example.com", "documentKeys": []string{key},
					})), &cr)
					created = cr.GetClaim()
				case "grpc":
					cr, err := insurancev1.NewClaimServiceClient(s.Conn).CreateClaim(apptest.WithToken(apptest.AllKey), &insurancev1.CreateClaimRequest{
						PolicyId: p.GetPolicyId(), Reason: reason, ClaimantEmail: "ada@example.com", DocumentKeys: []string{key},
					})
					if err != nil {
						t.Fatal(err)
					}
					created = cr.GetClaim()
				}
				// Recorded at once, without Avata's uuid: the documented answer has none.
				if created.GetClaimId() == "" || created.GetStatus() != insurancev1.ClaimStatus_CLAIM_STATUS_CREATED || created.GetPartnerClaimId() != "" {
					t.Fatalf("created claim = %v", created)
				}
				claimUUID, ok := box.ClaimUUID(p.GetPartnerRefs().GetAvataPolicyUuid())
				if !ok {
					t.Fatal("Avata has no claim on the policy")
				}
				// The claim-update callbacks attach the uuid to our claim and apply the statuses.
				var got *insurancev1.Claim
				flowWait(t, "claim APPROVED with Avata's uuid", func() bool {
					var gc insurancev1.GetClaimResponse
					flowREST(t, s, "GET", "/v1/claims/"+created.GetClaimId(), "", nil, &gc)
					got = gc.GetClaim()
					return got.GetStatus() == insurancev1.ClaimStatus_CLAIM_STATUS_APPROVED
				})
				if got.GetPartnerClaimId() != claimUUID || got.GetPartnerClaimNumber() == "" || got.GetPartnerClaimNumber() == claimUUID {
					t.Fatalf("claim uuid %q / number %q, want Avata's uuid %q and its details.claimId", got.GetPartnerClaimId(), got.GetPartnerClaimNumber(), claimUUID)
				}
				stored, err := s.App.Store().GetClaim(context.Background(), created.GetClaimId())
				if err != nil {
					t.Fatal(err)
				}
				ids := claimCallbackIDs(t, box, claimUUID)
				if len(ids) != 1 || stored.AvataClaimID != ids[0] || got.GetPartnerClaimNumber() != ids[0] || stored.Reason != reason {
					t.Fatalf("stored claim %+v; callbacks carried claim ids %v", stored, ids)
				}
				// One claim, and its events: created, then one change per Avata status, naming the uuid.
				var list insurancev1.ListClaimsResponse
				flowREST(t, s, "GET", "/v1/claims?policyId="+p.GetPolicyId(), "", nil, &list)
				if len(list.GetClaims()) != 1 {
					t.Fatalf("claims on the policy = %v", list.GetClaims())
				}
				// Each callback is verified by fetching the current status, so a slow gateway may
				// apply REVIEWED for the PENDING callback: one to three changes, never more.
				types := flowEventTypes(t, s, domain.SubjectClaims+created.GetClaimId())
				if len(types) < 2 || len(types) > 4 || types[0] != domain.EventClaimCreated ||
					slices.ContainsFunc(types[1:], func(e string) bool { return e != domain.EventClaimStatusChanged }) {
					t.Fatalf("claim events = %v, want claim.created then 1 to 3 claim.status_changed", types)
				}
				var page insurancev1.ListEventsResponse
				flowREST(t, s, "GET", "/v1/events?types="+domain.EventClaimStatusChanged+"&subject=claims/"+created.GetClaimId(), "", nil, &page)
				for _, e := range page.GetEvents() {
					if e.GetData().GetFields()["avata_claim_uuid"].GetStringValue() != claimUUID {
						t.Fatalf("status change event without the Avata uuid: %v", e)
					}
				}
			})
		}
	}
}

// outsideClient is a second Avata client on the embedded sandbox, for what happens at Avata
// without Covergate (a claim filed on Avata's own claim page).
func outsideClient(t *testing.T, s *apptest.Server) *avata.Client {
	t.Helper()
	_, url, _ := s.App.Sandbox().URLs()
	c, err := avata.New(avata.Config{
		BaseURL: url, APIKey: avatabox.DefaultAPIKey, BrandID: avatabox.DefaultBrandID, MerchantWalletKey: avatabox.DefaultMerchantWalletKey,
		HTTP: partnerhttp.Config{AttemptTimeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestAvataClaimExistsIsRecordedNotLost(t *testing.T) {
	for _, db := range outcomeDatabases {
		t.Run(db.name, func(t *testing.T) {
			s := apptest.Start(t, db.mutate(t))
			box := s.App.Sandbox().Avata
			if err := box.SetReadings(avatabox.Readings{ClaimUUID: avatabox.ClaimUUIDAbsent}); err != nil { // as documented: no claim uuid
				t.Fatal(err)
			}
			if err := box.SetClaimSteps(); err != nil { // claims stay CREATED, without callbacks, until the test moves them
				t.Fatal(err)
			}
			outside := outsideClient(t, s)
			ctx := context.Background()

			// 1. A claim filed at Avata outside Covergate, then our create on the same policy:
			// Avata answers 409 "claim exists"; that claim is recorded and named in the error.
			p := flowActivePolicy(t, s, "2")
			key := uploadClaimDoc(t, s, p.GetPolicyId())
			if _, err := outside.CreateClaim(ctx, outside.MerchantWallet(), avata.CreateClaimRequest{
				Reason: "Filed on Avata's claim page.", PolicyUUID: p.GetPartnerRefs().GetAvataPolicyUuid(), Email: "ada@example.com",
				Files: []avata.ClaimFile{{FileName: "receipt.pdf", FileVersion: "1", Key: key}},
			}); err != nil {
				t.Fatal(err)
			}
			r := s.JSON(t, "POST", "/v1/policies/"+p.GetPolicyId()+"/claims", apptest.AllKey, flowJSON(t, map[string]any{
				"reason": "The NFT never arrived in my wallet.", "claimantEmail": "ada@example.com", "documentKeys": []string{key},
			}))
			flowWantREST(t, r, http.StatusConflict, insurancev1.ErrorReason_ERROR_REASON_PARTNER_CONFLICT, "partner=avata", "http_status=409",
				"partner_code="+avata.CodeClaimExists)
			claimID := apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetMetadata()["claim_id"]
			var list insurancev1.ListClaimsResponse
			flowREST(t, s, "GET", "/v1/claims?policyId="+p.GetPolicyId(), "", nil, &list)
			if len(list.GetClaims()) != 1 || list.GetClaims()[0].GetClaimId() != claimID || claimID == "" ||
				list.GetClaims()[0].GetStatus() != insurancev1.ClaimStatus_CLAIM_STATUS_CREATED {
				t.Fatalf("claims after 409 = %v, error named %q", list.GetClaims(), claimID)
			}
			// Avata moves it: the callback attaches the uuid to that record (no second claim).
			claimUUID, _ := box.ClaimUUID(p.GetPartnerRefs().GetAvataPolicyUuid())
			if err := box.SetClaimStatus(claimUUID, string(avata.ClaimReviewed)); err != nil {
				t.Fatal(err)
			}
			flowWait(t, "the recorded claim REVIEWED with its uuid", func() bool {
				c, err := s.App.Store().GetClaim(ctx, claimID)
				if err != nil {
					t.Fatal(err)
				}
				return c.Status == domain.ClaimReviewed && c.AvataClaimUUID == claimUUID && c.AvataClaimID != ""
			})
			flowREST(t, s, "GET", "/v1/claims?policyId="+p.GetPolicyId(), "", nil, &list)
			if len(list.GetClaims()) != 1 {
				t.Fatalf("claims after the callback = %v", list.GetClaims())
			}

			// 2. A claim Covergate never heard of reaches us only by callback: it is recorded.
			p2 := flowActivePolicy(t, s, "3")
			key2 := uploadClaimDoc(t, s, p2.GetPolicyId())
			if _, err := outside.CreateClaim(ctx, outside.MerchantWallet(), avata.CreateClaimRequest{
				Reason: "Filed on Avata's claim page.", PolicyUUID: p2.GetPartnerRefs().GetAvataPolicyUuid(), Email: "ada@example.com",
				Files: []avata.ClaimFile{{FileName: "receipt.pdf", FileVersion: "1", Key: key2}},
			}); err != nil {
				t.Fatal(err)
			}
			uuid2, _ := box.ClaimUUID(p2.GetPartnerRefs().GetAvataPolicyUuid())
			if err := box.SetClaimStatus(uuid2, string(avata.ClaimPending)); err != nil {
				t.Fatal(err)
			}
			flowWait(t, "the unknown claim recorded from its callback", func() bool {
				c, err := s.App.Store().FindClaimByAvataUUID(ctx, uuid2)
				return err == nil && c.PolicyID == p2.GetPolicyId() && c.Status == domain.ClaimPending
			})
		})
	}
}

// flowPurchaseREST posts a purchase with headers and returns the answer.
func flowPurchaseREST(t *testing.T, s *apptest.Server, req *insurancev1.CreatePolicyRequest, header map[string]string) apptest.Result {
	t.Helper()
	return s.Do(t, "POST", "/v1/policies", apptest.AllKey, strings.NewReader(mustJSON(t, req)), header)
}

func TestLateAvataConfirmEndsWithOnePolicy(t *testing.T) {
	for _, db := range outcomeDatabases {
		t.Run(db.name, func(t *testing.T) {
			s := apptest.Start(t, db.mutate(t))
			ctx := apptest.WithToken(apptest.AllKey)
			kit := s.App.Sandbox().Avata.Kit()
			policies := insurancev1.NewPolicyServiceClient(s.Conn)
			// Avata answers the confirm after the client's deadline.
			kit.SetFaults(sandboxkit.Faults{LatencyMS: 1500, Paths: []string{avata.PathNFTConfirm}})

			// REST: Grpc-Timeout shorter than Avata's answer.
			q := flowNFTQuote(t, ctx, s, "2")
			purchase := flowNFTPurchase(q.GetQuoteId(), "2")
			first := flowPurchaseREST(t, s, purchase, map[string]string{"Idempotency-Key": "late-rest", "Grpc-Timeout": "300m"})
			flowWantREST(t, first, http.StatusGatewayTimeout, insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT, "partner=avata")
			// The retry with the same key gets the policy Avata issued (it waits for the call in flight).
			var retried insurancev1.CreatePolicyResponse
			flowDecode(t, flowPurchaseREST(t, s, purchase, map[string]string{"Idempotency-Key": "late-rest"}), &retried)
			restPolicy := retried.GetPolicy()
			if restPolicy.GetPartnerRefs().GetAvataPolicyUuid() == "" || restPolicy.GetQuoteId() != q.GetQuoteId() {
				t.Fatalf("retried purchase = %v", restPolicy)
			}
			var again insurancev1.CreatePolicyResponse
			flowDecode(t, flowPurchaseREST(t, s, purchase, map[string]string{"Idempotency-Key": "late-rest"}), &again)
			var got insurancev1.GetPolicyResponse
			flowREST(t, s, "GET", "/v1/policies/"+restPolicy.GetPolicyId(), "", nil, &got)
			if again.GetPolicy().GetPolicyId() != restPolicy.GetPolicyId() || got.GetPolicy().GetPolicyId() != restPolicy.GetPolicyId() {
				t.Fatalf("second retry %v / GetPolicy %v, want policy %s", again.GetPolicy(), got.GetPolicy(), restPolicy.GetPolicyId())
			}

			// gRPC: a deadline shorter than Avata's answer.
			q2 := flowNFTQuote(t, ctx, s, "3")
			keyed := metadata.AppendToOutgoingContext(ctx, "idempotency-key", "late-grpc")
			short, cancel := context.WithTimeout(keyed, 300*time.Millisecond)
			_, err := policies.CreatePolicy(short, flowNFTPurchase(q2.GetQuoteId(), "3"))
			cancel()
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("purchase past the deadline = %v, want DEADLINE_EXCEEDED", err)
			}
			// The client's deadline can beat the server's release of the key by a moment: that
			// answer (IDEMPOTENCY_KEY_IN_USE) says "retry later", and a client does.
			var pr *insurancev1.CreatePolicyResponse
			flowWait(t, "the retry with the same key", func() bool {
				pr, err = policies.CreatePolicy(keyed, flowNFTPurchase(q2.GetQuoteId(), "3"))
				if st := status.Convert(err); st.Code() == codes.Aborted &&
					apptest.ErrorInfo(t, st).GetReason() == insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_IN_USE.String() {
					return false
				}
				if err != nil {
					t.Fatalf("retry with the same key: %v", err)
				}
				return true
			})
			g, err := policies.GetPolicy(ctx, &insurancev1.GetPolicyRequest{PolicyId: pr.GetPolicy().GetPolicyId()})
			if err != nil || g.GetPolicy().GetPartnerRefs().GetAvataPolicyUuid() == "" || g.GetPolicy().GetQuoteId() != q2.GetQuoteId() {
				t.Fatalf("GetPolicy = %v, %v", g, err)
			}

			// Exactly one policy per quote, and Avata confirmed each once.
			page, err := s.App.Store().ListPolicies(context.Background(), store.PolicyFilter{}, store.PageRequest{Size: 100})
			if err != nil {
				t.Fatal(err)
			}
			perQuote := map[string]int{}
			for _, p := range page.Items {
				perQuote[p.QuoteID]++
			}
			if len(page.Items) != 2 || perQuote[q.GetQuoteId()] != 1 || perQuote[q2.GetQuoteId()] != 1 {
				t.Fatalf("policies = %d (%v), want one per quote", len(page.Items), perQuote)
			}
			if n := flowRequests(kit, "POST", avata.PathNFTConfirm); n != 2 {
				t.Fatalf("Avata confirm calls = %d, want 2", n)
			}
		})
	}
}

// Custodial purchases (the merchant wallet is the buyer) are found among the merchant wallet's
// policies by our reference; a purchase for the customer's own wallet is recorded without
// Avata's uuid, which the next policy-update callback attaches by our reference.
func TestAppReconcilerResolvesACrashedPurchase(t *testing.T) {
	for _, db := range outcomeDatabases {
		for _, target := range []string{avatabox.DefaultMerchantWallet, flowSeller} {
			custodial := target == avatabox.DefaultMerchantWallet
			name := db.name + "/custodial"
			if !custodial {
				name = db.name + "/customer-wallet"
			}
			t.Run(name, func(t *testing.T) {
				mutate := db.mutate(t)
				s := apptest.Start(t, mutate, func(c *app.Config) { c.ReconcileInterval = 50 * time.Millisecond })
				ctx := apptest.WithToken(apptest.AllKey)
				q := flowNFTQuote(t, ctx, s, "2")
				stored, err := s.App.Store().GetQuote(context.Background(), q.GetQuoteId())
				if err != nil {
					t.Fatal(err)
				}
				// What a gateway that died right after Avata's yes leaves behind: the purchase
				// intent (as CreatePolicy records it) and a policy at Avata, nothing else.
				policyID, err := domain.NewID()
				if err != nil {
					t.Fatal(err)
				}
				total, err := avata.DecimalToNumber("2")
				if err != nil {
					t.Fatal(err)
				}
				in := partnerops.Purchase{
					QuoteID: q.GetQuoteId(), RequestHash: "crashed",
					Policy: domain.Policy{ID: policyID, QuoteID: q.GetQuoteId(), Partner: domain.PartnerAvata, Kind: domain.KindNFT,
						Status: domain.PolicyPending, Premium: stored.Premium, AvataReference: policyID},
					NFT: &avata.NFTConfirmRequest{Proposal: avata.ProposalRef{ID: stored.PartnerProposalID}, Purchase: avata.NFTPurchase{
						TotalValue: total, Chain: "ETHEREUM", Token: "ETH", NFTContractID: flowNFTContract, NFTTokenID: "7",
						CurrentBlock: "19000000", TxID: flowTxID, Source: "0x3333333333333333333333333333333333333333", Target: target, Reference: policyID,
					}},
				}
				req, err := json.Marshal(in)
				if err != nil {
					t.Fatal(err)
				}
				// Not due yet while the test sets the scene; due once Avata has said yes.
				var call domain.PartnerCall
				err = s.App.Store().InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
					call, err = tx.CreatePartnerCall(ctx, domain.PartnerCall{
						Partner: domain.PartnerAvata, Operation: domain.OpAvataConfirm, Subject: domain.SubjectPolicies + policyID,
						DedupeKey: domain.OpAvataConfirm + ":" + q.GetQuoteId(), RequestHash: "crashed", Request: req, Attempts: 1,
						NextCheckTime: time.Now().Add(time.Hour),
					})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				conf, err := outsideClient(t, s).ConfirmNFT(context.Background(), *in.NFT)
				if err != nil {
					t.Fatal(err)
				}
				err = s.App.Store().InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
					call.NextCheckTime = time.Now().Add(-time.Second)
					_, err := tx.UpdatePartnerCall(ctx, call, call.Version)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				// The running gateway's reconciler records the policy Avata issued.
				policies := insurancev1.NewPolicyServiceClient(s.Conn)
				flowWait(t, "the reconciler to record the policy", func() bool {
					g, err := policies.GetPolicy(ctx, &insurancev1.GetPolicyRequest{PolicyId: policyID})
					if status.Code(err) == codes.NotFound {
						return false
					}
					if err != nil {
						t.Fatal(err)
					}
					return g.GetPolicy().GetPartnerRefs().GetAvataPolicyUuid() == conf.ID
				})
				var got insurancev1.GetPolicyResponse
				flowREST(t, s, "GET", "/v1/policies/"+policyID, "", nil, &got)
				if got.GetPolicy().GetQuoteId() != q.GetQuoteId() {
					t.Fatalf("reconciled policy = %v", got.GetPolicy())
				}
				// Anyone who buys the quote again with the same purchase gets that policy; Avata
				// confirmed it once (the reconciler's resend was refused as already confirmed).
				if n := flowRequests(s.App.Sandbox().Avata.Kit(), "POST", avata.PathNFTConfirm); n != 2 {
					t.Fatalf("confirm calls = %d, want the crashed one and the reconciler's resend", n)
				}
				if _, ok := s.App.Sandbox().Avata.PolicyStatus(conf.ID); !ok {
					t.Fatal("sandbox lost the policy")
				}
				page, err := s.App.Store().ListPolicies(context.Background(), store.PolicyFilter{}, store.PageRequest{Size: 100})
				if err != nil || len(page.Items) != 1 {
					t.Fatalf("policies = %v, %v", page.Items, err)
				}
			})
		}
	}
}

func TestLateAvataClaimCreateEndsWithOneClaim(t *testing.T) {
	for _, db := range outcomeDatabases {
		t.Run(db.name, func(t *testing.T) {
			s := apptest.Start(t, db.mutate(t))
			box := s.App.Sandbox().Avata
			if err := box.SetReadings(avatabox.Readings{ClaimUUID: avatabox.ClaimUUIDAbsent}); err != nil { // as documented: no claim uuid
				t.Fatal(err)
			}
			p := flowActivePolicy(t, s, "2")
			key := uploadClaimDoc(t, s, p.GetPolicyId())
			body := flowJSON(t, map[string]any{"reason": "The NFT never arrived in my wallet.", "claimantEmail": "ada@example.com", "documentKeys": []string{key}})
			path := "/v1/policies/" + p.GetPolicyId() + "/claims"
			box.Kit().SetFaults(sandboxkit.Faults{LatencyMS: 1500, Paths: []string{avata.PathClaimCreate}})

			first := s.Do(t, "POST", path, apptest.AllKey, strings.NewReader(body), map[string]string{"Idempotency-Key": "late-claim", "Grpc-Timeout": "300m"})
			flowWantREST(t, first, http.StatusGatewayTimeout, insurancev1.ErrorReason_ERROR_REASON_PARTNER_TIMEOUT, "partner=avata")
			// Another claim on the policy while this one is in flight is refused before Avata.
			other := s.JSON(t, "POST", path, apptest.AllKey, flowJSON(t, map[string]any{"reason": "Something else entirely.", "claimantEmail": "ada@example.com", "documentKeys": []string{key}}))
			flowWantREST(t, other, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE)
			var retried insurancev1.CreateClaimResponse
			flowDecode(t, s.Do(t, "POST", path, apptest.AllKey, strings.NewReader(body), map[string]string{"Idempotency-Key": "late-claim"}), &retried)
			var list insurancev1.ListClaimsResponse
			flowREST(t, s, "GET", "/v1/claims?policyId="+p.GetPolicyId(), "", nil, &list)
			if len(list.GetClaims()) != 1 || list.GetClaims()[0].GetClaimId() != retried.GetClaim().GetClaimId() {
				t.Fatalf("claims = %v, retry answered %v", list.GetClaims(), retried.GetClaim())
			}
			if n := flowRequests(box.Kit(), "POST", avata.PathClaimCreate); n != 1 {
				t.Fatalf("Avata claim create calls = %d, want 1", n)
			}
		})
	}
}
