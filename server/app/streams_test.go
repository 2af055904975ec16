package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
)

// createQuotes creates n quotes over gRPC; each appends one quote.created event.
func createQuotes(t *testing.T, s *apptest.Server, n int) {
	t.Helper()
	client := insurancev1.NewQuoteServiceClient(s.Conn)
	for range n {
		_, err := client.CreateQuote(apptest.WithToken(apptest.AllKey), &insurancev1.CreateQuoteRequest{
			Cover: &insurancev1.CreateQuoteRequest_Nft{Nft: &insurancev1.NftCover{
				Chain:              insurancev1.Chain_CHAIN_ETHEREUM,
				NftContractAddress: "0x8a90cab2b38dba80c64b7734e58ee1db38b8992e",
				Token:              insurancev1.Token_TOKEN_ETH,
			}},
			TotalValue: &insurancev1.Money{CurrencyCode: "ETH", Amount: "1.5"},
		})
		if err != nil {
			t.Fatalf("CreateQuote: %v", err)
		}
	}
}

// openWatch starts GET /v1/events:watch and returns once the response headers are in. The
// context bounds a hang (a failure), it is not a timing assertion.
func openWatch(t *testing.T, s *apptest.Server, query string, header map[string]string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+"/v1/events:watch"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apptest.AllKey)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("watch: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = resp.Body.Close() })
	return resp, cancel
}

// sseEvent is one Server-Sent Event as read from the wire.
type sseEvent struct {
	id, event, data string
	comment         bool
	retry           string
}

// readSSE reads the next event (or comment) of a text/event-stream.
func readSSE(t *testing.T, r *bufio.Reader) sseEvent {
	t.Helper()
	var ev sseEvent
	var data []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("SSE stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			ev.data = strings.Join(data, "\n")
			return ev
		case strings.HasPrefix(line, ":"):
			ev.comment = true
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				data = append(data, value)
			case "retry":
				ev.retry = value
			}
		}
	}
}

// nextSSEEvent skips comments and the retry advice.
func nextSSEEvent(t *testing.T, r *bufio.Reader) sseEvent {
	t.Helper()
	for {
		ev := readSSE(t, r)
		if !ev.comment && ev.retry == "" {
			return ev
		}
	}
}

func TestWatchSendsHeadersBeforeAnyEvent(t *testing.T) {
	for _, tc := range []struct {
		name, accept, wantType string
	}{
		{"ndjson by default", "", "application/x-ndjson"},
		{"ndjson asked for", "application/x-ndjson", "application/x-ndjson"},
		{"sse", "text/event-stream", "text/event-stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := apptest.Start(t)
			// Nothing to replay: the log is empty. Do returns when the headers are in, so a gateway
			// that waited for the first event would hang here (until the test context ends).
			resp, _ := openWatch(t, s, "", map[string]string{"Accept": tc.accept})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tc.wantType)
			}
			if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("headers = %v", resp.Header)
			}
			// Then a live event arrives on the open stream.
			createQuotes(t, s, 1)
			r := bufio.NewReader(resp.Body)
			var ev map[string]any
			if tc.wantType == "text/event-stream" {
				e := nextSSEEvent(t, r)
				if err := json.Unmarshal([]byte(e.data), &ev); err != nil {
					t.Fatalf("data %q: %v", e.data, err)
				}
				if e.id != ev["cursor"] {
					t.Errorf("id %q, cursor %v", e.id, ev["cursor"])
				}
			} else {
				line, err := r.ReadBytes('\n')
				if err != nil {
					t.Fatal(err)
				}
				var msg struct {
					Result struct{ Event map[string]any }
				}
				if err := json.Unmarshal(line, &msg); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				ev = msg.Result.Event
			}
			if ev["type"] != "quote.created" {
				t.Errorf("event = %v", ev)
			}
		})
	}
}

