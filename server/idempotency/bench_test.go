package idempotency_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
)

// BenchmarkKeyedCall measures what an idempotency key adds to a mutating call on SQLite: reserve,
// run (a trivial handler), store the response — two write transactions.
func BenchmarkKeyedCall(b *testing.B) {
	f := newFixtureOn(b, "sqlite:"+b.TempDir()+"/bench.db")
	req := &insurancev1.CreatePolicyRequest{QuoteId: "q", Reference: "r"}
	info := &grpc.UnaryServerInfo{FullMethod: createPolicy}
	for i := 0; b.Loop(); i++ {
		if _, err := f.icpt(callCtx("bench", fmt.Sprint("key-", i)), req, info, f.handler); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplay measures answering a retry from the stored response.
func BenchmarkReplay(b *testing.B) {
	f := newFixtureOn(b, "sqlite:"+b.TempDir()+"/bench.db")
	req := &insurancev1.CreatePolicyRequest{QuoteId: "q", Reference: "r"}
	info := &grpc.UnaryServerInfo{FullMethod: createPolicy}
	ctx := callCtx("bench", "same-key")
	if _, err := f.icpt(ctx, req, info, f.handler); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.icpt(ctx, req, info, f.handler); err != nil {
			b.Fatal(err)
		}
	}
}
