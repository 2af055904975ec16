// Package baseline is the practical limit the gateway's transports are measured against: a bare
// net/http handler serving GET /v1/policies/{policy_id} by calling the PolicyService
// implementation directly and writing the internal API's JSON — no gRPC, no interceptors, no
// gateway. covergate-bench runs it as its own process; bench/profiling calls it in process.
package baseline

import (
	"net/http"

	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
)

// answerJSON is the internal API's answer encoding (server/gateway): every field present.
var answerJSON = protojson.MarshalOptions{EmitDefaultValues: true}

// Handler serves GetPolicy over policies.
func Handler(policies insurancev1.PolicyServiceServer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/policies/{policy_id}", func(w http.ResponseWriter, r *http.Request) {
		resp, err := policies.GetPolicy(r.Context(), &insurancev1.GetPolicyRequest{PolicyId: r.PathValue("policy_id")})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		body, err := answerJSON.Marshal(resp)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}
