package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// testCustomerStructuredAddress: street, house number, suffix and country code round-trip on
// create and update, and a partial update keeps nothing stale.
func testCustomerStructuredAddress(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	c := newCustomer(t, s, "address@example.com")
	got, err := s.GetCustomer(ctx, c.ID)
	noErr(t, err)
	if got.Profile != c.Profile || got.Profile.Street != "Analytical Street address@example.com" ||
		got.Profile.HouseNumber != "12" || got.Profile.HouseNumberSuffix != "bis" || got.Profile.CountryCode != "GB" {
		t.Fatalf("stored profile %+v, want %+v", got.Profile, c.Profile)
	}
	next := got
	next.Profile.Street, next.Profile.HouseNumber, next.Profile.HouseNumberSuffix, next.Profile.CountryCode = "Keizersgracht", "1", "", "NL"
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		got, err = tx.UpdateCustomer(ctx, next, got.Version)
		return err
	})
	if got.Profile != next.Profile {
		t.Fatalf("updated profile %+v, want %+v", got.Profile, next.Profile)
	}
}

// testPolicyAvataData: Avata's policy data round-trips on create and update (times at the
// store's precision, the owner wallet lower-cased).
func testPolicyAvataData(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	at := time.Date(2026, 12, 3, 10, 11, 12, 123456789, time.UTC)
	p := newPolicy(t, s, domain.Policy{Partner: domain.PartnerAvata, Kind: domain.KindNFT, AvataPolicyUUID: "avata-data-1",
		Avata: domain.AvataPolicyData{OwnerWallet: "0xABCDEF0123456789ABCDEF0123456789ABCDEF01"}})
	if p.Avata.OwnerWallet != "0xabcdef0123456789abcdef0123456789abcdef01" {
		t.Fatalf("created owner wallet %q, want lower case", p.Avata.OwnerWallet)
	}
	got, err := s.GetPolicy(ctx, p.ID)
	noErr(t, err)
	if got.Avata != p.Avata {
		t.Fatalf("stored avata data %+v, want %+v", got.Avata, p.Avata)
	}
	next := got
	next.Avata = domain.AvataPolicyData{PolicyID: "AVT-1", PolicyHash: "0xfeed", PolicyType: "NFT", PartnerStatus: "ACCEPTED",
		Reference: "ref-1", FinishTime: at, OwnerWallet: got.Avata.OwnerWallet, SyncTime: at.Add(time.Minute)}
	next.StartTime, next.EndTime = at, at.AddDate(1, 0, 0)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.UpdatePolicy(ctx, next, got.Version)
		return err
	})
	got, err = s.GetPolicy(ctx, p.ID)
	noErr(t, err)
	want := next.Avata
	want.FinishTime, want.SyncTime = at.Truncate(time.Microsecond), at.Add(time.Minute).Truncate(time.Microsecond)
	if got.Avata != want || !got.StartTime.Equal(at.Truncate(time.Microsecond)) || !got.EndTime.Equal(at.AddDate(1, 0, 0).Truncate(time.Microsecond)) {
		t.Fatalf("updated avata data %+v (start %v end %v), want %+v", got.Avata, got.StartTime, got.EndTime, want)
	}
}

