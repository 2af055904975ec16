// Package sandboxkit is the part every partner sandbox shares: a request journal
// (GET/DELETE /_sandbox/requests, like WireMock's) and fault injection (GET/POST/DELETE
// /_sandbox/faults: latency, error rate, fixed status, 429/503 with Retry-After, full
// outage for N seconds, fail-next-N) wrapped around the partner's own handler.
//
// Paths under /_sandbox/ are control endpoints: they are never journaled and never
// faulted, so tests can always mint tokens or read the journal during an outage.
package sandboxkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Control paths served by the kit itself.
const (
	ControlPrefix = "/_sandbox/"
	RequestsPath  = "/_sandbox/requests"
	FaultsPath    = "/_sandbox/faults"
)

// Defaults for Options.
const (
	DefaultJournalLimit     = 1000
	DefaultJournalBodyBytes = 64 << 10
	DefaultMaxBodyBytes     = 16 << 20
)

// Redacted replaces secret header values and form/JSON fields in the journal.
const Redacted = "[redacted]"

// defaultRedactedHeaders carry credentials or signatures in one of the partner protocols.
var defaultRedactedHeaders = [...]string{"Authorization", "X-Api-Key", "X-Signature", "X-Etvas-Signature", "X-Avata-Signature", "Cookie", "Set-Cookie", "Proxy-Authorization"}

// defaultRedactedFields are body fields that carry credentials (OAuth client auth).
var defaultRedactedFields = [...]string{"client_secret", "client_assertion", "password"}

// Options tunes a Kit. The zero value is usable.
type Options struct {
	JournalLimit int              // entries kept, oldest dropped first (default 1000)
	Redact       []string         // extra header names whose values are never journaled
	Clock        func() time.Time // journal timestamps and outage windows (default time.Now)
	Seed         int64            // seed for the error-rate dice (0 = random)

	// Additions beyond the fixed API.
	RedactFields     []string                // extra top-level JSON / form fields to redact in journaled bodies
	JournalBodyBytes int                     // body bytes kept per entry (default 64 KiB)
	MaxBodyBytes     int64                   // larger request bodies are refused with 413 (default 16 MiB)
	FaultBody        func(status int) []byte // body of injected faults (default {"message":"..."})
}

// Entry is one journaled request.
type Entry struct {
	Time   time.Time         `json:"time"`
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  string            `json:"query,omitempty"`
	Header map[string]string `json:"headers"`
	Body   string            `json:"body,omitempty"`
	Status int               `json:"status"`
}

// Faults is the JSON body of POST /_sandbox/faults. GET answers the same shape with the
// remaining fail_next count and outage seconds.
type Faults struct {
	LatencyMS     int      `json:"latency_ms,omitempty"`
	ErrorRate     float64  `json:"error_rate,omitempty"`          // 0..1 probability of answering Status
	Status        int      `json:"status,omitempty"`              // default 503
	RetryAfterSec int      `json:"retry_after_seconds,omitempty"` // sets Retry-After (use with status 429/503)
	OutageSeconds int      `json:"outage_seconds,omitempty"`      // refuse everything (503) for N seconds from now
	FailNext      int      `json:"fail_next,omitempty"`           // the next N requests fail with Status, then normal
	Paths         []string `json:"paths,omitempty"`               // restrict faults to these path prefixes (empty = all)
}

// Validate reports a fault set the kit cannot apply.
func (f Faults) Validate() error {
	switch {
	case f.LatencyMS < 0 || f.RetryAfterSec < 0 || f.OutageSeconds < 0 || f.FailNext < 0:
		return errors.New("latency_ms, retry_after_seconds, outage_seconds and fail_next must not be negative")
	case f.ErrorRate < 0 || f.ErrorRate > 1:
		return errors.New("error_rate must be between 0 and 1")
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return errors.New("status must be a 4xx or 5xx code")
	case f.LatencyMS > 10*60*1000:
		return errors.New("latency_ms must be at most 10 minutes")
	}
	for _, p := range f.Paths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("path prefix %q must start with /", p)
		}
	}
	return nil
}

// Kit holds one partner sandbox's journal and faults. Safe for concurrent use.
type Kit struct {
	partner string
	opts    Options
	headers map[string]bool // canonical header names to redact
	fields  map[string]bool

	mu          sync.Mutex
	journal     []*Entry
	faults      Faults
	failNext    int
	outageUntil time.Time
	rng         *rand.Rand
}

