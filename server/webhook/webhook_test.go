package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/webhook"
)

var clock = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	apiKey      = "k-etvas"
	eventSecret = "s-etvas"
	avataSecret = "s-avata"
	spToken     = "t-scalepoint"
)

func newVerifier(reg *webhook.Registry, secret string) *webhook.Verifier {
	return webhook.NewVerifier(webhook.Config{
		EtvasAPIKey: apiKey, EtvasEventSecret: secret, AvataCallbackSecret: avataSecret,
		ScalepointWebhookToken: spToken, Now: func() time.Time { return clock },
	}, reg)
}

func TestMiddleware(t *testing.T) {
	ms := clock.UnixMilli()
	app := `{"name":"product.purchased","payload":{"contextId":"c"},"timestamp":` + itoa(ms) + `}`
	portal := `{"event":{"id":"e","type":"user.create","timestamp":` + itoa(ms-27*3600*1000) + `}}`
	// An Etvas retry 24 h after the event carries the original timestamp; both units accepted.
	retryMillis := `{"event":{"id":"e","type":"user.create","timestamp":` + itoa(ms-24*3600*1000) + `}}`
	retrySeconds := `{"event":{"id":"e","type":"user.create","timestamp":` + itoa(clock.Unix()-24*3600) + `}}`
	appSeconds := `{"name":"product.purchased","payload":{"contextId":"c"},"timestamp":` + itoa(clock.Unix()) + `}`
	staleSeconds := `{"name":"product.purchased","payload":{"contextId":"c"},"timestamp":` + itoa(clock.Unix()-27*3600) + `}`
	futureSeconds := `{"name":"product.purchased","payload":{"contextId":"c"},"timestamp":` + itoa(clock.Unix()+27*3600) + `}`
	noTS := `{"name":"product.purchased","payload":{"contextId":"c"}}`
	sig := func(b string) string { return etvas.SignWebhook([]byte(eventSecret), []byte(b)) }
	tests := []struct {
		name    string
		secret  string
		path    string
		body    string
		headers map[string]string
		code    int
	}{
		{"etvas ok", eventSecret, "/etvas/events", app, map[string]string{"x-api-key": apiKey, "x-etvas-signature": sig(app)}, 200},
		{"etvas no timestamp", eventSecret, "/etvas/events", noTS, map[string]string{"x-api-key": apiKey, "x-etvas-signature": sig(noTS)}, 200},
		{"etvas without secret needs only the key", "", "/etvas/events", app, map[string]string{"x-api-key": apiKey}, 200},
		{"etvas without secret, old timestamp accepted", "", "/etvas-events", portal, map[string]string{"x-api-key": apiKey}, 200},
		{"etvas wrong key", eventSecret, "/etvas/events", app, map[string]string{"x-api-key": apiKey + "x", "x-etvas-signature": sig(app)}, 401},
		{"etvas key checked before signature", eventSecret, "/etvas/events", app, map[string]string{"x-etvas-signature": sig(app)}, 401},
		{"etvas no signature", eventSecret, "/etvas/events", app, map[string]string{"x-api-key": apiKey}, 400},
		{"etvas bad signature", eventSecret, "/etvas/events", app, map[string]string{"x-api-key": apiKey, "x-etvas-signature": sig(app + "x")}, 403},
		{"etvas stale portal timestamp", eventSecret, "/etvas-events", portal, map[string]string{"x-api-key": apiKey, "x-etvas-signature": sig(portal)}, 400},
		{"etvas retry 24 h later, milliseconds", eventSecret, "/etvas-events", retryMillis, map[string]string{"x-api-key": apiKey, "x-etvas-signature": sig(retryMillis)}, 200},
		{"etvas retry 24 h later, seconds", eventSecret, "/etvas-events", retrySeconds, map[string]string{"x-api-key": apiKey, "x-etvas-signature": sig(retrySeconds)}, 200},
		{"etvas app timestamp in seconds", eventSecret, "/etvas/events", appSeconds, map[string]string{"x-api-key": apiKey, "x-etvas-signature": sig(appSeconds)}, 200},
		{"etvas stale app timestamp in seconds", eventSecret, "/etvas/events", staleSeconds, map[string]string{"x-api-key": apiKey, "x-etvas-signature": sig(staleSeconds)}, 400},
		{"etvas future app timestamp in seconds", eventSecret, "/etvas/events", futureSeconds, map[string]string{"x-api-key": apiKey, "x-etvas-signature": sig(futureSeconds)}, 400},
		{"avata ok", "", "/webhooks/avata", `{}`, map[string]string{"X-Avata-Signature": avata.SignCallback([]byte(avataSecret), []byte(`{}`))}, 200},
		{"avata other secret", "", "/webhooks/avata", `{}`, map[string]string{"X-Avata-Signature": avata.SignCallback([]byte("other"), []byte(`{}`))}, 403},
		{"avata missing", "", "/webhooks/avata", `{}`, nil, 401},
		{"scalepoint ok", "", "/webhooks/scalepoint", `{}`, map[string]string{"Authorization": "Bearer " + spToken}, 200},
		{"scalepoint wrong", "", "/webhooks/scalepoint", `{}`, map[string]string{"Authorization": "Bearer x" + spToken}, 401},
		{"scalepoint basic auth", "", "/webhooks/scalepoint", `{}`, map[string]string{"Authorization": "Basic " + spToken}, 401},
		{"not a webhook route", "", "/v1/policies", `{}`, nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := webhook.NewRegistry()
			var seen webhook.Delivery
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				md := webhook.Metadata(r.Context(), r)
				d, ok := reg.Resolve(first(md.Get(webhook.MetadataKey)))
				if !ok {
					t.Error("the delivery is not registered while next runs")
				}
				body, _ := io.ReadAll(r.Body)
				if string(body) != tt.body {
					t.Error("next did not get the body back")
				}
				seen = d
			})
			req := httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			newVerifier(reg, tt.secret).Middleware(next).ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.code, rec.Body)
			}
			if reg.Len() != 0 {
				t.Error("the delivery outlived the request")
			}
			if tt.code != 200 {
				if !strings.Contains(rec.Body.String(), `"domain":"covergate.insurance.v1"`) || strings.Contains(rec.Body.String(), eventSecret) {
					t.Errorf("error body = %s", rec.Body)
				}
				return
			}
			if string(seen.Raw) != tt.body || !seen.ReceiveTime.Equal(clock) {
				t.Errorf("delivery = %+v", seen)
			}
			for k, v := range seen.Headers {
				if strings.Contains(v, apiKey) || strings.Contains(v, spToken) || strings.EqualFold(k, "authorization") {
					t.Errorf("delivery keeps a secret header %s", k)
				}
			}
		})
	}
}

