package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

func testCustomers(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	c := newCustomer(t, s, "ada@example.com")
	if c.ID == "" || !domain.ValidID(c.ID) || !domain.ValidID(c.PseudonymID) || c.Version != 1 || c.Status != domain.CustomerActive {
		t.Fatalf("created customer not initialized: %+v", c)
	}
	got, err := s.GetCustomer(ctx, c.ID)
	noErr(t, err)
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}

	// Links: context ids and wallet (stored lower-case, found in any case).
	const wallet = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		noErr(t, tx.AddEtvasContextID(ctx, c.ID, "ctx-1"))
		noErr(t, tx.AddEtvasContextID(ctx, c.ID, "ctx-1")) // again: no-op
		noErr(t, tx.AddEtvasContextID(ctx, c.ID, "ctx-2"))
		cur, err := tx.GetCustomer(ctx, c.ID)
		noErr(t, err)
		cur.AvataWallet = wallet
		cur.Profile.City = "Paris"
		c, err = tx.UpdateCustomer(ctx, cur, cur.Version)
		return err
	})
	if c.Version != 2 || c.Profile.City != "Paris" || c.AvataWallet != strings.ToLower(wallet) {
		t.Fatalf("update: %+v", c)
	}
	if !reflect.DeepEqual(c.EtvasContextIDs, []string{"ctx-1", "ctx-2"}) {
		t.Fatalf("context ids = %v", c.EtvasContextIDs)
	}
	finds := []struct {
		name string
		find func() (domain.Customer, error)
	}{
		{"etvas user", func() (domain.Customer, error) { return s.FindCustomerByEtvasUserID(ctx, "etvas-ada@example.com") }},
		{"etvas context", func() (domain.Customer, error) { return s.FindCustomerByEtvasContextID(ctx, "ctx-2") }},
		{"wallet", func() (domain.Customer, error) { return s.FindCustomerByAvataWallet(ctx, wallet) }},
		{"wallet lower", func() (domain.Customer, error) { return s.FindCustomerByAvataWallet(ctx, strings.ToLower(wallet)) }},
	}
	for _, f := range finds {
		got, err := f.find()
		if err != nil || got.ID != c.ID || got.Version != 2 {
			t.Fatalf("find by %s: %+v, %v", f.name, got, err)
		}
	}
	notFound := []func() error{
		func() error { _, err := s.GetCustomer(ctx, "01890000-0000-7000-8000-000000000000"); return err },
		func() error { _, err := s.FindCustomerByEtvasUserID(ctx, "nobody"); return err },
		func() error { _, err := s.FindCustomerByEtvasContextID(ctx, "nope"); return err },
		func() error { _, err := s.FindCustomerByAvataWallet(ctx, "0x0"); return err },
	}
	for _, f := range notFound {
		wantErr(t, f(), store.ErrNotFound)
	}

	// Stale version → conflict, and nothing changes.
	stale := c
	stale.Profile.City = "Berlin"
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdateCustomer(ctx, stale, 1)
		return err
	})
	wantErr(t, err, store.ErrConflict)
	got, err = s.GetCustomer(ctx, c.ID)
	noErr(t, err)
	if got.Profile.City != "Paris" || got.Version != 2 {
		t.Fatalf("conflicting update changed the row: %+v", got)
	}

	// Unique references.
	other := newCustomer(t, s, "bob@example.com")
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateCustomer(ctx, domain.Customer{EtvasUserID: "etvas-ada@example.com"})
		return err
	})
	wantErr(t, err, store.ErrDuplicate)
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AddEtvasContextID(ctx, other.ID, "ctx-1")
	})
	wantErr(t, err, store.ErrConflict)

	page, err := s.ListCustomers(ctx, store.PageRequest{Size: 10})
	noErr(t, err)
	if len(page.Items) != 2 || page.Next != "" || page.Items[0].ID != c.ID || len(page.Items[0].EtvasContextIDs) != 2 {
		t.Fatalf("list customers: %+v", page)
	}
}

