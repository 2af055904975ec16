package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
)

type unusedConn struct{}

func (unusedConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return errors.New("the guard must answer before any call")
}

func (unusedConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("the guard must answer before any call")
}

// TestEveryRouteIsGuarded serves every google.api.http binding of the internal API through the
// real handler: the guard must recognize each route (the RPC it names is the one the binding
// belongs to) and answer before the body is read or the RPC is called.
func TestEveryRouteIsGuarded(t *testing.T) {
	routes, err := buildRouteTable()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	h, err := New(context.Background(), Config{
		Conn: unusedConn{}, Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 10, MaxUploadBytes: 1 << 20,
		Authorize: func(ctx context.Context, _ []string, fullMethod string, _ bool) (context.Context, error) {
			mu.Lock()
			seen = append(seen, fullMethod)
			mu.Unlock()
			return ctx, apierror.New(codes.Unauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED, "no")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) < 20 {
		t.Fatalf("only %d routes found", len(routes))
	}
	// Twice: the guard resolves each handler's route on its first request and keeps it.
	for pass := range 2 {
		checkRoutes(t, h, routes, pass, &mu, &seen)
	}
}

func checkRoutes(t *testing.T, h http.Handler, routes routeTable, pass int, mu *sync.Mutex, seen *[]string) {
	t.Helper()
	vars := regexp.MustCompile(`\{[^}]*\}`)
	for key, rt := range routes {
		method, tmpl, _ := strings.Cut(key, " ")
		path := vars.ReplaceAllString(tmpl, "0190a0a0-0000-7000-8000-000000000000")
		mu.Lock()
		*seen = nil
		mu.Unlock()
		var body *strings.Reader
		if method != http.MethodGet && method != http.MethodDelete {
			body = strings.NewReader(`{}`)
		}
		var req *http.Request
		if body != nil {
			req = httptest.NewRequest(method, path, body)
		} else {
			req = httptest.NewRequest(method, path, nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		mu.Lock()
		got := append([]string(nil), (*seen)...)
		mu.Unlock()
		if rec.Code != http.StatusUnauthorized || len(got) != 1 || got[0] != rt.fullMethod {
			t.Errorf("pass %d: %s %s: status %d, guard saw %v, want %s", pass, method, path, rec.Code, got, rt.fullMethod)
		}
	}
}

// TestAPIRouterMisses: paths the contract does not bind are answered by grpc-gateway as before
// the routing by collection (404 NOT_FOUND, 405 for a bound path with another method), whether
// or not their first segment is a collection.
func TestAPIRouterMisses(t *testing.T) {
	h, err := New(context.Background(), Config{
		Conn: unusedConn{}, Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 10, MaxUploadBytes: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/v1/policies/0190a0a0-0000-7000-8000-000000000000/nothing", http.StatusNotFound},
		{http.MethodGet, "/v1/nothing/here", http.StatusNotFound},
		{http.MethodGet, "/v1/", http.StatusNotFound},
		{http.MethodDelete, "/v1/quotes", http.StatusMethodNotAllowed},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body, tc.want)
		}
	}
}

func TestRouteTableNeedsEveryService(t *testing.T) {
	routes, err := buildRouteTable()
	if err != nil {
		t.Fatal(err)
	}
	if err := routes.registeredBy(apiServices); err != nil {
		t.Fatalf("the registered services: %v", err)
	}
	if err := routes.registeredBy(apiServices[1:]); err == nil || !strings.Contains(err.Error(), apiServices[0].name) {
		t.Fatalf("without %s: %v, want an error naming it", apiServices[0].name, err)
	}
	collections, ok := routes.collections()
	if !ok || !collections["policies"]["covergate.insurance.v1.PolicyService"] || !collections["policies"]["covergate.insurance.v1.ClaimService"] {
		t.Fatalf("collections = %v, want policies served by PolicyService and ClaimService", collections)
	}
}
