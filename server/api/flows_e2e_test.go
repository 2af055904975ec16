package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	avatabox "github.com/covergate/covergate/server/sandbox/avata"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/pgtest"
)

// End-to-end tests of the internal API flows: a real gateway (apptest), the embedded partner
// sandboxes, a real SQLite file. Waiting for asynchronous state (Avata callbacks, outbox
// deliveries) is a bounded poll, never a fixed sleep.

const (
	flowNFTContract = "0x1111111111111111111111111111111111111111"
	flowSeller      = "0x2222222222222222222222222222222222222222"
	flowTxID        = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	// flowPDF is a minimal file that passes the PDF magic-number check.
	flowPDF = "%PDF-1.4\n% covergate test receipt\n"
)

// flowStart starts a gateway that publishes claim updates to Scalepoint.
func flowStart(t *testing.T) *apptest.Server {
	t.Helper()
	return apptest.Start(t, func(c *app.Config) { c.PublishClaimUpdates = true })
}

// flowWait polls cond every 50 ms until it holds or 10 s pass.
func flowWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	flowWaitFor(t, 10*time.Second, what, cond)
}

// flowWaitFor polls cond every 50 ms until it holds or limit passes.
func flowWaitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// flowREST sends a JSON request and decodes a 200 answer into out.
func flowREST(t *testing.T, s *apptest.Server, method, path, body string, header map[string]string, out proto.Message) apptest.Result {
	t.Helper()
	var r *bytes.Reader
	if body != "" {
		r = bytes.NewReader([]byte(body))
	}
	var res apptest.Result
	if r == nil {
		res = s.Do(t, method, path, apptest.AllKey, nil, header)
	} else {
		res = s.Do(t, method, path, apptest.AllKey, r, header)
	}
	if out != nil {
		if res.Code != http.StatusOK {
			t.Fatalf("%s %s = %d: %s", method, path, res.Code, res.Body)
		}
		if err := protojson.Unmarshal(res.Body, out); err != nil {
			t.Fatalf("%s %s: decode %T: %v: %s", method, path, out, err, res.Body)
		}
	}
	return res
}

func flowJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// flowEventTypes lists the types of the events about subject, in log order, read through the
// REST API (GET /v1/events).
func flowEventTypes(t *testing.T, s *apptest.Server, subject string) []string {
	t.Helper()
	var page insurancev1.ListEventsResponse
	flowREST(t, s, "GET", "/v1/events?pageSize=1000&subject="+url.QueryEscape(subject), "", nil, &page)
	var out []string
	for _, e := range page.GetEvents() {
		out = append(out, e.GetType())
	}
	return out
}

// flowRequests counts journaled sandbox requests with this method and path.
func flowRequests(k *sandboxkit.Kit, method, path string) int {
	n := 0
	for _, e := range k.Requests() {
		if e.Method == method && e.Path == path {
			n++
		}
	}
	return n
}

// flowPostgresDSN returns a DSN of a fresh PostgreSQL schema, dropped when the test ends.
// PostgreSQL is required, never skipped.
func flowPostgresDSN(t *testing.T) string { return pgtest.FreshDSN(t) }

// TestFlowRESTWalk walks the whole flow over REST, on SQLite (apptest's default) and on
// PostgreSQL.
func TestFlowRESTWalk(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { flowRESTWalk(t, flowStart(t)) })
	t.Run("postgres", func(t *testing.T) {
		dsn := flowPostgresDSN(t)
		flowRESTWalk(t, apptest.Start(t, func(c *app.Config) { c.PublishClaimUpdates = true; c.Database = dsn }))
	})
}

