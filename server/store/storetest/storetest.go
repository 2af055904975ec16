// Package storetest is the conformance suite every store engine must pass.
// Engines call Run from their tests with a function that returns a fresh,
// empty, migrated store.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// OpenFunc returns a fresh, empty store (migrated from an empty database)
// and arranges for it to be closed when t ends.
type OpenFunc func(t *testing.T) store.Store

// Run runs the whole conformance suite, one subtest per behaviour.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"MigratedFromEmpty", testMigratedFromEmpty},
		{"Customers", testCustomers},
		{"CustomerEnsure", testCustomerEnsure},
		{"Quotes", testQuotes},
		{"Policies", testPolicies},
		{"PolicyOptimisticConcurrency", testPolicyConcurrency},
		{"Claims", testClaims},
		{"Pagination", testPagination},
		{"PaginationUnderConcurrentInserts", testPaginationConcurrent},
		{"Inbox", testInbox},
		{"InboxConcurrentDuplicates", testInboxConcurrent},
		{"InboxFiling", testInboxFiling},
		{"Events", testEvents},
		{"EventCursorUnderConcurrentAppends", testEventCursorConcurrent},
		{"Notifier", testNotifier},
		{"Outbox", testOutbox},
		{"OutboxTwoWorkers", testOutboxTwoWorkers},
		{"OutboxLeaseTakeover", testOutboxLeaseTakeover},
		{"Jobs", testJobs},
		{"JobsConcurrent", testJobsConcurrent},
		{"Idempotency", testIdempotency},
		{"Checkpoints", testCheckpoints},
		{"Rollback", testRollback},
		{"Savepoint", testSavepoint},
		{"SavepointNested", testSavepointNested},
		{"WriteBehind", testWriteBehind},
		{"Erasure", testErasure},
		{"CustomerStructuredAddress", testCustomerStructuredAddress},
		{"PolicyAvataData", testPolicyAvataData},
		{"WalletSessions", testWalletSessions},
		{"WalletErasure", testWalletErasure},
		{"ErasureReachesRecordsNamingTheCustomer", testErasureNamed},
		{"PartnerCalls", testPartnerCalls},
		{"AvataReferences", testAvataReferences},
		{"PartnerCallErasure", testPartnerCallErasure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// inTx runs fn in a transaction and fails the test on error.
func inTx(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := s.InTx(ctxFor(t), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want errors.Is %v", err, target)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newCustomer creates a customer with a full profile.
func newCustomer(t *testing.T, s store.Store, email string) domain.Customer {
	t.Helper()
	var c domain.Customer
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		c, err = tx.CreateCustomer(ctx, domain.Customer{
			Profile: domain.Profile{
				Salutation: "Ms", FirstName: "Ada", LastName: "Lovelace", Email: email, Phone: "+4915112345678",
				DateOfBirth: "1990-12-10", Address1: "1 Analytical St", Address2: "Flat " + email, City: "London",
				Region: "Greater London", Country: "GB", PostalCode: "N1 9GU",
				Street: "Analytical Street " + email, HouseNumber: "12", HouseNumberSuffix: "bis", CountryCode: "GB",
			},
			IdentityVerification: domain.IdentityVerification{Status: "VERIFIED", VerificationID: "idv-" + email},
			EtvasUserID:          "etvas-" + email,
			AvataWallet:          "",
			KYCStatus:            "APPROVED",
			KYCProvider:          "avata",
		})
		return err
	})
	return c
}

// newPolicy creates a policy for customerID.
func newPolicy(t *testing.T, s store.Store, p domain.Policy) domain.Policy {
	t.Helper()
	if p.Partner == "" {
		p.Partner = domain.PartnerEtvas
	}
	if p.Kind == "" {
		p.Kind = domain.KindBooking
	}
	if p.Premium.IsZero() {
		p.Premium = domain.Money{Amount: "12.50", Currency: "EUR"}
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		p, err = tx.CreatePolicy(ctx, p)
		return err
	})
	return p
}

// testMigratedFromEmpty: the store under test was migrated from an empty
// database to the latest schema and starts with nothing in it.
func testMigratedFromEmpty(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	v, err := s.SchemaVersion(ctx)
	noErr(t, err)
	if v != store.LatestSchemaVersion {
		t.Fatalf("schema version %d, want %d", v, store.LatestSchemaVersion)
	}
	noErr(t, s.Ping(ctx))
	cur, err := s.LatestCursor(ctx)
	noErr(t, err)
	customers, err := s.ListCustomers(ctx, store.PageRequest{})
	noErr(t, err)
	policies, err := s.ListPolicies(ctx, store.PolicyFilter{}, store.PageRequest{})
	noErr(t, err)
	pubs, err := s.ListPublications(ctx, store.PublicationFilter{}, store.PageRequest{})
	noErr(t, err)
	inbox, err := s.ListInbox(ctx, store.InboxFilter{}, store.PageRequest{})
	noErr(t, err)
	stats, err := s.OutboxStats(ctx)
	noErr(t, err)
	if cur != 0 || len(customers.Items)+len(policies.Items)+len(pubs.Items)+len(inbox.Items) != 0 || stats != (store.OutboxStats{}) {
		t.Fatalf("fresh store is not empty: cursor %d, %d customers, %d policies, %d publications, %d inbox, %+v",
			cur, len(customers.Items), len(policies.Items), len(pubs.Items), len(inbox.Items), stats)
	}
}
