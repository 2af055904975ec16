package avata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/covergate/covergate/server/ethsign"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	contract = "0x06012c8cf97BEaD5deAe237070F9587f8E7A266d"
	market   = "0x7Be8076f4EA4A4AD08075C2508e481d6C946D12b"
	nftID    = "0xab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
	userKey  = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" // Hardhat #1
)

// fakeClock is the sandbox clock; tests move it to expire nonces and tokens.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// gatewayStub records the callbacks the sandbox sends.
type gatewayStub struct {
	mu        sync.Mutex
	bodies    [][]byte
	sigs      []string
	read      int // bodies handed out by next, in arrival order
	failFirst atomic.Int32
	arrived   chan struct{}
}

func (g *gatewayStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.failFirst.Add(-1) >= 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	b, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.bodies = append(g.bodies, b)
	g.sigs = append(g.sigs, r.Header.Get(CallbackSignatureHeader))
	g.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	g.arrived <- struct{}{}
}

// next waits for the next callback in arrival order; the bound only stops a broken test from hanging.
func (g *gatewayStub) next(t *testing.T) []byte {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no callback arrived")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.read++
	return g.bodies[g.read-1]
}

type harness struct {
	sb    *Server
	srv   *httptest.Server
	gw    *gatewayStub
	clock *fakeClock
	user  *ethsign.Wallet
}

// newHarness starts the sandbox on a random loopback port with a gateway stub.
func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{clock: &fakeClock{}, gw: &gatewayStub{arrived: make(chan struct{}, 64)}}
	gw := httptest.NewServer(h.gw)
	cfg := DefaultConfig()
	cfg.GatewayURL = gw.URL
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
		gw.Close()
	})
	return h
}

type result struct {
	status int
	header http.Header
	raw    []byte
}

func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.raw, err)
	}
	return m
}

// opts tunes one request.
type opts struct {
	token   string            // wallet JWT
	headers map[string]string // "" deletes
	noKey   bool
}

// call sends operation op the way the readings in force say (method, path,
// api-key header, body or query) with body as its documented fields.
func (h *harness) call(t *testing.T, op string, body any, o opts) result {
	t.Helper()
	rd := h.sb.Readings()
	route := RoutesFor(rd.Paths)[op]
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	target := h.srv.URL + route.Path
	var reader io.Reader = bytes.NewReader(raw)
	if route.Method == http.MethodGet && raw != nil {
		var fields map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil {
			t.Fatal(err)
		}
		q := url.Values{}
		for k, v := range fields {
			q.Set(k, fmt.Sprint(v))
		}
		target += "?" + q.Encode()
		reader = nil
	}
	req, err := http.NewRequestWithContext(t.Context(), route.Method, target, reader)
	if err != nil {
		t.Fatal(err)
	}
	if reader != nil && raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !o.noKey && !(rd.APIKeyHeader == HeaderAuthorization && o.token != "") {
		req.Header.Set(rd.APIKeyHeader, DefaultAPIKey)
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	for k, v := range o.headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return h.send(t, req)
}

func (h *harness) send(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, raw: raw}
}

// must calls op and insists on a 2xx answer, returning the decoded body.
func (h *harness) must(t *testing.T, op string, body any, o opts) map[string]any {
	t.Helper()
	r := h.call(t, op, body, o)
	if r.status < 200 || r.status > 299 {
		t.Fatalf("%s: status %d: %s", op, r.status, r.raw)
	}
	if len(r.raw) == 0 {
		return nil
	}
	return r.json(t)
}

// nftPolicy creates an accepted NFT policy whose NFT goes to owner.
func (h *harness) nftPolicy(t *testing.T, owner string) string {
	t.Helper()
	p := h.must(t, opNFTProposal, map[string]any{"totalValue": json.Number("10"), "chain": "ETHEREUM", "nftContractId": contract, "token": "ETH"}, opts{})
	c := h.must(t, opNFTConfirm, map[string]any{
		"proposal": map[string]any{"id": p["id"]},
		"purchase": map[string]any{"totalValue": json.Number("10.0"), "chain": "ETHEREUM", "nftContractId": strings.ToLower(contract),
			"token": "ETH", "target": owner, "nftTokenId": "42", "reference": "order-1", "metadata": map[string]any{"name": "Kitty #42", "image": "ipfs://kitty"}},
	}, opts{})
	return c["id"].(string)
}

// signIn runs nonce → sign → token and returns the JWT.
func (h *harness) signIn(t *testing.T, w *ethsign.Wallet) string {
	t.Helper()
	route := RoutesFor(h.sb.Readings().Paths)[opNonce]
	req, _ := http.NewRequestWithContext(t.Context(), route.Method, h.srv.URL+route.Path+"?chainId=1&publicKey="+strings.ToLower(w.Address()), nil)
	req.Header.Set(h.sb.Readings().APIKeyHeader, DefaultAPIKey)
	r := h.send(t, req)
	if r.status != http.StatusOK {
		t.Fatalf("nonce: %d %s", r.status, r.raw)
	}
	sig, err := w.SignMessage(r.json(t)["nonce"].(string))
	if err != nil {
		t.Fatal(err)
	}
	tok := h.must(t, opSignIn, map[string]any{"signature": sig, "chainId": 1, "publicKey": w.Address()}, opts{})
	return tok["accessToken"].(string)
}

// upload sends files as multipart and returns the answer.
func (h *harness) upload(t *testing.T, token, policyUUID, publicKey string, files map[string]string) result {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("policyUuid", policyUUID)
	mw.WriteField("publicKey", publicKey)
	for name, content := range files {
		fw, _ := mw.CreateFormFile("files", name)
		fw.Write([]byte(content))
	}
	mw.Close()
	rd := h.sb.Readings()
	route := RoutesFor(rd.Paths)[opClaimUpload]
	req, _ := http.NewRequestWithContext(t.Context(), route.Method, h.srv.URL+route.Path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if rd.APIKeyHeader != HeaderAuthorization {
		req.Header.Set(rd.APIKeyHeader, DefaultAPIKey)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return h.send(t, req)
}

// claim uploads one document and creates a claim on policyUUID.
func (h *harness) claim(t *testing.T, token, policyUUID string) result {
	t.Helper()
	up := h.upload(t, token, policyUUID, h.user.Address(), map[string]string{"report.pdf": "%PDF-1.7"})
	if up.status < 200 || up.status > 299 {
		t.Fatalf("upload: %d %s", up.status, up.raw)
	}
	key := up.json(t)["keys"].([]any)[0].(string)
	return h.call(t, opClaimCreate, map[string]any{
		"reason": "stolen", "policyUuid": policyUUID, "email": "ada@example.com",
		"files": []map[string]string{{"fileName": "report.pdf", "fileVersion": "1", "key": key}},
	}, opts{token: token})
}
