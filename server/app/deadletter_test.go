package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// fakeScalepoint is a Scalepoint EventApi that refuses every event (HTTP 400, a permanent
// refusal) until fixed, then accepts them. It records the correlationId of every accepted event.
type fakeScalepoint struct {
	fixed    atomic.Bool
	mu       sync.Mutex
	accepted []string
}

func (f *fakeScalepoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/connect/token" {
		_, _ = io.WriteString(w, `{"access_token":"t","token_type":"Bearer","expires_in":3600}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if !f.fixed.Load() {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"message":"payment.amount: unsupported currency"}`)
		return
	}
	var ev struct{ CorrelationID string }
	_ = json.Unmarshal(body, &ev)
	f.mu.Lock()
	f.accepted = append(f.accepted, ev.CorrelationID)
	n := len(f.accepted)
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"_id":%d}`, n)
}

func (f *fakeScalepoint) acceptedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.accepted...)
}

// TestDeadLetterWorkflow: publications Scalepoint refused for good are listed as FAILED with the
// partner's message, and once the cause is fixed they are sent again — one over REST, one over
// gRPC, the rest with `covergate publications retry --failed` against the database — with the
// same correlationId, and every retry is in the event log with its source.
func TestDeadLetterWorkflow(t *testing.T) {
	sp := &fakeScalepoint{}
	partner := httptest.NewServer(sp)
	defer partner.Close()
	dbPath := filepath.Join(t.TempDir(), "covergate.db")
	s := apptest.Start(t, func(c *app.Config) {
		c.Database = "sqlite:" + dbPath
		p := &c.Partners
		p.Mode = app.PartnersLive
		p.EtvasURL, p.EtvasAPIKey = "http://127.0.0.1:9", "etvas-key-unused"
		p.AvataURL, p.AvataAPIKey, p.AvataCallbackSecret = "http://127.0.0.1:9", "avata-key-unused", "callback-secret"
		p.AvataMerchantKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" // Hardhat #0, public
		p.ScalepointURL, p.ScalepointTokenURL = partner.URL, partner.URL+"/connect/token"
		p.ScalepointClientID, p.ScalepointClientSecret, p.ScalepointTenant = "id", "secret", "covergate"
		p.ScalepointWebhookToken = "webhook-token"
	})
	const n = 4
	correlation := map[string]string{} // publication id → correlation id
	for i := range n {
		r := s.JSON(t, http.MethodPost, "/v1/publications", apptest.AllKey,
			fmt.Sprintf(`{"eventType":"payment_status_updated","payload":{"payment":{"claimId":"c-%d","status":"PAID"}}}`, i))
		var out struct {
			Publication struct{ PublicationID, CorrelationID string }
		}
		if err := json.Unmarshal(r.Body, &out); r.Code != http.StatusOK || err != nil {
			t.Fatalf("publish: %d %s", r.Code, r.Body)
		}
		correlation[out.Publication.PublicationID] = out.Publication.CorrelationID
	}
	// The dead letters: listed with the partner's message.
	var failed []string
	waitFor(t, func() bool {
		failed = listFailed(t, s)
		return len(failed) == n
	})
	r := s.JSON(t, http.MethodGet, "/v1/publications?status=PUBLICATION_STATUS_FAILED", apptest.AllKey, "")
	if !strings.Contains(string(r.Body), "unsupported currency") {
		t.Fatalf("FAILED publications without the partner's message: %s", r.Body)
	}
	// A retry before the fix fails again; it is refused for a publication that is not FAILED.
	sp.fixed.Store(true)

	// REST.
	r = s.JSON(t, http.MethodPost, "/v1/publications/"+failed[0]+":retry", apptest.AllKey, "{}")
	if r.Code != http.StatusOK || !strings.Contains(string(r.Body), "PUBLICATION_STATUS_PENDING") {
		t.Fatalf("REST retry: %d %s", r.Code, r.Body)
	}
	// gRPC.
	events := insurancev1.NewEventServiceClient(s.Conn)
	resp, err := events.RetryPublication(apptest.WithToken(apptest.AllKey), &insurancev1.RetryPublicationRequest{PublicationId: failed[1]})
	if err != nil || resp.GetPublication().GetStatus() != insurancev1.PublicationStatus_PUBLICATION_STATUS_PENDING || resp.GetPublication().GetAttempts() != 0 {
		t.Fatalf("gRPC retry: %v, %v", resp, err)
	}
	waitFor(t, func() bool { return len(sp.acceptedIDs()) == 2 })
	// Not FAILED any more (delivered): refused on both transports.
	r = s.JSON(t, http.MethodPost, "/v1/publications/"+failed[0]+":retry", apptest.AllKey, "{}")
	if r.Code != http.StatusBadRequest || apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetReason() != apierror.Reason(insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE) {
		t.Fatalf("REST retry of a delivered publication: %d %s", r.Code, r.Body)
	}
	_, err = events.RetryPublication(apptest.WithToken(apptest.AllKey), &insurancev1.RetryPublicationRequest{PublicationId: failed[1]})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("gRPC retry of a delivered publication: %v", err)
	}
	r = s.JSON(t, http.MethodPost, "/v1/publications/0190a0a0-0000-7000-8000-000000000000:retry", apptest.AllKey, "{}")
	if r.Code != http.StatusNotFound {
		t.Fatalf("retry of an unknown publication: %d %s", r.Code, r.Body)
	}
	if r := s.JSON(t, http.MethodPost, "/v1/publications/"+failed[2]+":retry", apptest.ReaderKey, "{}"); r.Code != http.StatusForbidden {
		t.Fatalf("retry without publications.write: %d %s", r.Code, r.Body)
	}

	// The CLI, against the database of the running gateway.
	out := runCLI(t, "publications", "retry", "--failed", "--database", "sqlite:"+dbPath)
	if !strings.Contains(out, "2 publication(s) requeued, 0 skipped") {
		t.Fatalf("CLI output:\n%s", out)
	}
	waitFor(t, func() bool { return len(sp.acceptedIDs()) == n })
	if left := listFailed(t, s); len(left) != 0 {
		t.Fatalf("still FAILED after the retries: %v", left)
	}
	// Same correlation ids as first queued, each sent once after the fix.
	want := map[string]bool{}
	for _, c := range correlation {
		want[c] = true
	}
	for _, c := range sp.acceptedIDs() {
		if !want[c] {
			t.Fatalf("accepted correlationId %q was not one of the queued ones", c)
		}
		delete(want, c)
	}
	if len(want) != 0 {
		t.Fatalf("correlation ids never delivered: %v", want)
	}
	// Every retry is in the event log, with where it came from.
	p, err := s.App.Store().ListEvents(context.Background(), store.EventFilter{Types: []string{domain.EventPublicationRetried}, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	channels := map[string]int{}
	for _, e := range p.Items {
		var data struct {
			PublicationID string `json:"publication_id"`
			Channel       string `json:"source_channel"`
			Previous      int    `json:"previous_attempts"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil || correlation[data.PublicationID] == "" || data.Previous < 1 {
			t.Fatalf("retry event %s: %+v %v", e.Data, data, err)
		}
		channels[data.Channel]++
	}
	if channels["api"] != 2 || channels["cli"] != 2 || len(p.Items) != n {
		t.Fatalf("retry events by channel %v (%d events), want api 2, cli 2", channels, len(p.Items))
	}
}

func listFailed(t *testing.T, s *apptest.Server) []string {
	t.Helper()
	resp, err := insurancev1.NewEventServiceClient(s.Conn).ListPublications(apptest.WithToken(apptest.AllKey),
		&insurancev1.ListPublicationsRequest{Status: insurancev1.PublicationStatus_PUBLICATION_STATUS_FAILED})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range resp.GetPublications() {
		if p.GetLastError() == "" {
			t.Fatalf("FAILED publication %s without last_error", p.GetPublicationId())
		}
		ids = append(ids, p.GetPublicationId())
	}
	return ids
}

// runCLI runs `go run ./cmd/covergate args...` from the module root and returns its output.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "covergate")
	build := exec.Command("go", "build", "-o", bin, "github.com/covergate/covergate/cmd/covergate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build covergate: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("covergate %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}