func TestMetadataIgnoresHeaders(t *testing.T) {
	req := httptest.NewRequest("POST", "/etvas/events", nil)
	req.Header.Set(webhook.MetadataKey, "forged")
	if md := webhook.Metadata(req.Context(), req); md != nil {
		t.Fatalf("metadata from a header: %v", md)
	}
}

func TestGuard(t *testing.T) {
	reg := webhook.NewRegistry()
	tok, release, err := reg.Register(webhook.Delivery{Partner: domain.PartnerEtvas, Raw: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	g := webhook.NewGuard(reg, nil).UnaryInterceptor()
	const etvasMethod = "/covergate.webhooks.v1.EtvasWebhookService/HandleAppEvent"
	call := func(method string, md metadata.MD) (webhook.Delivery, error) {
		var got webhook.Delivery
		ctx := metadata.NewIncomingContext(context.Background(), md)
		_, err := g(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
			got, _ = webhook.DeliveryFrom(ctx)
			return nil, nil
		})
		return got, err
	}
	tests := []struct {
		name   string
		method string
		md     metadata.MD
		ok     bool
	}{
		{"valid token", etvasMethod, metadata.Pairs(webhook.MetadataKey, tok), true},
		{"no token", etvasMethod, nil, false},
		{"unknown token", etvasMethod, metadata.Pairs(webhook.MetadataKey, strings.Repeat("a", 64)), false},
		{"two tokens", etvasMethod, metadata.Pairs(webhook.MetadataKey, tok, webhook.MetadataKey, tok), false},
		{"token of another partner", "/covergate.webhooks.v1.AvataWebhookService/HandleCallback", metadata.Pairs(webhook.MetadataKey, tok), false},
		{"other packages pass", "/covergate.insurance.v1.PolicyService/GetPolicy", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := call(tt.method, tt.md)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if err != nil && status.Code(err) != codes.Unauthenticated {
				t.Fatalf("code = %v", status.Code(err))
			}
			if tt.ok && strings.HasPrefix(tt.method, "/covergate.webhooks") && string(d.Raw) != "x" {
				t.Fatalf("delivery not in context: %+v", d)
			}
		})
	}
	release()
	if _, err := call(etvasMethod, metadata.Pairs(webhook.MetadataKey, tok)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("released token still accepted: %v", err)
	}
}

func TestHashKeyIsCanonical(t *testing.T) {
	a := webhook.HashKey([]byte(`{"name":"x","payload":{"contextId":"c","productId":"p"},"timestamp":1.50}`))
	b := webhook.HashKey([]byte("{ \"timestamp\": 1.50,\n \"payload\": {\"productId\":\"p\", \"contextId\":\"c\"}, \"name\":\"x\" }"))
	c := webhook.HashKey([]byte(`{"name":"x","payload":{"contextId":"c","productId":"p"},"timestamp":1.51}`))
	if a != b || a == c || !strings.HasPrefix(a, "sha256:") {
		t.Fatalf("keys %s %s %s", a, b, c)
	}
	if webhook.HashKey([]byte("not json")) == webhook.HashKey([]byte("not json!")) {
		t.Fatal("non-JSON bodies collide")
	}
}

