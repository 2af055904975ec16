package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	webhooksv1 "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
	"github.com/covergate/covergate/server/api"
	"github.com/covergate/covergate/server/apptest"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/store"
	"github.com/covergate/covergate/server/store/engine"
	"github.com/covergate/covergate/server/webhook"
)

// failingStore runs transactions whose CreatePolicy fails: the purchase has by then created the
// customer and appended customer.created, so a partial commit would be visible.
type failingStore struct {
	store.Store
	fail error
}

func (f failingStore) InTx(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	return f.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return fn(ctx, failingTx{Tx: tx, fail: f.fail})
	})
}

type failingTx struct {
	store.Tx
	fail error
}

func (f failingTx) CreatePolicy(context.Context, domain.Policy) (domain.Policy, error) {
	return domain.Policy{}, f.fail
}

// TestEffectFailingMidwayLeavesNoTrace: a purchase whose policy write fails after the customer
// was written answers an error, and neither the customer, nor its event, nor the inbox record
// exists; the partner's retry then applies it completely.
func TestEffectFailingMidwayLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	st, err := engine.Open(ctx, "sqlite:"+t.TempDir()+"/atomic.db", store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	deps := func(s store.Store) api.Deps {
		return api.Deps{Store: s, Lifecycle: lifecycle.New(lifecycle.Config{}), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	}
	raw := portalPurchase("evt-atomic", nowMillis(0))
	var req webhooksv1.HandlePortalEventRequest
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(raw), &req); err != nil {
		t.Fatal(err)
	}
	call := webhook.WithDelivery(ctx, webhook.Delivery{Partner: domain.PartnerEtvas, Raw: []byte(raw), ReceiveTime: time.Now()})

	broken := api.NewServices(deps(failingStore{Store: st, fail: errors.New("disk full")})).Etvas
	if _, err := broken.HandlePortalEvent(call, &req); err == nil {
		t.Fatal("the purchase succeeded although its policy could not be written")
	}
	if c := countAll(t, st); c != (counts{}) {
		t.Fatalf("a failed effect left %+v", c)
	}
	if _, err := st.FindCustomerByEtvasUserID(ctx, "u-1"); !isNotFound(err) {
		t.Fatalf("customer after the failed purchase: %v", err)
	}

	resp, err := api.NewServices(deps(st)).Etvas.HandlePortalEvent(call, &req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	c := countAll(t, st)
	if c.inbox != 1 || c.customers != 1 || c.policies != 1 || c.events != 3 || resp.GetData().GetProduct().GetPartnerId() == "" {
		t.Fatalf("after the retry: %+v, answer %v", c, resp)
	}
}

// TestConcurrentDuplicatesApplyOnce: the same delivery sent many times at once is applied once;
// every answer is the first answer.
func TestConcurrentDuplicatesApplyOnce(t *testing.T) {
	testConcurrentDuplicatesApplyOnce(t, apptest.Start(t))
}

func testConcurrentDuplicatesApplyOnce(t *testing.T, s *apptest.Server) {
	body := portalPurchase("evt-race", nowMillis(0))
	var wg sync.WaitGroup
	answers := make([]string, 8)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := postEtvas(t, s, "/etvas-events", body)
			answers[i] = fmt.Sprintf("%d %s", r.Code, strings.TrimSpace(string(r.Body)))
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if a != answers[0] || !strings.HasPrefix(a, "200 ") {
			t.Fatalf("answers differ: %q vs %q", a, answers[0])
		}
	}
	if c := countAll(t, s.App.Store()); c.inbox != 1 || c.policies != 1 || c.customers != 1 {
		t.Fatalf("store after concurrent duplicates: %+v", c)
	}
	_ = http.StatusOK
}
