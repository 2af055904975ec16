// Package docs serves the API documentation page for frontend teams at /docs: Swagger UI rendering
// the gateway's /openapi.json, with the bearer "Authorize" box and "Try it out".
//
// The Swagger UI build is vendored from the npm package swagger-ui-dist by
// tools/scripts/vendor-swagger-ui.sh (pinned version and integrity, recorded in assets/VERSION)
// and embedded in the binary: the page must work on networks that reach no CDN, and what the
// browser runs must be exactly what was reviewed.
package docs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Path is where the page lives; Handler serves Path and everything under Path + "/".
const Path = "/docs"

// contentSecurityPolicy confines the page to its own origin: scripts and styles only from files
// served here (no inline script: the initializer is a separate file), images from here or data:
// URIs (swagger-ui.css draws its icons as data: images), fetches (the OpenAPI document and "Try it
// out" calls) only to this origin. Swagger UI sets element styles through the CSSOM, which CSP
// does not govern, so style-src needs no 'unsafe-inline'; the browser test fails on any violation.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// Cache lifetimes. Asset URLs in index.html carry a hash of the content (?v=...), so a URL with
// the current hash names immutable bytes and may be cached for a year; the index and any other
// URL are revalidated on every use (cheap: ETag) so a deploy shows up at once.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
	versionParam    = "v"
	minGzipSize     = 1024
)

// contentType gives the type of each kind of file the page is made of. A vendored file of any
// other kind is refused when the handler is built, so nothing is ever served with a guessed type.
func contentType(ext string) (string, bool) {
	switch ext {
	case ".js":
		return "text/javascript; charset=utf-8", true
	case ".css":
		return "text/css; charset=utf-8", true
	case ".png":
		return "image/png", true
	case ".html":
		return "text/html; charset=utf-8", true
	case "": // LICENSE, NOTICE, VERSION
		return "text/plain; charset=utf-8", true
	}
	return "", false
}

//go:embed assets ui
var embedded embed.FS

// Handler serves GET and HEAD for:
//
//	/docs                         redirect to /docs/
//	/docs/                        the Swagger UI page, loading /openapi.json
//	/docs/swagger-initializer.js  the Swagger UI configuration
//	/docs/assets/*                the vendored swagger-ui-dist files
//
// Any other method gets 405, any other path under /docs/ 404. Build it once (it reads and hashes
// the embedded files) and mount it for both Path and Path+"/". The page's own requests
// (/openapi.json, "Try it out" calls to /v1/...) go to the same origin and must be served by the
// gateway, without authentication for the page itself.
func Handler() http.Handler {
	h, err := newHandler(embedded)
	if err != nil {
		// The files are compiled into the binary, so this is a broken build (the package tests
		// build the same handler), never a condition a running server can meet.
		panic(fmt.Sprintf("docs: %v", err))
	}
	return h
}

type handler struct {
	index  *asset
	assets map[string]*asset // by URL path, e.g. "/docs/assets/swagger-ui.css"
}

// asset is one file ready to serve.
type asset struct {
	body        []byte
	contentType string
	hash        string // hex SHA-256 prefix of body: ETag and ?v= value
	// gzipped returns the body compressed once, on first use; nil when compression does not pay.
	gzipped func() []byte
}

func newAsset(name string, body []byte) (*asset, error) {
	ct, ok := contentType(path.Ext(name))
	if !ok {
		return nil, fmt.Errorf("no content type known for %q", name)
	}
	sum := sha256.Sum256(body)
	a := &asset{body: body, contentType: ct, hash: hex.EncodeToString(sum[:8])}
	if strings.HasPrefix(ct, "text/") && len(body) >= minGzipSize {
		a.gzipped = sync.OnceValue(func() []byte { return gzipBytes(body) })
	}
	return a, nil
}

// gzipBytes compresses b, or returns nil (serve it uncompressed) if that fails, which writing to
// memory does not.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil
	}
	if _, err := zw.Write(b); err != nil {
		return nil
	}
	if err := zw.Close(); err != nil {
		return nil
	}
	return buf.Bytes()
}

func newHandler(fsys fs.FS) (*handler, error) {
	h := &handler{assets: make(map[string]*asset)}
	vendored, err := fs.ReadDir(fsys, "assets")
	if err != nil {
		return nil, fmt.Errorf("read vendored assets: %w", err)
	}
	for _, e := range vendored {
		if e.IsDir() {
			continue
		}
		if err := h.add(fsys, "assets/"+e.Name(), Path+"/assets/"+e.Name()); err != nil {
			return nil, err
		}
	}
	if err := h.add(fsys, "ui/swagger-initializer.js", Path+"/swagger-initializer.js"); err != nil {
		return nil, err
	}
	index, err := h.renderIndex(fsys)
	if err != nil {
		return nil, err
	}
	if h.index, err = newAsset("index.html", index); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *handler) add(fsys fs.FS, file, urlPath string) error {
	body, err := fs.ReadFile(fsys, file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	a, err := newAsset(file, body)
	if err != nil {
		return err
	}
	h.assets[urlPath] = a
	return nil
}

// renderIndex fills index.html's {{asset "name"}} references with versioned URLs, failing on a
// reference to a file that is not served so a typo cannot ship a page that loads nothing.
func (h *handler) renderIndex(fsys fs.FS) ([]byte, error) {
	src, err := fs.ReadFile(fsys, "ui/index.html")
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	tmpl, err := template.New("index").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			p := Path + "/" + name
			a, ok := h.assets[p]
			if !ok {
				return "", fmt.Errorf("index.html references %q, which is not served", name)
			}
			return p + "?" + versionParam + "=" + a.hash, nil
		},
	}).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parse index: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		return nil, fmt.Errorf("render index: %w", err)
	}
	return buf.Bytes(), nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the docs page is read-only", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case Path:
		target := Path + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	case Path + "/":
		serve(w, r, h.index, cacheRevalidate)
	default:
		a, ok := h.assets[r.URL.Path]
		if !ok {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		cache := cacheRevalidate
		if r.URL.Query().Get(versionParam) == a.hash {
			cache = cacheImmutable
		}
		serve(w, r, a, cache)
	}
}

// serve writes a with conditional-request and range support from http.ServeContent, gzipped when
// the client accepts it. Each encoding has its own ETag, as HTTP requires of distinct bytes.
func serve(w http.ResponseWriter, r *http.Request, a *asset, cacheControl string) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", cacheControl)
	body, etag := a.body, a.hash
	if a.gzipped != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			if gz := a.gzipped(); gz != nil {
				hdr.Set("Content-Encoding", "gzip")
				body, etag = gz, a.hash+"-gzip"
			}
		}
	}
	hdr.Set("ETag", strconv.Quote(etag))
	// No modification time: embedded files have none, and the ETag is the validator.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero quality. Only the explicit
// token counts: every browser sends it, and "*" alone is too rare to be worth the ambiguity.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(k, "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil {
						return false
					}
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}