func testCustomerEnsure(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	tests := []struct {
		name   string
		ensure func(ctx context.Context, tx store.Tx, c domain.Customer) (domain.Customer, bool, error)
		in     domain.Customer
	}{
		{"etvas", func(ctx context.Context, tx store.Tx, c domain.Customer) (domain.Customer, bool, error) {
			return tx.EnsureCustomerByEtvasUserID(ctx, c)
		}, domain.Customer{EtvasUserID: "u-1", EtvasContextIDs: []string{"c-1"}, Profile: domain.Profile{Email: "e@x.io"}}},
		{"avata", func(ctx context.Context, tx store.Tx, c domain.Customer) (domain.Customer, bool, error) {
			return tx.EnsureCustomerByAvataWallet(ctx, c)
		}, domain.Customer{AvataWallet: "0xABCDEF0123456789ABCDEF0123456789ABCDEF01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first, second domain.Customer
			var created1, created2 bool
			inTx(t, s, func(ctx context.Context, tx store.Tx) error {
				var err error
				first, created1, err = tt.ensure(ctx, tx, tt.in)
				return err
			})
			inTx(t, s, func(ctx context.Context, tx store.Tx) error {
				var err error
				second, created2, err = tt.ensure(ctx, tx, tt.in)
				return err
			})
			if !created1 || created2 || first.ID != second.ID {
				t.Fatalf("ensure: first %v %s, second %v %s", created1, first.ID, created2, second.ID)
			}
			err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				_, _, err := tt.ensure(ctx, tx, domain.Customer{})
				return err
			})
			if err == nil {
				t.Fatal("ensure with an empty key succeeded")
			}
		})
	}
	c, err := s.FindCustomerByEtvasContextID(ctx, "c-1")
	noErr(t, err)
	if c.EtvasUserID != "u-1" {
		t.Fatalf("context link of ensured customer: %+v", c)
	}
}

func testQuotes(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	c := newCustomer(t, s, "q@example.com")
	in := domain.Quote{
		Kind: domain.KindNFT, Partner: domain.PartnerAvata, PartnerProposalID: "prop-1", CustomerID: c.ID,
		Request:            []byte(`{"value":0.30000000000000004}`),
		TotalValue:         domain.Money{Amount: "0.30000000000000004", Currency: "ETH"},
		Premium:            domain.Money{Amount: "0.000000000000000001", Currency: "ETH"},
		PolicyPercentage:   "2.5",
		CoveragePercentage: "100",
		DurationDays:       365,
		TermsURL:           "https://avata.example/terms",
		ExpireTime:         time.Now().Add(time.Hour),
	}
	var q domain.Quote
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		q, err = tx.CreateQuote(ctx, in)
		return err
	})
	got, err := s.GetQuote(ctx, q.ID)
	noErr(t, err)
	if !reflect.DeepEqual(got, q) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, q)
	}
	if got.TotalValue.Amount != "0.30000000000000004" || got.Premium.Amount != "0.000000000000000001" {
		t.Fatalf("decimal digits changed: %+v", got)
	}
	_, err = s.GetQuote(ctx, "missing")
	wantErr(t, err, store.ErrNotFound)
}