// New returns a Kit for partner (used in fault bodies and logs).
func New(partner string, opts Options) *Kit {
	if opts.JournalLimit <= 0 {
		opts.JournalLimit = DefaultJournalLimit
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.JournalBodyBytes <= 0 {
		opts.JournalBodyBytes = DefaultJournalBodyBytes
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	seed := uint64(opts.Seed)
	if opts.Seed == 0 {
		seed = rand.Uint64()
	}
	k := &Kit{
		partner: partner,
		opts:    opts,
		headers: map[string]bool{},
		fields:  map[string]bool{},
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	for _, h := range defaultRedactedHeaders {
		k.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, h := range opts.Redact {
		k.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, f := range defaultRedactedFields {
		k.fields[strings.ToLower(f)] = true
	}
	for _, f := range opts.RedactFields {
		k.fields[strings.ToLower(f)] = true
	}
	return k
}

// Partner returns the partner name given to New.
func (k *Kit) Partner() string { return k.partner }

// Requests returns a copy of the journal, oldest first.
func (k *Kit) Requests() []Entry {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]Entry, len(k.journal))
	for i, e := range k.journal {
		out[i] = *e
	}
	return out
}

// Reset empties the journal and clears the faults.
func (k *Kit) Reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.journal = nil
	k.faults, k.failNext, k.outageUntil = Faults{}, 0, time.Time{}
}

// ResetJournal empties the journal only.
func (k *Kit) ResetJournal() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.journal = nil
}

// SetFaults replaces the active faults; an OutageSeconds window starts now. Invalid
// values are clamped rather than rejected (the HTTP endpoint validates first).
func (k *Kit) SetFaults(f Faults) {
	f.LatencyMS = max(f.LatencyMS, 0)
	f.ErrorRate = min(max(f.ErrorRate, 0), 1)
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.faults = f
	k.failNext = max(f.FailNext, 0)
	k.outageUntil = time.Time{}
	if f.OutageSeconds > 0 {
		k.outageUntil = k.opts.Clock().Add(time.Duration(f.OutageSeconds) * time.Second)
	}
}

// Faults returns the active faults with the remaining fail_next count and outage seconds.
func (k *Kit) Faults() Faults {
	k.mu.Lock()
	defer k.mu.Unlock()
	f := k.faults
	f.FailNext = k.failNext
	f.OutageSeconds = 0
	if left := k.outageUntil.Sub(k.opts.Clock()); left > 0 {
		f.OutageSeconds = int((left + time.Second - 1) / time.Second)
	}
	return f
}

// Wrap serves the control endpoints and journals, faults and forwards everything else.
func (k *Kit) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == RequestsPath:
			k.serveRequests(w, r)
			return
		case r.URL.Path == FaultsPath:
			k.serveFaults(w, r)
			return
		case strings.HasPrefix(r.URL.Path, ControlPrefix):
			h.ServeHTTP(w, r) // the partner's own control endpoints: no journal, no faults
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, k.opts.MaxBodyBytes+1))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "could not read request body"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		entry := k.record(r, body)
		rec := &statusRecorder{ResponseWriter: w, kit: k, entry: entry}
		if int64(len(body)) > k.opts.MaxBodyBytes {
			writeJSON(rec, http.StatusRequestEntityTooLarge, map[string]string{"message": "request body too large"})
			return
		}
		if k.applyFaults(rec, r) {
			return
		}
		h.ServeHTTP(rec, r)
		if entry.Status == 0 {
			// The handler wrote nothing: net/http answers 200.
			k.setStatus(entry, http.StatusOK)
		}
	})
}

// record appends the journal entry before the handler runs, so the request is visible
// to a test as soon as the response (whose status is filled in at WriteHeader) is.
func (k *Kit) record(r *http.Request, body []byte) *Entry {
	e := &Entry{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.RawQuery,
		Header: k.redactHeaders(r.Header),
		Body:   k.redactBody(r.Header.Get("Content-Type"), body),
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e.Time = k.opts.Clock().UTC()
	k.journal = append(k.journal, e)
	if over := len(k.journal) - k.opts.JournalLimit; over > 0 {
		clear(k.journal[:over])
		k.journal = k.journal[over:]
	}
	return e
}

func (k *Kit) setStatus(e *Entry, status int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e.Status == 0 {
		e.Status = status
	}
}

func (k *Kit) redactHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for name, values := range h {
		if k.headers[http.CanonicalHeaderKey(name)] {
			out[name] = Redacted
			continue
		}
		out[name] = strings.Join(values, ", ")
	}
	return out
}

