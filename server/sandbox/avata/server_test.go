package avata

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	contract = "0x06012c8cf97BEaD5deAe237070F9587f8E7A266d"
	nftID    = "0xab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
	userKey  = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" // Hardhat #1
)

// fakeClock is the sandbox clock; tests move it to expire nonces and tokens.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

type harness struct {
	sb    *Server
	srv   *httptest.Server
	clock *fakeClock
	user  *ethsign.Wallet
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{clock: &fakeClock{}}
	cfg := DefaultConfig()
	cfg.PolicyAcceptDelay = 0
	cfg.ClaimSteps = nil
	cfg.CallbackBackoff = time.Millisecond
	cfg.Clock = h.clock.Now
	if mutate != nil {
		mutate(&cfg)
	}
	h.sb = New(cfg)
	h.srv = httptest.NewServer(h.sb.Handler())
	w, err := ethsign.NewWallet(userKey)
	if err != nil {
		t.Fatal(err)
	}
	h.user = w
	t.Cleanup(func() {
		h.srv.Close()
		h.sb.Close()
	})
	return h
}

type result struct {
	status int
	body   avata.ErrorBody
	raw    []byte
}

// do sends a request with the sandbox api key unless headers override it.
func (h *harness) do(t *testing.T, method, path, body string, headers map[string]string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", DefaultAPIKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, raw: raw}
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: error body %q is not {message,code}", method, path, raw)
		}
		if r.body.Message == "" || r.body.Code == "" {
			t.Fatalf("%s %s: error body %q lacks message or code", method, path, raw)
		}
	}
	return r
}

func (h *harness) decode(t *testing.T, r result, out any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if err := json.Unmarshal(r.raw, out); err != nil {
		t.Fatal(err)
	}
}

// policy creates an accepted NFT policy owned by the user wallet.
func (h *harness) policy(t *testing.T) string {
	t.Helper()
	var p avata.Proposal
	h.decode(t, h.do(t, "POST", avata.PathNFTProposal, `{"totalValue":10,"chain":"ETHEREUM","nftContractId":"`+contract+`","token":"ETH"}`, nil), &p)
	var c avata.Confirmation
	h.decode(t, h.do(t, "POST", avata.PathNFTConfirm, `{"proposal":{"id":"`+p.ID+`"},"purchase":{"totalValue":10.0,"chain":"ETHEREUM","nftContractId":"`+strings.ToLower(contract)+`","token":"ETH","target":"`+h.user.Address()+`"}}`, nil), &c)
	return c.ID
}

// signIn runs nonce → sign → token and returns the JWT.
func (h *harness) signIn(t *testing.T, w *ethsign.Wallet) string {
	t.Helper()
	var n avata.NonceResponse
	h.decode(t, h.do(t, "GET", avata.PathAuthNonce+"?chainId=1&publicKey="+strings.ToLower(w.Address()), "", nil), &n)
	sig, _ := w.SignMessage(n.Nonce)
	var tok avata.SignInResponse
	h.decode(t, h.do(t, "POST", avata.PathAuthToken, `{"signature":"`+sig+`","chainId":1,"publicKey":"`+w.Address()+`"}`, nil), &tok)
	return tok.AccessToken
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, nil)
	body := `{"uuid":"x"}`
	tests := []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"no api key", map[string]string{"x-api-key": ""}, 401},
		{"wrong api key", map[string]string{"x-api-key": "sandbox-avata-api-kez"}, 401},
		{"wrong brand", map[string]string{"X-Brand-Id": "other"}, 403},
		{"right brand", map[string]string{"X-Brand-Id": DefaultBrandID}, 404},
		{"no brand (optional)", nil, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.do(t, "POST", avata.PathPolicyDetails, body, tc.headers); r.status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", r.status, tc.status, r.raw)
			}
		})
	}
	if r := h.do(t, "GET", "/v1/nope", "", nil); r.status != 404 || r.body.Code != avata.CodeNotFound {
		t.Fatalf("unknown route: %d %s", r.status, r.raw)
	}
	// The journal shows the calls with the api key redacted.
	entries := h.sb.Kit().Requests()
	if len(entries) != len(tests)+1 {
		t.Fatalf("journal has %d entries", len(entries))
	}
	for _, e := range entries {
		if v, ok := e.Header["X-Api-Key"]; ok && v != "[redacted]" {
			t.Fatalf("journal leaks api key: %v", e.Header)
		}
	}
}

