package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
)

// rpcProtocols are the browser protocols served on the HTTP listener.
var rpcProtocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect-json", []connect.ClientOption{connect.WithProtoJSON()}},
	{"connect-proto", nil},
	{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
}

func bearer[T any](token string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	return req
}

func nftQuote() *insurancev1.CreateQuoteRequest {
	return &insurancev1.CreateQuoteRequest{
		Cover: &insurancev1.CreateQuoteRequest_Nft{Nft: &insurancev1.NftCover{
			Chain:              insurancev1.Chain_CHAIN_ETHEREUM,
			NftContractAddress: "0x8a90cab2b38dba80c64b7734e58ee1db38b8992e",
			Token:              insurancev1.Token_TOKEN_ETH,
		}},
		TotalValue: &insurancev1.Money{CurrencyCode: "ETH", Amount: "1.5"},
	}
}

// connectError returns err's code, ErrorInfo and BadRequest as the client decoded them from the
// wire (Connect: the JSON error body; gRPC-Web: the grpc-status-details-bin trailer).
func connectError(t *testing.T, err error) (connect.Code, *errdetails.ErrorInfo, *errdetails.BadRequest) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a connect error", err, err)
	}
	var info *errdetails.ErrorInfo
	var br *errdetails.BadRequest
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			t.Fatalf("detail %s: %v", d.Type(), err)
		}
		switch v := v.(type) {
		case *errdetails.ErrorInfo:
			info = v
		case *errdetails.BadRequest:
			br = v
		}
	}
	if info == nil {
		t.Fatalf("error %v carries no ErrorInfo", err)
	}
	return ce.Code(), info, br
}

// TestConnectAndGRPCWebContract runs one contract per browser protocol against a real gateway:
// the calls work, auth is enforced by the gRPC server's own interceptors, and ErrorInfo (and
// BadRequest) reach the client intact.
func TestConnectAndGRPCWebContract(t *testing.T) {
	s := apptest.Start(t)
	for _, p := range rpcProtocols {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			base := s.HTTPURL + "/covergate.insurance.v1."
			createQuote := connect.NewClient[insurancev1.CreateQuoteRequest, insurancev1.CreateQuoteResponse](
				http.DefaultClient, base+"QuoteService/CreateQuote", p.opts...)
			getQuote := connect.NewClient[insurancev1.GetQuoteRequest, insurancev1.GetQuoteResponse](
				http.DefaultClient, base+"QuoteService/GetQuote", p.opts...)
			getPolicy := connect.NewClient[insurancev1.GetPolicyRequest, insurancev1.GetPolicyResponse](
				http.DefaultClient, base+"PolicyService/GetPolicy", p.opts...)
			watch := connect.NewClient[insurancev1.WatchEventsRequest, insurancev1.WatchEventsResponse](
				http.DefaultClient, base+"EventService/WatchEvents", p.opts...)

			created, err := createQuote.CallUnary(ctx, bearer(apptest.AllKey, nftQuote()))
			if err != nil {
				t.Fatalf("CreateQuote: %v", err)
			}
			id := created.Msg.GetQuote().GetQuoteId()
			if created.Header().Get("X-Request-Id") == "" {
				t.Errorf("no X-Request-Id on the answer: %v", created.Header())
			}
			got, err := getQuote.CallUnary(ctx, bearer(apptest.AllKey, &insurancev1.GetQuoteRequest{QuoteId: id}))
			if err != nil || !proto.Equal(got.Msg.GetQuote(), created.Msg.GetQuote()) {
				t.Fatalf("GetQuote = %v, %v; want %v", got, err, created.Msg.GetQuote())
			}

			for _, tc := range []struct {
				name   string
				call   func() error
				code   connect.Code
				reason insurancev1.ErrorReason
				meta   map[string]string
				field  string
			}{
				{"no token", func() error {
					_, err := getQuote.CallUnary(ctx, bearer("", &insurancev1.GetQuoteRequest{QuoteId: id}))
					return err
				}, connect.CodeUnauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED, nil, ""},
				{"unknown token", func() error {
					_, err := getQuote.CallUnary(ctx, bearer("not-a-key", &insurancev1.GetQuoteRequest{QuoteId: id}))
					return err
				}, connect.CodeUnauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED, nil, ""},
				{"scope missing", func() error {
					_, err := createQuote.CallUnary(ctx, bearer(apptest.ReaderKey, nftQuote()))
					return err
				}, connect.CodePermissionDenied, insurancev1.ErrorReason_ERROR_REASON_PERMISSION_DENIED, map[string]string{"required_scope": "quotes.write"}, ""},
				{"invalid", func() error {
					_, err := getPolicy.CallUnary(ctx, bearer(apptest.AllKey, &insurancev1.GetPolicyRequest{PolicyId: "not-a-uuid"}))
					return err
				}, connect.CodeInvalidArgument, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED, nil, "policy_id"},
				{"not found", func() error {
					_, err := getPolicy.CallUnary(ctx, bearer(apptest.AllKey, &insurancev1.GetPolicyRequest{PolicyId: "00000000-0000-4000-8000-000000000000"}))
					return err
				}, connect.CodeNotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND, nil, ""},
				{"stream without token", func() error {
					st, err := watch.CallServerStream(ctx, bearer("", &insurancev1.WatchEventsRequest{}))
					if err != nil {
						return err
					}
					defer st.Close()
					for st.Receive() {
					}
					return st.Err()
				}, connect.CodeUnauthenticated, insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED, nil, ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					code, info, br := connectError(t, tc.call())
					if code != tc.code || info.GetReason() != apierror.Reason(tc.reason) || info.GetDomain() != apierror.Domain {
						t.Errorf("code %v reason %s domain %s, want %v %s", code, info.GetReason(), info.GetDomain(), tc.code, tc.reason)
					}
					if info.GetMetadata()["request_id"] == "" {
						t.Errorf("ErrorInfo lacks request_id: %v", info)
					}
					for k, v := range tc.meta {
						if info.GetMetadata()[k] != v {
							t.Errorf("metadata %s = %q, want %q", k, info.GetMetadata()[k], v)
						}
					}
					if tc.field != "" && (br == nil || len(br.GetFieldViolations()) == 0 || br.GetFieldViolations()[0].GetField() != tc.field) {
						t.Errorf("BadRequest = %v, want a violation of %s", br, tc.field)
					}
				})
			}

			// Server streaming works too: the stream's headers come at once, then the log.
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			st, err := watch.CallServerStream(sctx, bearer(apptest.AllKey, &insurancev1.WatchEventsRequest{Types: []string{"quote.created"}}))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if !st.Receive() {
				t.Fatalf("WatchEvents: %v", st.Err())
			}
			if ev := st.Msg().GetEvent(); ev.GetType() != "quote.created" || ev.GetSubject() == "" {
				t.Errorf("first event = %v", ev)
			}
		})
	}
}

