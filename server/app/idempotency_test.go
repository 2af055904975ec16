package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/idempotency"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

const (
	createQuote = "/covergate.insurance.v1.QuoteService/CreateQuote"
	quoteBody   = `{"digitalAsset":{"country":"COVER_COUNTRY_NL"},"totalValue":{"currencyCode":"EUR","amount":"199.99"}}`
)

// quoteCount is the number of quote.created events: each run of CreateQuote appends one.
func quoteCount(t *testing.T, s store.Store) int {
	t.Helper()
	p, err := s.ListEvents(context.Background(), store.EventFilter{Types: []string{domain.EventQuoteCreated}, PageSize: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Items)
}

// TestMalformedIdempotencyKeyOverREST: a key gRPC metadata cannot carry (non-ASCII, control
// characters), one too long, or several are refused with 400 and a google.rpc.Status naming
// Idempotency-Key — never dropped on the way so that the request runs without its key.
func TestMalformedIdempotencyKeyOverREST(t *testing.T) {
	s := apptest.Start(t)
	for name, keys := range map[string][]string{
		"non-ASCII":   {"schlüssel-1"},
		"tab":         {"a\tb"},
		"too long":    {strings.Repeat("k", idempotency.MaxKeyLength+1)},
		"two keys":    {"k-1", "k-2"},
		"empty value": {""},
	} {
		t.Run(name, func(t *testing.T) {
			before := quoteCount(t, s.App.Store())
			req, err := http.NewRequest(http.MethodPost, s.HTTPURL+"/v1/quotes", strings.NewReader(quoteBody))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+apptest.AllKey)
			req.Header["Idempotency-Key"] = keys
			resp, err := s.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r := readResult(t, resp)
			if r.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Code, r.Body)
			}
			st := apptest.RESTStatus(t, r)
			if st.Code() != codes.InvalidArgument || apptest.ErrorInfo(t, st).GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED) {
				t.Fatalf("status %v", st.Proto())
			}
			if v := apptest.Violations(st); len(v) != 1 || v[0] != "Idempotency-Key|IDEMPOTENCY_KEY_FORMAT" {
				t.Fatalf("violations %v", v)
			}
			if after := quoteCount(t, s.App.Store()); after != before {
				t.Fatalf("%d quote(s) created by a refused request", after-before)
			}
		})
	}
	// The longest valid key works, and its retry is a replay.
	key := strings.Repeat("k", idempotency.MaxKeyLength)
	first := s.Do(t, http.MethodPost, "/v1/quotes", apptest.AllKey, strings.NewReader(quoteBody), map[string]string{"Idempotency-Key": key})
	again := s.Do(t, http.MethodPost, "/v1/quotes", apptest.AllKey, strings.NewReader(quoteBody), map[string]string{"Idempotency-Key": key})
	if first.Code != http.StatusOK || string(first.Body) != string(again.Body) {
		t.Fatalf("valid key: %d %s / %d %s", first.Code, first.Body, again.Code, again.Body)
	}
}

// TestIdempotencyKeyOfKilledProcess: a gateway killed mid-request leaves its key IN_PROGRESS in
// the store. After a restart, a retry of that request runs once the key's lease has passed
// (REST and gRPC then replay its answer), and is refused with 409 while the lease still runs.
// The killed process is simulated at the store level: what it leaves is exactly a reserved key
// that nobody renews.
func TestIdempotencyKeyOfKilledProcess(t *testing.T) {
	for _, eng := range []string{"sqlite", "postgres"} {
		t.Run(eng, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "covergate.db")
			if eng == "postgres" {
				dsn = pgtest.FreshDSN(t)
			}
			useDB := func(c *app.Config) { c.Database = dsn }
			// The first process: it migrates the database and serves one request, then dies.
			t.Run("first process", func(t *testing.T) {
				s := apptest.Start(t, useDB)
				if r := s.JSON(t, http.MethodPost, "/v1/quotes", apptest.AllKey, quoteBody); r.Code != http.StatusOK {
					t.Fatalf("quote: %d %s", r.Code, r.Body)
				}
			})
			var req insurancev1.CreateQuoteRequest
			if err := protojson.Unmarshal([]byte(quoteBody), &req); err != nil {
				t.Fatal(err)
			}
			hash, err := idempotency.RequestHash(createQuote, &req)
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte(apptest.AllKey))
			principal := "key:" + hex.EncodeToString(digest[:6])
			now := time.Now()
			leftBehind := func(key string, leaseEnd time.Time) domain.IdempotencyRecord {
				return domain.IdempotencyRecord{Principal: principal, Key: key, Method: createQuote, RequestHash: hash,
					ExpireTime: now.Add(idempotency.DefaultTTL), Holder: "killed-" + key, LeaseExpireTime: leaseEnd}
			}
			st, err := engine.Open(context.Background(), dsn, store.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			err = st.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
				// Killed longer ago than the lease, and killed a moment ago.
				for _, r := range []domain.IdempotencyRecord{leftBehind("killed-long-ago", now.Add(-time.Second)), leftBehind("killed-just-now", now.Add(time.Hour))} {
					if _, err := tx.ReserveIdempotency(ctx, r); err != nil {
						return err
					}
				}
				return nil
			})
			_ = st.Close()
			if err != nil {
				t.Fatal(err)
			}

			s := apptest.Start(t, useDB) // the restarted gateway
			before := quoteCount(t, s.App.Store())
			send := func(key string) apptest.Result {
				return s.Do(t, http.MethodPost, "/v1/quotes", apptest.AllKey, strings.NewReader(quoteBody), map[string]string{"Idempotency-Key": key})
			}
			r := send("killed-just-now")
			if r.Code != http.StatusConflict || apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_IN_USE) {
				t.Fatalf("retry within the lease: %d %s, want 409 IDEMPOTENCY_KEY_IN_USE", r.Code, r.Body)
			}
			r = send("killed-long-ago")
			if r.Code != http.StatusOK {
				t.Fatalf("retry after the lease: %d %s, want the request to run", r.Code, r.Body)
			}
			var got struct {
				Quote struct{ QuoteID string } `json:"quote"`
			}
			if err := json.Unmarshal(r.Body, &got); err != nil || got.Quote.QuoteID == "" {
				t.Fatalf("answer %s: %v", r.Body, err)
			}
			if again := send("killed-long-ago"); again.Code != http.StatusOK || string(again.Body) != string(r.Body) {
				t.Fatalf("REST replay: %d %s", again.Code, again.Body)
			}
			var hdr metadata.MD
			ctx := metadata.AppendToOutgoingContext(apptest.WithToken(apptest.AllKey), "idempotency-key", "killed-long-ago")
			resp, err := insurancev1.NewQuoteServiceClient(s.Conn).CreateQuote(ctx, &req, grpc.Header(&hdr))
			if err != nil || resp.GetQuote().GetQuoteId() != got.Quote.QuoteID {
				t.Fatalf("gRPC replay: %v, %v (want quote %s)", resp, err, got.Quote.QuoteID)
			}
			if n := quoteCount(t, s.App.Store()) - before; n != 1 {
				t.Fatalf("%d quotes created after the restart, want 1", n)
			}
		})
	}
}

func readResult(t *testing.T, resp *http.Response) apptest.Result {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Result{Code: resp.StatusCode, Header: resp.Header, Body: b}
}