func testPolicies(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	c := newCustomer(t, s, "p@example.com")
	start := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	p := newPolicy(t, s, domain.Policy{
		CustomerID: c.ID, Partner: domain.PartnerEtvas, Kind: domain.KindBooking, ProductName: "Travel",
		Premium: domain.Money{Amount: "9.99", Currency: "EUR"}, Billing: domain.Billing{PriceType: "recurring", PriceInterval: "month"},
		EtvasContextID: "pctx-1", EtvasProductID: "prod-1", EtvasUserID: "etvas-p", StartTime: start,
		EndTime: start.AddDate(1, 0, 0), StatusTime: start,
	})
	if p.Status != domain.PolicyPending || p.Version != 1 || !p.StartTime.Equal(start.Truncate(time.Microsecond)) || p.StartTime.Location() != time.UTC {
		t.Fatalf("create: %+v", p)
	}
	if p.StartTime.Nanosecond() != 123456000 {
		t.Fatalf("times are kept to the microsecond, got %v", p.StartTime)
	}
	for _, find := range []func() (domain.Policy, error){
		func() (domain.Policy, error) { return s.GetPolicy(ctx, p.ID) },
		func() (domain.Policy, error) { return s.FindPolicyByEtvasContextID(ctx, "pctx-1") },
	} {
		got, err := find()
		noErr(t, err)
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
		}
	}
	avata := newPolicy(t, s, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindNFT, AvataPolicyUUID: "8c5f0c3e-0000-4000-8000-000000000001", AvataReference: "REF-1"})
	got, err := s.FindPolicyByAvataUUID(ctx, avata.AvataPolicyUUID)
	noErr(t, err)
	if got.ID != avata.ID || got.CustomerID != "" || !got.StartTime.IsZero() {
		t.Fatalf("avata policy: %+v", got)
	}

	// Update: version increments, stale versions conflict, unknown ids are not found.
	p.Status = domain.PolicyActive
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		p, err = tx.UpdatePolicy(ctx, p, 1)
		return err
	})
	if p.Version != 2 {
		t.Fatalf("version after update = %d", p.Version)
	}
	got, err = s.GetPolicy(ctx, p.ID)
	noErr(t, err)
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("after update:\n got %+v\nwant %+v", got, p)
	}
	cases := []struct {
		name     string
		id       string
		expected int64
		want     error
	}{
		{"stale", p.ID, 1, store.ErrConflict},
		{"future", p.ID, 7, store.ErrConflict},
		{"unknown", "01890000-0000-7000-8000-000000000000", 1, store.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := p
			q.ID = tc.id
			err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.UpdatePolicy(ctx, q, tc.expected)
				return err
			})
			wantErr(t, err, tc.want)
		})
	}
	// Unique partner references.
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreatePolicy(ctx, domain.Policy{Partner: domain.PartnerEtvas, Kind: domain.KindBooking, EtvasContextID: "pctx-1"})
		return err
	})
	wantErr(t, err, store.ErrDuplicate)

	// Filters.
	filters := []struct {
		name string
		f    store.PolicyFilter
		want []string
	}{
		{"all", store.PolicyFilter{}, []string{p.ID, avata.ID}},
		{"customer", store.PolicyFilter{CustomerID: c.ID}, []string{p.ID}},
		{"partner", store.PolicyFilter{Partner: domain.PartnerAvata}, []string{avata.ID}},
		{"status", store.PolicyFilter{Status: domain.PolicyActive}, []string{p.ID}},
		{"status+partner none", store.PolicyFilter{Status: domain.PolicyActive, Partner: domain.PartnerAvata}, nil},
	}
	for _, tc := range filters {
		t.Run("filter "+tc.name, func(t *testing.T) {
			page, err := s.ListPolicies(ctx, tc.f, store.PageRequest{})
			noErr(t, err)
			var ids []string
			for _, it := range page.Items {
				ids = append(ids, it.ID)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Fatalf("ids = %v, want %v", ids, tc.want)
			}
		})
	}
}

func testPolicyConcurrency(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	p := newPolicy(t, s, domain.Policy{})
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := p
			q.ProductName = fmt.Sprintf("writer-%d", i)
			errs[i] = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.UpdatePolicy(ctx, q, p.Version)
				return err
			})
		}()
	}
	wg.Wait()
	var ok, conflicts int
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			winner = fmt.Sprintf("writer-%d", i)
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if ok != 1 || conflicts != writers-1 {
		t.Fatalf("%d updates succeeded and %d conflicted; want exactly one winner", ok, conflicts)
	}
	got, err := s.GetPolicy(ctx, p.ID)
	noErr(t, err)
	if got.Version != 2 || got.ProductName != winner {
		t.Fatalf("stored %q v%d, winner %q", got.ProductName, got.Version, winner)
	}
}