// TestConnectServesOnlyTheInternalAPI: webhook services are not reachable over Connect or
// gRPC-Web (they stay REST-only, behind partner authentication), nor are health and reflection.
func TestConnectServesOnlyTheInternalAPI(t *testing.T) {
	s := apptest.Start(t)
	for _, p := range rpcProtocols {
		for _, path := range []string{
			"/covergate.webhooks.v1.ScalepointWebhookService/HandleEvent",
			"/covergate.webhooks.v1.AvataWebhookService/HandleCallback",
		} {
			c := connect.NewClient[webhooksv1.HandleEventRequest, webhooksv1.HandleEventResponse](http.DefaultClient, s.HTTPURL+path, p.opts...)
			_, err := c.CallUnary(context.Background(), bearer(apptest.AllKey, &webhooksv1.HandleEventRequest{}))
			var ce *connect.Error
			if !errors.As(err, &ce) || (ce.Code() != connect.CodeNotFound && ce.Code() != connect.CodeUnimplemented) {
				t.Errorf("%s %s: %v, want not found", p.name, path, err)
			}
		}
		c := connect.NewClient[insurancev1.GetQuoteRequest, insurancev1.GetQuoteResponse](http.DefaultClient, s.HTTPURL+"/grpc.health.v1.Health/Check", p.opts...)
		if _, err := c.CallUnary(context.Background(), bearer(apptest.AllKey, &insurancev1.GetQuoteRequest{})); connect.CodeOf(err) != connect.CodeNotFound && connect.CodeOf(err) != connect.CodeUnimplemented {
			t.Errorf("%s health over Connect: %v", p.name, err)
		}
	}
}

// TestConnectCORS: a browser on an allowed origin may send the Connect and gRPC-Web headers and
// read the gRPC-Web status headers.
func TestConnectCORS(t *testing.T) {
	const origin = "https://app.example.com"
	s := apptest.Start(t, func(c *app.Config) { c.CORSOrigins = origin })
	req, _ := http.NewRequest(http.MethodOptions, s.HTTPURL+"/covergate.insurance.v1.QuoteService/CreateQuote", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", http.MethodPost)
	// Browsers send the names sorted and lower-case, as here.
	req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,connect-timeout-ms,content-type,grpc-timeout,x-grpc-web,x-user-agent")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// A real call from that origin exposes the status headers.
	c := connect.NewClient[insurancev1.GetQuoteRequest, insurancev1.GetQuoteResponse](http.DefaultClient,
		s.HTTPURL+"/covergate.insurance.v1.QuoteService/GetQuote", connect.WithGRPCWeb())
	r := bearer(apptest.AllKey, &insurancev1.GetQuoteRequest{QuoteId: "00000000-0000-4000-8000-000000000000"})
	r.Header().Set("Origin", origin)
	_, err = c.CallUnary(context.Background(), r)
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("GetQuote: %v", err)
	}
	exposed := strings.ToLower(ce.Meta().Get("Access-Control-Expose-Headers"))
	for _, h := range []string{"grpc-status", "grpc-message", "grpc-status-details-bin"} {
		if !strings.Contains(exposed, h) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, h)
		}
	}
}

