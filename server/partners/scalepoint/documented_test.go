package scalepoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/covergate/covergate/server/partners/scalepoint"
)

// The documented examples (testdata/documented, index.json names each one's section of
// https://dev.scalepoint.com/events-api-integration-from-clients-to-scalepoint and
// https://dev.scalepoint.com/recieve-events-using-long-polling). The adapter must decode every
// documented response, served verbatim.

func documented(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "documented", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDocumentedIndexComplete: every documented response in the index is decoded by a test here.
func TestDocumentedIndexComplete(t *testing.T) {
	var idx struct {
		Examples []struct{ File, Kind string } `json:"examples"`
	}
	if err := json.Unmarshal(documented(t, "index.json"), &idx); err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{
		"publish-request.json": true, "publish-response-201.json": true, "publish-error-incorrect-payload.json": true,
		"publish-error-insufficient-scope.json": true, "publish-error-unauthorized.json": true,
		"publish-error-missing-event-type.json": true, "receive-response.json": true,
	}
	for _, ex := range idx.Examples {
		documented(t, ex.File)
		if !covered[ex.File] {
			t.Errorf("%s (%s) is not decoded by any adapter test", ex.File, ex.Kind)
		}
	}
	if len(idx.Examples) != len(covered) {
		t.Errorf("index has %d examples, tests cover %d", len(idx.Examples), len(covered))
	}
}

// TestDocumentedPublish: the documented request is accepted as is, and the documented 201 is
// decoded into its id.
func TestDocumentedPublish(t *testing.T) {
	req := documented(t, "publish-request.json")
	resp := documented(t, "publish-response-201.json")
	e := wrapAPI(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != string(req) || r.Header.Get("Event-Type") != "payment_status_updated" || r.Header.Get("Content-Type") != scalepoint.ContentType {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(resp)
	})
	id, err := newClient(t, e, nil).Publish(context.Background(), "payment_status_updated", req)
	if err != nil || id != "1" {
		t.Fatalf("Publish = %q, %v", id, err)
	}
}

// TestDocumentedPublishErrors: each documented error body becomes its typed error.
func TestDocumentedPublishErrors(t *testing.T) {
	tests := []struct {
		file   string
		status int
		check  func(error) bool
	}{
		{"publish-error-incorrect-payload.json", 400, func(err error) bool {
			var e *scalepoint.IncorrectPayloadError
			return errors.As(err, &e) && e.Message == "Incorrect payload, missing [xxxxxxxx]"
		}},
		{"publish-error-insufficient-scope.json", 403, func(err error) bool {
			var e *scalepoint.InsufficientScopeError
			return errors.As(err, &e) && e.Scope == "events" && e.Description == "Insufficient scope for this resource"
		}},
		{"publish-error-unauthorized.json", 401, func(err error) bool {
			var e *scalepoint.UnauthorizedError
			return errors.As(err, &e) && e.Description == "Full authentication is required to access this resource"
		}},
		{"publish-error-missing-event-type.json", 400, func(err error) bool {
			var e *scalepoint.BadRequestError
			return errors.As(err, &e) && e.Message == "Missing request header 'Event-Type' for method parameter of type String" &&
				e.Path == "/api/events/v1/dk/external/abcinsurance/send" && e.Exception == "org.springframework.web.bind.ServletRequestBindingException"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			body := documented(t, tc.file)
			e := wrapAPI(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write(body)
			})
			id, err := newClient(t, e, nil).Publish(context.Background(), "case_created", payload("case_created"))
			if id != "" || !tc.check(err) {
				t.Fatalf("Publish = %q, %v (%T)", id, err, err)
			}
		})
	}
}

// TestDocumentedReceive: the long-poll example answer is decoded whole.
func TestDocumentedReceive(t *testing.T) {
	body := documented(t, "receive-response.json")
	var gotQuery string
	e := wrapAPI(t, func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	page, err := newClient(t, e, nil).Receive(context.Background(), "_122046")
	if err != nil {
		t.Fatal(err)
	}
	if gotQuery != "lastEventId=_122046" || len(page.Events) != 2 || page.Next != "_122048" ||
		page.NextLink != "https://project0x.scalepoint.com/api/events/v1/dk/external/futureic/receive?lastEventId=_122048" {
		t.Fatalf("query %q, page %+v", gotQuery, page)
	}
	first, second := page.Events[0], page.Events[1]
	if first.ID != "_122047" || first.Type != "case_created" || first.Timestamp != "2020-04-28T18:43:38.004451447Z" ||
		first.Attributes.EventType != "case_created" || first.Attributes.PayloadVersion != "1.0.0" ||
		first.Attributes.CorrelationID != "fcb07e62-af98-4b0c-b83a-3a4cdcf4bf9c" || first.Attributes.Timestamp != "2020-04-28T20:43:35.0348577+02:00" {
		t.Fatalf("first event %+v", first)
	}
	if ts, err := first.Attributes.Time(); err != nil || ts.UTC().Format("15:04:05") != "18:43:35" {
		t.Fatalf("first event time %v %v", ts, err)
	}
	var attrs struct {
		Case   struct{ Number, Token string } `json:"case"`
		Policy struct{ Number string }        `json:"policy"`
	}
	if err := json.Unmarshal(second.Attributes.Raw, &attrs); err != nil || second.ID != "_122048" ||
		attrs.Case.Number != "SP20200428000019008" || attrs.Policy.Number != "7654" {
		t.Fatalf("second event %+v (%v)", attrs, err)
	}
}
