package webhooks

import (
	"net/http"
	"strings"
	"testing"

	"github.com/covergate/covergate/server/apptest"
	scalepointbox "github.com/covergate/covergate/server/sandbox/scalepoint"
)

// TestScalepointPublishIDReadingsEndToEnd: through the real gateway (REST, outbox, store,
// adapter, sandbox), a publication is DELIVERED after exactly one send whatever Scalepoint's 201
// carries — `_id` as a number, as a string, none, an empty or a non-JSON body — and keeps the id
// as text. "Never re-sent" is shown by order: a later publication is delivered too, and each was
// sent once.
func TestScalepointPublishIDReadingsEndToEnd(t *testing.T) {
	s := apptest.Start(t)
	sb := s.App.Sandbox().Scalepoint
	styles := []struct{ style, wantRef string }{
		{scalepointbox.PublishIDString, "_1"},
		{scalepointbox.PublishIDNumber, "2"},
		{scalepointbox.PublishIDMissing, ""},
		{scalepointbox.PublishIDEmpty, ""},
		{scalepointbox.PublishIDText, ""},
	}
	for _, st := range styles {
		if err := sb.SetPublishID(st.style); err != nil {
			t.Fatal(err)
		}
		r := s.JSON(t, http.MethodPost, "/v1/publications", apptest.AllKey,
			`{"eventType":"payment_status_updated","payload":{"payment":{"status":"canceled","style":"`+st.style+`"}}}`)
		if r.Code != http.StatusOK {
			t.Fatalf("publish (%s): %d %s", st.style, r.Code, r.Body)
		}
		id := str(decode(t, r), "publication.publicationId")
		var last map[string]any
		eventually(t, st.style+" publication DELIVERED", func() (bool, string) {
			g := s.JSON(t, http.MethodGet, "/v1/publications/"+id, apptest.AllKey, "")
			last = decode(t, g)
			return str(last, "publication.status") == "PUBLICATION_STATUS_DELIVERED", string(g.Body)
		})
		if got := str(last, "publication.partnerEventRef"); got != st.wantRef {
			t.Fatalf("%s: partnerEventRef %q, want %q (%v)", st.style, got, st.wantRef, last)
		}
		if n, _ := path(last, "publication.attempts").(float64); n != 1 {
			t.Fatalf("%s: %v attempts, want 1", st.style, path(last, "publication.attempts"))
		}
		if wantNum := map[string]string{"_1": "0", "2": "2"}[st.wantRef]; wantNum != "" && str(last, "publication.partnerEventId") != wantNum {
			t.Fatalf("%s: partnerEventId %v, want %s", st.style, path(last, "publication.partnerEventId"), wantNum)
		}
	}
	pubs := sb.Published()
	if len(pubs) != len(styles) {
		t.Fatalf("Scalepoint received %d publications, want %d (one per publication, none re-sent)", len(pubs), len(styles))
	}
	for i, p := range pubs {
		if !strings.Contains(string(p.Payload), `"style":"`+styles[i].style+`"`) {
			t.Fatalf("publication %d sent %s", i, p.Payload)
		}
	}
}
