package inprocess_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/covergate/covergate/server/inprocess"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// health answers Check by the requested service name, to script each case.
type health struct {
	healthpb.UnimplementedHealthServer
}

func (health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	switch req.GetService() {
	case "status":
		return nil, status.Error(codes.PermissionDenied, "no")
	case "plain":
		return nil, errors.New("plain failure")
	case "canceled":
		return nil, context.Canceled
	case "nil":
		return nil, nil
	case "mutate":
		req.Service = "mutated by the server"
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-header", "h", "x-echo", first(md.Get("x-caller")))); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t")); err != nil {
		return nil, err
	}
	if len(metadata.ValueFromOutgoingContext(ctx, "x-caller")) != 0 {
		return nil, status.Error(codes.Internal, "the caller's outgoing metadata leaked into the server's outgoing context")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

// recorder is an interceptor that records what it saw.
type recorder struct {
	calls   int
	method  string
	network string
}

func (r *recorder) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	r.calls++
	r.method = info.FullMethod
	if p, ok := peer.FromContext(ctx); ok {
		r.network = p.Addr.Network()
	}
	if m, ok := grpc.Method(ctx); !ok || m != info.FullMethod {
		return nil, status.Errorf(codes.Internal, "grpc.Method = %q, %v", m, ok)
	}
	return next(ctx, req)
}

// fallback is a real gRPC server on loopback serving the same health service: what the
// in-process connection hands streams and unknown methods to.
func fallback(t *testing.T) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health{})
	done := make(chan struct{})
	go func() { _ = srv.Serve(lis); close(done) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop(); <-done })
	return conn
}

func TestInvoke(t *testing.T) {
	tests := []struct {
		service    string
		code       codes.Code
		wantHeader bool
	}{
		{"ok", codes.OK, true},
		{"status", codes.PermissionDenied, false},
		{"plain", codes.Unknown, false},
		{"canceled", codes.Canceled, false},
		{"nil", codes.Internal, false},
		{"mutate", codes.OK, true},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			rec := &recorder{}
			conn := inprocess.New(func(r grpc.ServiceRegistrar) { healthpb.RegisterHealthServer(r, health{}) }, rec.intercept, fallback(t))
			ctx := metadata.AppendToOutgoingContext(context.Background(), "x-caller", "c-1")
			var header, trailer metadata.MD
			req := &healthpb.HealthCheckRequest{Service: tt.service}
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
			if got := status.Code(err); got != tt.code {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.code)
			}
			if rec.calls != 1 || rec.method != healthpb.Health_Check_FullMethodName || rec.network != inprocess.Network {
				t.Fatalf("interceptor saw %+v, want one call of Check from the in-process network", rec)
			}
			if req.GetService() != tt.service {
				t.Fatalf("the server changed the caller's request: %q", req.GetService())
			}
			if !tt.wantHeader {
				return
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("response = %v", resp)
			}
			if first(header.Get("x-header")) != "h" || first(header.Get("x-echo")) != "c-1" || first(trailer.Get("x-trailer")) != "t" {
				t.Fatalf("header %v trailer %v", header, trailer)
			}
		})
	}
}

// Streams and methods the connection was not given go to the fallback connection.
func TestFallback(t *testing.T) {
	rec := &recorder{}
	conn := inprocess.New(func(grpc.ServiceRegistrar) {}, rec.intercept, fallback(t))
	resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "ok"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("unknown method through the fallback: %v %v", resp, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unimplemented {
		t.Fatalf("stream through the fallback: %v, want the fallback server's UNIMPLEMENTED", err)
	}
	if rec.calls != 0 {
		t.Fatalf("the in-process interceptor ran %d times for fallback calls", rec.calls)
	}
}
