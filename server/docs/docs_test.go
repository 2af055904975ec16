package docs

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	h := Handler()
	mux.Handle(Path, h)
	mux.Handle(Path+"/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// noRedirect returns redirects to the test instead of following them.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func fetch(t *testing.T, method, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// An explicit Accept-Encoding stops the client from decompressing, so the test sees the wire.
	if req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "identity")
	}
	client := &http.Client{CheckRedirect: noRedirect}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, body
}

func embeddedFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(embedded, name)
	if err != nil {
		t.Fatalf("read embedded %s: %v", name, err)
	}
	return b
}

func assetURL(t *testing.T, srv *httptest.Server, name string) string {
	t.Helper()
	a, ok := mustHandler(t).assets[Path+"/"+name]
	if !ok {
		t.Fatalf("asset %s is not served", name)
	}
	return srv.URL + Path + "/" + name + "?v=" + a.hash
}

func mustHandler(t *testing.T) *handler {
	t.Helper()
	h, err := newHandler(embedded)
	if err != nil {
		t.Fatalf("newHandler: %v", err)
	}
	return h
}

func TestHandlerResponses(t *testing.T) {
	srv := newServer(t)
	bundle := embeddedFile(t, "assets/swagger-ui-bundle.js")
	tests := []struct {
		name         string
		method, url  string
		header       http.Header
		status       int
		contentType  string
		cacheControl string
		location     string
		encoding     string
		body         []byte // exact body after decoding, when set
		bodyContains string
	}{
		{name: "bare path redirects", method: "GET", url: srv.URL + "/docs",
			status: http.StatusMovedPermanently, location: "/docs/"},
		{name: "redirect keeps the query", method: "GET", url: srv.URL + "/docs?x=1",
			status: http.StatusMovedPermanently, location: "/docs/?x=1"},
		{name: "index", method: "GET", url: srv.URL + "/docs/", status: http.StatusOK,
			contentType: "text/html; charset=utf-8", cacheControl: "no-cache",
			bodyContains: `<script src="/docs/assets/swagger-ui-bundle.js?v=`},
		{name: "HEAD index", method: "HEAD", url: srv.URL + "/docs/", status: http.StatusOK,
			contentType: "text/html; charset=utf-8", body: []byte{}},
		{name: "versioned asset is immutable", method: "GET", url: assetURL(t, srv, "assets/swagger-ui-bundle.js"),
			status: http.StatusOK, contentType: "text/javascript; charset=utf-8",
			cacheControl: "public, max-age=31536000, immutable", body: bundle},
		{name: "unversioned asset is revalidated", method: "GET", url: srv.URL + "/docs/assets/swagger-ui-bundle.js",
			status: http.StatusOK, cacheControl: "no-cache", body: bundle},
		{name: "stale version is revalidated", method: "GET", url: srv.URL + "/docs/assets/swagger-ui-bundle.js?v=0123",
			status: http.StatusOK, cacheControl: "no-cache", body: bundle},
		{name: "gzip when accepted", method: "GET", url: assetURL(t, srv, "assets/swagger-ui-bundle.js"),
			header: http.Header{"Accept-Encoding": {"br, gzip;q=0.8"}}, status: http.StatusOK,
			encoding: "gzip", body: bundle},
		{name: "no gzip when refused", method: "GET", url: assetURL(t, srv, "assets/swagger-ui-bundle.js"),
			header: http.Header{"Accept-Encoding": {"gzip;q=0, br"}}, status: http.StatusOK, body: bundle},
		{name: "css", method: "GET", url: assetURL(t, srv, "assets/swagger-ui.css"), status: http.StatusOK,
			contentType: "text/css; charset=utf-8", body: embeddedFile(t, "assets/swagger-ui.css")},
		{name: "png", method: "GET", url: assetURL(t, srv, "assets/favicon-32x32.png"), status: http.StatusOK,
			contentType: "image/png", body: embeddedFile(t, "assets/favicon-32x32.png")},
		{name: "initializer", method: "GET", url: assetURL(t, srv, "swagger-initializer.js"), status: http.StatusOK,
			contentType: "text/javascript; charset=utf-8", bodyContains: `url: "/openapi.json"`},
		{name: "licence", method: "GET", url: srv.URL + "/docs/assets/LICENSE", status: http.StatusOK,
			contentType: "text/plain; charset=utf-8", bodyContains: "Apache License"},
		{name: "unknown asset", method: "GET", url: srv.URL + "/docs/assets/swagger-ui-bundle.js.map",
			status: http.StatusNotFound},
		{name: "our sources are not served", method: "GET", url: srv.URL + "/docs/ui/index.html",
			status: http.StatusNotFound},
		{name: "traversal", method: "GET", url: srv.URL + "/docs/assets/%2e%2e/docs.go",
			status: http.StatusNotFound},
		{name: "POST refused", method: "POST", url: srv.URL + "/docs/", status: http.StatusMethodNotAllowed},
		{name: "DELETE refused", method: "DELETE", url: srv.URL + "/docs/assets/swagger-ui.css",
			status: http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := fetch(t, tc.method, tc.url, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %.200q)", resp.StatusCode, tc.status, body)
			}
			// Every answer, errors and redirects included, carries the security headers.
			if got := resp.Header.Get("Content-Security-Policy"); got != contentSecurityPolicy {
				t.Errorf("Content-Security-Policy %q, want %q", got, contentSecurityPolicy)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options %q, want DENY", got)
			}
			if resp.StatusCode == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q, want GET, HEAD", resp.Header.Get("Allow"))
			}
			if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.contentType)
			}
			if tc.cacheControl != "" && resp.Header.Get("Cache-Control") != tc.cacheControl {
				t.Errorf("Cache-Control %q, want %q", resp.Header.Get("Cache-Control"), tc.cacheControl)
			}
			if tc.location != "" && resp.Header.Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", resp.Header.Get("Location"), tc.location)
			}
			if got := resp.Header.Get("Content-Encoding"); got != tc.encoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.encoding)
			}
			if tc.encoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("gzip body: %v", err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("gunzip body: %v", err)
				}
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("body differs from the embedded file (%d bytes, want %d)", len(body), len(tc.body))
			}
			if tc.bodyContains != "" && !bytes.Contains(body, []byte(tc.bodyContains)) {
				t.Errorf("body does not contain %q", tc.bodyContains)
			}
		})
	}
}