func TestBodyValidation(t *testing.T) {
	h := newHarness(t, nil)
	policy := h.policy(t)
	tests := []struct {
		name, path, body string
		headers          map[string]string
		status           int
		inMessage        string
	}{
		{"malformed JSON", avata.PathNFTProposal, `{"totalValue":`, nil, 400, "malformed"},
		{"trailing data", avata.PathNFTProposal, `{"totalValue":1} {}`, nil, 400, "trailing"},
		{"wrong type", avata.PathNFTProposal, `{"totalValue":1,"chain":5}`, nil, 400, "chain"},
		{"not JSON content type", avata.PathNFTProposal, `{}`, map[string]string{"Content-Type": "text/plain"}, 415, "application/json"},
		{"contract pattern", avata.PathNFTProposal, `{"totalValue":1,"chain":"ETHEREUM","nftContractId":"0xZZ","token":"ETH"}`, nil, 400, "nftContractId"},
		{"booking needs nftIds", avata.PathBookingProposal, `{"totalValue":1,"chain":"ETHEREUM","checkInDate":"2027-01-01","token":"ETH"}`, nil, 400, "nftIds"},
		{"booking date", avata.PathBookingProposal, `{"totalValue":1,"chain":"ETHEREUM","nftIds":[],"checkInDate":"01-01-2027","token":"ETH"}`, nil, 400, "checkInDate"},
		{"digital asset currency", avata.PathDigitalAssetProposal, `{"totalValue":1,"countryCode":"nl","currencyCode":"usd"}`, nil, 400, "currencyCode"},
		{"digital asset country required", avata.PathDigitalAssetProposal, `{"totalValue":1,"currencyCode":"eur"}`, nil, 400, "countryCode"},
		{"activate nft id pattern", avata.PathPolicyActivate, `{"policyUuid":"` + policy + `","chain":"ETHEREUM","nftIds":["0x12"],"walletAddress":"` + contract + `","token":"ETH"}`, nil, 400, "nftIds[0]"},
		{"activate chain mismatch", avata.PathPolicyActivate, `{"policyUuid":"` + policy + `","chain":"POLYGON","nftIds":["` + nftID + `"],"walletAddress":"` + contract + `","token":"ETH"}`, nil, 422, "chain"},
		{"activate unknown policy", avata.PathPolicyActivate, `{"policyUuid":"nope","chain":"ETHEREUM","nftIds":["` + nftID + `"],"walletAddress":"` + contract + `","token":"ETH"}`, nil, 404, "policy"},
		{"details needs uuid", avata.PathPolicyDetails, `{}`, nil, 400, "uuid"},
		{"kyc payload object", avata.PathKYC, `{"policyUuid":"` + policy + `","provider":"p","payload":[1]}`, nil, 400, "payload"},
		{"kyc unknown policy", avata.PathKYC, `{"policyUuid":"nope","provider":"p"}`, nil, 404, "policy"},
		{"too large", avata.PathNFTProposal, `{"x":"` + strings.Repeat("a", maxJSONBody) + `"}`, nil, 413, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, "POST", tc.path, tc.body, tc.headers)
			if r.status != tc.status || !strings.Contains(r.body.Message, tc.inMessage) {
				t.Fatalf("status %d body %s; want %d mentioning %q", r.status, r.raw, tc.status, tc.inMessage)
			}
		})
	}
	// None of the rejected requests changed the policy.
	if pol, _ := h.sb.Policy(policy); pol.Status != avata.PolicyAccepted || pol.PurchaseData.NFT.Asset.Owner != h.user.Address() {
		t.Fatalf("policy changed: %+v", pol)
	}
}

