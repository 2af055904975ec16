// Package openapi_test walks the REST API of a real gateway and validates every request and
// response against the OpenAPI 3.1 document the same gateway serves at /openapi.json, with a
// third-party validator (pb33f/libopenapi-validator): what the document promises frontend teams
// (required fields, formats, patterns, typed errors, headers) must be what the server does.
package openapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"

	verrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	avatabox "github.com/covergate/covergate/server/sandbox/avata"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

type validationError = verrors.ValidationError

// validating is an http.RoundTripper that checks each exchange against the document.
type validating struct {
	next http.RoundTripper
	v    validator.Validator

	mu       sync.Mutex
	problems []string
	seen     map[string]bool // "METHOD /path-template STATUS" of every validated exchange
}

// responseOnly is a request header the test sets (and the transport removes) on requests that
// are outside the contract on purpose, to provoke an error: only their responses are checked.
const responseOnly = "X-Test-Response-Only"

func (vt *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	checkRequest := req.Header.Get(responseOnly) == ""
	req.Header.Del(responseOnly)
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := vt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	// The validator reads the bodies; give it and the caller their own copies.
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	vreq.URL.Path = verbAsSegment(vreq.URL.Path)
	vreq.URL.RawPath = ""
	vresp := *resp
	vresp.Body = io.NopCloser(bytes.NewReader(respBody))
	vresp.Request = vreq
	var (
		ok   bool
		errs []*validationError
	)
	if checkRequest {
		ok, errs = vt.v.ValidateHttpRequestResponse(vreq, &vresp)
	} else {
		ok, errs = vt.v.ValidateHttpResponse(vreq, &vresp)
	}
	vt.mu.Lock()
	key := fmt.Sprintf("%s %s %d", req.Method, vreq.URL.Path, resp.StatusCode)
	vt.seen[key] = true
	if !ok {
		for _, e := range errs {
			msg := e.Error()
			for _, s := range e.SchemaValidationErrors {
				msg += "; " + s.Error()
			}
			vt.problems = append(vt.problems, key+": "+msg+"\n  response: "+truncate(respBody))
		}
	}
	vt.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	return resp, nil
}

// The validator's path lookup takes grpc-gateway's custom verb after a path parameter
// (`/v1/policies/{policy_id}:cancel`) for the parameter itself and reports "method not found".
// The test moves such verbs into a segment of their own, in the document's paths and in the
// request paths it validates alike (`/v1/policies/{policy_id}/:cancel`); the schemas checked
// are the served ones, unchanged.
func verbsAsSegments(t *testing.T, spec []byte) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(spec, &d); err != nil {
		t.Fatal(err)
	}
	paths, _ := d["paths"].(map[string]any)
	for p, item := range paths {
		if q := strings.Replace(p, "}:", "}/:", 1); q != p {
			delete(paths, p)
			paths[q] = item
		}
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func verbAsSegment(path string) string {
	segs := strings.Split(path, "/")
	last := segs[len(segs)-1]
	if len(segs) < 4 || !strings.Contains(last, ":") {
		return path // "/v1/customers:verifyPortalToken" has no parameter before its verb
	}
	i := strings.Index(last, ":")
	segs[len(segs)-1] = last[:i] + "/" + last[i:]
	return strings.Join(segs, "/")
}

func truncate(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// start runs a gateway whose test HTTP client validates every exchange against the gateway's own
// /openapi.json.
func start(t *testing.T, mutate ...func(*app.Config)) (*apptest.Server, *validating) {
	t.Helper()
	s := apptest.Start(t, mutate...)
	resp, err := s.HTTP.Get(s.HTTPURL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d, %v", resp.StatusCode, err)
	}
	doc, err := libopenapi.NewDocument(verbsAsSegments(t, spec))
	if err != nil {
		t.Fatalf("parse /openapi.json: %v", err)
	}
	// The radix path tree takes `{policy_id}:cancel` for `{policy_id}`; the regex matcher reads
	// grpc-gateway's custom-verb paths right. Formats (uuid, int64) are asserted too.
	v, errs := validator.NewValidator(doc, config.DisablePathTree(), config.WithFormatAssertions())
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, docErrs := v.ValidateDocument(); !ok {
		for _, e := range docErrs {
			t.Errorf("document: %v", e)
		}
		t.FailNow()
	}
	next := s.HTTP.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	vt := &validating{next: next, v: v, seen: map[string]bool{}}
	s.HTTP = &http.Client{Transport: vt}
	t.Cleanup(func() {
		vt.mu.Lock()
		defer vt.mu.Unlock()
		for _, p := range vt.problems {
			t.Error(p)
		}
	})
	return s, vt
}

// call sends a JSON request and returns the answer; want is the expected HTTP status.
func call(t *testing.T, s *apptest.Server, method, path, token string, body any, header map[string]string, want int) map[string]any {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, ok := body.(string)
		if !ok {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			raw = string(b)
		}
		r = strings.NewReader(raw)
	}
	res := s.Do(t, method, path, token, r, header)
	if res.Code != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, res.Code, want, res.Body)
	}
	if res.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s: no X-Request-Id header", method, path)
	}
	out := map[string]any{}
	if len(res.Body) > 0 && res.Body[0] == '{' {
		if err := json.Unmarshal(res.Body, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, res.Body)
		}
	}
	return out
}