// testWalletSessions: one session per customer, replaced by a new sign-in, deleted on sign-out;
// the token is stored as given (the caller encrypts it) and NULL until the sign-in completed.
func testWalletSessions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	c := newCustomer(t, s, "wallet@example.com")
	_, err := s.GetWalletSession(ctx, c.ID)
	wantErr(t, err, store.ErrNotFound)

	wallet := "0x" + strings.Repeat("Cd", 20)
	nonceExp := time.Now().Add(5 * time.Minute)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.PutWalletSession(ctx, domain.WalletSession{CustomerID: c.ID, Wallet: wallet, ChainID: 137, Nonce: "n-1", NonceExpireTime: nonceExp})
		return err
	})
	got, err := s.GetWalletSession(ctx, c.ID)
	noErr(t, err)
	if got.Wallet != strings.ToLower(wallet) || got.ChainID != 137 || got.Nonce != "n-1" || got.TokenCiphertext != nil ||
		!got.ExpireTime.IsZero() || !got.NonceExpireTime.Equal(nonceExp.UTC().Truncate(time.Microsecond)) || got.CreateTime.IsZero() {
		t.Fatalf("pending session %+v", got)
	}

	sealed := []byte{0, 1, 2, 250, 251, 252}
	exp := time.Now().Add(time.Hour)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.PutWalletSession(ctx, domain.WalletSession{CustomerID: c.ID, Wallet: wallet, ChainID: 1, TokenCiphertext: sealed, ExpireTime: exp})
		return err
	})
	got, err = s.GetWalletSession(ctx, c.ID)
	noErr(t, err)
	if got.Nonce != "" || !got.NonceExpireTime.IsZero() || !slices.Equal(got.TokenCiphertext, sealed) || got.ChainID != 1 ||
		!got.ExpireTime.Equal(exp.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("completed session %+v", got)
	}

	// A session needs an existing customer.
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.PutWalletSession(ctx, domain.WalletSession{CustomerID: "01890000-0000-7000-8000-0000000000ff", Wallet: wallet, ChainID: 1})
		return err
	})
	if err == nil {
		t.Fatal("a wallet session of an unknown customer was stored")
	}

	var deleted bool
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		deleted, err = tx.DeleteWalletSession(ctx, c.ID)
		return err
	})
	if !deleted {
		t.Fatal("DeleteWalletSession reported nothing deleted")
	}
	_, err = s.GetWalletSession(ctx, c.ID)
	wantErr(t, err, store.ErrNotFound)
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		deleted, err = tx.DeleteWalletSession(ctx, c.ID)
		return err
	})
	if deleted {
		t.Fatal("second DeleteWalletSession reported a deletion")
	}
}

// testWalletErasure: erasure deletes the customer's wallet session and clears the wallet from
// the customer and its policies; nothing of the wallet remains anywhere.
func testWalletErasure(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	wallet := "0x" + strings.Repeat("e1", 20)
	var c domain.Customer
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		c, err = tx.CreateCustomer(ctx, domain.Customer{AvataWallet: wallet, Profile: domain.Profile{
			Street: "Damrak", HouseNumber: "7", HouseNumberSuffix: "III", PostalCode: "1012LG", City: "Amsterdam", CountryCode: "NL"}})
		if err != nil {
			return err
		}
		_, err = tx.PutWalletSession(ctx, domain.WalletSession{CustomerID: c.ID, Wallet: wallet, ChainID: 1, TokenCiphertext: []byte("sealed")})
		return err
	})
	p := newPolicy(t, s, domain.Policy{CustomerID: c.ID, Partner: domain.PartnerAvata, Kind: domain.KindNFT, AvataPolicyUUID: "erase-wallet-1",
		Avata: domain.AvataPolicyData{OwnerWallet: wallet, PolicyID: "AVT-9"}})
	before, err := s.FindText(ctx, wallet[2:])
	noErr(t, err)
	for _, col := range []string{"customers.avata_wallet", "policies.avata_owner_wallet", "wallet_sessions.wallet"} {
		if !contains(before, col) {
			t.Fatalf("FindText did not find the wallet in %s (found %v)", col, before)
		}
	}
	inTx(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.EraseCustomer(ctx, c.ID, time.Now())
		return err
	})
	after, err := s.FindText(ctx, wallet[2:])
	noErr(t, err)
	if len(after) != 0 {
		t.Fatalf("after erasure the wallet is still stored in %v", after)
	}
	_, err = s.GetWalletSession(ctx, c.ID)
	wantErr(t, err, store.ErrNotFound)
	got, err := s.GetCustomer(ctx, c.ID)
	noErr(t, err)
	if got.Profile != (domain.Profile{}) {
		t.Fatalf("profile after erasure %+v", got.Profile)
	}
	gp, err := s.GetPolicy(ctx, p.ID)
	noErr(t, err)
	if gp.Avata.OwnerWallet != "" || gp.Avata.PolicyID != "AVT-9" {
		t.Fatalf("policy avata data after erasure %+v: the wallet must go, the carrier's ids stay", gp.Avata)
	}
}
