package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestIsRPCRequest(t *testing.T) {
	const method = "/covergate.insurance.v1.QuoteService/CreateQuote"
	for _, tc := range []struct {
		name, httpMethod, path, contentType, connectVersion string
		want                                                bool
	}{
		{"connect unary json", http.MethodPost, method, "application/json", "1", true},
		{"connect unary proto", http.MethodPost, method, "application/proto", "1", true},
		{"connect stream", http.MethodPost, method, "application/connect+json", "", true},
		{"grpc-web", http.MethodPost, method, "application/grpc-web", "", true},
		{"grpc-web proto", http.MethodPost, method, "application/grpc-web+proto", "", true},
		{"connect get", http.MethodGet, method + "?connect=v1&encoding=json&message={}", "", "", true},
		{"json without the connect header is REST", http.MethodPost, method, "application/json", "", false},
		{"native grpc stays on the gRPC listener", http.MethodPost, method, "application/grpc", "", false},
		{"REST path with the connect header", http.MethodPost, "/v1/quotes", "application/json", "1", false},
		{"REST path as grpc-web", http.MethodPost, "/v1/quotes", "application/grpc-web", "", false},
		{"webhook path", http.MethodPost, "/etvas/events", "application/grpc-web", "", false},
		{"GET of a REST route", http.MethodGet, "/v1/events:watch", "", "", false},
		{"grpc-web must POST", http.MethodPut, method, "application/grpc-web", "", false},
		{"nested path", http.MethodPost, "/a.B/C/D", "application/grpc-web", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.httpMethod, tc.path, nil)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			if tc.connectVersion != "" {
				r.Header.Set("Connect-Protocol-Version", tc.connectVersion)
			}
			if got := isRPCRequest(r); got != tc.want {
				t.Errorf("isRPCRequest = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAcceptsEventStream(t *testing.T) {
	for _, tc := range []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{"*/*"}, false},
		{[]string{"application/x-ndjson"}, false},
		{[]string{"text/event-stream"}, true},
		{[]string{"application/json, text/event-stream;q=0.9"}, true},
		{[]string{"text/event-stream;q=0"}, false},
		{[]string{"application/json", "text/event-stream"}, true},
	} {
		if got := acceptsEventStream(tc.accept); got != tc.want {
			t.Errorf("acceptsEventStream(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}