// TestBufCurlConnect runs `buf curl --protocol connect` (pinned in tools/go.mod) against the
// HTTP listener. The HTTP listener serves no reflection, so the schema comes from the
// descriptors compiled into this binary.
func TestBufCurlConnect(t *testing.T) {
	s := apptest.Start(t)
	schema := filepath.Join(t.TempDir(), "schema.binpb")
	writeSchema(t, schema, insurancev1.File_covergate_insurance_v1_quote_proto)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // the first run compiles buf
	defer cancel()
	run := func(token, body string) (string, string, error) {
		cmd := exec.CommandContext(ctx, "go", "tool", "-modfile=tools/go.mod", "buf", "curl",
			"--protocol", "connect", "--schema", schema,
			"-H", "Authorization: Bearer "+token, "-d", body,
			s.HTTPURL+"/covergate.insurance.v1.QuoteService/CreateQuote")
		cmd.Dir = root
		cmd.Env = os.Environ()
		// The answer is on stdout; stderr may also hold the go command's own lines (module
		// downloads on a fresh machine) and, on failure, buf curl's error.
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	body, err := protojson.Marshal(nftQuote())
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(apptest.AllKey, string(body))
	if err != nil {
		t.Fatalf("buf curl: %v\n%s%s", err, out, errOut)
	}
	var resp insurancev1.CreateQuoteResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil || resp.GetQuote().GetQuoteId() == "" {
		t.Fatalf("buf curl answered %q (%v)", out, err)
	}
	// Auth is enforced the same way: buf curl prints the Connect error and exits non-zero.
	out, errOut, err = run("not-a-key", string(body))
	out += errOut
	if err == nil || !strings.Contains(out, "unauthenticated") || !strings.Contains(out, apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_UNAUTHENTICATED)) {
		t.Fatalf("buf curl with a bad key: %v\n%s", err, out)
	}
}

// writeSchema writes a FileDescriptorSet of f and everything it imports.
func writeSchema(t *testing.T, path string, f protoreflect.FileDescriptor) {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(f)
	// ErrorInfo and BadRequest, so buf curl can print error details.
	for _, name := range []protoreflect.FullName{"google.rpc.ErrorInfo"} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
		if err != nil {
			t.Fatal(err)
		}
		add(d.ParentFile())
	}
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// endlessBody never ends.
type endlessBody struct{}

func (endlessBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestConnectStrangersCostNoBody: a Connect or gRPC-Web call without a valid key is refused from
// its headers, in its own protocol, before the transcoder reads the body — a body that never ends
// still gets its answer.
func TestConnectStrangersCostNoBody(t *testing.T) {
	s := apptest.Start(t)
	for _, tc := range []struct {
		name, contentType string
		header            map[string]string
		wantHTTP          int
	}{
		{"connect-json", "application/json", map[string]string{"Connect-Protocol-Version": "1"}, http.StatusUnauthorized},
		{"connect-proto", "application/proto", map[string]string{"Connect-Protocol-Version": "1"}, http.StatusUnauthorized},
		{"grpc-web", "application/grpc-web+proto", nil, http.StatusOK}, // gRPC-Web carries the status in headers
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := endlessBody{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.HTTPURL+"/covergate.insurance.v1.QuoteService/CreateQuote", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Authorization", "Bearer not-a-key")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("no answer before the body ended: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantHTTP {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.wantHTTP)
			}
			if tc.name == "grpc-web" {
				if got := resp.Header.Get("Grpc-Status"); got != "16" {
					t.Fatalf("grpc-status %q, want 16 (UNAUTHENTICATED)", got)
				}
			} else {
				var e struct{ Code string }
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Code != "unauthenticated" {
					t.Fatalf("Connect error body: %+v, %v", e, err)
				}
			}
			// An answer to a request whose body never ends proves the server did not wait for
			// the body; how much of it the client's transport pushed into socket buffers
			// meanwhile is not the server's reading.
		})
	}
}
