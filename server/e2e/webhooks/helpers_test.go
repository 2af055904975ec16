// Package webhooks holds the end-to-end tests of issue 5: partner webhooks posted to a real
// gateway (apptest: real HTTP and gRPC servers, SQLite in a temp dir, embedded sandboxes).
package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	avatabox "github.com/covergate/covergate/server/sandbox/avata"
	etvasbox "github.com/covergate/covergate/server/sandbox/etvas"
	scalepointbox "github.com/covergate/covergate/server/sandbox/scalepoint"
	"github.com/covergate/covergate/server/store"
)

// etvasHeaders are the headers Etvas sends with body in sandbox mode.
func etvasHeaders(body string) map[string]string {
	return map[string]string{
		etvas.HeaderAPIKey:           etvasbox.DefaultAPIKey,
		etvas.HeaderWebhookSignature: etvas.SignWebhook([]byte(etvasbox.DefaultEventSecret), []byte(body)),
	}
}

func avataHeaders(body string) map[string]string {
	return map[string]string{avata.CallbackSignatureHeader: avata.SignCallback([]byte(avatabox.DefaultCallbackSecret), []byte(body))}
}

func scalepointHeaders() map[string]string {
	return map[string]string{"Authorization": "Bearer " + scalepointbox.DefaultWebhookToken}
}

// post sends body to path with headers.
func post(t *testing.T, s *apptest.Server, path, body string, headers map[string]string) apptest.Result {
	t.Helper()
	return s.Do(t, "POST", path, "", strings.NewReader(body), headers)
}

// postEtvas posts a correctly authenticated and signed Etvas event.
func postEtvas(t *testing.T, s *apptest.Server, path, body string) apptest.Result {
	t.Helper()
	return post(t, s, path, body, etvasHeaders(body))
}

// nowMillis returns the current time in ms plus offset.
func nowMillis(offset time.Duration) int64 { return time.Now().Add(offset).UnixMilli() }

// withTimestamp replaces the documents' placeholder timestamp with ms.
func withTimestamp(doc string, ms int64) string {
	return strings.ReplaceAll(doc, "19786584376", fmt.Sprint(ms))
}

// decode parses a JSON object answer.
func decode(t *testing.T, r apptest.Result) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.Code, err, r.Body)
	}
	return m
}

// path reads a nested value such as "data.product.partnerId".
func path(m map[string]any, p string) any {
	var cur any = m
	for _, k := range strings.Split(p, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}

func str(m map[string]any, p string) string {
	s, _ := path(m, p).(string)
	return s
}

// shape lists the key paths of a JSON object ("event.id", "data.user.partnerId", ...).
func shape(v any, prefix string, out map[string]bool) map[string]bool {
	if out == nil {
		out = map[string]bool{}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		out[prefix] = true
		return out
	}
	for k, child := range obj {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		shape(child, key, out)
	}
	return out
}

// counts is how many rows of each kind the store holds.
type counts struct {
	inbox, events, customers, policies int
}

func countAll(t *testing.T, st store.Store) counts {
	t.Helper()
	ctx := context.Background()
	var c counts
	for after := ""; ; {
		p, err := st.ListInbox(ctx, store.InboxFilter{}, store.PageRequest{Size: store.MaxPageSize, After: after})
		if err != nil {
			t.Fatal(err)
		}
		c.inbox += len(p.Items)
		if after = p.Next; after == "" {
			break
		}
	}
	for after := int64(0); ; {
		p, err := st.ListEvents(ctx, store.EventFilter{AfterCursor: after, PageSize: store.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		c.events += len(p.Items)
		if len(p.Items) < store.MaxPageSize {
			break
		}
		after = p.Items[len(p.Items)-1].Cursor
	}
	for after := ""; ; {
		p, err := st.ListCustomers(ctx, store.PageRequest{Size: store.MaxPageSize, After: after})
		if err != nil {
			t.Fatal(err)
		}
		c.customers += len(p.Items)
		if after = p.Next; after == "" {
			break
		}
	}
	for after := ""; ; {
		p, err := st.ListPolicies(ctx, store.PolicyFilter{}, store.PageRequest{Size: store.MaxPageSize, After: after})
		if err != nil {
			t.Fatal(err)
		}
		c.policies += len(p.Items)
		if after = p.Next; after == "" {
			break
		}
	}
	return c
}

// events returns the log's events of the given types, in order.
func events(t *testing.T, st store.Store, types ...string) []domain.Event {
	t.Helper()
	p, err := st.ListEvents(context.Background(), store.EventFilter{Types: types, PageSize: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

func policyByContext(t *testing.T, st store.Store, contextID string) domain.Policy {
	t.Helper()
	p, err := st.FindPolicyByEtvasContextID(context.Background(), contextID)
	if err != nil {
		t.Fatalf("policy of context %s: %v", contextID, err)
	}
	return p
}

// eventually polls cond for up to 10 s (state reached through partner callbacks).
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	waitFor(t, 10*time.Second, what, cond)
}

// waitFor polls cond for up to limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %s (last state: %s)", what, limit, last)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
