package etvas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/partners/etvas"
	etvassandbox "github.com/covergate/covergate/server/sandbox/etvas"
)

// The documented examples of both Etvas documents (testdata/documented, indexed in
// index.json) are decoded here with the adapter's own decoders and the gateway's webhook
// messages, and the adapter is run against the independent sandbox under every reading of
// what the documents leave open.

const documentedDir = "testdata/documented"

type docExample struct {
	File     *string `json:"file"`
	Document string  `json:"document"`
	Section  string  `json:"section"`
	Kind     string  `json:"kind"`
	Method   string  `json:"method"`
	Path     string  `json:"path"`
	Status   int     `json:"status"`
	Event    string  `json:"event"`
}

func docIndex(t *testing.T) []docExample {
	t.Helper()
	var idx struct {
		Examples []docExample `json:"examples"`
	}
	if err := json.Unmarshal(docFixture(t, "index.json"), &idx); err != nil {
		t.Fatal(err)
	}
	return idx.Examples
}

// docFiles returns the indexed files of one kind.
func docFiles(t *testing.T, kind string) map[string]docExample {
	t.Helper()
	out := map[string]docExample{}
	for _, ex := range docIndex(t) {
		if ex.Kind == kind && ex.File != nil {
			out[*ex.File] = ex
		}
	}
	return out
}

func docFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(documentedDir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

func wantSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	if !reflect.DeepEqual(jsonValue(t, got), jsonValue(t, want)) {
		t.Fatalf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}

// TestDocumentedFixturesMatchTheSandboxCopy: the adapter's and the sandbox's copies of the
// documented examples are the same bytes, so neither side can drift from the documents
// alone.
func TestDocumentedFixturesMatchTheSandboxCopy(t *testing.T) {
	list := func(root string) map[string][]byte {
		out := map[string][]byte{}
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			rel, _ := filepath.Rel(root, path)
			out[filepath.ToSlash(rel)] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ours, theirs := list(documentedDir), list(filepath.Join("..", "..", "sandbox", "etvas", "testdata", "documented"))
	if len(ours) < 25 || len(ours) != len(theirs) {
		t.Fatalf("%d files here, %d in the sandbox", len(ours), len(theirs))
	}
	for name, b := range ours {
		if !bytes.Equal(b, theirs[name]) {
			t.Fatalf("%s differs from the sandbox's copy", name)
		}
	}
}

// TestDocumentedResponsesDecode serves every documented answer of the Etvas API to the
// adapter and checks what the adapter makes of it, and that the adapter's requests are the
// documented requests field for field.
func TestDocumentedResponsesDecode(t *testing.T) {
	var (
		mu       sync.Mutex
		requests = map[string][]byte{}
	)
	serve := func(fixture string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			requests[r.Method+" "+r.URL.Path] = body
			mu.Unlock()
			if fixture == "" { // "HTTP/1.1 200 OK", no body
				w.WriteHeader(http.StatusOK)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(docFixture(t, fixture))
		}
	}
	used := map[string]bool{}
	use := func(f string) string { used[f] = true; return f }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /verify-token", serve(use("app/verify-token.response.json")))
	mux.HandleFunc("GET /user/profile", serve(use("app/user-profile.response.json")))
	mux.HandleFunc("GET /external-data/key-index", serve(use("app/external-data-read.response.json")))
	mux.HandleFunc("POST /external-data/key-index", serve(""))
	mux.HandleFunc("DELETE /external-data/key-index", serve(""))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	newClient := func(deleteHow string) *etvas.Client {
		c, err := etvas.New(etvas.Config{BaseURL: srv.URL, APIKey: "your-api-key-here", ExternalDataDelete: deleteHow})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	c := newClient("")
	ctx := context.Background()
	request := func(key string) []byte {
		mu.Lock()
		defer mu.Unlock()
		return requests[key]
	}

	v, err := c.VerifyToken(ctx, "received-token-here")
	if err != nil || v.ContextID != "context-is-uuid-36-chars-long-string" {
		t.Fatalf("verify-token: %+v %v", v, err)
	}
	wantSameJSON(t, request("POST /verify-token"), docFixture(t, use("app/verify-token.request.json")))

	p, err := c.UserProfile(ctx, v.ContextID, false)
	if err != nil || p != (etvas.Profile{FirstName: "The customer's first name", LastName: "The customer's last name", Email: "customer@etvas.com", PhoneNumber: "+1234345456"}) {
		t.Fatalf("profile: %+v %v", p, err)
	}

	got, found, err := c.GetExternalData(ctx, "key-index")
	if err != nil || !found || got != "your-previously-stored-data" {
		t.Fatalf("read: %q %v %v", got, found, err)
	}
	if err := c.PutExternalData(ctx, "key-index", "a string you want to store, it can easily be a JSON encoded object"); err != nil {
		t.Fatalf("write: %v", err)
	}
	wantSameJSON(t, request("POST /external-data/key-index"), docFixture(t, use("app/external-data-write.request.json")))
	if err := c.DeleteExternalData(ctx, "key-index"); err != nil {
		t.Fatalf("clear: %v", err)
	}
	wantSameJSON(t, request("POST /external-data/key-index"), docFixture(t, use("app/external-data-clear.request.json")))
	if err := newClient(etvas.ExternalDataDeleteMethod).DeleteExternalData(ctx, "key-index"); err != nil {
		t.Fatalf("DELETE: %v", err)
	}
	if b := request("DELETE /external-data/key-index"); b == nil || len(b) != 0 {
		t.Fatalf("DELETE sent a body: %q", b)
	}

	// Every documented request and response of the API was used above.
	for _, kind := range []string{"request", "response"} {
		for f := range docFiles(t, kind) {
			if !used[f] {
				t.Errorf("documented %s %s is not exercised", kind, f)
			}
		}
	}
}

// validator is the gateway's request validation (protovalidate rules of the messages).
func validator(t *testing.T) protovalidate.Validator {
	t.Helper()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// webhookJSON decodes like the gateway's webhook routes: unknown fields ignored.
var webhookJSON = protojson.UnmarshalOptions{DiscardUnknown: true}

var documentedKinds = map[string]etvas.EventKind{
	"event.name": etvas.EventUnknown, "product.purchased": etvas.EventPurchased, "purchase.canceled": etvas.EventCanceled,
	"product.suspended": etvas.EventSuspended, "product.repurchased": etvas.EventResumed, "user.deleted": etvas.EventUserDeleted,
	"user.create": etvas.EventUserCreated, "product.purchase": etvas.EventPurchased, "product.cancel": etvas.EventCanceled,
	"product.suspend": etvas.EventSuspended, "product.resume": etvas.EventResumed, "user.update": etvas.EventUserUpdated,
	"user.delete": etvas.EventUserDeleted,
}

// TestDocumentedEventsDecode parses every documented event body with the adapter's event
// types and the gateway's webhook messages (with their validation rules), checks the
// sandbox's independent signature verifies with the adapter, and that every documented
// answer to a portal event is exactly what the gateway's answer message produces.
func TestDocumentedEventsDecode(t *testing.T) {
	v := validator(t)
	secret := []byte("event-secret")
	events := docFiles(t, "event")
	if len(events) != 12 {
		t.Fatalf("%d documented events, want 12", len(events))
	}
	for file, ex := range events {
		t.Run(file, func(t *testing.T) {
			body := docFixture(t, file)
			if err := etvas.VerifyWebhookSignature(secret, body, etvassandbox.SignEvent(secret, body)); err != nil {
				t.Fatalf("sandbox signature refused: %v", err)
			}
			switch ex.Path {
			case etvas.AppEventsPath:
				var ev etvas.AppEvent
				if err := json.Unmarshal(body, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Name != ex.Event || ev.Payload.PurchaseContext() != "uuid-36-char-long-string" || ev.Payload.ProductID != "uuid-36-char-long-string" || ev.Timestamp != 0 || ev.ID != "" {
					t.Fatalf("decoded %+v", ev)
				}
				if got := etvas.ClassifyEvent(ev.Name); got != documentedKinds[ex.Event] {
					t.Fatalf("kind %s", got)
				}
				var req webhooksv1.HandleAppEventRequest
				if err := webhookJSON.Unmarshal(body, &req); err != nil {
					t.Fatal(err)
				}
				if err := v.Validate(&req); err != nil {
					t.Fatalf("gateway validation refuses the documented event: %v", err)
				}
				if req.GetPayload().GetContextId() != "uuid-36-char-long-string" || req.GetName() != ex.Event {
					t.Fatalf("proto %v", &req)
				}
			case etvas.PortalEventsPath:
				var ev etvas.PortalEvent
				if err := json.Unmarshal(body, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Event.Type != ex.Event || ev.Event.ID == "" || ev.Event.Timestamp != 19786584376 || ev.User.ID == "" || ev.User.Auth == nil || ev.User.Auth.Expires != 2086584376 {
					t.Fatalf("decoded %+v", ev)
				}
				kind := etvas.ClassifyEvent(ev.Event.Type)
				if kind != documentedKinds[ex.Event] {
					t.Fatalf("kind %s", kind)
				}
				var req webhooksv1.HandlePortalEventRequest
				if err := webhookJSON.Unmarshal(body, &req); err != nil {
					t.Fatal(err)
				}
				if err := v.Validate(&req); err != nil {
					t.Fatalf("gateway validation refuses the documented event: %v", err)
				}
				switch kind {
				case etvas.EventUserCreated, etvas.EventUserUpdated:
					u := req.GetData().GetUser()
					if u.GetEmail() != "john@doe.com" || u.GetRegionState() != "Brandenburg" || u.GetPhone() != "+1303500600" || req.GetData().GetWebIdentity().GetStatus() != "verified" {
						t.Fatalf("user data %v", req.GetData())
					}
				default:
					p := req.GetData().GetProduct()
					if p.GetId() != "ecc8f6f0-aef2-444d-9a6d-f49f6678c9c6" || p.GetPrice() != 123.45 || p.GetPriceType() != "SUBSCRIPTION" || p.GetPriceInterval() != "MONTHLY" {
						t.Fatalf("product %v", p)
					}
				}
			default:
				t.Fatalf("path %s", ex.Path)
			}
		})
	}
	answers := docFiles(t, "event-answer")
	if len(answers) != 6 {
		t.Fatalf("%d documented answers, want 6", len(answers))
	}
	for file := range answers {
		t.Run(file, func(t *testing.T) {
			var resp webhooksv1.HandlePortalEventResponse
			if err := protojson.Unmarshal(docFixture(t, file), &resp); err != nil { // strict: every field known
				t.Fatalf("the answer message cannot hold the documented answer: %v", err)
			}
			out, err := protojson.MarshalOptions{}.Marshal(&resp) // the webhook routes' marshaler
			if err != nil {
				t.Fatal(err)
			}
			wantSameJSON(t, out, docFixture(t, file))
		})
	}
}

// eventGateway stands in for the gateway in front of the sandbox: it checks each event with
// the adapter's signature verification and decoders and answers portal events like the
// gateway does (with our ids as partnerId).
type eventGateway struct {
	validator protovalidate.Validator

	mu       sync.Mutex
	received []gatewayEvent
}

type gatewayEvent struct {
	path      string
	apiKey    string
	sigErr    error
	app       etvas.AppEvent
	appProto  *webhooksv1.HandleAppEventRequest
	portal    etvas.PortalEvent
	portProto *webhooksv1.HandlePortalEventRequest
	invalid   error
}

func (g *eventGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	ev := gatewayEvent{path: r.URL.Path, apiKey: r.Header.Get(etvas.HeaderAPIKey)}
	ev.sigErr = etvas.VerifyWebhookSignature([]byte(etvassandbox.DefaultEventSecret), raw, r.Header.Get(etvas.HeaderWebhookSignature))
	var answer proto.Message = &webhooksv1.HandleAppEventResponse{Status: "processed"}
	switch r.URL.Path {
	case etvas.AppEventsPath:
		ev.appProto = &webhooksv1.HandleAppEventRequest{}
		if err := json.Unmarshal(raw, &ev.app); err != nil {
			ev.invalid = err
		} else if err := webhookJSON.Unmarshal(raw, ev.appProto); err != nil {
			ev.invalid = err
		} else {
			ev.invalid = g.validator.Validate(ev.appProto)
		}
	case etvas.PortalEventsPath:
		ev.portProto = &webhooksv1.HandlePortalEventRequest{}
		if err := json.Unmarshal(raw, &ev.portal); err != nil {
			ev.invalid = err
		} else if err := webhookJSON.Unmarshal(raw, ev.portProto); err != nil {
			ev.invalid = err
		} else {
			ev.invalid = g.validator.Validate(ev.portProto)
		}
		resp := &webhooksv1.HandlePortalEventResponse{Status: 200, Event: &webhooksv1.EtvasEventAck{Id: ev.portal.Event.ID}}
		if p := ev.portProto.GetData().GetProduct(); p != nil {
			resp.User = &webhooksv1.EtvasPartnerRef{Id: ev.portal.User.ID, PartnerId: "customer-1"}
			resp.Data = &webhooksv1.EtvasAckData{Product: &webhooksv1.EtvasPartnerRef{Id: p.GetId(), PartnerId: "policy-1"}}
		} else {
			resp.Data = &webhooksv1.EtvasAckData{User: &webhooksv1.EtvasPartnerRef{Id: ev.portal.User.ID, PartnerId: "customer-1"}}
		}
		answer = resp
	}
	g.mu.Lock()
	g.received = append(g.received, ev)
	g.mu.Unlock()
	out, _ := protojson.Marshal(answer)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (g *eventGateway) last() gatewayEvent {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.received[len(g.received)-1]
}

// TestAdapterAgainstSandboxUnderEveryReading runs the adapter against the real sandbox (on
// a random port) switched to each reading of each open question: every event of both
// formats is verified and decoded, and external data is written and cleared with every
// adapter configuration.
func TestAdapterAgainstSandboxUnderEveryReading(t *testing.T) {
	gw := &eventGateway{validator: validator(t)}
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	const (
		ms  = int64(1700000000123)
		ctx = "3f1c2a9e-0000-4000-8000-0000000000c1"
	)
	appNames := []string{"product.purchased", "product.suspended", "product.repurchased", "purchase.canceled", "user.deleted"}
	portalNames := []string{"user.create", "product.purchase", "product.suspend", "product.resume", "user.update", "product.cancel", "user.delete"}
	for _, r := range etvassandbox.ReadingVariants() {
		t.Run(r.String(), func(t *testing.T) {
			e := setup(t, func(c *etvassandbox.Config) { c.Readings, c.GatewayURL = r, gwSrv.URL }, nil)
			wantTS := map[string]int64{etvassandbox.TimestampsMilliseconds: ms, etvassandbox.TimestampsSeconds: ms / 1000, etvassandbox.TimestampsAbsent: 0}[r.Timestamps]
			for _, format := range []string{etvassandbox.FormatApp, etvassandbox.FormatPortal} {
				names := appNames
				if format == etvassandbox.FormatPortal {
					names = portalNames
				}
				for i, name := range names {
					eventID := format + "-" + name
					d, err := e.sandbox.Deliver(context.Background(), etvassandbox.EventRequest{
						Format: format, Name: name, ContextID: ctx, ProductID: "product-1", Timestamp: ms, EventID: eventID,
					})
					if err != nil || d.Status != http.StatusOK {
						t.Fatalf("%s %s: %+v %v", format, name, d, err)
					}
					got := gw.last()
					if got.sigErr != nil || got.invalid != nil {
						t.Fatalf("%s %s: signature %v, decoding %v", format, name, got.sigErr, got.invalid)
					}
					wantKey := format == etvassandbox.FormatApp || r.PortalAPIKey == etvassandbox.Present
					if (got.apiKey == etvassandbox.DefaultAPIKey) != wantKey {
						t.Fatalf("%s %s: x-api-key %q", format, name, got.apiKey)
					}
					if etvas.ClassifyEvent(name) == etvas.EventUnknown {
						t.Fatalf("%s is not classified", name)
					}
					if format == etvassandbox.FormatApp {
						wantID := ""
						if r.AppEventID == etvassandbox.Present {
							wantID = eventID
						}
						if got.app.Payload.PurchaseContext() != ctx || got.app.Name != name || got.app.Timestamp != wantTS || got.app.ID != wantID || got.appProto.GetTimestamp() != wantTS {
							t.Fatalf("%s: decoded %+v", name, got.app)
						}
						pl := got.appProto.GetPayload()
						if pl.GetContextId()+pl.GetPurchaseId() != ctx {
							t.Fatalf("%s: proto payload %v", name, pl)
						}
						continue
					}
					if got.portal.Event.ID != eventID || got.portal.Event.Type != name || got.portal.Event.Timestamp != wantTS || got.portal.User.ID != etvassandbox.PortalUserID(ctx) {
						t.Fatalf("%s: decoded %+v", name, got.portal)
					}
					// The ids our answers gave come back: the user's after user.create, the
					// product's after product.purchase (and not on the purchase itself).
					wantUser := i > 0
					if (got.portal.User.PartnerID != nil && *got.portal.User.PartnerID == "customer-1") != wantUser {
						t.Fatalf("%s: user partnerId %v", name, got.portal.User.PartnerID)
					}
					if p := got.portProto.GetData().GetProduct(); p != nil && (p.GetPartnerId() == "policy-1") != (name != "product.purchase") {
						t.Fatalf("%s: product partnerId %q", name, p.GetPartnerId())
					}
				}
			}

			// External data: each adapter configuration against this reading.
			for _, mode := range []struct{ write, clear string }{
				{http.MethodPost, etvas.ExternalDataDeleteNull}, {http.MethodPost, etvas.ExternalDataDeleteMethod},
				{http.MethodPut, etvas.ExternalDataDeleteNull}, {http.MethodPut, etvas.ExternalDataDeleteMethod},
			} {
				c, err := etvas.New(etvas.Config{BaseURL: e.srv.URL, APIKey: etvassandbox.DefaultAPIKey, ExternalDataWriteMethod: mode.write, ExternalDataDelete: mode.clear, MaxAttempts: 1})
				if err != nil {
					t.Fatal(err)
				}
				key := "k-" + mode.write + "-" + mode.clear
				accepts := r.ExternalDataWrite == etvassandbox.WriteMethodAny || r.ExternalDataWrite == mode.write
				err = c.PutExternalData(context.Background(), key, `{"n":1}`)
				if accepts {
					if err != nil {
						t.Fatalf("%v: put: %v", mode, err)
					}
					if v, ok := e.sandbox.ExternalData(key); !ok || v != `{"n":1}` {
						t.Fatalf("%v: stored %q %v", mode, v, ok)
					}
					if err := c.DeleteExternalData(context.Background(), key); err != nil {
						t.Fatalf("%v: clear: %v", mode, err)
					}
					if _, found, err := c.GetExternalData(context.Background(), key); err != nil || found {
						t.Fatalf("%v: after clear found=%v err=%v", mode, found, err)
					}
				} else {
					// The sandbox answers the other method 405: a clear configuration error.
					wantErr(t, err, codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_REJECTED, "Method Not Allowed")
					if _, ok := e.sandbox.ExternalData(key); ok {
						t.Fatalf("%v: refused write stored", mode)
					}
				}
				c.Close()
			}
		})
	}
	gw.mu.Lock()
	n := len(gw.received)
	gw.mu.Unlock()
	if want := len(etvassandbox.ReadingVariants()) * (len(appNames) + len(portalNames)); n != want {
		t.Fatalf("gateway got %d events, want %d", n, want)
	}
}
