package webhooks

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/store/pgtest"
)

// BenchmarkPortalDelivery measures one verified, recorded and applied webhook (a portal
// suspend/resume with its inbox row, policy update and event, SQLite), end to end over HTTP.
func BenchmarkPortalDelivery(b *testing.B) { benchPortalDelivery(b, apptest.Start(b)) }

// BenchmarkPortalDeliveryPostgres is the same on PostgreSQL.
func BenchmarkPortalDeliveryPostgres(b *testing.B) {
	dsn := pgtest.FreshDSN(b)
	benchPortalDelivery(b, apptest.Start(b, func(cfg *app.Config) { cfg.Database = dsn }))
}

func benchPortalDelivery(b *testing.B, s *apptest.Server) {
	base := nowMillis(0)
	purchase := portalStatus("bench-0", "product.purchase", "bench-user", "bench-product", base)
	if r := s.Do(b, "POST", "/etvas-events", "", strings.NewReader(purchase), etvasHeaders(purchase)); r.Code != http.StatusOK {
		b.Fatalf("%d %s", r.Code, r.Body)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		typ := "product.suspend"
		if i%2 == 1 {
			typ = "product.resume"
		}
		body := portalStatus(fmt.Sprintf("bench-%d", i+1), typ, "bench-user", "bench-product", base+int64(i+1))
		if r := s.Do(b, "POST", "/etvas-events", "", strings.NewReader(body), etvasHeaders(body)); r.Code != http.StatusOK {
			b.Fatalf("%d %s", r.Code, r.Body)
		}
	}
}
