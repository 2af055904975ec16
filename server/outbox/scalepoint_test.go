package outbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/outbox"
	"github.com/covergate/covergate/server/partners/scalepoint"
	scalepointbox "github.com/covergate/covergate/server/sandbox/scalepoint"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
)

// TestScalepointAnyCreatedIsDelivered runs the outbox with the real Scalepoint adapter against
// the sandbox, in each reading of the 201 answer's _id (number, string, missing, empty body,
// not JSON), on SQLite and PostgreSQL, and against answers the sandbox never gives (a body cut
// off after the status line): every publication is DELIVERED after exactly one send, with the
// id kept as text, and never sent again.
func TestScalepointAnyCreatedIsDelivered(t *testing.T) {
	styles := map[string]string{
		scalepointbox.PublishIDNumber: "1", scalepointbox.PublishIDString: "_1", scalepointbox.PublishIDMissing: "",
		scalepointbox.PublishIDEmpty: "", scalepointbox.PublishIDText: "", "cut-off": "",
	}
	for engineName, dsn := range replicaDSNs(t) {
		for style, wantID := range styles {
			t.Run(engineName+"/"+style, func(t *testing.T) {
				sb := scalepointbox.New(scalepointbox.DefaultConfig())
				var sends atomic.Int32
				real := sb.Handler()
				hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasSuffix(r.URL.Path, "/send") {
						sends.Add(1)
						if style == "cut-off" {
							_, _ = io.Copy(io.Discard, r.Body)
							conn, buf, err := http.NewResponseController(w).Hijack()
							if err == nil {
								_, _ = buf.WriteString("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{\"_id\":")
								_ = buf.Flush()
								_ = conn.Close()
							}
							return
						}
					}
					real.ServeHTTP(w, r)
				}))
				t.Cleanup(func() { sb.Close(); hs.Close() })
				if style != "cut-off" {
					if err := sb.SetPublishID(style); err != nil {
						t.Fatal(err)
					}
				}
				client, err := scalepoint.New(scalepoint.Config{
					BaseURL: hs.URL, Country: scalepointbox.DefaultCountry, Tenant: scalepointbox.DefaultTenant,
					OAuth: scalepoint.OAuthConfig{TokenURL: hs.URL + "/connect/token", ClientID: scalepointbox.DefaultClientID, ClientSecret: scalepointbox.DefaultClientSecret},
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(client.Close)
				st, err := engine.Open(context.Background(), dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = st.Close() })
				var id string
				err = st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
					corr := fmt.Sprintf("corr-%s-%s", engineName, style)
					p, err := tx.EnqueuePublication(ctx, domain.Publication{
						Destination: domain.Destination{Partner: domain.PartnerScalepoint, Country: "dk", Tenant: scalepointbox.DefaultTenant},
						EventType:   "case_created", CorrelationID: corr,
						Payload: []byte(`{"eventType":"case_created","payloadVersion":"1.0.0","correlationId":"` + corr + `","timestamp":"2026-11-23T10:00:00Z"}`),
					})
					id = p.ID
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				w := &outbox.Worker{Store: st, Publisher: client, Owner: "w-" + style, Logger: slog.New(slog.DiscardHandler)}
				for range 3 { // later rounds find nothing due: the publication is done
					if _, err := w.RunOnce(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				p, err := st.GetPublication(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if p.Status != domain.PublicationDelivered || p.PartnerEventID != wantID || p.Attempts != 1 || p.LastError != "" {
					t.Fatalf("publication %+v; want DELIVERED with id %q after 1 attempt", p, wantID)
				}
				if n := sends.Load(); n != 1 {
					t.Fatalf("%d sends, want 1", n)
				}
			})
		}
	}
}
