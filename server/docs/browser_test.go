package docs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/covergate/covergate/gen/openapi"
	"github.com/covergate/covergate/server/docs"
)

// The browser test drives Debian's chromium. CI installs it (.ci/run); COVERGATE_CHROMIUM names
// another binary.
const chromiumEnv = "COVERGATE_CHROMIUM"

// browserTimeout bounds the whole browser session. The page renders in a few seconds; the margin
// is for a loaded CI machine, and only a hang ever reaches it.
const browserTimeout = 2 * time.Minute

// apiKey is what the test types into the Authorize dialog.
const apiKey = "cg_test_docs_key_5f0c2a"

// recordedCall is one request the fake API received.
type recordedCall struct {
	method, path, authorization string
}

// fakeAPI stands in for the gateway's /v1 routes: it records what the page sends and answers a
// malformed policy id the way the gateway does, with a 400 google.rpc.Status.
type fakeAPI struct {
	mu    sync.Mutex
	calls []recordedCall
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, recordedCall{r.Method, r.URL.Path, r.Header.Get("Authorization")})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"code":5,"message":"not found","details":[]}`))
}

// unknownPolicy is a well-formed policy id the fake API does not know (404).
const unknownPolicy = "0190a0a0-0000-7000-8000-000000000000"

func (f *fakeAPI) recorded() []recordedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// pageEvents collects, in the browser's order, what the page did that the test checks afterwards.
type pageEvents struct {
	mu         sync.Mutex
	requests   []string // every URL the page requested
	exceptions []string // uncaught exceptions
	logErrors  []string // browser log entries of level error (CSP violations land here too)
}

func (p *pageEvents) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		text := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			text += " " + ev.ExceptionDetails.Exception.Description
		}
		p.exceptions = append(p.exceptions, text)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			p.logErrors = append(p.logErrors, fmt.Sprintf("[%s] %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

func (p *pageEvents) snapshot() (requests, exceptions, logErrors []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests), slices.Clone(p.exceptions), slices.Clone(p.logErrors)
}

// cspProbe runs before any page script of each document and keeps its Content-Security-Policy
// violations, so the test proves the policy lets Swagger UI work. The browser log (source
// "security") reports the same violations for every document of the session, reloads included.
const cspProbe = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});`

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(chromiumEnv); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("chromium not found: the docs page test needs a headless browser. Install Debian's "+
		"chromium (apt-get install -y chromium; .ci/run does) or set %s to a Chromium binary", chromiumEnv)
	return ""
}

// specFacts reads from the served OpenAPI document what the page must show.
func specFacts(t *testing.T) (title string, operations int) {
	t.Helper()
	var doc struct {
		Info  struct{ Title string }    `json:"info"`
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openapi.V3, &doc); err != nil {
		t.Fatalf("decode openapi.V3: %v", err)
	}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	for _, item := range doc.Paths {
		for m := range item {
			if slices.Contains(methods, m) {
				operations++
			}
		}
	}
	if doc.Info.Title == "" || operations == 0 {
		t.Fatalf("openapi.V3 has title %q and %d operations: nothing to render", doc.Info.Title, operations)
	}
	return doc.Info.Title, operations
}

