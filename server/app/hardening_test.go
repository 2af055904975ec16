package app_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
)

const uploadPath = "/v1/policies/0190a0a0-0000-7000-8000-000000000000/claim-documents"

// TestStrangersCostNothing sends concurrent 24 MB uploads with no key and with a key lacking
// the scope: every one is answered 401/403 from its headers, and the gateway never reads (let
// alone decodes) the bodies — measured as the bytes the whole test process allocated, which
// before the fix was at least the sum of the bodies.
func TestStrangersCostNothing(t *testing.T) {
	const each, size = 20, 24 << 20
	s := apptest.Start(t, func(c *app.Config) { c.MaxUploadBytes = size + 1<<20 })
	body := apptest.UploadBody(size)
	addr := strings.TrimPrefix(s.HTTPURL, "http://")

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	type answer struct {
		code int
		err  error
	}
	answers := make(chan answer, 2*each)
	var wg sync.WaitGroup
	for i := range 2 * each {
		header := map[string]string{}
		if i%2 == 1 {
			header["Authorization"] = "Bearer " + apptest.ReaderKey // policies.read only
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			code, _, err := apptest.RawPost(ctx, addr, uploadPath, header, body)
			answers <- answer{code, err}
		})
	}
	wg.Wait()
	close(answers)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	counts := map[int]int{}
	for a := range answers {
		if a.err != nil {
			t.Errorf("upload: %v", a.err)
			continue
		}
		counts[a.code]++
	}
	if counts[http.StatusUnauthorized] != each || counts[http.StatusForbidden] != each {
		t.Errorf("answers by status = %v, want %d × 401 and %d × 403", counts, each, each)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d hostile uploads of %d MB: %.1f MB allocated in the process", 2*each, size>>20, float64(allocated)/(1<<20))
	if limit := uint64(size); allocated > limit {
		t.Errorf("the gateway allocated %d MB for refused uploads (sum of bodies %d MB); want < %d MB",
			allocated>>20, 2*each*size>>20, limit>>20)
	}
}

