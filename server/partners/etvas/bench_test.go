package etvas_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/covergate/covergate/server/partners/etvas"
	etvassandbox "github.com/covergate/covergate/server/sandbox/etvas"
)

func benchClient(b *testing.B, signing string) (*etvas.Client, *etvassandbox.Server) {
	b.Helper()
	sc := etvassandbox.DefaultConfig()
	sc.SigningSecret = signing
	sb := etvassandbox.New(sc)
	srv := httptest.NewServer(sb.Handler())
	b.Cleanup(srv.Close)
	c, err := etvas.New(etvas.Config{BaseURL: srv.URL, APIKey: etvassandbox.DefaultAPIKey, SigningSecret: signing})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c, sb
}

// BenchmarkVerifyTokenCached measures a cache hit (no partner call).
func BenchmarkVerifyTokenCached(b *testing.B) {
	sb := etvassandbox.New(etvassandbox.DefaultConfig())
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()
	c, err := etvas.New(etvas.Config{BaseURL: srv.URL, APIKey: etvassandbox.DefaultAPIKey})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	minted, _ := sb.Mint(etvassandbox.MintRequest{})
	ctx := context.Background()
	if _, err := c.VerifyToken(ctx, minted.Token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.VerifyToken(ctx, minted.Token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUserProfile measures a full call to the sandbox over loopback, with and
// without request signing.
func BenchmarkUserProfile(b *testing.B) {
	for _, signing := range []string{"", "secret"} {
		name := "unsigned"
		if signing != "" {
			name = "signed"
		}
		b.Run(name, func(b *testing.B) {
			c, sb := benchClient(b, signing)
			minted, _ := sb.Mint(etvassandbox.MintRequest{})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.UserProfile(ctx, minted.ContextID, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