func TestSignIn(t *testing.T) {
	h := newHarness(t, nil)
	nonce := func(t *testing.T, chain string) string {
		var n avata.NonceResponse
		h.decode(t, h.do(t, "GET", avata.PathAuthNonce+"?chainId="+chain+"&publicKey="+h.user.Address(), "", nil), &n)
		return n.Nonce
	}
	token := func(sig, chain string) result {
		return h.do(t, "POST", avata.PathAuthToken, `{"signature":"`+sig+`","chainId":`+chain+`,"publicKey":"`+strings.ToLower(h.user.Address())+`"}`, nil)
	}
	for _, q := range []string{"?chainId=1", "?chainId=1&publicKey=0x12", "?chainId=0&publicKey=" + h.user.Address(), "?chainId=x&publicKey=" + h.user.Address()} {
		if r := h.do(t, "GET", avata.PathAuthNonce+q, "", nil); r.status != 400 {
			t.Errorf("nonce %s: status %d", q, r.status)
		}
	}

	n := nonce(t, "1")
	sig, _ := h.user.SignMessage(n)
	other, _ := ethsign.NewWallet(DefaultMerchantWalletKey)
	foreign, _ := other.SignMessage(n)
	if r := token(foreign, "1"); r.status != 401 {
		t.Fatalf("foreign signature: %d", r.status)
	}
	if r := token(sig, "137"); r.status != 401 {
		t.Fatalf("other chain: %d", r.status)
	}
	if r := token(sig, "1.5"); r.status != 400 {
		t.Fatalf("fractional chain id: %d", r.status)
	}
	var ok avata.SignInResponse
	h.decode(t, token(sig, "1"), &ok)
	if r := token(sig, "1"); r.status != 401 {
		t.Fatalf("replayed nonce: %d", r.status)
	}
	// The JWT opens wallet calls for its own wallet only.
	auth := map[string]string{"Authorization": "Bearer " + ok.AccessToken}
	if r := h.do(t, "POST", avata.PathPoliciesForWallet, `{"wallet":"`+h.user.Address()+`","chainId":1}`, auth); r.status != 200 {
		t.Fatalf("wallet call: %d %s", r.status, r.raw)
	}
	if r := h.do(t, "POST", avata.PathPoliciesForWallet, `{"wallet":"`+other.Address()+`","chainId":1}`, auth); r.status != 403 {
		t.Fatalf("other wallet: %d", r.status)
	}
	for name, hdr := range map[string]string{"missing": "", "not bearer": "Basic x", "tampered": "Bearer " + ok.AccessToken + "x"} {
		if r := h.do(t, "POST", avata.PathPoliciesForWallet, `{"wallet":"`+h.user.Address()+`","chainId":1}`, map[string]string{"Authorization": hdr}); r.status != 401 {
			t.Errorf("%s token: %d", name, r.status)
		}
	}

	// Nonces expire after 5 minutes, tokens after 15.
	n2 := nonce(t, "1")
	sig2, _ := h.user.SignMessage(n2)
	h.clock.Advance(DefaultNonceTTL + time.Second)
	if r := token(sig2, "1"); r.status != 401 {
		t.Fatalf("expired nonce: %d", r.status)
	}
	h.clock.Advance(DefaultTokenTTL)
	if r := h.do(t, "POST", avata.PathPoliciesForWallet, `{"wallet":"`+h.user.Address()+`","chainId":1}`, auth); r.status != 401 {
		t.Fatalf("expired token: %d", r.status)
	}
}

func TestUploadRules(t *testing.T) {
	h := newHarness(t, nil)
	policy := h.policy(t)
	auth := "Bearer " + h.signIn(t, h.user)
	form := func(fields map[string]string, files int) (string, string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, v := range fields {
			w.WriteField(k, v)
		}
		for i := range files {
			fw, _ := w.CreateFormFile("files", "f"+string(rune('a'+i))+".txt")
			fw.Write([]byte("content"))
		}
		w.Close()
		return buf.String(), w.FormDataContentType()
	}
	tests := []struct {
		name   string
		fields map[string]string
		files  int
		ct     string
		status int
	}{
		{"ok", map[string]string{"policyUuid": policy, "publicKey": h.user.Address()}, 2, "", 200},
		{"json instead of multipart", nil, 0, "application/json", 415},
		{"no files", map[string]string{"policyUuid": policy, "publicKey": h.user.Address()}, 0, "", 400},
		{"other wallet", map[string]string{"policyUuid": policy, "publicKey": DefaultMerchantWallet}, 1, "", 403},
		{"policy not a uuid", map[string]string{"policyUuid": "x", "publicKey": h.user.Address()}, 1, "", 400},
		{"unknown policy", map[string]string{"policyUuid": "0bc4470f-d4c3-4d35-b760-d2a4163c98fa", "publicKey": h.user.Address()}, 1, "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := form(tc.fields, tc.files)
			if tc.ct != "" {
				ct = tc.ct
			}
			r := h.do(t, "POST", avata.PathClaimUpload, body, map[string]string{"Authorization": auth, "Content-Type": ct})
			if r.status != tc.status {
				t.Fatalf("status %d (%s), want %d", r.status, r.raw, tc.status)
			}
			if tc.status == 200 {
				var up avata.UploadResponse
				h.decode(t, r, &up)
				if len(up.Keys) != tc.files {
					t.Fatalf("keys = %v", up.Keys)
				}
			}
		})
	}
}

