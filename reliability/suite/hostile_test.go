//go:build reliability

package suite

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/reliability/figures"
	"github.com/covergate/covergate/reliability/partnersend"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	sandboxavata "github.com/covergate/covergate/server/sandbox/avata"
	sandboxetvas "github.com/covergate/covergate/server/sandbox/etvas"
	sandboxscalepoint "github.com/covergate/covergate/server/sandbox/scalepoint"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/webhook"
)

// hostileCase is one hostile request. Exactly one of rest, grpcCall is set. want names the
// expected HTTP status (REST and webhooks) or gRPC code, and the ErrorInfo reason.
type hostileCase struct {
	name string
	rest *restRequest
	grpc func(ctx context.Context, conn *grpc.ClientConn) error

	httpStatus int
	code       codes.Code
	reason     insurancev1.ErrorReason
	// bodyHas, when set, must appear in a 2xx answer (a replay answered "duplicate").
	bodyHas string
}

type restRequest struct {
	method, path, contentType string
	body                      []byte
	header                    map[string]string
}

const validQuote = `{"nft":{"chain":"CHAIN_ETHEREUM","nftContractAddress":"0x1111111111111111111111111111111111111111","token":"TOKEN_ETH"},"totalValue":{"currencyCode":"ETH","amount":"1.5"}}`

func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range h {
		out[a] = b
	}
	return out
}