// TestUploadStillWorksAfterGuard: an authorized upload is decoded by the lean decoder and reaches
// validation (a file whose bytes do not match its type is refused naming the field), and a body
// over the upload limit sent without a Content-Length is 413.
func TestUploadDecoding(t *testing.T) {
	s := apptest.Start(t)
	r := s.JSON(t, http.MethodPost, uploadPath, apptest.AllKey,
		`{"documents":[{"file_name":"a.pdf","contentType":"image/png","content":"JVBERi0xLjQ\/"}]}`)
	if r.Code != http.StatusBadRequest || !strings.Contains(string(r.Body), "documents[0].content") {
		t.Fatalf("mismatched upload = %d %s", r.Code, r.Body)
	}
	r = s.JSON(t, http.MethodPost, uploadPath, apptest.AllKey, `{"documents":[{"fileName":"a.pdf","unknown":1}]}`)
	if r.Code != http.StatusBadRequest || apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetReason() != "MALFORMED_REQUEST" {
		t.Fatalf("unknown member = %d %s", r.Code, r.Body)
	}
	// Chunked: no Content-Length, so the limit is found while reading.
	big := apptest.UploadBody(300 << 10)
	req, _ := http.NewRequest(http.MethodPost, s.HTTPURL+uploadPath, strings.NewReader(string(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+apptest.AllKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked oversize upload = %d, want 413", resp.StatusCode)
	}
}

// TestPreBodyAuthMatchesInterceptor: the HTTP layer's early answers are the statuses the gRPC
// interceptor gives for the same call (code, reason, message, metadata).
func TestPreBodyAuthMatchesInterceptor(t *testing.T) {
	s := apptest.Start(t)
	claims := insurancev1.NewClaimServiceClient(s.Conn)
	for _, tc := range []struct {
		name, token string
		code        codes.Code
		http        int
	}{
		{"no key", "", codes.Unauthenticated, http.StatusUnauthorized},
		{"unknown key", "not-a-configured-key", codes.Unauthenticated, http.StatusUnauthorized},
		{"wrong scope", apptest.ReaderKey, codes.PermissionDenied, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := claims.UploadClaimDocuments(apptest.WithToken(tc.token), &insurancev1.UploadClaimDocumentsRequest{PolicyId: "0190a0a0-0000-7000-8000-000000000000"})
			gst := status.Convert(err)
			r := s.JSON(t, http.MethodPost, uploadPath, tc.token, `{"documents":[]}`)
			rst := apptest.RESTStatus(t, r)
			if gst.Code() != tc.code || rst.Code() != tc.code || r.Code != tc.http {
				t.Fatalf("gRPC %v, REST %v/%d; want %v/%d", gst.Code(), rst.Code(), r.Code, tc.code, tc.http)
			}
			if gst.Message() != rst.Message() {
				t.Errorf("messages differ: gRPC %q, REST %q", gst.Message(), rst.Message())
			}
			gi, ri := apptest.ErrorInfo(t, gst), apptest.ErrorInfo(t, rst)
			if gi.GetReason() != ri.GetReason() || gi.GetMetadata()["required_scope"] != ri.GetMetadata()["required_scope"] ||
				gi.GetMetadata()["principal"] != ri.GetMetadata()["principal"] || ri.GetMetadata()["request_id"] == "" {
				t.Errorf("ErrorInfo differs: gRPC %v, REST %v", gi, ri)
			}
		})
	}
}

// TestSlowClientsAreCutOff holds 300 connections that send a body one byte at a time, far slower
// than the read timeout allows: each is closed by the gateway (long before the client's next
// byte was due), and the gateway's goroutines return to their baseline.
func TestSlowClientsAreCutOff(t *testing.T) {
	const conns, interval = 300, 30 * time.Second
	s := apptest.Start(t, func(c *app.Config) { c.Limits.HTTPReadTimeout = time.Second })
	addr := strings.TrimPrefix(s.HTTPURL, "http://")
	baseline := settledGoroutines()

	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		path, header := "/v1/quotes", map[string]string{"Authorization": "Bearer " + apptest.AllKey}
		switch i % 3 {
		case 1:
			header = nil // a stranger: answered 401 at once, then cut off while its body trickles
		case 2:
			path, header = "/webhooks/scalepoint", nil
		}
		wg.Go(func() {
			// The client's next byte is due after interval: the connection must be gone before.
			ctx, cancel := context.WithTimeout(context.Background(), interval-time.Second)
			defer cancel()
			if _, err := apptest.SlowBody(ctx, addr, path, header, 1000, interval); err != nil {
				errs <- fmt.Errorf("%s: connection still open: %w", path, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for n := runtime.NumGoroutine(); n > baseline+5; n = runtime.NumGoroutine() {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d after the slow clients, baseline %d", n, baseline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 20 {
		time.Sleep(25 * time.Millisecond)
		if m := runtime.NumGoroutine(); m > n {
			n = m
		}
	}
	return n
}

// TestRateLimitPerKey: with a tiny rate (one token per ~17 minutes) and a burst of 3, the first
// three calls of a key pass — over REST, the HTTP check and the interceptor take one token
// together — and the fourth is 429 with Retry-After, RetryInfo and QuotaFailure; gRPC gets
// RESOURCE_EXHAUSTED with the same details. Another key is not affected. No timing is involved.
func TestRateLimitPerKey(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) {
		c.Limits.RateLimitPerKey, c.Limits.RateLimitKeyBurst = 0.001, 3
		c.Limits.RateLimitPartnerRoute, c.Limits.RateLimitPartnerBurst = 0.001, 1
	})
	for i := range 3 {
		if r := s.JSON(t, http.MethodGet, "/v1/policies?pageSize=1", apptest.AllKey, ""); r.Code != http.StatusOK {
			t.Fatalf("call %d below the limit = %d %s", i+1, r.Code, r.Body)
		}
	}
	r := s.JSON(t, http.MethodGet, "/v1/policies?pageSize=1", apptest.AllKey, "")
	if r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || r.Header.Get("Retry-After") == "0" {
		t.Fatalf("call over the limit = %d (Retry-After %q) %s", r.Code, r.Header.Get("Retry-After"), r.Body)
	}
	checkQuotaDetails(t, apptest.RESTStatus(t, r))
	_, err := insurancev1.NewPolicyServiceClient(s.Conn).ListPolicies(apptest.WithToken(apptest.AllKey), &insurancev1.ListPoliciesRequest{})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC over the limit: %v", err)
	}
	checkQuotaDetails(t, status.Convert(err))
	if r := s.JSON(t, http.MethodGet, "/v1/policies?pageSize=1", apptest.ReaderKey, ""); r.Code != http.StatusOK {
		t.Fatalf("another key = %d %s", r.Code, r.Body)
	}
	// Partner routes have their own fixed buckets.
	first := s.JSON(t, http.MethodPost, "/webhooks/scalepoint", "", `{}`)
	second := s.JSON(t, http.MethodPost, "/webhooks/scalepoint", "", `{}`)
	if first.Code == http.StatusTooManyRequests || second.Code != http.StatusTooManyRequests || second.Header.Get("Retry-After") == "" {
		t.Fatalf("partner route: first %d, second %d %s", first.Code, second.Code, second.Body)
	}
	m := s.Do(t, http.MethodGet, "/metrics", "", nil, nil)
	for _, want := range []string{
		`covergate_requests_refused_total{limit="api_key"} 2`,
		`covergate_requests_refused_total{limit="partner_route"} 1`,
	} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func checkQuotaDetails(t *testing.T, st *status.Status) {
	t.Helper()
	if apptest.ErrorInfo(t, st).GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_RATE_LIMITED) {
		t.Errorf("reason: %v", apptest.ErrorInfo(t, st))
	}
	var retry, quota bool
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			retry = d.GetRetryDelay().AsDuration() >= time.Second
		case *errdetails.QuotaFailure:
			quota = len(d.GetViolations()) == 1 && strings.HasPrefix(d.GetViolations()[0].GetSubject(), "api_key:key:")
		}
	}
	if !retry || !quota {
		t.Errorf("details lack RetryInfo or QuotaFailure: %v", st.Details())
	}
}

