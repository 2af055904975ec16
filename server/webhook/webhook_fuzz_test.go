package webhook_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/webhook"
)

// webhookDecoder is the gateway's webhook unmarshaler (server/gateway newWebhookMux): unknown
// fields are ignored, everything else is strict protojson.
var webhookDecoder = &runtime.JSONPb{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true}}

// fuzzDecode checks that decoding never panics and that whatever is accepted survives a
// marshal/unmarshal round trip unchanged (no value is half-decoded).
func fuzzDecode(f *testing.F, newMsg func() proto.Message, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg := newMsg()
		if err := webhookDecoder.NewDecoder(bytes.NewReader(raw)).Decode(msg); err != nil {
			return
		}
		out, err := protojson.Marshal(msg)
		if err != nil {
			t.Fatalf("accepted %q but cannot marshal it back: %v", raw, err)
		}
		again := newMsg()
		if err := protojson.Unmarshal(out, again); err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		if !proto.Equal(msg, again) {
			t.Fatalf("round trip changed %q: %v vs %v", raw, msg, again)
		}
	})
}

func FuzzEtvasAppDecode(f *testing.F) {
	fuzzDecode(f, func() proto.Message { return &webhooksv1.HandleAppEventRequest{} },
		`{"name":"product.purchased","timestamp":1700000000000,"payload":{"productId":"p","contextId":"c"}}`,
		`{"name":"user.deleted","payload":{"purchaseId":"x"}}`)
}

func FuzzEtvasPortalDecode(f *testing.F) {
	fuzzDecode(f, func() proto.Message { return &webhooksv1.HandlePortalEventRequest{} },
		`{"event":{"id":"e","type":"user.create","timestamp":19786584376},"user":{"id":"u","partnerId":null}}`)
}

func FuzzAvataCallbackDecode(f *testing.F) {
	fuzzDecode(f, func() proto.Message { return &webhooksv1.HandleCallbackRequest{} },
		`{"eventType":"policy-update","body":{"status":"ACCEPTED","uuid":"u"}}`)
}

func FuzzScalepointEventDecode(f *testing.F) {
	fuzzDecode(f, func() proto.Message { return &webhooksv1.HandleEventRequest{} },
		`{"id":"1","type":"case_created","attributes":{"eventType":"case_created"}}`)
}

// Secrets of the fuzzed verifier.
const (
	fuzzEtvasKey    = "fuzz-etvas-key"
	fuzzEtvasSecret = "fuzz-etvas-secret"
	fuzzAvataSecret = "fuzz-avata-secret"
	fuzzSPToken     = "fuzz-scalepoint-token"
)

// FuzzVerifierMiddleware drives the webhook middleware with arbitrary bodies, signatures and
// routes: it never panics, answers every refusal with 4xx, and passes a delivery on only when
// the body is authenticated — the exact raw bytes reach the service, and for Etvas only with a
// valid signature over them.
func FuzzVerifierMiddleware(f *testing.F) {
	now := time.UnixMilli(1_700_000_000_000)
	f.Add([]byte(`{"name":"x","timestamp":1700000000000,"payload":{}}`), uint8(0), uint8(0), "")
	f.Add([]byte(`{"eventType":"policy-update","body":{}}`), uint8(2), uint8(0), "")
	f.Add([]byte(`{}`), uint8(3), uint8(1), "Bearer "+fuzzSPToken)
	f.Add([]byte(`{"event":{"timestamp":"1700000000000"}}`), uint8(1), uint8(2), "00")
	routes := []string{webhook.RouteEtvasApp, webhook.RouteEtvasPortal, webhook.RouteAvata, webhook.RouteScalepoint, "/webhooks/other"}
	f.Fuzz(func(t *testing.T, body []byte, route, sigMode uint8, header string) {
		reg := webhook.NewRegistry()
		v := webhook.NewVerifier(webhook.Config{
			EtvasAPIKey: fuzzEtvasKey, EtvasEventSecret: fuzzEtvasSecret,
			AvataCallbackSecret: fuzzAvataSecret, ScalepointWebhookToken: fuzzSPToken,
			Now: func() time.Time { return now },
		}, reg)
		var got []byte
		called := false
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			called = true
			d, ok := deliveryOf(reg, r)
			if !ok {
				t.Fatal("next called without a registered delivery")
			}
			got = d.Raw
			w.WriteHeader(http.StatusOK)
		})
		path := routes[int(route)%len(routes)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		// sigMode: 0 a correct signature/token, 1 none, 2 the fuzzed header value.
		switch path {
		case webhook.RouteEtvasApp, webhook.RouteEtvasPortal:
			req.Header.Set(etvas.HeaderAPIKey, fuzzEtvasKey)
			switch sigMode % 3 {
			case 0:
				req.Header.Set(etvas.HeaderWebhookSignature, etvas.SignWebhook([]byte(fuzzEtvasSecret), body))
			case 2:
				req.Header.Set(etvas.HeaderWebhookSignature, header)
			}
		case webhook.RouteAvata:
			switch sigMode % 3 {
			case 0:
				req.Header.Set(avata.CallbackSignatureHeader, avata.SignCallback([]byte(fuzzAvataSecret), body))
			case 2:
				req.Header.Set(avata.CallbackSignatureHeader, header)
			}
		case webhook.RouteScalepoint:
			switch sigMode % 3 {
			case 0:
				req.Header.Set("Authorization", "Bearer "+fuzzSPToken)
			case 2:
				req.Header.Set("Authorization", header)
			}
		}
		rec := httptest.NewRecorder()
		v.Middleware(next).ServeHTTP(rec, req)
		if !called {
			if rec.Code < 400 || rec.Code > 499 {
				t.Fatalf("refusal answered %d", rec.Code)
			}
			if reg.Len() != 0 {
				t.Fatal("a refused delivery stayed registered")
			}
			return
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("service got %q, body was %q", got, body)
		}
		switch path {
		case webhook.RouteEtvasApp, webhook.RouteEtvasPortal:
			if etvas.VerifyWebhookSignature([]byte(fuzzEtvasSecret), body, req.Header.Get(etvas.HeaderWebhookSignature)) != nil {
				t.Fatalf("Etvas delivery passed with an invalid signature %q", req.Header.Get(etvas.HeaderWebhookSignature))
			}
		case webhook.RouteAvata:
			if avata.VerifyCallbackSignature([]byte(fuzzAvataSecret), body, req.Header.Get(avata.CallbackSignatureHeader)) != nil {
				t.Fatalf("Avata callback passed with an invalid signature")
			}
		case webhook.RouteScalepoint:
			if req.Header.Get("Authorization") == "" {
				t.Fatal("Scalepoint event passed without a token")
			}
		default:
			t.Fatalf("unknown route %s passed", path)
		}
		if reg.Len() != 0 {
			t.Fatal("delivery token not released after the call")
		}
	})
}

// deliveryOf resolves the delivery the middleware registered for r, as the gRPC guard does.
func deliveryOf(reg *webhook.Registry, r *http.Request) (webhook.Delivery, bool) {
	toks := webhook.Metadata(r.Context(), r).Get(webhook.MetadataKey)
	if len(toks) != 1 {
		return webhook.Delivery{}, false
	}
	return reg.Resolve(toks[0])
}
