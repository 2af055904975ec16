package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
)

// apiService registers one service of the internal API on a grpc-gateway mux.
type apiService struct {
	name     string // full name, as in route.fullMethod
	register func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error
}

// apiServices are the internal API's services, in a fixed order: grpc-gateway tries a mux's
// patterns in registration order, so a random order would make routing cost differ from one
// start to the next.
var apiServices = []apiService{
	{"covergate.insurance.v1.ClaimService", func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return insurancev1.RegisterClaimServiceHandlerClient(ctx, mux, insurancev1.NewClaimServiceClient(conn))
	}},
	{"covergate.insurance.v1.CustomerService", func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return insurancev1.RegisterCustomerServiceHandlerClient(ctx, mux, insurancev1.NewCustomerServiceClient(conn))
	}},
	{"covergate.insurance.v1.EventService", func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return insurancev1.RegisterEventServiceHandlerClient(ctx, mux, insurancev1.NewEventServiceClient(conn))
	}},
	{"covergate.insurance.v1.PolicyService", func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return insurancev1.RegisterPolicyServiceHandlerClient(ctx, mux, insurancev1.NewPolicyServiceClient(conn))
	}},
	{"covergate.insurance.v1.QuoteService", func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return insurancev1.RegisterQuoteServiceHandlerClient(ctx, mux, insurancev1.NewQuoteServiceClient(conn))
	}},
}

// apiRouter serves the internal API. grpc-gateway finds a request's route by trying its
// patterns one after another, and every pattern that does not match costs allocations; with
// all ~40 bindings in one mux a call paid for a dozen misses. So each collection (the first path
// segment: /v1/policies/..., /v1/customers...) gets a mux holding only the services with a
// binding under it — every pattern that can match such a path — and all holds every service,
// for paths outside any collection (answered 404 as before) and for the event stream's errors.
type apiRouter struct {
	all          *runtime.ServeMux
	byCollection map[string]*runtime.ServeMux
}

func newAPIRouter(ctx context.Context, conn grpc.ClientConnInterface, m *runtime.JSONPb, guard runtime.Middleware, routes routeTable) (*apiRouter, error) {
	newMux := func(services []apiService) (*runtime.ServeMux, error) {
		mux := runtime.NewServeMux(append(commonOptions(apiMarshaler{jsonMarshaler{m}}), runtime.WithMiddlewares(guard))...)
		for _, s := range services {
			if err := s.register(ctx, mux, conn); err != nil {
				return nil, fmt.Errorf("gateway: register %s: %w", s.name, err)
			}
		}
		return mux, nil
	}
	all, err := newMux(apiServices)
	if err != nil {
		return nil, err
	}
	r := &apiRouter{all: all, byCollection: map[string]*runtime.ServeMux{}}
	collections, ok := routes.collections()
	if !ok {
		return r, nil // a binding starts with a variable: any path may be any service's
	}
	if err := routes.registeredBy(apiServices); err != nil {
		return nil, err
	}
	for collection, names := range collections {
		var services []apiService
		for _, s := range apiServices {
			if names[s.name] {
				services = append(services, s)
			}
		}
		if r.byCollection[collection], err = newMux(services); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (a *apiRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if mux := a.byCollection[collectionOf(r.URL.Path)]; mux != nil {
		mux.ServeHTTP(w, r)
		return
	}
	a.all.ServeHTTP(w, r)
}

// collectionOf is the first segment of an API path: "policies" for /v1/policies/1:cancel and
// for /v1/policies:search, "" when the path is not under /v1/.
func collectionOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/:"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// collections maps each collection to the services with a binding under it. ok is false when a
// binding's first segment is a variable, which could match any collection.
func (t routeTable) collections() (map[string]map[string]bool, bool) {
	out := map[string]map[string]bool{}
	for key, r := range t {
		_, path, _ := strings.Cut(key, " ")
		c := collectionOf(path)
		if c == "" || strings.HasPrefix(c, "{") {
			return nil, false
		}
		service := r.service()
		if out[c] == nil {
			out[c] = map[string]bool{}
		}
		out[c][service] = true
	}
	return out, true
}

// registeredBy fails when a service with HTTP bindings has no entry in services: its routes
// would answer 404 although the contract and the OpenAPI document promise them.
func (t routeTable) registeredBy(services []apiService) error {
	known := map[string]bool{}
	for _, s := range services {
		known[s.name] = true
	}
	for key, r := range t {
		if !known[r.service()] {
			return fmt.Errorf("gateway: %s (%s) is in the contract but its service is not registered", key, r.fullMethod)
		}
	}
	return nil
}

// service is the route's service full name: "covergate.insurance.v1.PolicyService" for
// "/covergate.insurance.v1.PolicyService/GetPolicy".
func (r route) service() string {
	service, _, _ := strings.Cut(strings.TrimPrefix(r.fullMethod, "/"), "/")
	return service
}
