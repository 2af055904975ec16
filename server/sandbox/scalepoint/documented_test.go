package scalepoint_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	sandbox "github.com/covergate/covergate/server/sandbox/scalepoint"
)

// fixture reads a documented example from testdata (see testdata/index.json).
func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func fixtureRaw(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFixtureIndex: every file in testdata is indexed with its section, and every indexed
// file exists — the index is how a reader finds where an example comes from.
func TestFixtureIndex(t *testing.T) {
	var idx struct {
		Documents map[string]string `json:"documents"`
		Examples  []struct {
			File, Document, Section, Kind string
		} `json:"examples"`
	}
	if err := json.Unmarshal([]byte(fixtureRaw(t, "index.json")), &idx); err != nil {
		t.Fatal(err)
	}
	indexed := map[string]bool{}
	for _, ex := range idx.Examples {
		if ex.Section == "" || !strings.HasPrefix(idx.Documents[ex.Document], "https://dev.scalepoint.com/") {
			t.Errorf("%s: no section or no document URL", ex.File)
		}
		fixture(t, ex.File)
		indexed[ex.File] = true
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, f := range files {
		if base := filepath.Base(f); base != "index.json" && !indexed[base] {
			t.Errorf("%s is not in index.json", base)
		}
	}
}

func decodeAny(t *testing.T, resp *http.Response) (int, map[string]any, []byte) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if len(b) > 0 {
		_ = json.Unmarshal(b, &m)
	}
	return resp.StatusCode, m, b
}

// TestDocumentedPublishAnswers: the send endpoint answers each documented case with the
// documented body, field for field.
func TestDocumentedPublishAnswers(t *testing.T) {
	e := start(t, func(c *sandbox.Config) { c.Tenant = "abcinsurance" })
	sendURL := e.url + "/api/events/v1/dk/external/abcinsurance/send"
	events := token(t, e, "events")
	other := token(t, e, "case_integration")
	good := fixtureRaw(t, "publish-request.json")
	hdr := map[string]string{"Content-Type": "application/json;charset=utf-8", "Event-Type": "payment_status_updated"}

	send := func(bearer string, header map[string]string, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.DefaultClient.Do(apiRequest(t, http.MethodPost, sendURL, bearer, header, body))
		if err != nil {
			t.Fatal(err)
		}
		status, m, raw := decodeAny(t, resp)
		if m == nil {
			t.Fatalf("answer %d %q is not a JSON object", status, raw)
		}
		return status, m
	}

	t.Run("201", func(t *testing.T) {
		status, got := send(events, hdr, good)
		if want := fixture(t, "publish-response-201.json"); status != http.StatusCreated || !reflect.DeepEqual(got, want) {
			t.Fatalf("%d %v, want 201 %v", status, got, want)
		}
	})
	t.Run("unauthorized", func(t *testing.T) {
		status, got := send("", hdr, good)
		if want := fixture(t, "publish-error-unauthorized.json"); status != http.StatusUnauthorized || !reflect.DeepEqual(got, want) {
			t.Fatalf("%d %v, want 401 %v", status, got, want)
		}
	})
	t.Run("insufficient scope", func(t *testing.T) {
		status, got := send(other, hdr, good)
		if want := fixture(t, "publish-error-insufficient-scope.json"); status != http.StatusForbidden || !reflect.DeepEqual(got, want) {
			t.Fatalf("%d %v, want 403 %v", status, got, want)
		}
	})
	t.Run("missing Event-Type", func(t *testing.T) {
		status, got := send(events, map[string]string{"Content-Type": "application/json;charset=utf-8"}, good)
		want := fixture(t, "publish-error-missing-event-type.json")
		ts, _ := got["timestamp"].(string)
		if _, err := time.Parse("2006-01-02T15:04:05.000-0700", ts); err != nil {
			t.Fatalf("timestamp %q is not in the documented format: %v", ts, err)
		}
		got["timestamp"] = want["timestamp"] // the only field that depends on the time
		if status != http.StatusBadRequest || !reflect.DeepEqual(got, want) {
			t.Fatalf("%d %v, want 400 %v", status, got, want)
		}
	})
	t.Run("incorrect payload", func(t *testing.T) {
		status, got := send(events, hdr, `{"eventType":"payment_status_updated","payloadVersion":"1.0.0","timestamp":"2017-07-25T10:31:28Z"}`)
		want := fixture(t, "publish-error-incorrect-payload.json")
		// The document's "[xxxxxxxx]" is a placeholder for the missing fields.
		if status != http.StatusBadRequest || got["valid"] != want["valid"] || len(got) != len(want) ||
			got["message"] != "Incorrect payload, missing [correlationId]" {
			t.Fatalf("%d %v, want 400 shaped like %v", status, got, want)
		}
	})
}

// TestPublishIDReadings: each switchable reading of the 201 answer, set at run time over HTTP.
func TestPublishIDReadings(t *testing.T) {
	e := start(t, nil)
	tok := token(t, e, "events")
	body := fixtureRaw(t, "publish-request.json")
	hdr := map[string]string{"Content-Type": "application/json;charset=utf-8", "Event-Type": "payment_status_updated"}
	tests := []struct {
		style    string
		wantBody string // exact bytes, without a trailing newline
		wantID   string // Publication.AnsweredID
	}{
		{sandbox.PublishIDNumber, `{"_id":1}`, "1"},
		{sandbox.PublishIDString, `{"_id":"_2"}`, "_2"},
		{sandbox.PublishIDMissing, `{}`, ""},
		{sandbox.PublishIDEmpty, ``, ""},
		{sandbox.PublishIDText, `Created`, ""},
	}
	for i, tc := range tests {
		resp, err := http.Post(e.url+"/_sandbox/publish-id", "application/json", strings.NewReader(`{"style":"`+tc.style+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("set %s: %d", tc.style, resp.StatusCode)
		}
		resp, err = http.DefaultClient.Do(apiRequest(t, http.MethodPost, e.url+"/api/events/v1/dk/external/covergate/send", tok, hdr, body))
		if err != nil {
			t.Fatal(err)
		}
		status, _, raw := decodeAny(t, resp)
		if status != http.StatusCreated || strings.TrimSpace(string(raw)) != tc.wantBody {
			t.Fatalf("%s: %d %q, want 201 %q", tc.style, status, raw, tc.wantBody)
		}
		if p := e.srv.Published()[i]; p.AnsweredID != tc.wantID || p.ID != int64(i+1) {
			t.Fatalf("%s: publication %+v", tc.style, p)
		}
	}
	resp, err := http.Post(e.url+"/_sandbox/publish-id", "application/json", strings.NewReader(`{"style":"uuid"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown style: %d", resp.StatusCode)
	}
}

// TestDocumentedReceiveAnswer: with the document's two events queued, the receive call of the
// document's example gets the document's answer, field for field (links.next included, with the
// public URL of the example's project server).
func TestDocumentedReceiveAnswer(t *testing.T) {
	e := start(t, func(c *sandbox.Config) {
		c.Tenant = "futureic"
		c.PublicURL = "https://project0x.scalepoint.com"
	})
	want := fixture(t, "receive-response.json")
	for _, item := range want["data"].([]any) {
		it := item.(map[string]any)
		attrs, _ := json.Marshal(it["attributes"])
		ev, err := e.srv.Enqueue(sandbox.EnqueueRequest{Type: it["type"].(string), Attributes: attrs, Timestamp: it["timestamp"].(string)})
		if err != nil || ev.ID != it["id"] {
			t.Fatalf("enqueue: %+v %v", ev, err)
		}
	}
	tok := token(t, e, "events")
	resp, err := http.DefaultClient.Do(apiRequest(t, http.MethodGet, e.url+"/api/events/v1/dk/external/futureic/receive?lastEventId=_122046", tok, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	status, got, raw := decodeAny(t, resp)
	if status != http.StatusOK || !reflect.DeepEqual(got, want) {
		t.Fatalf("%d %s\nwant %v", status, raw, want)
	}
}