func testClaims(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	c := newCustomer(t, s, "claimant@example.com")
	p := newPolicy(t, s, domain.Policy{CustomerID: c.ID, Partner: domain.PartnerAvata, Kind: domain.KindNFT})
	var cl domain.Claim
	var doc domain.ClaimDocument
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		doc, err = tx.CreateClaimDocument(ctx, domain.ClaimDocument{PolicyID: p.ID, PartnerKey: "k/1.pdf", FileName: "1.pdf",
			ContentType: "application/pdf", SizeBytes: 1234, SHA256: strings.Repeat("ab", 32)})
		if err != nil {
			return err
		}
		cl, err = tx.CreateClaim(ctx, domain.Claim{PolicyID: p.ID, CustomerID: c.ID, AvataClaimUUID: "claim-uuid-1",
			Reason: "stolen", ClaimantEmail: "claimant@example.com", DocumentKeys: []string{"k/1.pdf"}})
		return err
	})
	if cl.Status != domain.ClaimCreated || cl.Version != 1 {
		t.Fatalf("create claim: %+v", cl)
	}
	for _, find := range []func() (domain.Claim, error){
		func() (domain.Claim, error) { return s.GetClaim(ctx, cl.ID) },
		func() (domain.Claim, error) { return s.FindClaimByAvataUUID(ctx, "claim-uuid-1") },
	} {
		got, err := find()
		noErr(t, err)
		if !reflect.DeepEqual(got, cl) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, cl)
		}
	}
	gotDoc, err := s.GetClaimDocument(ctx, doc.ID)
	noErr(t, err)
	if !reflect.DeepEqual(gotDoc, doc) {
		t.Fatalf("document round trip:\n got %+v\nwant %+v", gotDoc, doc)
	}
	docs, err := s.ListClaimDocuments(ctx, p.ID, store.PageRequest{})
	noErr(t, err)
	if len(docs.Items) != 1 || docs.Items[0].ID != doc.ID {
		t.Fatalf("list documents: %+v", docs)
	}

	cl.Status = domain.ClaimApproved
	cl.StatusTime = time.Now()
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		cl, err = tx.UpdateClaim(ctx, cl, 1)
		return err
	})
	got, err := s.GetClaim(ctx, cl.ID)
	noErr(t, err)
	if !reflect.DeepEqual(got, cl) || got.Version != 2 {
		t.Fatalf("after update:\n got %+v\nwant %+v", got, cl)
	}
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { _, err := tx.UpdateClaim(ctx, cl, 1); return err })
	wantErr(t, err, store.ErrConflict)
	// A claim must reference an existing policy (foreign keys are on).
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.CreateClaim(ctx, domain.Claim{PolicyID: "01890000-0000-7000-8000-000000000000"})
		return err
	})
	if err == nil {
		t.Fatal("claim for a missing policy was accepted")
	}
	for _, f := range []store.ClaimFilter{{PolicyID: p.ID}, {CustomerID: c.ID}, {Status: domain.ClaimApproved}} {
		page, err := s.ListClaims(ctx, f, store.PageRequest{})
		noErr(t, err)
		if len(page.Items) != 1 || page.Items[0].ID != cl.ID {
			t.Fatalf("filter %+v: %+v", f, page)
		}
	}
	page, err := s.ListClaims(ctx, store.ClaimFilter{Status: domain.ClaimRejected}, store.PageRequest{})
	noErr(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("rejected claims: %+v", page)
	}
}

func testPagination(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	c := newCustomer(t, s, "page@example.com")
	var want, wantActive []string
	for i := range 23 {
		p := domain.Policy{}
		if i%3 == 0 {
			p.CustomerID = c.ID
			p.Status = domain.PolicyActive
		}
		p = newPolicy(t, s, p)
		want = append(want, p.ID)
		if i%3 == 0 {
			wantActive = append(wantActive, p.ID)
		}
	}
	sizes := []int{1, 5, 7, 23, 24, 0}
	for _, size := range sizes {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			for _, tc := range []struct {
				f    store.PolicyFilter
				want []string
			}{{store.PolicyFilter{}, want}, {store.PolicyFilter{CustomerID: c.ID, Status: domain.PolicyActive}, wantActive}} {
				var got []string
				req := store.PageRequest{Size: size}
				for pages := 0; ; pages++ {
					if pages > 100 {
						t.Fatal("paging does not terminate")
					}
					page, err := s.ListPolicies(ctx, tc.f, req)
					noErr(t, err)
					if size > 0 && len(page.Items) > size {
						t.Fatalf("page of %d items for size %d", len(page.Items), size)
					}
					for _, p := range page.Items {
						got = append(got, p.ID)
					}
					if page.Next == "" {
						break
					}
					req.After = page.Next
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("paged ids:\n got %v\nwant %v", got, tc.want)
				}
			}
		})
	}
	// Requests beyond the maximum are clamped, not refused.
	page, err := s.ListPolicies(ctx, store.PolicyFilter{}, store.PageRequest{Size: store.MaxPageSize * 10})
	noErr(t, err)
	if len(page.Items) != 23 {
		t.Fatalf("clamped page: %d items", len(page.Items))
	}
}

func testPaginationConcurrent(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	var before []string
	for range 30 {
		before = append(before, newPolicy(t, s, domain.Policy{}).ID)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var insertErr error
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			insertErr = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.CreatePolicy(ctx, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindNFT})
				return err
			})
			if insertErr != nil {
				return
			}
		}
	}()
	seen := map[string]int{}
	last := ""
	req := store.PageRequest{Size: 4}
	for {
		page, err := s.ListPolicies(ctx, store.PolicyFilter{}, req)
		noErr(t, err)
		for _, p := range page.Items {
			if p.ID <= last {
				t.Fatalf("ids not increasing across pages: %s after %s", p.ID, last)
			}
			last = p.ID
			seen[p.ID]++
		}
		if page.Next == "" || len(seen) > 200 {
			break
		}
		req.After = page.Next
	}
	close(stop)
	wg.Wait()
	noErr(t, insertErr)
	for _, id := range before {
		if seen[id] != 1 {
			t.Fatalf("pre-existing policy %s seen %d times", id, seen[id])
		}
	}
}
