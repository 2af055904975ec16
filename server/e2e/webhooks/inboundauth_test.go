package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/sandbox"
	avatabox "github.com/covergate/covergate/server/sandbox/avata"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	scalepointbox "github.com/covergate/covergate/server/sandbox/scalepoint"
	"github.com/covergate/covergate/server/store"
)

// Inbound authentication (issue 12 §2, issue 14 §1): every partner's extra requirement can be
// switched off, and then state changes are still verified (signature, verify-by-fetch, Etvas's
// verify-token, Scalepoint's authenticated long poll); header credentials are checked before
// the body is read.

// blockingBody sends a few bytes and then never ends until released: a gateway that read the
// body before checking the headers would never answer.
type blockingBody struct {
	once    sync.Once
	release chan struct{}
	started bool
}

func (b *blockingBody) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		return copy(p, `{"event":`), nil
	}
	<-b.release
	return 0, io.EOF
}

func (b *blockingBody) Close() error {
	b.once.Do(func() { close(b.release) })
	return nil
}

// postBlocking posts a body that never ends with header and returns the answer's status and
// body. The client timeout only keeps a broken gateway from hanging the test run.
func postBlocking(t *testing.T, s *apptest.Server, path string, header map[string]string) (int, []byte) {
	t.Helper()
	body := &blockingBody{release: make(chan struct{})}
	t.Cleanup(func() { _ = body.Close() })
	req, err := http.NewRequest(http.MethodPost, s.HTTPURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked: the gateway cannot know the size in advance
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s with a never-ending body: %v (the gateway waited for the body)", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestWebhookCredentialsCheckedBeforeBody: a caller without the header credentials gets its
// answer without the gateway reading the body — shown with a body that never ends.
func TestWebhookCredentialsCheckedBeforeBody(t *testing.T) {
	strict := apptest.Start(t)
	lenient := apptest.Start(t, func(cfg *app.Config) {
		cfg.Partners.EtvasPortalAPIKeyRequired = false
		cfg.Partners.AvataCallbackSignatureRequired = false
		cfg.Partners.ScalepointWebhookTokenRequired = false
		cfg.Partners.ScalepointPoll = true
	})
	tests := []struct {
		name   string
		s      *apptest.Server
		path   string
		header map[string]string
		want   int
		reason string
	}{
		{"etvas app, no x-api-key", strict, "/etvas/events", nil, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"etvas app, wrong x-api-key", strict, "/etvas/events", map[string]string{"x-api-key": "nope"}, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"etvas app, key but no signature", strict, "/etvas/events", map[string]string{"x-api-key": etvasbox.DefaultAPIKey}, 400, "WEBHOOK_SIGNATURE_MISSING"},
		{"etvas portal, no x-api-key", strict, "/etvas-events", nil, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"avata, no signature", strict, "/webhooks/avata", nil, 401, "WEBHOOK_SIGNATURE_MISSING"},
		{"scalepoint, no bearer", strict, "/webhooks/scalepoint", nil, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"scalepoint, wrong bearer", strict, "/webhooks/scalepoint", map[string]string{"Authorization": "Bearer nope"}, 401, "WEBHOOK_UNAUTHENTICATED"},
		// Switched off, a wrong credential is still refused and a missing signature still required.
		{"lenient etvas app, no x-api-key (documented: always required)", lenient, "/etvas/events", nil, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"lenient etvas portal, wrong x-api-key", lenient, "/etvas-events", map[string]string{"x-api-key": "nope"}, 401, "WEBHOOK_UNAUTHENTICATED"},
		{"lenient etvas portal, no key and no signature", lenient, "/etvas-events", nil, 400, "WEBHOOK_SIGNATURE_MISSING"},
		{"lenient scalepoint, wrong bearer", lenient, "/webhooks/scalepoint", map[string]string{"Authorization": "Bearer nope"}, 401, "WEBHOOK_UNAUTHENTICATED"},
		// A push without the token is left to the long poll: answered without reading it.
		{"lenient scalepoint, no bearer", lenient, "/webhooks/scalepoint", nil, 202, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postBlocking(t, tc.s, tc.path, tc.header)
			if code != tc.want || !strings.Contains(string(body), tc.reason) {
				t.Fatalf("%d %s, want %d %s", code, body, tc.want, tc.reason)
			}
		})
	}
}

// liveGateway runs a gateway in live mode against standalone partner sandboxes that send no
// callbacks of their own, so the test alone decides what reaches the webhooks.
func liveGateway(t *testing.T, mutate func(*app.PartnersConfig)) (*apptest.Server, *sandbox.Sandbox) {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), sandbox.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sb.Close(ctx)
	})
	etvasURL, avataURL, scalepointURL := sb.URLs()
	s := apptest.Start(t, func(cfg *app.Config) {
		p := &cfg.Partners
		p.Mode = app.PartnersLive
		p.EtvasURL, p.EtvasAPIKey, p.EtvasEventSecret = etvasURL, etvasbox.DefaultAPIKey, ""
		p.AvataURL, p.AvataAPIKey, p.AvataBrandID = avataURL, avatabox.DefaultAPIKey, avatabox.DefaultBrandID
		p.AvataCallbackSecret, p.AvataMerchantKey = avatabox.DefaultCallbackSecret, avatabox.DefaultMerchantWalletKey
		p.ScalepointURL, p.ScalepointTokenURL = scalepointURL, scalepointURL+"/connect/token"
		p.ScalepointClientID, p.ScalepointClientSecret = scalepointbox.DefaultClientID, scalepointbox.DefaultClientSecret
		p.ScalepointTenant, p.ScalepointWebhookToken = scalepointbox.DefaultTenant, scalepointbox.DefaultWebhookToken
		if mutate != nil {
			mutate(p)
		}
	})
	return s, sb
}