// TestWatchSSEResumesWithLastEventID: a client reconnecting with Last-Event-ID gets exactly the
// events after it — every one once, in order — as an EventSource does after a dropped connection.
func TestWatchSSEResumesWithLastEventID(t *testing.T) {
	s := apptest.Start(t)
	createQuotes(t, s, 3)
	resp, cancel := openWatch(t, s, "?types=quote.created", map[string]string{"Accept": "text/event-stream"})
	r := bufio.NewReader(resp.Body)
	if first := readSSE(t, r); first.retry == "" {
		t.Errorf("first SSE field is %+v, want the retry advice", first)
	}
	var seen []int64
	for range 2 {
		ev := nextSSEEvent(t, r)
		var e insurancev1.Event
		if err := protojson.Unmarshal([]byte(ev.data), &e); err != nil {
			t.Fatalf("data %q: %v", ev.data, err)
		}
		if ev.id != strconv.FormatInt(e.GetCursor(), 10) || ev.event != "" {
			t.Fatalf("event %+v: id is not the cursor %d", ev, e.GetCursor())
		}
		seen = append(seen, e.GetCursor())
	}
	cancel() // the connection drops after two of three events
	createQuotes(t, s, 2)
	// The URL still says after_cursor=0 (an EventSource reuses it); Last-Event-ID wins.
	resp2, _ := openWatch(t, s, "?types=quote.created&after_cursor=0", map[string]string{
		"Accept": "text/event-stream", "Last-Event-ID": strconv.FormatInt(seen[1], 10),
	})
	r2 := bufio.NewReader(resp2.Body)
	for range 3 {
		ev := nextSSEEvent(t, r2)
		id, err := strconv.ParseInt(ev.id, 10, 64)
		if err != nil {
			t.Fatalf("id %q", ev.id)
		}
		seen = append(seen, id)
	}
	all, err := insurancev1.NewEventServiceClient(s.Conn).ListEvents(apptest.WithToken(apptest.AllKey),
		&insurancev1.ListEventsRequest{Types: []string{"quote.created"}})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, e := range all.GetEvents() {
		want = append(want, e.GetCursor())
	}
	if len(want) != 5 || fmtInts(seen) != fmtInts(want) {
		t.Fatalf("received cursors %v, the log has %v", seen, want)
	}
}

func fmtInts(v []int64) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(parts, " ")
}

func TestWatchSSEHeartbeat(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.SSEHeartbeat = 10 * time.Millisecond })
	resp, _ := openWatch(t, s, "", map[string]string{"Accept": "text/event-stream"})
	r := bufio.NewReader(resp.Body)
	for {
		if ev := readSSE(t, r); ev.comment {
			return // an idle stream sends comment lines
		}
	}
}

// TestWatchErrorsBeforeTheStream: errors found before the first event are ordinary REST errors
// (google.rpc.Status JSON, the HTTP status of the code), with either Accept.
func TestWatchErrorsBeforeTheStream(t *testing.T) {
	s := apptest.Start(t)
	tooMany := strings.Repeat("&types=x", 21)
	for _, accept := range []string{"", "text/event-stream"} {
		for _, tc := range []struct {
			name   string
			query  string
			header map[string]string
			want   int
			reason insurancev1.ErrorReason
		}{
			{"no token", "", map[string]string{"Authorization": ""}, http.StatusUnauthorized, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED},
			{"unknown token", "", map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED},
			{"scope missing", "", map[string]string{"Authorization": "Bearer " + apptest.ReaderKey}, http.StatusForbidden, insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED},
			{"invalid request", "?" + tooMany[1:], nil, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED},
			{"unparsable cursor", "?after_cursor=abc", nil, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST},
		} {
			t.Run(accept+"/"+tc.name, func(t *testing.T) {
				h := map[string]string{"Accept": accept}
				for k, v := range tc.header {
					h[k] = v
				}
				resp, _ := openWatch(t, s, tc.query, h)
				checkStatusBody(t, resp, tc.want, tc.reason)
			})
		}
	}
	t.Run("bad Last-Event-ID", func(t *testing.T) {
		resp, _ := openWatch(t, s, "", map[string]string{"Accept": "text/event-stream", "Last-Event-ID": "-1"})
		checkStatusBody(t, resp, http.StatusBadRequest, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
	})
}

func checkStatusBody(t *testing.T, resp *http.Response, want int, reason insurancev1.ErrorReason) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	r := apptest.Result{Code: resp.StatusCode, Header: resp.Header, Body: body}
	if r.Code != want || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d %s, want %d JSON: %s", r.Code, r.Header.Get("Content-Type"), want, body)
	}
	st := apptest.RESTStatus(t, r)
	if got := apptest.ErrorInfo(t, st).GetReason(); got != apierror.Reason(reason) {
		t.Errorf("reason %s, want %s (%s)", got, reason, body)
	}
}

// TestWatchClientGoneLoggedOnceAsJSON: a client that goes away mid-stream is logged once, at
// debug level, as JSON like every other line; nothing is printed outside the JSON log.
func TestWatchClientGoneLoggedOnceAsJSON(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.SSEHeartbeat = 5 * time.Millisecond })
	for _, accept := range []string{"", "text/event-stream"} {
		resp, cancel := openWatch(t, s, "", map[string]string{"Accept": accept})
		if resp.StatusCode != http.StatusOK {
			t.Fatal(resp.StatusCode)
		}
		cancel()
	}
	createQuotes(t, s, 1) // the NDJSON stream notices the broken connection when it writes
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(s.Logs.String(), "events watch: client went away") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	createQuotes(t, s, 2)
	var gone int
	for _, line := range strings.Split(strings.TrimSpace(s.Logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "events watch: client went away" {
			gone++
			if rec["level"] != "DEBUG" || rec["request_id"] == "" {
				t.Errorf("client-gone line = %v", rec)
			}
		}
	}
	if gone != 2 {
		t.Errorf("%d client-gone lines for 2 streams, want 2", gone)
	}
}