// redactBody bounds the journaled body and blanks credential fields of form and JSON
// object bodies.
func (k *Kit) redactBody(contentType string, body []byte) string {
	if len(body) == 0 {
		return ""
	}
	ct := strings.ToLower(contentType)
	switch {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		if form, err := url.ParseQuery(string(body)); err == nil {
			for key := range form {
				if k.fields[strings.ToLower(key)] {
					form[key] = []string{Redacted}
				}
			}
			body = []byte(form.Encode())
		}
	case strings.Contains(ct, "json"):
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil {
			changed := false
			for key := range obj {
				if k.fields[strings.ToLower(key)] {
					obj[key] = json.RawMessage(strconv.Quote(Redacted))
					changed = true
				}
			}
			if changed {
				if b, err := json.Marshal(obj); err == nil {
					body = b
				}
			}
		}
	}
	if len(body) > k.opts.JournalBodyBytes {
		return string(body[:k.opts.JournalBodyBytes]) + "…[truncated]"
	}
	return string(body)
}

// faultDecision is what applyFaults decided under the lock.
type faultDecision struct {
	latency    time.Duration
	status     int
	retryAfter int
}

func (k *Kit) decide(path string) faultDecision {
	k.mu.Lock()
	defer k.mu.Unlock()
	f := k.faults
	if !matchesPrefix(path, f.Paths) {
		return faultDecision{}
	}
	d := faultDecision{latency: time.Duration(f.LatencyMS) * time.Millisecond}
	status := f.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	switch {
	case !k.outageUntil.IsZero() && k.opts.Clock().Before(k.outageUntil):
		d.status = http.StatusServiceUnavailable
	case k.failNext > 0:
		k.failNext--
		d.status = status
	case f.ErrorRate > 0 && k.rng.Float64() < f.ErrorRate:
		d.status = status
	}
	if d.status != 0 {
		d.retryAfter = f.RetryAfterSec
	}
	return d
}

func matchesPrefix(path string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// applyFaults delays and/or answers the request; it reports whether it answered.
func (k *Kit) applyFaults(w http.ResponseWriter, r *http.Request) bool {
	d := k.decide(r.URL.Path)
	if d.latency > 0 {
		t := time.NewTimer(d.latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			// The client gave up; nobody reads this answer, but the journal shows it.
			w.WriteHeader(499)
			return true
		case <-t.C:
		}
	}
	if d.status == 0 {
		return false
	}
	if d.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(d.retryAfter))
	}
	body := []byte(fmt.Sprintf(`{"message":%q}`, fmt.Sprintf("sandbox %s: injected fault (%d)", k.partner, d.status)))
	if k.opts.FaultBody != nil {
		body = k.opts.FaultBody(d.status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(d.status)
	_, _ = w.Write(body)
	return true
}

func (k *Kit) serveRequests(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, k.Requests())
	case http.MethodDelete:
		k.ResetJournal()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use GET or DELETE"})
	}
}

func (k *Kit) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, k.Faults())
	case http.MethodPost:
		var f Faults
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "invalid faults JSON: " + err.Error()})
			return
		}
		if err := f.Validate(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		k.SetFaults(f)
		writeJSON(w, http.StatusOK, k.Faults())
	case http.MethodDelete:
		k.SetFaults(Faults{})
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use GET, POST or DELETE"})
	}
}

// statusRecorder fills the journal entry's status when the handler answers.
type statusRecorder struct {
	http.ResponseWriter
	kit   *Kit
	entry *Entry
}

func (s *statusRecorder) WriteHeader(status int) {
	s.kit.setStatus(s.entry, status)
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.kit.setStatus(s.entry, http.StatusOK)
	return s.ResponseWriter.Write(b)
}

// Flush keeps streaming/long-poll handlers working behind the wrapper.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// WriteJSON writes v as a JSON response; partner sandboxes use it for their answers.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"message":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
