package webhooks

// Issue 12, "Done when": every documented example request of the partner documents, sent to a
// running gateway in the configuration it applies to, gets the documented response or a
// documented, tested reason why not. The examples are not copied here: they are read from the
// committed fixture directories (server/partners/*/testdata/documented) through their index
// files and sent byte for byte. An inbound example the index lists and this file does not handle
// fails the test, and so does a fixture file the index does not list.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/app"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/etvas"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/webhook"
)

const (
	etvasDocDir      = "../../partners/etvas/testdata/documented"
	avataDocDir      = "../../partners/avata/testdata/documented"
	scalepointDocDir = "../../partners/scalepoint/testdata/documented"

	// portalDocTimestamp is the developer-portal examples' event.timestamp: 19786584376 is
	// 2597 in seconds and 1970-08-19 in milliseconds — neither is a time near now.
	portalDocTimestamp = "19786584376"
)

// docExample is one inbound example of a partner document: a body a partner sends us.
type docExample struct {
	partner  domain.Partner
	id       string // fixture file (with "#data[i]" for a long-poll item); "" when none exists
	document string
	section  string
	event    string          // Etvas event name of the index
	body     []byte          // verbatim fixture bytes; nil when the document shows no body
	answer   []byte          // the document's answer to it (Etvas kind event-answer), if any
	item     json.RawMessage // Scalepoint: the long-poll item pushed as a webhook
}

// key names an example in the handled table below.
func (e docExample) key() string {
	if e.id == "" {
		return string(e.partner) + ": (no body) " + e.section
	}
	return string(e.partner) + ": " + e.id
}

type etvasIndex struct {
	Examples []struct {
		File     *string `json:"file"`
		Document string  `json:"document"`
		Section  string  `json:"section"`
		Kind     string  `json:"kind"`
		Path     string  `json:"path"`
		Event    string  `json:"event"`
		Status   int     `json:"status"`
	} `json:"examples"`
}

type scalepointIndex struct {
	Examples []struct {
		File     string `json:"file"`
		Document string `json:"document"`
		Section  string `json:"section"`
		Kind     string `json:"kind"`
		Path     string `json:"path"`
	} `json:"examples"`
}

func readFixture(t *testing.T, dir, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("fixture %s: %v", file, err)
	}
	return b
}

// checkAllIndexed fails when a fixture file under dir is not named by its index.
func checkAllIndexed(t *testing.T, dir string, indexed map[string]bool, indexFile string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel != indexFile && strings.HasSuffix(rel, ".json") && !indexed[rel] {
			t.Errorf("%s: fixture %s is not in %s", dir, rel, indexFile)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// documentedInbound loads every inbound example of the four documents from the fixture indexes.
func documentedInbound(t *testing.T) []docExample {
	t.Helper()
	var out []docExample

	// Etvas: every kind "event" of both documents, with the document's answer when it gives one.
	var ei etvasIndex
	if err := json.Unmarshal(readFixture(t, etvasDocDir, "index.json"), &ei); err != nil {
		t.Fatal(err)
	}
	indexed := map[string]bool{}
	answers := map[string][]byte{} // document + event → answer bytes
	for _, x := range ei.Examples {
		if x.File != nil {
			indexed[*x.File] = true
		}
		if x.Kind == "event-answer" {
			if x.File == nil || x.Status != http.StatusOK {
				t.Fatalf("etvas index: event-answer %s without a file or with status %d", x.Section, x.Status)
			}
			answers[x.Document+" "+x.Event] = readFixture(t, etvasDocDir, *x.File)
		}
	}
	for _, x := range ei.Examples {
		if x.Kind != "event" {
			continue
		}
		e := docExample{partner: domain.PartnerEtvas, document: x.Document, section: x.Section, event: x.Event,
			answer: answers[x.Document+" "+x.Event]}
		if x.File != nil {
			e.id, e.body = *x.File, readFixture(t, etvasDocDir, *x.File)
		}
		out = append(out, e)
	}
	checkAllIndexed(t, etvasDocDir, indexed, "index.json")

	// Avata: the INDEX.md table rows whose kind is "callback body".
	indexed = map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(readFixture(t, avataDocDir, "INDEX.md")))
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) != 5 || !strings.HasSuffix(strings.TrimSpace(cells[1]), ".json") {
			continue
		}
		file, section, kind := strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3])
		indexed[file] = true
		if strings.HasPrefix(kind, "callback") {
			out = append(out, docExample{partner: domain.PartnerAvata, id: file, document: "avata-api", section: section,
				body: readFixture(t, avataDocDir, file)})
		}
	}
	checkAllIndexed(t, avataDocDir, indexed, "INDEX.md")

	// Scalepoint: the events of the receive example's data[] (Scalepoint delivers these; pushed
	// as webhooks here) and the publish example's envelope (the shape a pushed event has).
	var si scalepointIndex
	if err := json.Unmarshal(readFixture(t, scalepointDocDir, "index.json"), &si); err != nil {
		t.Fatal(err)
	}
	indexed = map[string]bool{}
	for _, x := range si.Examples {
		indexed[x.File] = true
		body := readFixture(t, scalepointDocDir, x.File)
		switch {
		case x.Kind == "request" && strings.HasSuffix(x.Path, "/send"):
			out = append(out, docExample{partner: domain.PartnerScalepoint, id: x.File, document: x.Document, section: x.Section, body: body})
		case x.Kind == "response" && strings.Contains(x.Path, "/receive"):
			var page struct {
				Data []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(body, &page); err != nil || len(page.Data) == 0 {
				t.Fatalf("%s: no data[] (%v)", x.File, err)
			}
			for i, item := range page.Data {
				out = append(out, docExample{partner: domain.PartnerScalepoint, id: x.File + "#data[" + strconv.Itoa(i) + "]",
					document: x.Document, section: x.Section, item: item})
			}
		}
	}
	checkAllIndexed(t, scalepointDocDir, indexed, "index.json")
	return out
}