func TestConditionalRequests(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, url, acceptEncoding string
	}{
		{"index", srv.URL + "/docs/", "identity"},
		{"asset", assetURL(t, srv, "assets/swagger-ui.css"), "identity"},
		{"gzipped asset", assetURL(t, srv, "assets/swagger-ui.css"), "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := http.Header{"Accept-Encoding": {tc.acceptEncoding}}
			first, _ := fetch(t, "GET", tc.url, enc)
			etag := first.Header.Get("ETag")
			if first.StatusCode != http.StatusOK || etag == "" {
				t.Fatalf("status %d, ETag %q: want 200 with an ETag", first.StatusCode, etag)
			}
			enc.Set("If-None-Match", etag)
			second, body := fetch(t, "GET", tc.url, enc)
			if second.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("revalidation: status %d with %d bytes, want 304 and no body", second.StatusCode, len(body))
			}
			enc.Set("If-None-Match", `"something-else"`)
			third, _ := fetch(t, "GET", tc.url, enc)
			if third.StatusCode != http.StatusOK {
				t.Errorf("changed ETag: status %d, want 200", third.StatusCode)
			}
		})
	}
	// The two encodings are different bytes, so they must not share a validator.
	plain, _ := fetch(t, "GET", assetURL(t, srv, "assets/swagger-ui.css"), http.Header{"Accept-Encoding": {"identity"}})
	zipped, _ := fetch(t, "GET", assetURL(t, srv, "assets/swagger-ui.css"), http.Header{"Accept-Encoding": {"gzip"}})
	if plain.Header.Get("ETag") == zipped.Header.Get("ETag") {
		t.Errorf("identity and gzip share ETag %s", plain.Header.Get("ETag"))
	}
	if zipped.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("Vary %q, want Accept-Encoding", zipped.Header.Get("Vary"))
	}
}

// TestIndexReferencesResolve loads every URL the page references and expects each to be served
// with the immutable cache policy its version allows.
func TestIndexReferencesResolve(t *testing.T) {
	srv := newServer(t)
	_, index := fetch(t, "GET", srv.URL+"/docs/", nil)
	refs := regexp.MustCompile(`(?:src|href)="(/docs/[^"]+)"`).FindAllSubmatch(index, -1)
	if len(refs) < 4 { // stylesheet, two icons, bundle, initializer
		t.Fatalf("index.html references %d files, want at least 4:\n%s", len(refs), index)
	}
	for _, ref := range refs {
		u := strings.ReplaceAll(string(ref[1]), "&amp;", "&")
		resp, body := fetch(t, "GET", srv.URL+u, nil)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: status %d, %d bytes", u, resp.StatusCode, len(body))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != cacheImmutable {
			t.Errorf("%s: Cache-Control %q, want %q", u, cc, cacheImmutable)
		}
	}
}