// reason is the ErrorInfo reason of an error body.
func reason(t *testing.T, body map[string]any) string {
	t.Helper()
	details, _ := body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			return fmt.Sprint(m["reason"])
		}
	}
	t.Fatalf("no ErrorInfo in %v", body)
	return ""
}

func get(m map[string]any, path ...string) any {
	var cur any = m
	for _, k := range path {
		mm, _ := cur.(map[string]any)
		cur = mm[k]
	}
	return cur
}

func str(m map[string]any, path ...string) string {
	v := get(m, path...)
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const (
	nftContract = "0x1111111111111111111111111111111111111111"
	seller      = "0x2222222222222222222222222222222222222222"
	txID        = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	pdf         = "%PDF-1.4\n% covergate test receipt\n"
)

// TestRESTFlowMatchesOpenAPI walks quote → policy → document → claim → events → publications →
// external data and every reachable error status; the validating client fails the test on any
// request or response the served document does not describe.
func TestRESTFlowMatchesOpenAPI(t *testing.T) {
	s, vt := start(t, func(c *app.Config) { c.PublishClaimUpdates = true })
	all := apptest.AllKey
	sb := s.App.Sandbox()
	// The documented create-claim answer carries no claim uuid (the default reading); this test
	// is about the REST contract, not that reading, so the carrier answers with one here.
	if err := sb.Avata.SetReadings(avatabox.Readings{ClaimUUID: avatabox.ClaimUUIDPresent}); err != nil {
		t.Fatal(err)
	}

	minted, err := sb.Etvas.Mint(etvasbox.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	verified := call(t, s, "POST", "/v1/customers:verifyPortalToken", all, map[string]any{"token": minted.Token}, nil, 200)
	customerID := str(verified, "customer", "customerId")
	call(t, s, "GET", "/v1/customers/"+customerID, all, nil, nil, 200)

	quote := call(t, s, "POST", "/v1/quotes", all, map[string]any{
		"nft":        map[string]any{"chain": "CHAIN_ETHEREUM", "nftContractAddress": nftContract, "token": "TOKEN_ETH"},
		"totalValue": map[string]any{"currencyCode": "ETH", "amount": "1.5"},
		"customerId": customerID,
	}, nil, 200)
	quoteID := str(quote, "quote", "quoteId")
	call(t, s, "GET", "/v1/quotes/"+quoteID, all, nil, nil, 200)

	purchase := map[string]any{
		"quoteId": quoteID,
		"nft": map[string]any{
			"txId": txID, "currentBlock": "19000000", "sourceAddress": seller,
			"targetAddress": avatabox.DefaultMerchantWallet, "nftTokenId": "42",
		},
		"totalValue": map[string]any{"currencyCode": "ETH", "amount": "1.5"},
	}
	created := call(t, s, "POST", "/v1/policies", all, purchase, map[string]string{"Idempotency-Key": "openapi-walk-1"}, 200)
	policyID := str(created, "policy", "policyId")
	// The same key with another body: 422 IDEMPOTENCY_KEY_REUSED.
	other := map[string]any{"quoteId": quoteID, "nft": purchase["nft"], "totalValue": map[string]any{"currencyCode": "ETH", "amount": "1.6"}}
	if r := reason(t, call(t, s, "POST", "/v1/policies", all, other, map[string]string{"Idempotency-Key": "openapi-walk-1"}, 422)); r != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("reused key: reason %s", r)
	}
	waitFor(t, "policy ACTIVE", func() bool {
		p := call(t, s, "GET", "/v1/policies/"+policyID, all, nil, nil, 200)
		return str(p, "policy", "status") == "POLICY_STATUS_ACTIVE"
	})
	call(t, s, "GET", "/v1/policies?pageSize=10", all, nil, nil, 200)
	call(t, s, "GET", "/v1/policies/"+policyID+"/request-status", all, nil, nil, 200)

	up := call(t, s, "POST", "/v1/policies/"+policyID+"/claim-documents", all, map[string]any{
		"documents": []any{map[string]any{"fileName": "receipt.pdf", "contentType": "application/pdf",
			"content": base64.StdEncoding.EncodeToString([]byte(pdf))}},
	}, nil, 200)
	docs, _ := up["documents"].([]any)
	if len(docs) != 1 {
		t.Fatalf("uploaded %v", up)
	}
	docKey := str(docs[0].(map[string]any), "documentKey")
	claim := call(t, s, "POST", "/v1/policies/"+policyID+"/claims", all, map[string]any{
		"reason": "The NFT was never delivered to my wallet.", "claimantEmail": "ada@example.com",
		"documentKeys": []string{docKey},
	}, nil, 200)
	claimID := str(claim, "claim", "claimId")
	call(t, s, "GET", "/v1/claims/"+claimID, all, nil, nil, 200)
	call(t, s, "GET", "/v1/claims?policyId="+policyID, all, nil, nil, 200)

	call(t, s, "GET", "/v1/events?pageSize=100", all, nil, nil, 200)

	// A Struct payload (an open JSON object) is published and read back.
	pub := call(t, s, "POST", "/v1/publications", all, map[string]any{
		"eventType": "claim_updated", "payload": map[string]any{"claim": map[string]any{"id": claimID, "change": "CaseClosed", "amount": 12.5}},
	}, map[string]string{"Idempotency-Key": "openapi-walk-pub"}, 200)
	pubID := str(pub, "publication", "publicationId")
	call(t, s, "GET", "/v1/publications/"+pubID, all, nil, nil, 200)
	call(t, s, "GET", "/v1/publications?eventType=claim_updated", all, nil, nil, 200)

	const ctxID = "3f1c2a9e-0000-4000-8000-0000000000e1"
	call(t, s, "PUT", "/v1/external-data/greeting", all, map[string]any{"contextId": ctxID, "data": "hello"}, nil, 200)
	call(t, s, "GET", "/v1/external-data/greeting?contextId="+ctxID, all, nil, nil, 200)
	call(t, s, "DELETE", "/v1/external-data/greeting?contextId="+ctxID, all, nil, nil, 200)

	// Error statuses, each with its typed google.rpc.Status body.
	errorCases := []struct {
		name, method, path, token string
		body                      any
		header                    map[string]string
		status                    int
		reason                    string
	}{
		{"invalid id", "GET", "/v1/policies/not-a-uuid", all, nil, nil, 400, "VALIDATION_FAILED"},
		{"invalid body", "POST", "/v1/quotes", all, map[string]any{"totalValue": map[string]any{"currencyCode": "ETH", "amount": "1"}}, nil, 400, "VALIDATION_FAILED"},
		{"no credentials", "GET", "/v1/policies/" + policyID, "", nil, nil, 401, "UNAUTHENTICATED"},
		{"wrong scope", "POST", "/v1/policies/" + policyID + ":refresh", apptest.ReaderKey, map[string]any{}, nil, 403, "PERMISSION_DENIED"},
		{"unknown policy", "GET", "/v1/policies/0190a000-0000-7000-8000-000000000000", all, nil, nil, 404, "NOT_FOUND"},
		{"stale etag", "POST", "/v1/policies/" + policyID + ":cancel", all, map[string]any{"etag": "stale"}, nil, 412, "ETAG_MISMATCH"},
		{"oversize body", "POST", "/v1/quotes", all, `{"customerId":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, "PAYLOAD_TOO_LARGE"},
		{"webhook without token", "POST", "/webhooks/scalepoint", "", map[string]any{}, nil, 401, "WEBHOOK_UNAUTHENTICATED"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			header := map[string]string{responseOnly: "1"}
			for k, v := range tc.header {
				header[k] = v
			}
			body := call(t, s, tc.method, tc.path, tc.token, tc.body, header, tc.status)
			if got := reason(t, body); got != tc.reason {
				t.Errorf("reason %s, want %s", got, tc.reason)
			}
		})
	}

	// The carrier is down: 503 with PARTNER_UNAVAILABLE.
	sb.Avata.Kit().SetFaults(sandboxkit.Faults{Status: http.StatusServiceUnavailable, FailNext: 1000})
	down := call(t, s, "POST", "/v1/quotes", all, map[string]any{
		"nft":        map[string]any{"chain": "CHAIN_ETHEREUM", "nftContractAddress": nftContract, "token": "TOKEN_ETH"},
		"totalValue": map[string]any{"currencyCode": "ETH", "amount": "1"},
	}, nil, 503)
	if r := reason(t, down); r != "PARTNER_UNAVAILABLE" && r != "PARTNER_CIRCUIT_OPEN" {
		t.Errorf("partner down: reason %s", r)
	}
	sb.Avata.Kit().SetFaults(sandboxkit.Faults{})

	vt.mu.Lock()
	n := len(vt.seen)
	vt.mu.Unlock()
	if n < 25 {
		t.Errorf("only %d distinct exchanges validated", n)
	}
}

// TestValidatorCatchesContractBreaks guards the guard: the validator in use must refuse a
// response the document does not allow (the pre-AIP-193 reason spelling, a missing required
// field), or the walk above would pass whatever the server sent.
func TestValidatorCatchesContractBreaks(t *testing.T) {
	s, vt := start(t)
	for name, body := range map[string]string{
		"old reason spelling": `{"code":5,"message":"x","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ERROR_REASON_NOT_FOUND","domain":"covergate.insurance.v1"}]}`,
		"other domain":        `{"code":5,"message":"x","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"NOT_FOUND","domain":"covergate"}]}`,
		"no message":          `{"code":5,"details":[]}`,
	} {
		req, err := http.NewRequest("GET", s.HTTPURL+"/v1/quotes/0190a000-0000-7000-8000-000000000000", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+apptest.AllKey)
		resp := &http.Response{
			StatusCode: 404, Header: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: req,
		}
		if ok, _ := vt.v.ValidateHttpResponse(req, resp); ok {
			t.Errorf("%s: the validator accepted %s", name, body)
		}
	}
	good := `{"code":5,"message":"x","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"NOT_FOUND","domain":"covergate.insurance.v1"}]}`
	req, _ := http.NewRequest("GET", s.HTTPURL+"/v1/quotes/0190a000-0000-7000-8000-000000000000", nil)
	resp := &http.Response{StatusCode: 404, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(good)), Request: req}
	if ok, errs := vt.v.ValidateHttpResponse(req, resp); !ok {
		t.Errorf("the validator refused a valid error body: %v", errs)
	}
}