// TestAvataCallbacksWithoutSignatureRequirement: with the X-Avata-Signature requirement off, a
// signed callback is applied, a wrongly signed one refused, and an unsigned one is only a hint —
// what Avata answers on the fetch decides, not what the callback claims.
func TestAvataCallbacksWithoutSignatureRequirement(t *testing.T) {
	s, sb := liveGateway(t, func(p *app.PartnersConfig) { p.AvataCallbackSignatureRequired = false })
	_, avataURL, _ := sb.URLs()
	c, err := avata.New(avata.Config{BaseURL: avataURL, APIKey: avatabox.DefaultAPIKey, BrandID: avatabox.DefaultBrandID,
		MerchantWalletKey: avatabox.DefaultMerchantWalletKey, ChainID: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	st := s.App.Store()
	accepted := func() domain.Policy {
		p := buyDigitalAssetAt(t, st, c)
		eventually(t, "Avata accepted the policy", func() (bool, string) {
			got, err := c.PolicyDetails(context.Background(), p.AvataPolicyUUID)
			if err != nil {
				return false, err.Error()
			}
			return got.Status == avata.PolicyAccepted, string(got.Status)
		})
		return p
	}
	callback := func(uuid, status string) string {
		return `{"eventType":"policy-update","body":{"status":"` + status + `","uuid":"` + uuid + `"}}`
	}

	t.Run("unsigned: the fetch decides", func(t *testing.T) {
		p := accepted()
		// The callback claims REJECTED; Avata says ACCEPTED: the policy becomes ACTIVE.
		r := post(t, s, "/webhooks/avata", callback(p.AvataPolicyUUID, "REJECTED"), nil)
		if r.Code != http.StatusOK {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if got := policyStatus(t, st, p.ID); got != domain.PolicyActive {
			t.Fatalf("policy %s after an unsigned callback, want ACTIVE (Avata's answer)", got)
		}
	})
	t.Run("valid signature: applied", func(t *testing.T) {
		p := accepted()
		body := callback(p.AvataPolicyUUID, "ACCEPTED")
		r := post(t, s, "/webhooks/avata", body, avataHeaders(body))
		if r.Code != http.StatusOK || policyStatus(t, st, p.ID) != domain.PolicyActive {
			t.Fatalf("%d %s, policy %s", r.Code, r.Body, policyStatus(t, st, p.ID))
		}
	})
	t.Run("wrong signature: refused, nothing changes", func(t *testing.T) {
		p := accepted()
		before := countAll(t, st)
		r := post(t, s, "/webhooks/avata", callback(p.AvataPolicyUUID, "ACCEPTED"), map[string]string{avata.CallbackSignatureHeader: strings.Repeat("0", 64)})
		if r.Code != http.StatusForbidden || policyStatus(t, st, p.ID) != domain.PolicyPending || countAll(t, st) != before {
			t.Fatalf("%d %s, policy %s", r.Code, r.Body, policyStatus(t, st, p.ID))
		}
	})
}

// buyDigitalAssetAt confirms a digital-asset policy at Avata and records our PENDING policy.
func buyDigitalAssetAt(t *testing.T, st store.Store, c *avata.Client) domain.Policy {
	t.Helper()
	ctx := context.Background()
	prop, err := c.ProposeDigitalAsset(ctx, avata.DigitalAssetProposalRequest{TotalValue: json.Number("100"), CountryCode: "de", CurrencyCode: "eur"})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := c.ConfirmDigitalAsset(ctx, avata.DigitalAssetConfirmRequest{
		Proposal: avata.ProposalRef{ID: prop.ID},
		Purchase: avata.DigitalAssetPurchase{TotalValue: json.Number("100"), CurrencyCode: "eur", InvoiceID: "INV-" + prop.ID},
		Customer: avata.Customer{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com", CountryCode: "de"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var p domain.Policy
	err = st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		p, err = tx.CreatePolicy(ctx, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindDigitalAsset,
			Status: domain.PolicyPending, AvataPolicyUUID: conf.ID, StatusTime: time.Now().Add(-time.Second)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// portalUserCreate is the developer-portal document's User Created example with its own event id
// and token.
func portalUserCreate(eventID, token string) string {
	return `{"event":{"id":"` + eventID + `","type":"user.create","timestamp":` + jsonNumber(nowMillis(0)) + `},` +
		`"user":{"id":"52f3d719-a192-4153-a05c-2b6bcc26c839","partnerId":null,"auth":{"token":"` + token + `","expires":2086584376}},` +
		`"data":{"user":{"firstName":"john","lastName":"Doe","email":"john@doe.com"}}}`
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// mintEtvasToken asks the Etvas sandbox for a portal token (POST /_sandbox/tokens).
func mintEtvasToken(t *testing.T, etvasURL string) string {
	t.Helper()
	resp, err := http.Post(etvasURL+"/_sandbox/tokens", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("mint: %d %v", resp.StatusCode, err)
	}
	return out.Token
}

// TestEtvasPortalWithoutAPIKeyRequirement covers both ways a portal event without x-api-key is
// verified: the x-etvas-signature HMAC when an event secret is configured, else Etvas's
// verify-token on the event's user.auth.token. The App format keeps its documented x-api-key.
func TestEtvasPortalWithoutAPIKeyRequirement(t *testing.T) {
	t.Run("signature", func(t *testing.T) {
		s := apptest.Start(t, func(cfg *app.Config) { cfg.Partners.EtvasPortalAPIKeyRequired = false })
		body := portalUserCreate("0b6c5f6e-0000-4000-8000-000000000001", "not-checked-here")
		sig := etvas.SignWebhook([]byte(etvasbox.DefaultEventSecret), []byte(body))
		r := post(t, s, "/etvas-events", body, map[string]string{etvas.HeaderWebhookSignature: sig})
		if r.Code != http.StatusOK || path(decode(t, r), "data.user.partnerId") == nil {
			t.Fatalf("signed portal event without x-api-key: %d %s", r.Code, r.Body)
		}
		r = post(t, s, "/etvas-events", portalUserCreate("0b6c5f6e-0000-4000-8000-000000000002", "x"), map[string]string{etvas.HeaderWebhookSignature: sig})
		if r.Code != http.StatusForbidden {
			t.Fatalf("portal event with another body's signature: %d %s", r.Code, r.Body)
		}
	})
	t.Run("verify-token", func(t *testing.T) {
		s, sb := liveGateway(t, func(p *app.PartnersConfig) { p.EtvasPortalAPIKeyRequired = false })
		etvasURL, _, _ := sb.URLs()
		st := s.App.Store()
		before := countAll(t, st)
		r := post(t, s, "/etvas-events", portalUserCreate("0b6c5f6e-0000-4000-8000-000000000003", "forged-token"), nil)
		if r.Code != http.StatusUnauthorized || countAll(t, st) != before {
			t.Fatalf("portal event with a token Etvas does not know: %d %s", r.Code, r.Body)
		}
		r = post(t, s, "/etvas-events", portalUserCreate("0b6c5f6e-0000-4000-8000-000000000004", mintEtvasToken(t, etvasURL)), nil)
		if r.Code != http.StatusOK || path(decode(t, r), "data.user.partnerId") == nil {
			t.Fatalf("portal event with a genuine token: %d %s", r.Code, r.Body)
		}
		// With the key, no token check is needed; the App format still requires the key.
		r = post(t, s, "/etvas-events", portalUserCreate("0b6c5f6e-0000-4000-8000-000000000005", "forged-token"), map[string]string{etvas.HeaderAPIKey: etvasbox.DefaultAPIKey})
		if r.Code != http.StatusOK {
			t.Fatalf("portal event with x-api-key: %d %s", r.Code, r.Body)
		}
		r = post(t, s, "/etvas/events", `{"name":"product.suspended","payload":{"productId":"p","contextId":"c"}}`, nil)
		if r.Code != http.StatusUnauthorized {
			t.Fatalf("App event without x-api-key: %d %s", r.Code, r.Body)
		}
	})
}

// TestScalepointPushWithoutTokenRequirement: with the bearer requirement off, a push without it
// is acknowledged as deferred and applied only once the authenticated long poll brings it; a push
// with the token is applied at once; a wrong token is refused.
func TestScalepointPushWithoutTokenRequirement(t *testing.T) {
	s := apptest.Start(t, func(cfg *app.Config) {
		cfg.Partners.ScalepointWebhookTokenRequired = false
		cfg.Partners.ScalepointPoll = true
	})
	st := s.App.Store()
	sb := s.App.Sandbox().Scalepoint
	ev, err := sb.Enqueue(scalepointbox.EnqueueRequest{Attributes: json.RawMessage(`{"eventType":"case_settled"}`)})
	if err != nil {
		t.Fatal(err)
	}
	pushed, _ := json.Marshal(ev)
	r := post(t, s, "/webhooks/scalepoint", string(pushed), nil)
	if r.Code != http.StatusAccepted || str(decode(t, r), "status") != "deferred" {
		t.Fatalf("push without token: %d %s", r.Code, r.Body)
	}
	eventually(t, "the polled event recorded", func() (bool, string) {
		_, ok := inboxRecord(t, st, "id:"+ev.ID)
		return ok, "not yet"
	})
	// A forged push (an event Scalepoint never had) without the token changes nothing.
	before := countAll(t, st)
	r = post(t, s, "/webhooks/scalepoint", `{"id":"_999999","type":"case_settled","attributes":{"eventType":"case_settled"}}`, nil)
	if r.Code != http.StatusAccepted || countAll(t, st) != before {
		t.Fatalf("forged push: %d %s", r.Code, r.Body)
	}
	if _, ok := inboxRecord(t, st, "id:_999999"); ok {
		t.Fatal("a forged push without the token was applied")
	}
	r = post(t, s, "/webhooks/scalepoint", `{"id":"_1000000","type":"case_settled","attributes":{"eventType":"case_settled"}}`, scalepointHeaders())
	if r.Code != http.StatusOK || str(decode(t, r), "status") != "processed" {
		t.Fatalf("push with the token: %d %s", r.Code, r.Body)
	}
	r = post(t, s, "/webhooks/scalepoint", `{"id":"_1000001","type":"case_settled","attributes":{"eventType":"case_settled"}}`, map[string]string{"Authorization": "Bearer nope"})
	if r.Code != http.StatusUnauthorized {
		t.Fatalf("push with a wrong token: %d %s", r.Code, r.Body)
	}
}

// TestUnverifiableConfigurationsRefused: a configuration that would leave a partner without a way
// to verify its calls does not start, and says why.
func TestUnverifiableConfigurationsRefused(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*app.PartnersConfig)
		want   string
	}{
		{"scalepoint token off without the long poll", func(p *app.PartnersConfig) {
			p.ScalepointWebhookTokenRequired = false
		}, "scalepoint-poll"},
		{"avata signature required without a secret (live)", func(p *app.PartnersConfig) {
			p.Mode, p.EtvasAPIKey, p.AvataURL, p.AvataAPIKey = app.PartnersLive, "k", "https://avata.example", "k"
			p.ScalepointURL, p.ScalepointTokenURL, p.ScalepointClientID, p.ScalepointClientSecret = "https://sp.example", "https://sp.example/t", "c", "s"
			p.ScalepointTenant, p.ScalepointWebhookToken = "t", "tok"
		}, "avata-callback-secret"},
		{"scalepoint token required without a token (live)", func(p *app.PartnersConfig) {
			p.Mode, p.EtvasAPIKey, p.AvataURL, p.AvataAPIKey, p.AvataCallbackSecret = app.PartnersLive, "k", "https://avata.example", "k", "s"
			p.ScalepointURL, p.ScalepointTokenURL, p.ScalepointClientID, p.ScalepointClientSecret = "https://sp.example", "https://sp.example/t", "c", "s"
			p.ScalepointTenant = "t"
		}, "scalepoint-webhook-token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := app.Defaults()
			cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
			cfg.Database = "sqlite:" + t.TempDir() + "/c.db"
			tc.mutate(&cfg.Partners)
			ctx, cancel := context.WithCancel(context.Background())
			a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				cancel()
				_ = a.Run(ctx) // stops at once: ctx is done
				t.Fatal("started")
			}
			cancel()
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
		})
	}
}