func flowRESTWalk(t *testing.T, s *apptest.Server) {
	sb := s.App.Sandbox()

	// The customer comes from the Etvas portal: its token is verified and the profile stored.
	minted, err := sb.Etvas.Mint(etvasbox.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var verified insurancev1.VerifyPortalTokenResponse
	flowREST(t, s, "POST", "/v1/customers:verifyPortalToken", `{"token":"`+minted.Token+`"}`, nil, &verified)
	customerID := verified.GetCustomer().GetCustomerId()

	// Quote for that customer: an 18-decimal ETH value; the premium (2.5 %) is exact to 18 places.
	var quote insurancev1.CreateQuoteResponse
	flowREST(t, s, "POST", "/v1/quotes", flowJSON(t, map[string]any{
		"nft":        map[string]any{"chain": "CHAIN_ETHEREUM", "nftContractAddress": flowNFTContract, "token": "TOKEN_ETH"},
		"totalValue": map[string]any{"currencyCode": "ETH", "amount": "1.123456789012345678"},
		"customerId": customerID,
	}), nil, &quote)
	q := quote.GetQuote()
	if q.GetPremium().GetAmount() != "0.028086419725308642" || q.GetPremium().GetCurrencyCode() != "ETH" {
		t.Fatalf("premium = %v, want 0.028086419725308642 ETH", q.GetPremium())
	}
	if q.GetTotalValue().GetAmount() != "1.123456789012345678" || q.GetExpireTime() == nil || q.GetNft().GetToken() != insurancev1.Token_TOKEN_ETH {
		t.Fatalf("quote = %v", q)
	}
	var got insurancev1.GetQuoteResponse
	flowREST(t, s, "GET", "/v1/quotes/"+q.GetQuoteId(), "", nil, &got)
	if !proto.Equal(got.GetQuote(), q) {
		t.Fatalf("GetQuote = %v, want %v", got.GetQuote(), q)
	}

	// Purchase, with an idempotency key. The NFT goes to the merchant wallet (a custodial
	// purchase: the merchant wallet files the claim later); the quote names the customer.
	purchase := flowJSON(t, map[string]any{
		"quoteId": q.GetQuoteId(),
		"nft": map[string]any{
			"txId": flowTxID, "currentBlock": "19000000", "sourceAddress": flowSeller,
			"targetAddress": avatabox.DefaultMerchantWallet, "nftTokenId": "42",
		},
		"totalValue": map[string]any{"currencyCode": "ETH", "amount": "1.123456789012345678"},
	})
	var created insurancev1.CreatePolicyResponse
	flowREST(t, s, "POST", "/v1/policies", purchase, map[string]string{"Idempotency-Key": "rest-walk-1"}, &created)
	p := created.GetPolicy()
	if p.GetStatus() != insurancev1.PolicyStatus_POLICY_STATUS_PENDING || p.GetPartnerRefs().GetAvataPolicyUuid() == "" || p.GetCustomerId() != customerID {
		t.Fatalf("created policy = %v", p)
	}

	// Avata accepts it 200 ms later and calls back: the policy becomes ACTIVE.
	var cur insurancev1.GetPolicyResponse
	flowWait(t, "policy ACTIVE", func() bool {
		flowREST(t, s, "GET", "/v1/policies/"+p.GetPolicyId(), "", nil, &cur)
		return cur.GetPolicy().GetStatus() == insurancev1.PolicyStatus_POLICY_STATUS_ACTIVE
	})
	if cur.GetPolicy().GetEtag() == p.GetEtag() {
		t.Fatalf("etag did not change on activation: %q", p.GetEtag())
	}

	// Upload a document and file a claim with its key.
	var up insurancev1.UploadClaimDocumentsResponse
	flowREST(t, s, "POST", "/v1/policies/"+p.GetPolicyId()+"/claim-documents", flowJSON(t, map[string]any{
		"documents": []any{map[string]any{"fileName": "receipt.pdf", "contentType": "application/pdf",
			"content": base64.StdEncoding.EncodeToString([]byte(flowPDF))}},
	}), nil, &up)
	if len(up.GetDocuments()) != 1 || up.GetDocuments()[0].GetSizeBytes() != int64(len(flowPDF)) || len(up.GetDocuments()[0].GetSha256()) != 64 {
		t.Fatalf("uploaded = %v", up.GetDocuments())
	}
	var claim insurancev1.CreateClaimResponse
	flowREST(t, s, "POST", "/v1/policies/"+p.GetPolicyId()+"/claims", flowJSON(t, map[string]any{
		"reason": "The NFT was never delivered to my wallet.", "claimantEmail": "ada@example.com",
		"documentKeys": []string{up.GetDocuments()[0].GetDocumentKey()},
	}), nil, &claim)
	c := claim.GetClaim()
	// As documented, Avata's create-claim answer carries no claim uuid: the claim is recorded
	// at once and Avata's uuid is attached from its callbacks.
	if c.GetStatus() != insurancev1.ClaimStatus_CLAIM_STATUS_CREATED || c.GetClaimId() == "" {
		t.Fatalf("claim = %v", c)
	}

	// Avata walks the claim to APPROVED with callbacks, which carry its uuid and claim number.
	var gc insurancev1.GetClaimResponse
	flowWait(t, "claim APPROVED", func() bool {
		flowREST(t, s, "GET", "/v1/claims/"+c.GetClaimId(), "", nil, &gc)
		return gc.GetClaim().GetStatus() == insurancev1.ClaimStatus_CLAIM_STATUS_APPROVED
	})
	avataClaim, ok := sb.Avata.ClaimUUID(p.GetPartnerRefs().GetAvataPolicyUuid())
	if !ok || gc.GetClaim().GetPartnerClaimId() != avataClaim || gc.GetClaim().GetPartnerClaimNumber() == "" {
		t.Fatalf("approved claim = %v, want Avata's claim uuid %q and its claim number", gc.GetClaim(), avataClaim)
	}
	var link insurancev1.GetClaimPortalLinkResponse
	flowREST(t, s, "GET", "/v1/claims/"+c.GetClaimId()+"/portal-link", "", nil, &link)
	if !strings.HasPrefix(link.GetUri(), "https://portal.avata.gg/merchant-claim/"+p.GetPartnerRefs().GetAvataPolicyUuid()+"/0x") {
		t.Fatalf("portal link = %q", link.GetUri())
	}

	// The claim route published the APPROVED status to Scalepoint (seen in its journal).
	flowWait(t, "claim_updated APPROVED published to Scalepoint", func() bool {
		for _, pub := range sb.Scalepoint.Published() {
			if pub.EventType == "claim_updated" && bytes.Contains(pub.Payload, []byte(c.GetClaimId())) && bytes.Contains(pub.Payload, []byte(`"APPROVED"`)) {
				return true
			}
		}
		return false
	})
	var delivered insurancev1.ListPublicationsResponse
	flowREST(t, s, "GET", "/v1/publications?status=PUBLICATION_STATUS_DELIVERED&eventType=claim_updated", "", nil, &delivered)
	if len(delivered.GetPublications()) == 0 || delivered.GetPublications()[0].GetPartnerEventRef() == "" {
		t.Fatalf("delivered claim publications = %v", delivered.GetPublications())
	}
	if n := flowRequests(sb.Scalepoint.Kit(), "POST", "/api/events/v1/dk/external/"+delivered.GetPublications()[0].GetDestination().GetTenant()+"/send"); n == 0 {
		t.Fatal("Scalepoint journal shows no send request")
	}

	// The event log tells the story in order.
	wantPolicy := []string{domain.EventPolicyCreated, domain.EventPolicyActivated}
	if got := flowEventTypes(t, s, domain.SubjectPolicies+p.GetPolicyId()); !slices.Equal(got, wantPolicy) {
		t.Fatalf("policy events = %v, want %v", got, wantPolicy)
	}
	claimEvents := flowEventTypes(t, s, domain.SubjectClaims+c.GetClaimId())
	if len(claimEvents) < 2 || claimEvents[0] != domain.EventClaimCreated || claimEvents[len(claimEvents)-1] != domain.EventClaimStatusChanged {
		t.Fatalf("claim events = %v", claimEvents)
	}
	flowAssertOrder(t, s, []string{
		domain.SubjectCustomers + customerID,
		domain.SubjectQuotes + q.GetQuoteId(),
		domain.SubjectPolicies + p.GetPolicyId(),
		domain.SubjectClaims + c.GetClaimId(),
	})

	// The same purchase with the same key replays the first answer: one confirm at Avata.
	var again insurancev1.CreatePolicyResponse
	flowREST(t, s, "POST", "/v1/policies", purchase, map[string]string{"Idempotency-Key": "rest-walk-1"}, &again)
	if !proto.Equal(again.GetPolicy(), p) {
		t.Fatalf("replayed policy = %v, want the first answer %v", again.GetPolicy(), p)
	}
	if n := flowRequests(sb.Avata.Kit(), "POST", "/v1/nft/confirm"); n != 1 {
		t.Fatalf("Avata confirm calls = %d, want 1", n)
	}
}

// flowAssertOrder checks, through the gRPC ListEvents, that the first events about each subject
// appear in this order.
func flowAssertOrder(t *testing.T, s *apptest.Server, subjects []string) {
	t.Helper()
	first := map[string]int64{}
	events := insurancev1.NewEventServiceClient(s.Conn)
	req := &insurancev1.ListEventsRequest{PageSize: 100}
	for {
		page, err := events.ListEvents(apptest.WithToken(apptest.AllKey), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.GetEvents() {
			if _, seen := first[e.GetSubject()]; !seen {
				first[e.GetSubject()] = e.GetCursor()
			}
		}
		if page.GetNextPageToken() == "" {
			break
		}
		req.PageToken = page.GetNextPageToken()
	}
	for i, subj := range subjects {
		if _, ok := first[subj]; !ok {
			t.Fatalf("no event about %s", subj)
		}
		if i > 0 && first[subj] <= first[subjects[i-1]] {
			t.Fatalf("first event about %s (cursor %d) is not after %s (cursor %d)", subj, first[subj], subjects[i-1], first[subjects[i-1]])
		}
	}
}

// TestFlowGRPCWalk walks the flow over gRPC: booking cover, :refresh, two documents, a claim,
// and an explicit publication.
func TestFlowGRPCWalk(t *testing.T) { flowGRPCWalk(t, flowStart(t)) }

func flowGRPCWalk(t *testing.T, s *apptest.Server) {
	ctx := apptest.WithToken(apptest.AllKey)
	quotes := insurancev1.NewQuoteServiceClient(s.Conn)
	policies := insurancev1.NewPolicyServiceClient(s.Conn)
	claims := insurancev1.NewClaimServiceClient(s.Conn)
	events := insurancev1.NewEventServiceClient(s.Conn)

	// Booking cover, 0.1 + 0.2 USDC: the decimals survive exactly.
	qr, err := quotes.CreateQuote(ctx, &insurancev1.CreateQuoteRequest{
		Cover: &insurancev1.CreateQuoteRequest_Booking{Booking: &insurancev1.BookingCover{
			Chain: insurancev1.Chain_CHAIN_POLYGON, NftIds: []string{"0x" + strings.Repeat("b", 64)},
			CheckInDate: "2027-03-01", Token: insurancev1.Token_TOKEN_USDC,
		}},
		TotalValue: &insurancev1.Money{CurrencyCode: "USDC", Amount: "0.30000000000000004"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := qr.GetQuote().GetPremium().GetAmount(); got != "0.007500000000000001" {
		t.Fatalf("premium of 0.30000000000000004 = %s, want 0.007500000000000001 (2.5 %%, half-even at 18 places)", got)
	}
	pr, err := policies.CreatePolicy(ctx, &insurancev1.CreatePolicyRequest{
		QuoteId: qr.GetQuote().GetQuoteId(),
		Purchase: &insurancev1.CreatePolicyRequest_Booking{Booking: &insurancev1.BookingPurchase{
			BookingWalletAddress: flowSeller, WalletAddress: avatabox.DefaultMerchantWallet, TxId: flowTxID,
			BookingTime: timestamppb.New(time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)),
		}},
		TotalValue: &insurancev1.Money{CurrencyCode: "USDC", Amount: "0.30000000000000004"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := pr.GetPolicy()

	// :refresh reads the status from Avata (the callback may or may not have arrived yet).
	flowWait(t, "policy ACTIVE after refresh", func() bool {
		rr, err := policies.RefreshPolicy(ctx, &insurancev1.RefreshPolicyRequest{PolicyId: p.GetPolicyId()})
		if err != nil {
			t.Fatal(err)
		}
		return rr.GetPolicy().GetStatus() == insurancev1.PolicyStatus_POLICY_STATUS_ACTIVE
	})

	up, err := claims.UploadClaimDocuments(ctx, &insurancev1.UploadClaimDocumentsRequest{
		PolicyId: p.GetPolicyId(),
		Documents: []*insurancev1.ClaimDocumentUpload{
			{FileName: "booking.pdf", ContentType: "application/pdf", Content: []byte(flowPDF)},
			{FileName: "photo.png", ContentType: "image/png", Content: []byte("\x89PNG\r\n\x1a\nrest")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{up.GetDocuments()[0].GetDocumentKey(), up.GetDocuments()[1].GetDocumentKey()}
	cr, err := claims.CreateClaim(ctx, &insurancev1.CreateClaimRequest{
		PolicyId: p.GetPolicyId(), Reason: "The hotel canceled the booking on arrival.", ClaimantEmail: "grace@example.com", DocumentKeys: keys,
	})
	if err != nil {
		t.Fatal(err)
	}
	flowWait(t, "claim APPROVED", func() bool {
		gc, err := claims.GetClaim(ctx, &insurancev1.GetClaimRequest{ClaimId: cr.GetClaim().GetClaimId()})
		if err != nil {
			t.Fatal(err)
		}
		return gc.GetClaim().GetStatus() == insurancev1.ClaimStatus_CLAIM_STATUS_APPROVED
	})

	// An internal service publishes a payment event; the outbox delivers it.
	payload, err := structpb.NewStruct(map[string]any{"payment": map[string]any{"status": "PAID", "amount": "12.50", "claimId": cr.GetClaim().GetClaimId()}})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := events.PublishEvent(ctx, &insurancev1.PublishEventRequest{EventType: "payment_status_updated", Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if pub.GetPublication().GetStatus() != insurancev1.PublicationStatus_PUBLICATION_STATUS_PENDING ||
		pub.GetPublication().GetPayloadVersion() != "1.0.0" || pub.GetPublication().GetCorrelationId() == "" {
		t.Fatalf("queued publication = %v", pub.GetPublication())
	}
	var final *insurancev1.Publication
	flowWait(t, "publication DELIVERED", func() bool {
		gp, err := events.GetPublication(ctx, &insurancev1.GetPublicationRequest{PublicationId: pub.GetPublication().GetPublicationId()})
		if err != nil {
			t.Fatal(err)
		}
		final = gp.GetPublication()
		return final.GetStatus() == insurancev1.PublicationStatus_PUBLICATION_STATUS_DELIVERED
	})
	var sent json.RawMessage
	for _, sp := range s.App.Sandbox().Scalepoint.Published() {
		if sp.AnsweredID == final.GetPartnerEventRef() {
			sent = sp.Payload
		}
	}
	var body map[string]any
	if err := json.Unmarshal(sent, &body); err != nil {
		t.Fatalf("published payload %s: %v", sent, err)
	}
	if body["eventType"] != "payment_status_updated" || body["correlationId"] != final.GetCorrelationId() || body["payment"] == nil {
		t.Fatalf("Scalepoint received %s", sent)
	}
	// Both the claim route and the explicit publication are in the log, in order.
	types := flowEventTypes(t, s, domain.SubjectPublications+final.GetPublicationId())
	if !slices.Equal(types, []string{domain.EventPublicationQueued}) {
		t.Fatalf("publication events = %v", types)
	}
	flowAssertOrder(t, s, []string{
		domain.SubjectQuotes + qr.GetQuote().GetQuoteId(),
		domain.SubjectPolicies + p.GetPolicyId(),
		domain.SubjectClaims + cr.GetClaim().GetClaimId(),
		domain.SubjectPublications + final.GetPublicationId(),
	})
}

func TestFlowScalepointOutageNothingLostNothingTwice(t *testing.T) {
	s := apptest.Start(t)
	sp := s.App.Sandbox().Scalepoint
	// Scalepoint's event API is down (503) until the test brings it back.
	sp.Kit().SetFaults(sandboxkit.Faults{ErrorRate: 1, Status: http.StatusServiceUnavailable, Paths: []string{"/api/events/"}})
	ctx := apptest.WithToken(apptest.AllKey)
	events := insurancev1.NewEventServiceClient(s.Conn)
	var ids []string
	for i := range 2 {
		payload, _ := structpb.NewStruct(map[string]any{"case": map[string]any{"number": fmt.Sprint(i)}})
		r, err := events.PublishEvent(ctx, &insurancev1.PublishEventRequest{EventType: "case_created", Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.GetPublication().GetPublicationId())
	}
	// During the outage every publication fails, is retried and stays PENDING with the error
	// kept. (Not "two attempts each": with jittered backoff one publication may be retried
	// often enough to open Scalepoint's circuit breaker before the other's second attempt.)
	flowWait(t, "a failed attempt recorded on every publication, and a retry", func() bool {
		retried := false
		for _, id := range ids {
			g, err := events.GetPublication(ctx, &insurancev1.GetPublicationRequest{PublicationId: id})
			if err != nil {
				t.Fatal(err)
			}
			pub := g.GetPublication()
			if pub.GetStatus() == insurancev1.PublicationStatus_PUBLICATION_STATUS_DELIVERED {
				t.Fatalf("publication %s delivered during the outage", id)
			}
			if pub.GetAttempts() < 1 || !strings.Contains(pub.GetLastError(), "503") || pub.GetNextAttemptTime() == nil {
				return false
			}
			retried = retried || pub.GetAttempts() >= 2
		}
		return retried
	})
	sp.Kit().SetFaults(sandboxkit.Faults{}) // recovery
	// Retries are spread by backoff with jitter; if the failures opened Scalepoint's circuit
	// breaker (30 s), delivery resumes when it lets a probe through.
	flowWaitFor(t, 75*time.Second, "all delivered after recovery", func() bool {
		lp, err := events.ListPublications(ctx, &insurancev1.ListPublicationsRequest{Status: insurancev1.PublicationStatus_PUBLICATION_STATUS_DELIVERED})
		if err != nil {
			t.Fatal(err)
		}
		return len(lp.GetPublications()) == len(ids)
	})
	seen := map[string]int{}
	for _, pub := range sp.Published() {
		seen[pub.CorrelationID]++
	}
	if len(seen) != len(ids) {
		t.Fatalf("Scalepoint accepted %d distinct events, want %d", len(seen), len(ids))
	}
	for corr, n := range seen {
		if n != 1 {
			t.Fatalf("event %s delivered %d times", corr, n)
		}
	}
}

func TestFlowPermanentScalepointRefusalIsFailedAndVisible(t *testing.T) {
	s := apptest.Start(t)
	sp := s.App.Sandbox().Scalepoint
	sp.Kit().SetFaults(sandboxkit.Faults{Status: http.StatusBadRequest, FailNext: 1, Paths: []string{"/api/events/"}})
	payload, _ := structpb.NewStruct(map[string]any{"claim": map[string]any{"change": "CaseClosed"}})
	var pub insurancev1.PublishEventResponse
	flowREST(t, s, "POST", "/v1/publications", flowJSON(t, map[string]any{"eventType": "claim_updated", "payload": payload.AsMap()}), nil, &pub)
	var g insurancev1.GetPublicationResponse
	flowWait(t, "publication FAILED", func() bool {
		flowREST(t, s, "GET", "/v1/publications/"+pub.GetPublication().GetPublicationId(), "", nil, &g)
		return g.GetPublication().GetStatus() == insurancev1.PublicationStatus_PUBLICATION_STATUS_FAILED
	})
	if g.GetPublication().GetAttempts() != 1 || !strings.Contains(g.GetPublication().GetLastError(), "400") {
		t.Fatalf("failed publication = %v, want 1 attempt and the partner's 400 kept", g.GetPublication())
	}
	if len(sp.Published()) != 0 {
		t.Fatalf("Scalepoint accepted %d events, want 0", len(sp.Published()))
	}
}

// flowNFTQuote creates an NFT quote over gRPC.
func flowNFTQuote(t *testing.T, ctx context.Context, s *apptest.Server, amount string) *insurancev1.Quote {
	t.Helper()
	qr, err := insurancev1.NewQuoteServiceClient(s.Conn).CreateQuote(ctx, &insurancev1.CreateQuoteRequest{
		Cover: &insurancev1.CreateQuoteRequest_Nft{Nft: &insurancev1.NftCover{
			Chain: insurancev1.Chain_CHAIN_ETHEREUM, NftContractAddress: flowNFTContract, Token: insurancev1.Token_TOKEN_ETH,
		}},
		TotalValue: &insurancev1.Money{CurrencyCode: "ETH", Amount: amount},
	})
	if err != nil {
		t.Fatal(err)
	}
	return qr.GetQuote()
}

func flowNFTPurchase(quoteID, amount string) *insurancev1.CreatePolicyRequest {
	return &insurancev1.CreatePolicyRequest{
		QuoteId: quoteID,
		Purchase: &insurancev1.CreatePolicyRequest_Nft{Nft: &insurancev1.NftPurchase{
			TxId: flowTxID, CurrentBlock: "19000000", SourceAddress: flowSeller,
			TargetAddress: avatabox.DefaultMerchantWallet, NftTokenId: "7",
		}},
		TotalValue: &insurancev1.Money{CurrencyCode: "ETH", Amount: amount},
	}
}

func TestFlowAvataDownOnPurchaseWritesNothing(t *testing.T) {
	s := apptest.Start(t)
	ctx := apptest.WithToken(apptest.AllKey)
	q := flowNFTQuote(t, ctx, s, "2")
	avataKit := s.App.Sandbox().Avata.Kit()
	avataKit.SetFaults(sandboxkit.Faults{ErrorRate: 1, Status: http.StatusServiceUnavailable, Paths: []string{"/v1/nft/confirm"}})
	before, err := s.App.Store().LatestCursor(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = insurancev1.NewPolicyServiceClient(s.Conn).CreatePolicy(ctx, flowNFTPurchase(q.GetQuoteId(), "2"))
	st := status.Convert(err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("CreatePolicy with Avata down = %v, want UNAVAILABLE", err)
	}
	info := apptest.ErrorInfo(t, st)
	if info.GetReason() != insurancev1.ErrorReason_ERROR_REASON_PARTNER_UNAVAILABLE.String() || info.GetMetadata()["partner"] != "avata" || info.GetMetadata()["http_status"] != "503" {
		t.Fatalf("ErrorInfo = %v", info)
	}
	// REST gets the same error as HTTP 503.
	r := s.JSON(t, "POST", "/v1/policies", apptest.AllKey, mustJSON(t, flowNFTPurchase(q.GetQuoteId(), "2")))
	if r.Code != http.StatusServiceUnavailable {
		t.Fatalf("REST CreatePolicy = %d: %s", r.Code, r.Body)
	}
	page, err := s.App.Store().ListPolicies(context.Background(), store.PolicyFilter{}, store.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.App.Store().LatestCursor(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 || after != before {
		t.Fatalf("after a failed purchase: %d policies, event cursor %d → %d; want nothing written", len(page.Items), before, after)
	}
	// Once Avata is back, the same quote can be bought.
	avataKit.SetFaults(sandboxkit.Faults{})
	if _, err := insurancev1.NewPolicyServiceClient(s.Conn).CreatePolicy(ctx, flowNFTPurchase(q.GetQuoteId(), "2")); err != nil {
		t.Fatalf("CreatePolicy after recovery: %v", err)
	}
}

func mustJSON(t *testing.T, m proto.Message) string {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFlowIdempotentPurchase(t *testing.T) {
	s := apptest.Start(t)
	q := flowNFTQuote(t, apptest.WithToken(apptest.AllKey), s, "3.5")
	policies := insurancev1.NewPolicyServiceClient(s.Conn)
	keyed := metadata.AppendToOutgoingContext(apptest.WithToken(apptest.AllKey), "idempotency-key", "purchase-42")
	first, err := policies.CreatePolicy(keyed, flowNFTPurchase(q.GetQuoteId(), "3.5"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := policies.CreatePolicy(keyed, flowNFTPurchase(q.GetQuoteId(), "3.50"))
	if status.Code(err) != codes.InvalidArgument || apptest.ErrorInfo(t, status.Convert(err)).GetReason() != insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED.String() {
		t.Fatalf("same key, different request = %v, %v; want INVALID_ARGUMENT IDEMPOTENCY_KEY_REUSED", second, err)
	}
	again, err := policies.CreatePolicy(keyed, flowNFTPurchase(q.GetQuoteId(), "3.5"))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(first, again) {
		t.Fatalf("retry = %v, want the first answer %v", again, first)
	}
	if n := flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/nft/confirm"); n != 1 {
		t.Fatalf("Avata confirm calls = %d, want 1", n)
	}
	// Over REST the reused key is HTTP 422.
	r := s.Do(t, "POST", "/v1/policies", apptest.AllKey, strings.NewReader(mustJSON(t, flowNFTPurchase(q.GetQuoteId(), "3.500"))),
		map[string]string{"Idempotency-Key": "purchase-42"})
	if r.Code != http.StatusUnprocessableEntity {
		t.Fatalf("REST reuse = %d: %s", r.Code, r.Body)
	}
	// Without a key, the same purchase of the same quote is still the same purchase: it gets the
	// recorded policy and Avata is not asked again.
	same, err := policies.CreatePolicy(apptest.WithToken(apptest.AllKey), flowNFTPurchase(q.GetQuoteId(), "3.5"))
	if err != nil || same.GetPolicy().GetPolicyId() != first.GetPolicy().GetPolicyId() {
		t.Fatalf("unkeyed repeat of the purchase = %v, %v; want policy %s", same, err, first.GetPolicy().GetPolicyId())
	}
	// Another purchase of a bought quote is refused before Avata sees it.
	other := flowNFTPurchase(q.GetQuoteId(), "3.5")
	other.GetNft().NftTokenId = "8"
	_, err = policies.CreatePolicy(apptest.WithToken(apptest.AllKey), other)
	if st := status.Convert(err); st.Code() != codes.AlreadyExists || apptest.ErrorInfo(t, st).GetReason() != insurancev1.ErrorReason_ERROR_REASON_ALREADY_EXISTS.String() {
		t.Fatalf("another purchase of a bought quote = %v, want ALREADY_EXISTS", err)
	}
	if n := flowRequests(s.App.Sandbox().Avata.Kit(), "POST", "/v1/nft/confirm"); n != 1 {
		t.Fatalf("Avata confirm calls = %d after the repeats, want 1", n)
	}
}