// TestEtvasEventTime: the unit of an Etvas timestamp is decided by magnitude (below 1e11:
// seconds, else milliseconds).
func TestEtvasEventTime(t *testing.T) {
	for _, tt := range []struct {
		ts   int64
		want time.Time
		ok   bool
	}{
		{1_764_700_000, time.Unix(1_764_700_000, 0), true},           // seconds (Dec 2025)
		{1_764_700_000_123, time.UnixMilli(1_764_700_000_123), true}, // milliseconds
		{99_999_999_999, time.Unix(99_999_999_999, 0), true},         // largest value read as seconds
		{100_000_000_000, time.UnixMilli(100_000_000_000), true},     // smallest value read as milliseconds
		{19786584376, time.Unix(19786584376, 0), true},               // the portal document's placeholder
		{0, time.Time{}, false},
		{-5, time.Time{}, false},
	} {
		got, ok := webhook.EtvasEventTime(tt.ts)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("EtvasEventTime(%d) = %v %v, want %v %v", tt.ts, got, ok, tt.want, tt.ok)
		}
		if ok && got.Location() != time.UTC {
			t.Errorf("EtvasEventTime(%d) not in UTC", tt.ts)
		}
	}
	fallback := time.Unix(42, 0)
	if got := webhook.EventTime(0, fallback); !got.Equal(fallback) {
		t.Errorf("EventTime without timestamp = %v", got)
	}
}

func TestMillis(t *testing.T) {
	for in, want := range map[string]struct {
		n  int64
		ok bool
	}{``: {0, false}, `null`: {0, false}, `123`: {123, true}, `"456"`: {456, true}, `"soon"`: {0, true}, `1.5`: {0, true}} {
		n, ok := webhook.Millis(json.RawMessage(in))
		if n != want.n || ok != want.ok {
			t.Errorf("Millis(%s) = %d %v", in, n, ok)
		}
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := engine.Open(context.Background(), "sqlite:"+t.TempDir()+"/w.db", store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestRecordIsAtomicAndDeduplicates(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	in := webhook.Inbound{Delivery: webhook.Delivery{Partner: domain.PartnerScalepoint, Raw: []byte(`{"id":"_1"}`)}, DeliveryKey: "id:_1", EventType: "case_created"}
	boom := errors.New("boom")
	var resp structpb.Struct
	_, err := webhook.Record(ctx, st, in, &resp, func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (webhook.Outcome, error) {
		if _, err := tx.CreateCustomer(ctx, domain.Customer{Status: domain.CustomerActive, EtvasUserID: "half-done"}); err != nil {
			return webhook.Outcome{}, err
		}
		return webhook.Outcome{}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := st.FindInbox(ctx, domain.PartnerScalepoint, "id:_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("inbox after a failed effect: %v", err)
	}
	if _, err := st.FindCustomerByEtvasUserID(ctx, "half-done"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("half of the effect survived the rollback: %v", err)
	}
	applied := 0
	apply := func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (webhook.Outcome, error) {
		applied++
		if _, err := tx.AppendEvent(ctx, domain.Event{Type: "x.y", Subject: "deliveries/" + rec.ID}); err != nil {
			return webhook.Outcome{}, err
		}
		r, _ := structpb.NewStruct(map[string]any{"delivery": rec.ID})
		return webhook.Outcome{State: domain.InboxProcessed, Response: r}, nil
	}
	first, err := webhook.Record(ctx, st, in, &resp, apply)
	if err != nil || first.Duplicate || resp.Fields["delivery"].GetStringValue() != first.Record.ID {
		t.Fatalf("first = %+v %v %v", first, resp.String(), err)
	}
	var again structpb.Struct
	second, err := webhook.Record(ctx, st, in, &again, apply)
	if err != nil || !second.Duplicate || applied != 1 || again.Fields["delivery"].GetStringValue() != first.Record.ID {
		t.Fatalf("second = %+v applied %d answer %v %v", second, applied, again.String(), err)
	}
	if c, _ := st.LatestCursor(ctx); c != 1 {
		t.Fatalf("latest cursor %d, want exactly one event appended", c)
	}
	rec, err := st.FindInbox(ctx, domain.PartnerScalepoint, "id:_1")
	if err != nil || rec.State != domain.InboxProcessed || string(rec.Payload) != `{"id":"_1"}` {
		t.Fatalf("stored = %+v %v", rec, err)
	}
}

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