// handledDocExamples is every inbound example and, in words, how the gateway answers it; the
// README table "Documented examples and how the gateway answers them" says the same. The
// subtests below assert each answer.
var handledDocExamples = map[string]string{
	"etvas: portal/user-created.request.json":         "verbatim 400 WEBHOOK_TIMESTAMP_STALE; timestamp now: 200, documented answer",
	"etvas: portal/product-purchased.request.json":    "verbatim 400 WEBHOOK_TIMESTAMP_STALE; timestamp now: 200, documented answer (user.id echoes the request)",
	"etvas: portal/product-canceled.request.json":     "verbatim 400 WEBHOOK_TIMESTAMP_STALE; timestamp now: 200, documented answer",
	"etvas: portal/payment-failed.request.json":       "verbatim 400 WEBHOOK_TIMESTAMP_STALE; timestamp now: 200, documented answer (user.id echoes the request)",
	"etvas: portal/payment-resumed.request.json":      "verbatim 400 WEBHOOK_TIMESTAMP_STALE; timestamp now: 200, documented answer (user.id echoes the request)",
	"etvas: portal/user-profile-updated.request.json": "verbatim 400 WEBHOOK_TIMESTAMP_STALE; timestamp now: 200, documented answer",
	"etvas: (no body) Events > User Deleted":          "no example body in the document: nothing to send",
	"etvas: app/event-envelope.event.json":            "200 ignored (unknown name event.name, logged partner_event.unrecognized)",
	"etvas: app/product-purchased.event.json":         "200 processed, policy ACTIVE",
	"etvas: app/purchase-canceled.event.json":         "200 processed, policy CANCELED",
	"etvas: app/product-suspended.event.json":         "200 processed, inbox IGNORED (canceled is final)",
	"etvas: app/product-repurchased.event.json":       "200 processed, inbox IGNORED (canceled is final)",
	"etvas: app/user-deleted.event.json":              "200 processed, customer erased",
	"avata: callback-policy-update.json":              "404 PARTNER_NOT_FOUND (Avata does not know the policy), nothing recorded",
	"avata: callback-claim-update.json":               "404 PARTNER_NOT_FOUND (Avata does not know the policy), nothing recorded",
	"scalepoint: publish-request.json":                "200 processed (inbox key: hash of the envelope); with the token off and no bearer 202 deferred",
	"scalepoint: receive-response.json#data[0]":       "200 processed (inbox key id:_122047); with the token off and no bearer 202 deferred",
	"scalepoint: receive-response.json#data[1]":       "200 processed (inbox key id:_122048); with the token off and no bearer 202 deferred",
}