// TestWatchOpenAPIDeclaresWhatIsServed: the served OpenAPI documents declare the stream's real
// media types (the ones TestWatchSendsHeadersBeforeAnyEvent sees) and the Last-Event-ID header.
func TestWatchOpenAPIDeclaresWhatIsServed(t *testing.T) {
	s := apptest.Start(t)
	var v3 struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string }
			Responses  map[string]struct{ Content map[string]any }
		}
	}
	if err := json.Unmarshal(s.Do(t, http.MethodGet, "/openapi.json", "", nil, nil).Body, &v3); err != nil {
		t.Fatal(err)
	}
	op := v3.Paths["/v1/events:watch"]["get"]
	var types []string
	for mt := range op.Responses["200"].Content {
		types = append(types, mt)
	}
	if len(types) != 2 || op.Responses["200"].Content["application/x-ndjson"] == nil || op.Responses["200"].Content["text/event-stream"] == nil {
		t.Errorf("OpenAPI 3.1 declares %v for the watch stream, want application/x-ndjson and text/event-stream", types)
	}
	var v2 struct {
		Paths map[string]map[string]struct {
			Produces   []string
			Parameters []struct{ Name, In string }
		}
	}
	if err := json.Unmarshal(s.Do(t, http.MethodGet, "/openapi/v2.json", "", nil, nil).Body, &v2); err != nil {
		t.Fatal(err)
	}
	op2 := v2.Paths["/v1/events:watch"]["get"]
	if strings.Join(op2.Produces, ",") != "application/x-ndjson,text/event-stream" {
		t.Errorf("OpenAPI v2 produces %v", op2.Produces)
	}
	for name, params := range map[string][]struct{ Name, In string }{"3.1": op.Parameters, "v2": op2.Parameters} {
		found := false
		for _, p := range params {
			found = found || (p.Name == "Last-Event-ID" && p.In == "header")
		}
		if !found {
			t.Errorf("OpenAPI %s does not declare the Last-Event-ID header", name)
		}
	}
}

// TestWatchHEADAnswersWithHeadersOnly: HEAD (which net/http routes like GET) checks access and
// the media type without holding a stream open.
func TestWatchHEADAnswersWithHeadersOnly(t *testing.T) {
	s := apptest.Start(t)
	for _, tc := range []struct {
		token string
		want  int
	}{{apptest.AllKey, http.StatusOK}, {"", http.StatusUnauthorized}} {
		r := s.Do(t, http.MethodHead, "/v1/events:watch", tc.token, nil, map[string]string{"Accept": "text/event-stream"})
		if r.Code != tc.want || len(r.Body) != 0 {
			t.Errorf("HEAD with token %q = %d (%d body bytes), want %d", tc.token, r.Code, len(r.Body), tc.want)
		}
	}
}

// TestWatchEndsWithStatusOnShutdown: when the gateway shuts down, open streams end with
// UNAVAILABLE in their own framing (SSE: a `stream-error` event; NDJSON: an `error` line), so a
// client knows to resume from the last cursor rather than seeing a silent cut.
func TestWatchEndsWithStatusOnShutdown(t *testing.T) {
	cfg := app.Defaults()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.APIKeys = apptest.AllKey + ":*"
	cfg.Database = "sqlite:" + t.TempDir() + "/covergate.db"
	cfg.Partners.Mode = app.PartnersSandbox
	cfg.Partners.SandboxEtvasAddr, cfg.Partners.SandboxAvataAddr, cfg.Partners.SandboxScalepointAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	base := "http://" + a.HTTPAddr()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r, err := http.Get(base + "/readyz"); err == nil {
			_ = r.Body.Close()
			if r.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("gateway not ready")
		}
	}
	open := func(accept string) *bufio.Reader {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/events:watch", nil)
		req.Header.Set("Authorization", "Bearer "+apptest.AllKey)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("watch %s: %v %v", accept, resp, err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return bufio.NewReader(resp.Body)
	}
	sse, ndjson := open("text/event-stream"), open("application/x-ndjson")
	cancel() // shutdown begins
	ev := nextSSEEvent(t, sse)
	var st struct {
		Code    int
		Message string
	}
	if err := json.Unmarshal([]byte(ev.data), &st); err != nil || ev.event != "stream-error" || st.Code != 14 {
		t.Errorf("SSE ended with %+v (%v), want a stream-error event with code 14 (UNAVAILABLE)", ev, err)
	}
	line, err := ndjson.ReadBytes('\n')
	if err != nil {
		t.Fatalf("NDJSON ended without an error line: %v", err)
	}
	var msg struct{ Error struct{ Code int } }
	if err := json.Unmarshal(line, &msg); err != nil || msg.Error.Code != 14 {
		t.Errorf("NDJSON ended with %s, want an error line with code 14", line)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not stop")
	}
}