// TestUploadMemoryBound: when the uploads in flight hold the whole budget, another upload waits
// for its share up to the queue timeout and is then refused with 503 and Retry-After, before its
// body is read.
func TestUploadMemoryBound(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) {
		c.Limits.UploadMemoryBytes = 2 * c.MaxUploadBytes
		c.Limits.UploadQueueTimeout = 50 * time.Millisecond
	})
	addr := strings.TrimPrefix(s.HTTPURL, "http://")
	// A slow upload holds the whole budget while its body trickles in.
	hold, cancel := context.WithCancel(context.Background())
	defer cancel()
	held := make(chan struct{})
	go func() {
		defer close(held)
		_, _ = apptest.SlowBody(hold, addr, uploadPath, map[string]string{"Authorization": "Bearer " + apptest.AllKey}, 256<<10, time.Hour)
	}()
	var r apptest.Result
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = s.JSON(t, http.MethodPost, uploadPath, apptest.AllKey, `{"documents":[]}`)
		if r.Code == http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the slow upload has not taken its share yet
	}
	if r.Code != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("upload over the memory bound = %d (Retry-After %q) %s", r.Code, r.Header.Get("Retry-After"), r.Body)
	}
	cancel()
	<-held
	// The budget is free again once the slow upload is gone.
	deadline = time.Now().Add(10 * time.Second)
	for {
		r = s.JSON(t, http.MethodPost, uploadPath, apptest.AllKey, `{"documents":[]}`)
		if r.Code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Code != http.StatusBadRequest {
		t.Fatalf("upload after the budget was freed = %d %s", r.Code, r.Body)
	}
}

// TestLimitsAreValidated: every limit is checked at start and all problems are listed at once.
func TestLimitsAreValidated(t *testing.T) {
	cfg := app.Defaults()
	cfg.Limits.HTTPReadTimeout = 0
	cfg.Limits.GRPCMaxConcurrentStreams = 0
	cfg.Limits.UploadMemoryBytes = cfg.MaxUploadBytes // less than two uploads' worth
	cfg.Limits.RateLimitPerKey, cfg.Limits.RateLimitKeyBurst = 10, 0
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid limits accepted")
	}
	for _, want := range []string{"http-read-timeout", "grpc-max-concurrent-streams", "upload-memory-bytes", "burst"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	if err := app.Defaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
