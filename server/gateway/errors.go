package gateway

import (
	"context"
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/requestid"
	"github.com/covergate/covergate/server/tracing"
)

// errorHandler writes every REST error as google.rpc.Status JSON with its ErrorInfo (and
// BadRequest, when there is one), under the HTTP status that fits its code and reason.
func errorHandler(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if limit, over := bodyTooLarge(r); over {
		writeTooLarge(w, r, limit)
		return
	}
	writeStatus(w, r, apierror.Normalize(err, errMeta(r)...))
}

func streamErrorHandler(ctx context.Context, err error) *status.Status {
	return apierror.Normalize(err, "request_id", requestid.From(ctx), "trace_id", tracing.TraceID(ctx))
}

// errMeta is the ErrorInfo metadata every HTTP-layer error carries: the ids that find the request
// in the logs and the traces.
func errMeta(r *http.Request) []string {
	return []string{"request_id", requestid.From(r.Context()), "trace_id", tracing.TraceID(r.Context())}
}

func routingErrorHandler(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusNotFound:
		writeRouteNotFound(w, r)
	case http.StatusMethodNotAllowed:
		writeStatus(w, r, apierror.Status(codes.Unimplemented, insurancev1.ErrorReason_ERROR_REASON_METHOD_NOT_ALLOWED,
			r.Method+" is not allowed on "+r.URL.Path, errMeta(r)...))
	default:
		writeStatus(w, r, apierror.Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_MALFORMED_REQUEST,
			http.StatusText(httpStatus), errMeta(r)...))
	}
}

func writeRouteNotFound(w http.ResponseWriter, r *http.Request) {
	writeStatus(w, r, apierror.Status(codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_ROUTE_NOT_FOUND,
		"no route for "+r.Method+" "+r.URL.Path, errMeta(r)...))
}

var statusJSON = protojson.MarshalOptions{}

func writeStatus(w http.ResponseWriter, r *http.Request, st *status.Status) {
	writeStatusCode(w, r, apierror.HTTPStatus(st), st)
}

// writeStatusCode is writeStatus with an explicit HTTP status, for the few HTTP-only answers
// (415) that have no gRPC equivalent.
func writeStatusCode(w http.ResponseWriter, _ *http.Request, code int, st *status.Status) {
	body, err := statusJSON.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"internal error"}`)
		code = http.StatusInternalServerError
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="covergate"`)
	}
	if secs := retryAfter(st); secs > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSONBytes(w, code, body)
}
