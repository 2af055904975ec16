package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// logLines returns the JSON log lines that carry request id id.
func logLines(t *testing.T, logs, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			continue
		}
		if line["request_id"] == id {
			out = append(out, line)
		}
	}
	return out
}

func seedPolicy(t *testing.T, s *apptest.Server) string {
	t.Helper()
	now := time.Now()
	var id string
	err := s.App.Store().InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		p, err := tx.CreatePolicy(ctx, domain.Policy{Partner: domain.PartnerEtvas, Kind: domain.KindEtvasProduct, Status: domain.PolicyActive,
			Premium: domain.Money{Amount: "1", Currency: "EUR"}, EtvasContextID: "log-ctx", StartTime: now, EndTime: now, StatusTime: now})
		id = p.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A REST call writes one log line holding the HTTP view and the in-process RPC's outcome (issue
// 17: the second line cost CPU and added nothing); a direct gRPC call still writes its rpc line.
func TestRESTCallWritesOneLogLineWithBothViews(t *testing.T) {
	s := apptest.Start(t)
	id := seedPolicy(t, s)
	tests := []struct {
		name, path, token string
		status            float64
		code, reason      string
		principal         bool
		level             string
	}{
		{"found", "/v1/policies/" + id, apptest.AllKey, 200, "OK", "", true, "INFO"},
		{"not found", "/v1/policies/0190a0a0-0000-7000-8000-000000000000", apptest.AllKey, 404, "NotFound", "ERROR_REASON_NOT_FOUND", true, "INFO"},
		{"no key", "/v1/policies/" + id, "", 401, "Unauthenticated", "ERROR_REASON_UNAUTHENTICATED", false, "INFO"},
		{"invalid id", "/v1/policies/not-a-uuid", apptest.AllKey, 400, "InvalidArgument", "ERROR_REASON_VALIDATION_FAILED", true, "INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.Do(t, http.MethodGet, tt.path, tt.token, nil, nil)
			if float64(res.Code) != tt.status {
				t.Fatalf("status %d, want %v: %s", res.Code, tt.status, res.Body)
			}
			lines := logLines(t, s.Logs.String(), res.Header.Get("X-Request-Id"))
			if len(lines) != 1 {
				t.Fatalf("%d log lines for the request, want 1: %v", len(lines), lines)
			}
			l := lines[0]
			want := map[string]any{"msg": "http", "method": "GET", "path": strings.SplitN(tt.path, "?", 2)[0], "status": tt.status,
				"rpc": "/covergate.insurance.v1.PolicyService/GetPolicy", "code": tt.code, "level": tt.level}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("%s = %v, want %v (line %v)", k, l[k], v, l)
				}
			}
			if tt.reason != "" && l["reason"] != tt.reason {
				t.Errorf("reason = %v, want %s", l["reason"], tt.reason)
			}
			if p, _ := l["principal"].(string); tt.principal != strings.HasPrefix(p, "key:") {
				t.Errorf("principal = %q, want one: %v", p, tt.principal)
			}
			for _, k := range []string{"duration_ms", "rpc_duration_ms", "bytes", "trace_id"} {
				if _, ok := l[k]; !ok {
					t.Errorf("line has no %s: %v", k, l)
				}
			}
		})
	}
	t.Run("direct gRPC", func(t *testing.T) {
		var header metadata.MD
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+apptest.AllKey)
		if _, err := insurancev1.NewPolicyServiceClient(s.Conn).GetPolicy(ctx, &insurancev1.GetPolicyRequest{PolicyId: id}, grpc.Header(&header)); err != nil {
			t.Fatal(err)
		}
		lines := logLines(t, s.Logs.String(), header.Get("x-request-id")[0])
		if len(lines) != 1 || lines[0]["msg"] != "rpc" || lines[0]["transport"] != "grpc" || lines[0]["code"] != "OK" {
			t.Fatalf("want one rpc line with transport grpc, got %v", lines)
		}
	})
}

// --debug-addr serves the Go profiling endpoints on its own loopback listener, and only there.
func TestDebugListenerServesProfilesOnlyWhenAsked(t *testing.T) {
	off := apptest.Start(t)
	if off.App.DebugAddr() != "" {
		t.Fatalf("debug listener on by default at %s", off.App.DebugAddr())
	}
	if res := off.Do(t, http.MethodGet, "/debug/pprof/", "", nil, nil); res.Code != http.StatusNotFound {
		t.Errorf("API listener serves /debug/pprof/: %d", res.Code)
	}
	on := apptest.Start(t, func(c *app.Config) { c.DebugAddr = "127.0.0.1:0" })
	resp, err := http.Get("http://" + on.App.DebugAddr() + "/debug/pprof/profile?seconds=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("profile: %d, %d bytes", resp.StatusCode, len(body))
	}
	if res := on.Do(t, http.MethodGet, "/debug/pprof/", "", nil, nil); res.Code != http.StatusNotFound {
		t.Errorf("API listener serves /debug/pprof/ with the debug listener on: %d", res.Code)
	}
}

func TestDebugAddrMustBeLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "10.0.0.1:6060", "example.com:6060", "nope"} {
		cfg := app.Defaults()
		cfg.DebugAddr = addr
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "debug-addr") {
			t.Errorf("debug-addr %q accepted: %v", addr, err)
		}
	}
	for _, addr := range []string{"", "127.0.0.1:6060", "[::1]:6060", "localhost:6060"} {
		cfg := app.Defaults()
		cfg.DebugAddr = addr
		if err := cfg.Validate(); err != nil {
			t.Errorf("debug-addr %q refused: %v", addr, err)
		}
	}
}