func nested(depth int) []byte {
	return []byte(`{"nft":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + "}")
}

// etvasApp signs body as Etvas does.
func etvasApp(body []byte) *restRequest {
	return &restRequest{method: http.MethodPost, path: webhook.RouteEtvasApp, contentType: "application/json", body: body, header: map[string]string{
		etvas.HeaderAPIKey:           sandboxetvas.DefaultAPIKey,
		etvas.HeaderWebhookSignature: etvas.SignWebhook([]byte(sandboxetvas.DefaultEventSecret), body),
	}}
}

func appBody(name string, ts time.Time, contextID string) []byte {
	b, err := partnersend.AppEvent(name, contextID, "p-hostile", ts)
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return b
}

func avataCallback(body []byte, sig string) *restRequest {
	return &restRequest{method: http.MethodPost, path: webhook.RouteAvata, contentType: "application/json", body: body,
		header: map[string]string{avata.CallbackSignatureHeader: sig}}
}

// hostileCases is the table: REST, gRPC and webhooks.
func hostileCases(replayed []byte) []hostileCase {
	all, reader := bearer(apptest.AllKey), bearer(apptest.ReaderKey)
	post := func(path, body string, h map[string]string) *restRequest {
		return &restRequest{method: http.MethodPost, path: path, contentType: "application/json", body: []byte(body), header: h}
	}
	get := func(path string, h map[string]string) *restRequest {
		return &restRequest{method: http.MethodGet, path: path, header: h}
	}
	const (
		invalid       = insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED
		malformed     = insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST
		unauth        = insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED
		denied        = insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED
		tooLarge      = insurancev1.ErrorReason_ERROR_REASON_PAYLOAD_TOO_LARGE
		sigInvalid    = insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_INVALID
		sigMissing    = insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_SIGNATURE_MISSING
		stale         = insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_TIMESTAMP_STALE
		webhookUnauth = insurancev1.ErrorReason_ERROR_REASON_WEBHOOK_UNAUTHENTICATED
		notFoundRoute = insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND
	)
	now := time.Now()
	fresh := appBody("product.suspended", now, "hostile-fresh")
	quotes := func(ctx context.Context, conn *grpc.ClientConn, req *insurancev1.CreateQuoteRequest) error {
		_, err := insurancev1.NewQuoteServiceClient(conn).CreateQuote(ctx, req)
		return err
	}
	nft := func(chain insurancev1.Chain, amount string) *insurancev1.CreateQuoteRequest {
		return &insurancev1.CreateQuoteRequest{
			Cover: &insurancev1.CreateQuoteRequest_Nft{Nft: &insurancev1.NftCover{
				Chain: chain, NftContractAddress: "0x1111111111111111111111111111111111111111", Token: insurancev1.Token_TOKEN_ETH,
			}},
			TotalValue: &insurancev1.Money{CurrencyCode: "ETH", Amount: amount},
		}
	}
	withKey := func(ctx context.Context, key string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	return []hostileCase{
		// REST: malformed bodies.
		{name: "rest/malformed JSON", rest: post("/v1/quotes", `{"nft":`, all), httpStatus: 400, reason: malformed},
		{name: "rest/deeply nested JSON (100k levels)", rest: &restRequest{method: "POST", path: "/v1/quotes", contentType: "application/json", body: nested(100_000)[:60_000], header: all}, httpStatus: 400, reason: malformed},
		{name: "rest/deeply nested JSON (complete, 5k levels)", rest: &restRequest{method: "POST", path: "/v1/quotes", contentType: "application/json", body: nested(5_000), header: all}, httpStatus: 400, reason: malformed},
		{name: "rest/invalid UTF-8 in a string", rest: post("/v1/quotes", "{\"nft\":{\"chain\":\"CHAIN_ETHEREUM\",\"nftContractAddress\":\"\xff\xfe\",\"token\":\"TOKEN_ETH\"},\"totalValue\":{\"currencyCode\":\"ETH\",\"amount\":\"1\"}}", all), httpStatus: 400, reason: malformed},
		{name: "rest/JSON array instead of object", rest: post("/v1/quotes", `[1,2,3]`, all), httpStatus: 400, reason: malformed},
		{name: "rest/JSON null body", rest: post("/v1/quotes", `null`, all), httpStatus: 400, reason: malformed},
		{name: "rest/unknown field", rest: post("/v1/quotes", `{"nft":{},"isAdmin":true}`, all), httpStatus: 400, reason: malformed},
		{name: "rest/duplicate oneof members", rest: post("/v1/quotes", `{"nft":{"chain":"CHAIN_ETHEREUM"},"booking":{}}`, all), httpStatus: 400, reason: malformed},
		{name: "rest/huge amount number (1e999999)", rest: post("/v1/quotes", strings.Replace(validQuote, `"1.5"`, `"1e999999"`, 1), all), httpStatus: 400, reason: invalid},
		{name: "rest/amount as a 10k-digit number", rest: post("/v1/quotes", strings.Replace(validQuote, `"1.5"`, `"`+strings.Repeat("9", 10_000)+`"`, 1), all), httpStatus: 400, reason: invalid},
		{name: "rest/negative amount", rest: post("/v1/quotes", strings.Replace(validQuote, `"1.5"`, `"-1"`, 1), all), httpStatus: 400, reason: invalid},
		{name: "rest/NaN amount", rest: post("/v1/quotes", strings.Replace(validQuote, `"1.5"`, `"NaN"`, 1), all), httpStatus: 400, reason: invalid},
		{name: "rest/page_size beyond int32", rest: get("/v1/policies?page_size=99999999999999999999", all), httpStatus: 400, reason: malformed},
		{name: "rest/unknown enum name", rest: post("/v1/quotes", strings.Replace(validQuote, "CHAIN_ETHEREUM", "CHAIN_DOGE", 1), all), httpStatus: 400, reason: malformed},
		{name: "rest/unknown enum number", rest: post("/v1/quotes", strings.Replace(validQuote, `"CHAIN_ETHEREUM"`, `999`, 1), all), httpStatus: 400, reason: invalid},
		{name: "rest/unknown enum in query", rest: get("/v1/policies?status=POLICY_STATUS_HACKED", all), httpStatus: 400, reason: malformed},
		// REST: content types and sizes.
		{name: "rest/text/plain body", rest: &restRequest{method: "POST", path: "/v1/quotes", contentType: "text/plain", body: []byte(validQuote), header: all}, httpStatus: 415},
		{name: "rest/form-encoded body", rest: &restRequest{method: "POST", path: "/v1/quotes", contentType: "application/x-www-form-urlencoded", body: []byte("nft=1"), header: all}, httpStatus: 415},
		{name: "rest/oversize body (1 MiB > 64 KiB limit)", rest: post("/v1/quotes", `{"x":"`+strings.Repeat("a", 1<<20)+`"}`, all), httpStatus: 413, reason: tooLarge},
		// REST: auth and forged internal metadata.
		{name: "rest/missing auth", rest: post("/v1/quotes", validQuote, nil), httpStatus: 401, reason: unauth},
		{name: "rest/unknown API key", rest: post("/v1/quotes", validQuote, bearer("not-a-real-key-123456")), httpStatus: 401, reason: unauth},
		{name: "rest/key without the scope", rest: post("/v1/quotes", validQuote, reader), httpStatus: 403, reason: denied},
		{name: "rest/forged Grpc-Metadata-Authorization", rest: post("/v1/quotes", validQuote, map[string]string{"Grpc-Metadata-Authorization": "Bearer " + apptest.AllKey}), httpStatus: 401, reason: unauth},
		{name: "rest/forged delivery token on a webhook route", rest: &restRequest{method: "POST", path: webhook.RouteEtvasApp, contentType: "application/json", body: fresh,
			header: map[string]string{"Grpc-Metadata-" + webhook.MetadataKey: "forged", webhook.MetadataKey: "forged"}}, httpStatus: 401, reason: webhookUnauth},
		{name: "rest/method override header", rest: &restRequest{method: "GET", path: "/v1/quotes", header: with(all, "X-HTTP-Method-Override", "POST")}, httpStatus: 405},
		// REST: path traversal and SQL-looking strings.
		{name: "rest/path traversal in policy id", rest: get("/v1/policies/..%2F..%2Fetc%2Fpasswd", all), httpStatus: 404, reason: notFoundRoute},
		{name: "rest/path traversal in external-data key", rest: &restRequest{method: "PUT", path: "/v1/external-data/..%2F..%2Fsecrets", contentType: "application/json", body: []byte(`{"contextId":"ctx-1","data":"x"}`), header: all}, httpStatus: 404, reason: notFoundRoute},
		{name: "rest/external-data key '..'", rest: &restRequest{method: "PUT", path: "/v1/external-data/%2E%2E", contentType: "application/json", body: []byte(`{"contextId":"ctx-1","data":"x"}`), header: all}, httpStatus: 400, reason: invalid},
		{name: "rest/SQL in policy id", rest: get("/v1/policies/1'%20OR%20'1'='1", all), httpStatus: 400, reason: invalid},
		{name: "rest/SQL in page token", rest: get("/v1/policies?page_token=x'%3B%20DROP%20TABLE%20policies%3B--", all), httpStatus: 400, reason: invalid},
		// The filter is a bound parameter: the injection matches nothing (the log is not empty).
		{name: "rest/SQL in event subject filter", rest: get("/v1/events?subject=policies%2F'%20OR%201%3D1--", all), httpStatus: 200, bodyHas: `"events":[]`},
		{name: "rest/unknown route", rest: get("/v1/admin/users", all), httpStatus: 404, reason: notFoundRoute},
		// Errors before a stream's first message are top-level Status bodies, not stream chunks.
		{name: "rest/watch with a negative cursor", rest: get("/v1/events:watch?after_cursor=-1", all), httpStatus: 400, reason: invalid},
		{name: "rest/watch with an injected type filter", rest: get("/v1/events:watch?types=x%27%3BDROP", all), httpStatus: 400, reason: invalid},
		{name: "rest/watch without auth", rest: get("/v1/events:watch", nil), httpStatus: 401, reason: unauth},
		// A key gRPC metadata cannot carry must be refused, not dropped (the request would run
		// without its key, and twice when retried).
		{name: "rest/non-ASCII Idempotency-Key", rest: post("/v1/quotes", validQuote, with(all, "Idempotency-Key", "schlüssel")), httpStatus: 400, reason: invalid},
		{name: "rest/Idempotency-Key with a tab", rest: post("/v1/quotes", validQuote, with(all, "Idempotency-Key", "a\tb")), httpStatus: 400, reason: invalid},
		{name: "rest/Idempotency-Key of 256 characters", rest: post("/v1/quotes", validQuote, with(all, "Idempotency-Key", strings.Repeat("k", 256))), httpStatus: 400, reason: invalid},
		// Handlers outside grpc-gateway answer errors as Status too.
		{name: "rest/POST to the docs page", rest: post("/docs/", "{}", all), httpStatus: 405, reason: insurancev1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED},
		{name: "rest/unknown docs asset", rest: get("/docs/no-such-asset.js", all), httpStatus: 404, reason: notFoundRoute},

		// gRPC.
		{name: "grpc/missing auth", grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			return quotes(ctx, c, nft(insurancev1.Chain_CHAIN_ETHEREUM, "1.5"))
		}, code: codes.Unauthenticated, reason: unauth},
		{name: "grpc/key without the scope", grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			return quotes(withKey(ctx, apptest.ReaderKey), c, nft(insurancev1.Chain_CHAIN_ETHEREUM, "1.5"))
		}, code: codes.PermissionDenied, reason: denied},
		{name: "grpc/unknown enum number", grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			return quotes(withKey(ctx, apptest.AllKey), c, nft(insurancev1.Chain(999), "1.5"))
		}, code: codes.InvalidArgument, reason: invalid},
		{name: "grpc/huge amount", grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			return quotes(withKey(ctx, apptest.AllKey), c, nft(insurancev1.Chain_CHAIN_ETHEREUM, strings.Repeat("9", 100_000)))
		}, code: codes.InvalidArgument, reason: invalid},
		{name: "grpc/SQL in policy id", grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			_, err := insurancev1.NewPolicyServiceClient(c).GetPolicy(withKey(ctx, apptest.AllKey), &insurancev1.GetPolicyRequest{PolicyId: "'; DELETE FROM policies; --"})
			return err
		}, code: codes.InvalidArgument, reason: invalid},
		{name: "grpc/oversize message (5 MiB)", grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			return quotes(withKey(ctx, apptest.AllKey), c, nft(insurancev1.Chain_CHAIN_ETHEREUM, strings.Repeat("1", 5<<20)))
		}, code: codes.ResourceExhausted},
		{name: "grpc/direct webhook call with a forged delivery token", grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			ctx = metadata.AppendToOutgoingContext(withKey(ctx, apptest.AllKey), webhook.MetadataKey, "forged-token")
			_, err := webhooksv1.NewEtvasWebhookServiceClient(c).HandleAppEvent(ctx, &webhooksv1.HandleAppEventRequest{Name: "user.deleted"})
			return err
		}, code: codes.Unauthenticated, reason: webhookUnauth},
		{name: "grpc/direct Avata callback without a token", grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			_, err := webhooksv1.NewAvataWebhookServiceClient(c).HandleCallback(withKey(ctx, apptest.AllKey), &webhooksv1.HandleCallbackRequest{EventType: "policy-update"})
			return err
		}, code: codes.Unauthenticated, reason: webhookUnauth},

		// Webhooks.
		{name: "etvas/missing x-api-key", rest: &restRequest{method: "POST", path: webhook.RouteEtvasApp, contentType: "application/json", body: fresh,
			header: map[string]string{etvas.HeaderWebhookSignature: etvas.SignWebhook([]byte(sandboxetvas.DefaultEventSecret), fresh)}}, httpStatus: 401, reason: webhookUnauth},
		{name: "etvas/missing signature", rest: &restRequest{method: "POST", path: webhook.RouteEtvasApp, contentType: "application/json", body: fresh,
			header: map[string]string{etvas.HeaderAPIKey: sandboxetvas.DefaultAPIKey}}, httpStatus: 400, reason: sigMissing},
		{name: "etvas/signature by another secret", rest: &restRequest{method: "POST", path: webhook.RouteEtvasApp, contentType: "application/json", body: fresh,
			header: map[string]string{etvas.HeaderAPIKey: sandboxetvas.DefaultAPIKey, etvas.HeaderWebhookSignature: etvas.SignWebhook([]byte("guessed"), fresh)}}, httpStatus: 403, reason: sigInvalid},
		{name: "etvas/signature not hex", rest: &restRequest{method: "POST", path: webhook.RouteEtvasApp, contentType: "application/json", body: fresh,
			header: map[string]string{etvas.HeaderAPIKey: sandboxetvas.DefaultAPIKey, etvas.HeaderWebhookSignature: "zz' OR 1=1"}}, httpStatus: 403, reason: sigInvalid},
		{name: "etvas/replayed signature on another body", rest: func() *restRequest {
			r := etvasApp(replayed)
			r.body = appBody("user.deleted", now, "hostile-victim")
			return r
		}(), httpStatus: 403, reason: sigInvalid},
		{name: "etvas/replayed delivery (same body and signature)", rest: etvasApp(replayed), httpStatus: 200, bodyHas: `"status":"duplicate"`},
		{name: "etvas/expired timestamp (27 h old: beyond the 26 h window)", rest: etvasApp(appBody("product.suspended", now.Add(-27*time.Hour), "hostile-old")), httpStatus: 400, reason: stale},
		{name: "etvas/timestamp 27 h in the future", rest: etvasApp(appBody("product.suspended", now.Add(27*time.Hour), "hostile-future")), httpStatus: 400, reason: stale},
		{name: "etvas/timestamp not a number", rest: etvasApp([]byte(`{"name":"product.suspended","timestamp":"yesterday","payload":{"contextId":"hostile-ts"}}`)), httpStatus: 400, reason: stale},
		{name: "etvas/signed malformed JSON", rest: etvasApp([]byte(`{"name":"product.suspended",`)), httpStatus: 400, reason: malformed},
		{name: "etvas/signed deeply nested JSON", rest: etvasApp([]byte(`{"name":"x","payload":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + "}")), httpStatus: 400, reason: invalid},
		{name: "etvas/signed invalid UTF-8", rest: etvasApp([]byte("{\"name\":\"product.suspended\",\"timestamp\":" + fmt.Sprint(now.UnixMilli()) + ",\"payload\":{\"contextId\":\"\xff\xfe\"}}")), httpStatus: 400, reason: malformed},
		{name: "etvas/wrong content type", rest: func() *restRequest { r := etvasApp(fresh); r.contentType = "text/plain"; return r }(), httpStatus: 415},
		{name: "etvas/oversize body", rest: etvasApp([]byte(`{"name":"x","payload":{"contextId":"` + strings.Repeat("a", 1<<20) + `"}}`)), httpStatus: 413, reason: tooLarge},
		{name: "etvas/portal event with SQL in ids", rest: func() *restRequest {
			r := etvasApp([]byte(`{"event":{"id":"1'; DROP TABLE inbox; --","type":"user.deleted","timestamp":1},"user":{"id":"' OR 1=1 --"}}`))
			r.path = webhook.RouteEtvasPortal
			return r
		}(), httpStatus: 400, reason: stale},
		{name: "avata/missing signature", rest: avataCallback([]byte(`{"eventType":"policy-update","body":{"status":"ACCEPTED","uuid":"u"}}`), ""), httpStatus: 401, reason: sigMissing},
		{name: "avata/signature by another secret", rest: func() *restRequest {
			b := []byte(`{"eventType":"policy-update","body":{"status":"ACCEPTED","uuid":"u"}}`)
			return avataCallback(b, avata.SignCallback([]byte("guessed"), b))
		}(), httpStatus: 403, reason: sigInvalid},
		{name: "avata/signed malformed JSON", rest: func() *restRequest {
			b := []byte(`{"eventType":"policy-update","body":`)
			return avataCallback(b, avata.SignCallback([]byte(sandboxavata.DefaultCallbackSecret), b))
		}(), httpStatus: 400, reason: malformed},
		// Callbacks are hints: the gateway asks Avata (uuid in the body, never in a path) and Avata does
		// not know it.
		{name: "avata/signed callback for an unknown policy uuid '../../etc/passwd'", rest: func() *restRequest {
			b := []byte(`{"eventType":"policy-update","body":{"status":"HACKED","uuid":"../../etc/passwd"}}`)
			return avataCallback(b, avata.SignCallback([]byte(sandboxavata.DefaultCallbackSecret), b))
		}(), httpStatus: 404, reason: insurancev1.ErrorReason_ERROR_REASON_PARTNER_NOT_FOUND},
		{name: "scalepoint/missing bearer token", rest: &restRequest{method: "POST", path: webhook.RouteScalepoint, contentType: "application/json", body: []byte(`{"id":"1","type":"case_created"}`)}, httpStatus: 401, reason: webhookUnauth},
		{name: "scalepoint/wrong bearer token", rest: &restRequest{method: "POST", path: webhook.RouteScalepoint, contentType: "application/json", body: []byte(`{"id":"1","type":"case_created"}`),
			header: bearer("guessed-token")}, httpStatus: 401, reason: webhookUnauth},
		{name: "scalepoint/API key instead of the webhook token", rest: &restRequest{method: "POST", path: webhook.RouteScalepoint, contentType: "application/json", body: []byte(`{"id":"1","type":"case_created"}`),
			header: bearer(apptest.AllKey)}, httpStatus: 401, reason: webhookUnauth},
		{name: "scalepoint/authenticated malformed JSON", rest: &restRequest{method: "POST", path: webhook.RouteScalepoint, contentType: "application/json", body: []byte(`{"id":`),
			header: bearer(sandboxscalepoint.DefaultWebhookToken)}, httpStatus: 400, reason: malformed},
	}
}