func TestNewHandlerRejectsBrokenFiles(t *testing.T) {
	good := func() fstest.MapFS {
		return fstest.MapFS{
			"assets/swagger-ui-bundle.js": {Data: []byte("bundle")},
			"ui/swagger-initializer.js":   {Data: []byte("init")},
			"ui/index.html":               {Data: []byte(`<script src="{{asset "assets/swagger-ui-bundle.js"}}"></script>`)},
		}
	}
	tests := []struct {
		name    string
		change  func(fstest.MapFS)
		wantErr string
	}{
		{"valid", func(fstest.MapFS) {}, ""},
		{"no assets", func(m fstest.MapFS) { delete(m, "assets/swagger-ui-bundle.js") }, "read vendored assets"},
		{"unknown file type", func(m fstest.MapFS) { m["assets/font.woff2"] = &fstest.MapFile{Data: []byte("x")} },
			`no content type known for "assets/font.woff2"`},
		{"no initializer", func(m fstest.MapFS) { delete(m, "ui/swagger-initializer.js") }, "read ui/swagger-initializer.js"},
		{"no index", func(m fstest.MapFS) { delete(m, "ui/index.html") }, "read index"},
		{"index references a missing file", func(m fstest.MapFS) {
			m["ui/index.html"] = &fstest.MapFile{Data: []byte(`<link href="{{asset "assets/missing.css"}}">`)}
		}, `references "assets/missing.css", which is not served`},
		{"index does not parse", func(m fstest.MapFS) {
			m["ui/index.html"] = &fstest.MapFile{Data: []byte(`{{asset`)}
		}, "parse index"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.change(m)
			_, err := newHandler(m)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("newHandler: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("newHandler error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"gzip, deflate, br, zstd"}, true},
		{[]string{"br", "gzip;q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;q=nonsense"}, false},
		{[]string{"identity"}, false},
		{[]string{"*"}, false},
		{[]string{"x-gzipped"}, false},
	}
	for _, tc := range tests {
		if got := acceptsGzip(tc.header); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// TestVendoredVersionMatchesScript keeps the committed files and the vendoring script in step: a
// hand-edited asset directory or a script bumped without re-running it fails here.
func TestVendoredVersionMatchesScript(t *testing.T) {
	script, err := os.ReadFile("../../tools/scripts/vendor-swagger-ui.sh")
	if err != nil {
		t.Fatalf("read vendoring script: %v", err)
	}
	pinned := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `="([^"]+)"$`).FindSubmatch(script)
		if m == nil {
			t.Fatalf("vendoring script has no %s", name)
		}
		return string(m[1])
	}
	want := "swagger-ui-dist " + pinned("PINNED_VERSION") + "\nintegrity " + pinned("PINNED_INTEGRITY") + "\n"
	if got := string(embeddedFile(t, "assets/VERSION")); got != want {
		t.Errorf("assets/VERSION is\n%s\nthe script pins\n%s", got, want)
	}
	files := regexp.MustCompile(`(?m)^FILES=\(([^)]*)\)$`).FindSubmatch(script)
	if files == nil {
		t.Fatal("vendoring script has no FILES list")
	}
	wantFiles := append(strings.Fields(string(files[1])), "VERSION")
	entries, err := fs.ReadDir(embedded, "assets")
	if err != nil {
		t.Fatalf("read assets: %v", err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(wantFiles)
	if !slices.Equal(got, wantFiles) {
		t.Errorf("assets/ holds %q, the script vendors %q", got, wantFiles)
	}
}

// BenchmarkServeBundle measures serving the 1.7 MB Swagger UI bundle, compressed (the cost of
// compressing is paid once per process, outside the loop) and not.
func BenchmarkServeBundle(b *testing.B) {
	h, err := newHandler(embedded)
	if err != nil {
		b.Fatalf("newHandler: %v", err)
	}
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/docs/assets/swagger-ui-bundle.js", nil)
			req.Header.Set("Accept-Encoding", enc)
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkNewHandler measures building the handler (reading and hashing the embedded files),
// which the gateway does once at start.
func BenchmarkNewHandler(b *testing.B) {
	for b.Loop() {
		if _, err := newHandler(embedded); err != nil {
			b.Fatalf("newHandler: %v", err)
		}
	}
}

// BenchmarkGzipBundle measures the one-time compression of the bundle on its first gzip request.
func BenchmarkGzipBundle(b *testing.B) {
	bundle, err := fs.ReadFile(embedded, "assets/swagger-ui-bundle.js")
	if err != nil {
		b.Fatalf("read bundle: %v", err)
	}
	for b.Loop() {
		if gzipBytes(bundle) == nil {
			b.Fatal("compression failed")
		}
	}
}