func TestDocsPageInChromium(t *testing.T) {
	// Runs last: Chromium, its pipe readers and the test server must all be gone.
	defer goleak.VerifyNone(t)
	browser := chromiumPath(t)
	title, operations := specFacts(t)

	api := &fakeAPI{}
	mux := http.NewServeMux()
	docsPage := docs.Handler()
	mux.Handle(docs.Path, docsPage)
	mux.Handle(docs.Path+"/", docsPage)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.V3)
	})
	mux.Handle("/v1/", api)
	srv := httptest.NewServer(mux) // listens on 127.0.0.1:0
	defer srv.Close()

	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root, where Chromium's sandbox cannot start
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1024),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc() // stops Chromium and waits for it
	events := &pageEvents{}
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(events.listen))
	defer cancelTab()

	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", browser, err)
	}
	if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatalf("install CSP probe: %v", err)
	}

	// Load /docs (the redirect to /docs/ included) and wait until every operation has rendered.
	if err := chromedp.Do(tab,
		chromedp.Navigate(srv.URL+docs.Path),
		chromedp.WaitVisible(chromedp.CSS("#swagger-ui .opblock")),
	); err != nil {
		t.Fatalf("load %s%s: %v", srv.URL, docs.Path, err)
	}
	// Wait until as many operations as the document has are on the page, then check the count is
	// exact.
	countOps := `document.querySelectorAll("#swagger-ui .opblock").length`
	run(tab, t, "wait for every operation", chromedp.Poll[chromedp.Void](
		fmt.Sprintf("%s >= %d", countOps, operations), chromedp.WithPollingTimeout(0)))
	rendered := run(tab, t, "count operations", chromedp.Evaluate[int](countOps))
	if rendered != operations {
		t.Errorf("page renders %d operations (.opblock), the OpenAPI document has %d", rendered, operations)
	}
	if rendered < 25 {
		t.Errorf("page renders %d operations, want at least 25", rendered)
	}
	shownTitle := run(tab, t, "read title", chromedp.Text(chromedp.CSS("#swagger-ui .info .title")))
	if !strings.Contains(shownTitle, title) {
		t.Errorf("page title %q does not contain the document's title %q", shownTitle, title)
	}
	location := run(tab, t, "read location", chromedp.Evaluate[string](`location.pathname`))
	if location != docs.Path+"/" {
		t.Errorf("after loading %s the page is at %s, want %s/", docs.Path, location, docs.Path)
	}

	shot := run(tab, t, "screenshot", chromedp.FullScreenshot(100)) // quality 100 means PNG
	cfg, err := png.DecodeConfig(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG (%d bytes): %v", len(shot), err)
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		t.Fatalf("screenshot is %dx%d", cfg.Width, cfg.Height)
	}
	shotPath := filepath.Join(t.TempDir(), "docs.png")
	if err := os.WriteFile(shotPath, shot, 0o600); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot %dx%d, %d bytes: %s", cfg.Width, cfg.Height, len(shot), shotPath)

	// Authorize with an API key through the dialog, as a frontend developer would.
	// The dialog lists every security scheme (the webhooks' too): act on the bearer one.
	const bearerForm = `//div[contains(concat(" ", normalize-space(@class), " "), " auth-container ")][.//h4//code[normalize-space()="bearerAuth"]]`
	for _, step := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"open the dialog", func(c context.Context) error {
			return chromedp.Do(c, chromedp.Click(chromedp.CSS("#swagger-ui .auth-wrapper button.authorize")))
		}},
		{"see the bearer field", func(c context.Context) error {
			return chromedp.Do(c, chromedp.WaitVisible(chromedp.Search(bearerForm+`//input[@aria-label="auth-bearer-value"]`)))
		}},
		{"type the key", func(c context.Context) error {
			return chromedp.Do(c, chromedp.SendKeys(chromedp.Search(bearerForm+`//input[@aria-label="auth-bearer-value"]`), apiKey))
		}},
		{"apply", func(c context.Context) error {
			return chromedp.Do(c, chromedp.Click(chromedp.Search(bearerForm+`//button[@aria-label="Apply credentials"]`)))
		}},
		{"see it applied", func(c context.Context) error {
			return chromedp.Do(c, chromedp.WaitVisible(chromedp.Search(bearerForm+`//button[@aria-label="Remove authorization"]`)))
		}},
		{"close the dialog", func(c context.Context) error {
			return chromedp.Do(c, chromedp.Click(chromedp.CSS(`.modal-ux button.btn-done`)))
		}},
		{"see the lock", func(c context.Context) error {
			return chromedp.Do(c, chromedp.WaitVisible(chromedp.CSS("#swagger-ui .auth-wrapper button.authorize.locked")))
		}},
	} {
		actx, cancel := context.WithTimeout(tab, 20*time.Second)
		err := step.do(actx)
		cancel()
		if err != nil {
			t.Fatalf("authorize through the dialog: %s: %v", step.name, err)
		}
	}

	// Reload on a deep link: the link must open the operation, and the key (persistAuthorization)
	// must survive the reload. Then call GET /v1/policies/{unknownPolicy} through "Try it out"
	// (a well-formed id: the page itself refuses one the contract's uuid format rejects).
	const op = "#operations-PolicyService-PolicyService_GetPolicy"
	const policyID = op + ` tr[data-param-name="policy_id"] input`
	if err := chromedp.Do(tab,
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/PolicyService/PolicyService_GetPolicy"`),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(policyID)),
	); err != nil {
		t.Fatalf("deep link /docs/#/PolicyService/PolicyService_GetPolicy did not open the operation: %v", err)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS("#swagger-ui .auth-wrapper button.authorize.locked"))); err != nil {
		t.Fatalf("the key was not restored after a reload (persistAuthorization): %v", err)
	}
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS(policyID), unknownPolicy)); err != nil {
		t.Fatalf("type the policy id: %v", err)
	}
	// A click that lands before Swagger UI has taken the typed value sends nothing (the UI flags
	// the field as missing instead). Click again only while the API has seen no call, so the
	// "exactly one call" check below stays meaningful; then give a sent call time to render.
	response := chromedp.CSS(op + " .live-responses-table .response .response-col_status")
	var execErr error
	for attempt := 0; attempt < 3; attempt++ {
		actx, cancel := context.WithTimeout(tab, 10*time.Second)
		execErr = chromedp.Do(actx, chromedp.Click(chromedp.CSS(op+" button.execute")), chromedp.WaitVisible(response))
		cancel()
		if execErr == nil || len(api.recorded()) > 0 {
			break
		}
	}
	if execErr != nil && len(api.recorded()) > 0 {
		execErr = chromedp.Do(tab, chromedp.WaitVisible(response))
	}
	if execErr != nil {
		t.Fatalf("execute GetPolicy through Try it out: %v", execErr)
	}
	status := run(tab, t, "read response status", chromedp.Text(chromedp.CSS(op+" .live-responses-table .response .response-col_status")))
	if strings.TrimSpace(status) != "404" {
		t.Errorf("Try it out shows status %q, want 404", status)
	}
	want := recordedCall{http.MethodGet, "/v1/policies/" + unknownPolicy, "Bearer " + apiKey}
	if calls := api.recorded(); len(calls) != 1 || calls[0] != want {
		t.Errorf("the API received %+v, want exactly %+v", calls, want)
	}
	// persistAuthorization keeps the key in this origin's localStorage.
	stored := run(tab, t, "read stored authorization", chromedp.Evaluate[string](`localStorage.getItem("authorized") || ""`))
	if !strings.Contains(stored, apiKey) {
		t.Errorf("localStorage authorized = %q, want it to keep the key", stored)
	}

	violations := run(tab, t, "read CSP violations", chromedp.Evaluate[[]string](`window.__cspViolations || ["CSP probe missing"]`))
	if len(violations) > 0 {
		t.Errorf("Content-Security-Policy violations: %q", violations)
	}
	requests, exceptions, logErrors := events.snapshot()
	for _, path := range []string{"/docs/", "/openapi.json", "/docs/assets/swagger-ui-bundle.js", "/v1/policies/" + unknownPolicy} {
		if !slices.ContainsFunc(requests, func(u string) bool { return strings.HasPrefix(u, srv.URL+path) }) {
			t.Errorf("the browser's network log lacks %s: %q", path, requests)
		}
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("page requested %s, outside the server: the docs must load nothing from elsewhere", u)
		}
	}
	if len(exceptions) > 0 {
		t.Errorf("uncaught exceptions in the page: %q", exceptions)
	}
	for _, e := range logErrors {
		// The browser logs the deliberate 404 as a failed resource; anything else is a fault.
		if strings.Contains(e, "status of 404") && strings.Contains(e, "/v1/policies/"+unknownPolicy) {
			continue
		}
		t.Errorf("browser logged an error: %s", e)
	}
}

// run runs one action that returns a value and fails the test on error.
func run[T any](ctx context.Context, t *testing.T, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}