// recorder is a fake gateway that fails the first n callbacks.
type recorder struct {
	srv      *httptest.Server
	failures atomic.Int32
	got      chan []byte
}

func newRecorder(t *testing.T, fail int32) *recorder {
	r := &recorder{got: make(chan []byte, 16)}
	r.failures.Store(fail)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		if req.URL.Path != CallbackPath || avata.VerifyCallbackSignature([]byte(DefaultCallbackSecret), raw, req.Header.Get(avata.CallbackSignatureHeader)) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.failures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		r.got <- raw
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func TestCallbackDelivery(t *testing.T) {
	tests := []struct {
		name      string
		fail      int32
		delivered bool
		attempts  int
	}{
		{"first attempt", 0, true, 1},
		{"after two 502", 2, true, 3},
		{"gives up after the bounded attempts", 100, false, DefaultCallbackAttempts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, tc.fail)
			h := newHarness(t, func(c *Config) { c.GatewayURL = rec.srv.URL })
			policy := h.policy(t)
			if tc.delivered {
				select {
				case raw := <-rec.got:
					cb, err := avata.ParseCallback(raw)
					if err != nil || cb.Policy.UUID != policy || cb.Policy.Status != avata.PolicyAccepted {
						t.Fatalf("callback %s: %v", raw, err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no callback")
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for len(h.sb.Deliveries()) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			d := h.sb.Deliveries()
			if len(d) != 1 || d[0].Delivered != tc.delivered || d[0].Attempts != tc.attempts || d[0].EventType != avata.EventPolicyUpdate {
				t.Fatalf("deliveries = %+v", d)
			}
			// GET /_sandbox/deliveries shows the same.
			var listed []Delivery
			h.decode(t, h.do(t, "GET", "/_sandbox/deliveries", "", nil), &listed)
			if len(listed) != 1 || listed[0].Attempts != tc.attempts {
				t.Fatalf("listed = %+v", listed)
			}
		})
	}
}

func TestControlEndpointsAndDelayedAccept(t *testing.T) {
	rec := newRecorder(t, 0)
	h := newHarness(t, func(c *Config) {
		c.GatewayURL = rec.srv.URL
		c.PolicyAcceptDelay = time.Hour // stays PENDING for the whole test
	})
	policy := h.policy(t)
	if pol, _ := h.sb.Policy(policy); pol.Status != avata.PolicyPending || pol.StartDateTime != "" {
		t.Fatalf("policy = %+v, want PENDING", pol)
	}
	for _, tc := range []struct {
		path, body string
		status     int
	}{
		{"/_sandbox/policies/" + policy + "/status", `{"status":"NOPE"}`, 400},
		{"/_sandbox/policies/unknown/status", `{"status":"REJECTED"}`, 404},
		{"/_sandbox/claims/unknown/status", `{"status":"APPROVED"}`, 404},
		{"/_sandbox/policies/" + policy + "/status", `{"status":"REJECTED"}`, 204},
	} {
		if r := h.do(t, "POST", tc.path, tc.body, nil); r.status != tc.status {
			t.Fatalf("%s %s: %d", tc.path, tc.body, r.status)
		}
	}
	select {
	case raw := <-rec.got:
		cb, _ := avata.ParseCallback(raw)
		if cb == nil || cb.Policy.Status != avata.PolicyRejected {
			t.Fatalf("callback %s", raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no callback")
	}
	var st avata.PolicyRequestStatus
	h.decode(t, h.do(t, "POST", avata.PathPolicyRequestStatus, `{"uuid":"`+policy+`"}`, nil), &st)
	if st.Body.Status != avata.PolicyRejected {
		t.Fatalf("status = %+v", st)
	}
	// Control calls are not journaled; API calls are.
	for _, e := range h.sb.Kit().Requests() {
		if strings.HasPrefix(e.Path, "/_sandbox/") {
			t.Fatalf("control call journaled: %+v", e)
		}
	}
	// Close stops the hour-long accept timer (goleak in TestMain proves it ended).
	h.sb.Close()
}

func TestPricingIsExact(t *testing.T) {
	tests := []struct{ total, want string }{
		{"1.123456789012345678", "0.02808641972530864195"},
		{"0.30000000000000004", "0.007500000000000001"},
		{"100", "2.5"},
		{"40", "1"},
		{"0.000000000000000001", "0.000000000000000000025"},
	}
	for _, tc := range tests {
		if got := price(tc.total, policyPercentage); got != tc.want {
			t.Errorf("price(%s) = %s, want %s", tc.total, got, tc.want)
		}
	}
}
