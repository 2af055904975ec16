package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/covergate/covergate/server/apierror"
)

// InternalServicePrefix names the services browsers may call over Connect and gRPC-Web: the
// internal API (covergate.insurance.v1). Partner webhooks (covergate.webhooks.v1) stay REST-only,
// behind their own authentication; health and reflection stay on the gRPC listener.
const InternalServicePrefix = "covergate.insurance.v1."

// NewRPC serves the Connect (unary and streaming, JSON and binary) and gRPC-Web protocols for
// the internal services of srv, by transcoding each call to gRPC and handing it to srv's own
// ServeHTTP: the same interceptor chain (request id, logging, metrics, auth, validation,
// idempotency) runs as for a native gRPC call. REST is not served here (grpc-gateway keeps it).
//
// It builds the services itself instead of calling vanguardgrpc.NewTranscoder, which would
// expose every service registered on srv, the webhook services included. Like vanguardgrpc it
// targets gRPC with the proto codec, so Connect JSON is transcoded to proto on the way in.
func NewRPC(srv *grpc.Server, notFound http.Handler) (http.Handler, error) {
	var names []string
	for name := range srv.GetServiceInfo() {
		if strings.HasPrefix(name, InternalServicePrefix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("gateway: no %s* service is registered", InternalServicePrefix)
	}
	services := make([]*vanguard.Service, 0, len(names))
	for _, name := range names {
		services = append(services, vanguard.NewService(name, srv))
	}
	opts := []vanguard.TranscoderOption{
		vanguard.WithDefaultServiceOptions(
			vanguard.WithTargetProtocols(vanguard.ProtocolGRPC),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
		),
	}
	if notFound != nil {
		opts = append(opts, vanguard.WithUnknownHandler(notFound))
	}
	t, err := vanguard.NewTranscoder(services, opts...)
	if err != nil {
		return nil, fmt.Errorf("gateway: connect/grpc-web transcoder: %w", err)
	}
	return t, nil
}

// RouteNotFound answers 404 with a google.rpc.Status, as every unknown route does.
func RouteNotFound() http.Handler { return http.HandlerFunc(writeRouteNotFound) }

// isRPCRequest tells Connect and gRPC-Web calls from REST ones. Connect and gRPC-Web address a
// method as /package.Service/Method, a shape no REST or webhook route has (unknown services get
// a 404 from the transcoder); within that, the content type decides, as
// the protocols define it: application/connect+* (Connect streams), application/grpc-web[+*],
// any other application/* with Connect-Protocol-Version: 1 (Connect unary; connect-web always
// sends the header), and Connect's GET form (?connect=v1). Native gRPC (application/grpc) is not
// served on the HTTP listener: it has its own listener with keepalive and connection-level
// stats, which grpc.Server.ServeHTTP lacks.
func isRPCRequest(r *http.Request) bool {
	if !isMethodPath(r.URL.Path) {
		return false
	}
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/connect+"),
		ct == "application/grpc-web" || strings.HasPrefix(ct, "application/grpc-web+"):
		return r.Method == http.MethodPost
	case strings.HasPrefix(ct, "application/") && r.Header.Get("Connect-Protocol-Version") == "1":
		return r.Method == http.MethodPost
	case r.Method == http.MethodGet && r.URL.Query().Get("connect") == "v1":
		return true
	}
	return false
}

// isMethodPath reports whether path has the shape /package.Service/Method.
func isMethodPath(path string) bool {
	service, method, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return ok && strings.Contains(service, ".") && method != "" && !strings.Contains(method, "/")
}

// routeRPC sends Connect and gRPC-Web calls to rpc and everything else to rest.
func routeRPC(rpc, rest http.Handler) http.Handler {
	if rpc == nil {
		return rest
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isRPCRequest(r) {
			rpc.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// guardRPC checks a Connect or gRPC-Web call's API key and scope from its headers before the
// transcoder reads the body, as the REST guard does: a caller without credentials costs us no
// body read. The refusal is written in the caller's own protocol (connect.ErrorWriter), with the
// same code, message and details the gRPC interceptor would give. The rate-limit token is left
// to the interceptor (charge false): context values do not cross into the gRPC server.
func guardRPC(authorize Authorize, rpc http.Handler) http.Handler {
	if authorize == nil || rpc == nil {
		return rpc
	}
	errs := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isRPCRequest(r) {
			rpc.ServeHTTP(w, r)
			return
		}
		if _, err := authorize(r.Context(), r.Header.Values("Authorization"), r.URL.Path, false); err != nil {
			closeAfter(w, r)
			_ = errs.Write(w, r, connectError(apierror.Normalize(err, errMeta(r)...)))
			return
		}
		rpc.ServeHTTP(w, r)
	})
}

// connectError carries a gRPC status (code, message, details) as a Connect error.
func connectError(st *status.Status) *connect.Error {
	cerr := connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	for _, d := range st.Details() {
		if m, ok := d.(proto.Message); ok {
			if detail, err := connect.NewErrorDetail(m); err == nil {
				cerr.AddDetail(detail)
			}
		}
	}
	return cerr
}