// TestDocumentedExamples sends every documented inbound example to a running gateway in each
// configuration it applies to.
func TestDocumentedExamples(t *testing.T) {
	all := documentedInbound(t)
	byPartner := map[domain.Partner][]docExample{}
	seen := map[string]bool{}
	for _, e := range all {
		if _, ok := handledDocExamples[e.key()]; !ok {
			t.Errorf("documented example %q (%s, %s) is not handled by this test", e.key(), e.document, e.section)
		}
		seen[e.key()] = true
		byPartner[e.partner] = append(byPartner[e.partner], e)
	}
	for k := range handledDocExamples {
		if !seen[k] {
			t.Errorf("handled example %q is no longer in the fixtures", k)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	var portal, appEvents []docExample
	for _, e := range byPartner[domain.PartnerEtvas] {
		switch e.document {
		case "developer-portal":
			portal = append(portal, e)
		case "app":
			appEvents = append(appEvents, e)
		default:
			t.Fatalf("etvas example %s of unknown document %q", e.key(), e.document)
		}
	}

	signed := func(body []byte) map[string]string {
		return map[string]string{etvas.HeaderWebhookSignature: etvas.SignWebhook([]byte(etvasbox.DefaultEventSecret), body)}
	}
	// With the event secret (the sandbox's), the signature carries the timestamp check: the
	// documented 19786584376 is refused as stale, the same event at now gets the documented answer.
	stale := portalConfig{verbatimCode: http.StatusBadRequest, verbatimReason: "ERROR_REASON_WEBHOOK_TIMESTAMP_STALE"}
	t.Run("etvas portal, x-api-key required, signed", func(t *testing.T) {
		cfg := stale
		cfg.headers = func(body []byte) map[string]string { return etvasHeaders(string(body)) }
		documentedPortal(t, apptest.Start(t), portal, cfg)
	})
	t.Run("etvas portal, x-api-key not required, signed without key", func(t *testing.T) {
		cfg := stale
		cfg.headers = signed
		documentedPortal(t, apptest.Start(t, func(cfg *app.Config) { cfg.Partners.EtvasPortalAPIKeyRequired = false }), portal, cfg)
	})
	// Without an event secret there is no signature, and the timestamp is not checked (README:
	// the window applies with --etvas-event-secret): with the key the verbatim examples get the
	// documented answer.
	t.Run("etvas portal, x-api-key required, no event secret", func(t *testing.T) {
		s, _ := liveGateway(t, nil)
		documentedPortal(t, s, portal, portalConfig{nowCode: -1,
			headers: func([]byte) map[string]string { return map[string]string{etvas.HeaderAPIKey: etvasbox.DefaultAPIKey} }})
	})
	// Neither key nor secret: the event is verified by Etvas's verify-token on user.auth.token;
	// the document's token 378aee42-… is not one Etvas (the sandbox) issued: 401, nothing stored.
	t.Run("etvas portal, x-api-key not required, no event secret (verify-token)", func(t *testing.T) {
		s, _ := liveGateway(t, func(p *app.PartnersConfig) { p.EtvasPortalAPIKeyRequired = false })
		documentedPortal(t, s, portal, portalConfig{headers: func([]byte) map[string]string { return nil },
			verbatimCode: http.StatusUnauthorized, verbatimReason: "ERROR_REASON_WEBHOOK_UNAUTHENTICATED",
			nowCode: http.StatusUnauthorized, nowReason: "ERROR_REASON_WEBHOOK_UNAUTHENTICATED"})
	})
	t.Run("etvas app", func(t *testing.T) { documentedApp(t, appEvents) })
	t.Run("avata, signed callbacks", func(t *testing.T) {
		documentedAvata(t, apptest.Start(t), byPartner[domain.PartnerAvata], true)
	})
	t.Run("avata, signature not required, unsigned (verify by fetch)", func(t *testing.T) {
		s := apptest.Start(t, func(cfg *app.Config) { cfg.Partners.AvataCallbackSignatureRequired = false })
		documentedAvata(t, s, byPartner[domain.PartnerAvata], false)
	})
	t.Run("scalepoint, bearer token", func(t *testing.T) {
		documentedScalepoint(t, apptest.Start(t), byPartner[domain.PartnerScalepoint], true)
	})
	t.Run("scalepoint, token not required, no bearer (long poll fetches)", func(t *testing.T) {
		s := apptest.Start(t, func(cfg *app.Config) {
			cfg.Partners.ScalepointWebhookTokenRequired = false
			cfg.Partners.ScalepointPoll = true
		})
		documentedScalepoint(t, s, byPartner[domain.PartnerScalepoint], false)
	})
}

// wantRefused asserts an error answer with its status and ErrorInfo reason, and that the store
// did not change.
func wantRefused(t *testing.T, s *apptest.Server, what string, r apptest.Result, code int, reason string, before counts) {
	t.Helper()
	if r.Code != code {
		t.Errorf("%s: %d %s, want %d %s", what, r.Code, r.Body, code, reason)
		return
	}
	if got := apptest.ErrorInfo(t, apptest.RESTStatus(t, r)).GetReason(); got != reason {
		t.Errorf("%s: reason %s, want %s", what, got, reason)
	}
	if after := countAll(t, s.App.Store()); after != before {
		t.Errorf("%s: refused, yet the store changed: %+v → %+v", what, before, after)
	}
}

// portalAnswerEchoesRequest lists the fields where a documented portal answer contradicts its
// own request (the document's answers name another user than the event); the gateway answers
// with the request's value there, as the document's other examples do.
var portalAnswerEchoesRequest = map[string]map[string]string{
	"portal/product-purchased.request.json": {"user.id": "user.id"},
	"portal/payment-failed.request.json":    {"user.id": "user.id"},
	"portal/payment-resumed.request.json":   {"user.id": "user.id"},
}

// portalConfig is one configuration of /etvas-events and what it answers to the examples.
type portalConfig struct {
	headers func(body []byte) map[string]string
	// verbatimCode/verbatimReason: the answer to the verbatim example when refused; 0 means it is
	// accepted with the documented answer.
	verbatimCode   int
	verbatimReason string
	// nowCode/nowReason: the answer to the example with event.timestamp replaced by now; 0 means
	// accepted with the documented answer; -1 means it is not sent (the verbatim one was applied).
	nowCode   int
	nowReason string
}

// documentedPortal sends the developer-portal events in document order: verbatim and with
// event.timestamp replaced by now (the only change).
func documentedPortal(t *testing.T, s *apptest.Server, examples []docExample, cfg portalConfig) {
	for _, e := range examples {
		if e.body == nil {
			// The document ends at the heading "User Deleted": there is nothing to send. The
			// App document's user.deleted (below) is the deletion example that is sent.
			if e.event != "user.delete" {
				t.Errorf("%s: an event without a body other than user.delete", e.key())
			}
			continue
		}
		if !bytes.Contains(e.body, []byte(`"timestamp": `+portalDocTimestamp)) {
			t.Fatalf("%s: the documented timestamp %s is not in the body", e.key(), portalDocTimestamp)
		}
		if e.answer == nil {
			t.Fatalf("%s: the document gives an answer to every portal event; none found", e.key())
		}
		now := bytes.Replace(e.body, []byte(portalDocTimestamp), []byte(strconv.FormatInt(time.Now().UnixMilli(), 10)), 1)
		for _, send := range []struct {
			what   string
			body   []byte
			code   int
			reason string
		}{
			{"verbatim", e.body, cfg.verbatimCode, cfg.verbatimReason},
			{"with timestamp now", now, cfg.nowCode, cfg.nowReason},
		} {
			what := e.key() + " " + send.what
			before := countAll(t, s.App.Store())
			switch send.code {
			case -1:
				continue
			case 0:
				r := post(t, s, "/etvas-events", string(send.body), cfg.headers(send.body))
				if r.Code != http.StatusOK {
					t.Errorf("%s: %d %s, want 200 and the documented answer", what, r.Code, r.Body)
					continue
				}
				compareAnswer(t, what, decode(t, r), decode(t, apptest.Result{Body: e.answer}), decode(t, apptest.Result{Body: send.body}),
					portalAnswerEchoesRequest[e.id])
			default:
				r := post(t, s, "/etvas-events", string(send.body), cfg.headers(send.body))
				wantRefused(t, s, what, r, send.code, send.reason, before)
			}
		}
	}
}

// compareAnswer compares the gateway's answer with the documented one field for field: the same
// fields, the same values — except partnerId, the id the gateway assigns (our customer or policy
// id), which is compared by shape (a non-empty string) not value, and the fields echo names, where
// the documented answer contradicts its request and the request's value is expected.
func compareAnswer(t *testing.T, what string, got, doc, req map[string]any, echo map[string]string) {
	t.Helper()
	gs, ds := slices.Sorted(maps.Keys(shape(got, "", nil))), slices.Sorted(maps.Keys(shape(doc, "", nil)))
	if !slices.Equal(gs, ds) {
		t.Errorf("%s: answer fields %v, documented %v", what, gs, ds)
	}
	for _, p := range ds {
		g, d := path(got, p), path(doc, p)
		switch {
		case strings.HasSuffix(p, "partnerId"):
			if s, ok := g.(string); !ok || s == "" {
				t.Errorf("%s: %s = %v, want our id (a non-empty string, documented %v)", what, p, g, d)
			}
		case echo[p] != "":
			if want := path(req, echo[p]); g != want {
				t.Errorf("%s: %s = %v, want the request's %s %v (the document's answer says %v)", what, p, g, echo[p], want, d)
			}
			if d == path(req, echo[p]) {
				t.Errorf("%s: %s no longer contradicts the request: drop it from portalAnswerEchoesRequest", what, p)
			}
		case g != d:
			t.Errorf("%s: %s = %v, documented %v", what, p, g, d)
		}
	}
}

// documentedApp sends the App document's events in document order, signed and with x-api-key
// (the App document shows it on every event). They carry no timestamp and no event id.
func documentedApp(t *testing.T, examples []docExample) {
	s := apptest.Start(t)
	st := s.App.Store()
	const ctxID = "uuid-36-char-long-string" // the document's placeholder context and product id
	if _, err := s.App.Sandbox().Etvas.Mint(etvasbox.MintRequest{ContextID: ctxID, ProductID: ctxID,
		Profile: &etvasbox.Profile{FirstName: "Doc", LastName: "Example", Email: "doc.example@example.com"}}); err != nil {
		t.Fatal(err)
	}
	// The App document gives no answer body; ours is {"status","deliveryId","policyId"}. A
	// suspend or repurchase of a canceled purchase is acknowledged "processed" (Etvas must not
	// retry it) and recorded in the inbox as IGNORED: a cancel is final.
	want := map[string]struct {
		ack    string
		inbox  domain.InboxState
		policy domain.PolicyStatus // "" = no policy yet
	}{
		"app/event-envelope.event.json":      {"ignored", domain.InboxIgnored, ""},
		"app/product-purchased.event.json":   {"processed", domain.InboxProcessed, domain.PolicyActive},
		"app/purchase-canceled.event.json":   {"processed", domain.InboxProcessed, domain.PolicyCanceled},
		"app/product-suspended.event.json":   {"processed", domain.InboxIgnored, domain.PolicyCanceled},
		"app/product-repurchased.event.json": {"processed", domain.InboxIgnored, domain.PolicyCanceled},
		"app/user-deleted.event.json":        {"processed", domain.InboxProcessed, domain.PolicyCanceled},
	}
	for _, e := range examples {
		w, ok := want[e.id]
		if !ok || e.body == nil {
			t.Fatalf("%s: no expectation", e.key())
		}
		r := post(t, s, "/etvas/events", string(e.body), etvasHeaders(string(e.body)))
		if r.Code != http.StatusOK {
			t.Errorf("%s: %d %s", e.key(), r.Code, r.Body)
			continue
		}
		ack := decode(t, r)
		if got := str(ack, "status"); got != w.ack {
			t.Errorf("%s: answer %s, want status %s", e.key(), r.Body, w.ack)
		}
		if rec, err := st.GetInbox(t.Context(), str(ack, "deliveryId")); err != nil || rec.State != w.inbox || !bytes.Equal(rec.Payload, e.body) && e.id != "app/user-deleted.event.json" {
			t.Errorf("%s: inbox record %+v (%v), want state %s and the verbatim body", e.key(), rec, err, w.inbox)
		}
		p, err := st.FindPolicyByEtvasContextID(t.Context(), ctxID)
		switch {
		case w.policy == "" && !isNotFound(err):
			t.Errorf("%s: policy %+v (%v), want none", e.key(), p, err)
		case w.policy != "" && (err != nil || p.Status != w.policy):
			t.Errorf("%s: policy %s (%v), want %s", e.key(), p.Status, err, w.policy)
		}
	}
	if n := len(events(t, st, domain.EventPartnerEventUnrecognized)); n != 1 {
		t.Errorf("partner_event.unrecognized events = %d, want 1 (event.name)", n)
	}
	if found, err := st.FindText(t.Context(), "doc.example@example.com"); err != nil || len(found) != 0 {
		t.Errorf("after user.deleted the e-mail is in %v (%v)", found, err)
	}
}

// documentedAvata sends both callbacks. Their policy uuid d7b9f5b0-… is one neither Avata (the
// sandbox) nor we know: every callback is verified by fetching from Avata, Avata answers 404, and
// the gateway answers 404 PARTNER_NOT_FOUND and records nothing, so a callback cannot invent state.
func documentedAvata(t *testing.T, s *apptest.Server, examples []docExample, signed bool) {
	for _, e := range examples {
		h := map[string]string{}
		if signed {
			h = avataHeaders(string(e.body))
		}
		before := countAll(t, s.App.Store())
		r := post(t, s, "/webhooks/avata", string(e.body), h)
		wantRefused(t, s, e.key(), r, http.StatusNotFound, "ERROR_REASON_PARTNER_NOT_FOUND", before)
	}
	if signed {
		// Signature required: the same examples unsigned are refused before any fetch.
		for _, e := range examples {
			before := countAll(t, s.App.Store())
			r := post(t, s, "/webhooks/avata", string(e.body), nil)
			wantRefused(t, s, e.key()+" unsigned, signature required", r, http.StatusUnauthorized, "ERROR_REASON_WEBHOOK_SIGNATURE_MISSING", before)
		}
	}
}

// documentedScalepoint pushes the documented events. With the bearer each is recorded once
// (processed, then duplicate); without it, with the token not required, the push is deferred to
// the authenticated long poll and nothing is recorded from the push.
func documentedScalepoint(t *testing.T, s *apptest.Server, examples []docExample, bearer bool) {
	st := s.App.Store()
	for _, e := range examples {
		body, key := e.body, ""
		if e.item != nil {
			// A long-poll item is pushed as it is; its dedupe key is its own id.
			body = e.item
			var it struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(body, &it); err != nil || it.ID == "" {
				t.Fatalf("%s: item without id (%v)", e.key(), err)
			}
			key = "id:" + it.ID
		} else {
			key = webhook.HashKey(body) // a bare envelope has no event id
		}
		h := map[string]string{}
		if bearer {
			h = scalepointHeaders()
		}
		before := countAll(t, st)
		r := post(t, s, "/webhooks/scalepoint", string(body), h)
		if !bearer {
			if r.Code != http.StatusAccepted || str(decode(t, r), "status") != "deferred" {
				t.Errorf("%s without bearer: %d %s, want 202 deferred", e.key(), r.Code, r.Body)
			}
			if _, ok := inboxRecord(t, st, key); ok || countAll(t, st) != before {
				t.Errorf("%s: a deferred push was recorded", e.key())
			}
			continue
		}
		if r.Code != http.StatusOK || str(decode(t, r), "status") != "processed" {
			t.Errorf("%s: %d %s, want 200 processed", e.key(), r.Code, r.Body)
			continue
		}
		rec, ok := inboxRecord(t, st, key)
		if !ok || !bytes.Equal(rec.Payload, body) || rec.State != domain.InboxProcessed {
			t.Errorf("%s: inbox record under %s = %+v (found %v)", e.key(), key, rec, ok)
		}
		after := countAll(t, st)
		if r := post(t, s, "/webhooks/scalepoint", string(body), h); r.Code != http.StatusOK || str(decode(t, r), "status") != "duplicate" || countAll(t, st) != after {
			t.Errorf("%s again: %d %s, want 200 duplicate and no second effect", e.key(), r.Code, r.Body)
		}
	}
}
