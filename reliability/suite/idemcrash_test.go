//go:build reliability

package suite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/reliability/figures"
	"github.com/covergate/covergate/reliability/gatewayproc"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/store/pgtest"
)

// idemLease is the gateway's --idempotency-lease here.
const idemLease = 2 * time.Second

// TestIdempotencyKeyAfterSIGKILL: a keyed CreateQuote is in flight (Avata made slow, so the
// request is still running) when the gateway gets SIGKILL. Its key is left IN_PROGRESS in the
// database. After the restart, the client's retry with the same key is answered 409
// IDEMPOTENCY_KEY_IN_USE at most until the lease has passed, then runs and succeeds, and
// further retries replay that answer — never a day of 409s.
func TestIdempotencyKeyAfterSIGKILL(t *testing.T) {
	for _, e := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "covergate.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.FreshDSN(t) }},
	} {
		t.Run(e.name, func(t *testing.T) { runIdempotencyCrash(t, e.name, e.dsn(t)) })
	}
}

func runIdempotencyCrash(t *testing.T, engineName, dsn string) {
	gw := gatewayproc.Start(t, gatewayproc.Options{Binary: gatewayBinary, Database: dsn, Dir: t.TempDir(), SeparateSandbox: true,
		Extra: []string{"--idempotency-lease", idemLease.String()}})
	avataFaults := "http://" + gw.Addrs.Avata + "/_sandbox/faults"
	if code := plainRequest(t, http.MethodPost, avataFaults, `{"latency_ms":8000}`, nil); code/100 != 2 {
		t.Fatalf("set Avata latency: HTTP %d", code)
	}
	const key = "sigkill-quote-1"
	quote := func(client *http.Client) (int, string, error) {
		req, _ := http.NewRequest(http.MethodPost, gw.Addrs.HTTPURL()+"/v1/quotes", strings.NewReader(validQuote))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+gatewayproc.APIKey)
		req.Header.Set("Idempotency-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	inFlight := make(chan error, 1)
	go func() { // owned by this test: ends when the kill below cuts its connection
		_, _, err := quote(&http.Client{Timeout: time.Minute})
		inFlight <- err
	}()
	digest := sha256.Sum256([]byte(gatewayproc.APIKey))
	principal := "key:" + hex.EncodeToString(digest[:6])
	waitUntil(t, 30*time.Second, func() bool {
		rec, err := readKey(dsn, principal, key)
		return err == nil && rec.State == domain.IdempotencyInProgress
	})
	if err := gw.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-inFlight; err == nil {
		t.Fatal("the in-flight request was answered although the gateway was killed")
	}
	if rec, err := readKey(dsn, principal, key); err != nil || rec.State != domain.IdempotencyInProgress {
		t.Fatalf("key after the kill: %+v, %v (want it left IN_PROGRESS)", rec, err)
	}
	if code := plainRequest(t, http.MethodDelete, avataFaults, "", nil); code/100 != 2 {
		t.Fatalf("clear Avata faults: HTTP %d", code)
	}
	if err := gw.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	client := &http.Client{Timeout: 30 * time.Second}
	inUse := 0
	var body string
	for {
		code, b, err := quote(client)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if code == http.StatusOK {
			body = b
			break
		}
		if code != http.StatusConflict || !strings.Contains(b, "IDEMPOTENCY_KEY_IN_USE") {
			t.Fatalf("retry after the restart: HTTP %d %s, want 409 IN_USE or 200", code, b)
		}
		inUse++
		if time.Since(restarted) > 30*time.Second {
			t.Fatalf("the key is still in use %s after the restart (lease %s)", time.Since(restarted), idemLease)
		}
		time.Sleep(100 * time.Millisecond)
	}
	usable := time.Since(restarted)
	if code, b, err := quote(client); err != nil || code != http.StatusOK || b != body {
		t.Fatalf("replay: %d %s %v, want the first answer", code, b, err)
	}
	if rec, err := readKey(dsn, principal, key); err != nil || rec.State != domain.IdempotencyCompleted {
		t.Fatalf("key after the retry: %+v, %v", rec, err)
	}
	figures.Record(t, "idempotency-crash/"+engineName, "SIGKILLed request's key usable again after the restart",
		fmt.Sprintf("≤ lease (%s)", idemLease), "%s (%d retries answered 409 before)", usable.Round(10*time.Millisecond), inUse)
}

func readKey(dsn, principal, key string) (domain.IdempotencyRecord, error) {
	st, err := engine.Open(context.Background(), dsn, store.Options{SkipMigrate: true})
	if err != nil {
		return domain.IdempotencyRecord{}, err
	}
	defer st.Close()
	return st.GetIdempotency(context.Background(), principal, key)
}

func plainRequest(t *testing.T, method, url, body string, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func waitUntil(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached within %s", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