// stateSnapshot is what a hostile request must not change.
type stateSnapshot struct {
	cursor                  int64
	inbox, policies, custs  int
	pending, delivered, bad int64
	etvasWrites             int
}

func snapshot(t *testing.T, s *apptest.Server) stateSnapshot {
	t.Helper()
	ctx := context.Background()
	st := s.App.Store()
	cur, err := st.LatestCursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := st.OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := stateSnapshot{cursor: cur, pending: ob.Pending, delivered: ob.Delivered, bad: ob.Failed}
	for page := (store.PageRequest{Size: store.MaxPageSize}); ; {
		p, err := st.ListInbox(ctx, store.InboxFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		snap.inbox += len(p.Items)
		if p.Next == "" {
			break
		}
		page.After = p.Next
	}
	pp, err := st.ListPolicies(ctx, store.PolicyFilter{}, store.PageRequest{Size: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := st.ListCustomers(ctx, store.PageRequest{Size: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	snap.policies, snap.custs = len(pp.Items), len(cp.Items)
	// Writes that reached the Etvas sandbox (external data): a refused request must not get there.
	for _, e := range s.App.Sandbox().Etvas.Kit().Requests() {
		if e.Method != http.MethodGet {
			snap.etvasWrites++
		}
	}
	return snap
}

// TestHostileInputs sends every case of the table and requires a clear error (status and
// reason) and no state change (event cursor, inbox, policies, customers, outbox, partner writes).
func TestHostileInputs(t *testing.T) {
	s := apptest.Start(t)
	// One accepted delivery, replayed by the table.
	replayed := appBody("product.suspended", time.Now(), "hostile-replayed")
	first := send(t, s, etvasApp(replayed))
	if first.Code != http.StatusOK || !bytes.Contains(first.Body, []byte(`"processed"`)) {
		t.Fatalf("setup delivery: %d %s", first.Code, first.Body)
	}
	cases := hostileCases(replayed)
	if len(cases) < 40 {
		t.Fatalf("only %d hostile cases, the issue asks for at least 40", len(cases))
	}
	byTransport := map[string]int{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s)
			if tc.rest != nil {
				checkREST(t, s, tc)
			} else {
				checkGRPC(t, s, tc)
			}
			if after := snapshot(t, s); after != before {
				t.Errorf("state changed: before %+v, after %+v", before, after)
			}
		})
		byTransport[strings.SplitN(tc.name, "/", 2)[0]]++
	}
	figures.Record(t, "hostile", "cases: each a clear error and no state change", "≥ 40", "%d (%s)", len(cases), fmtCounts(byTransport))
}

func fmtCounts(m map[string]int) string {
	var parts []string
	for _, k := range []string{"rest", "grpc", "etvas", "avata", "scalepoint"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

func send(t *testing.T, s *apptest.Server, r *restRequest) apptest.Result {
	t.Helper()
	h := map[string]string{}
	for k, v := range r.header {
		h[k] = v
	}
	var body *bytes.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, s.HTTPURL+r.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req, err = http.NewRequest(r.method, s.HTTPURL+r.path, body)
		if err != nil {
			t.Fatal(err)
		}
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return apptest.Result{Code: resp.StatusCode, Header: resp.Header, Body: buf.Bytes()}
}

func checkREST(t *testing.T, s *apptest.Server, tc hostileCase) {
	t.Helper()
	res := send(t, s, tc.rest)
	if res.Code != tc.httpStatus {
		t.Fatalf("HTTP %d, want %d: %.300s", res.Code, tc.httpStatus, res.Body)
	}
	if tc.bodyHas != "" {
		if !bytes.Contains(res.Body, []byte(tc.bodyHas)) {
			t.Fatalf("answer %.300s lacks %s", res.Body, tc.bodyHas)
		}
		return
	}
	// Strictly a google.rpc.Status at the top level: unknown fields (a stream chunk's "error"
	// wrapper, a health body) and a missing code or message fail.
	var st spb.Status
	if err := protojson.Unmarshal(res.Body, &st); err != nil || st.GetCode() == 0 || st.GetMessage() == "" {
		t.Fatalf("error body is not a google.rpc.Status with a code and message: %.300s (%v)", res.Body, err)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	var reason string
	for _, d := range status.FromProto(&st).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.GetDomain() != apierror.Domain {
				t.Errorf("ErrorInfo domain %q", info.GetDomain())
			}
			reason = info.GetReason()
		}
	}
	if reason == "" {
		t.Fatalf("no ErrorInfo reason in %.300s", res.Body)
	}
	if tc.reason != insurancev1.ErrorReason_ERROR_REASON_UNSPECIFIED && reason != apierror.Reason(tc.reason) {
		t.Fatalf("reason %s, want %s (%.300s)", reason, tc.reason, res.Body)
	}
}

func checkGRPC(t *testing.T, s *apptest.Server, tc hostileCase) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := tc.grpc(ctx, s.Conn)
	st := status.Convert(err)
	if st.Code() != tc.code {
		t.Fatalf("code %s, want %s: %v", st.Code(), tc.code, err)
	}
	if st.Message() == "" {
		t.Errorf("empty error message")
	}
	if tc.reason != insurancev1.ErrorReason_ERROR_REASON_UNSPECIFIED {
		if got := reason(st); got != apierror.Reason(tc.reason) {
			t.Fatalf("reason %q, want %s (%v)", got, tc.reason, err)
		}
	}
}
