package domain

import (
	"errors"
	"testing"
)

func TestMatchPurchase(t *testing.T) {
	q := Quote{Kind: KindNFT, TotalValue: Money{Amount: "0.3", Currency: "ETH"}, CustomerID: "c1"}
	cases := []struct {
		name      string
		p         PurchaseTerms
		wantField string // "" = match
	}{
		{"exact", PurchaseTerms{Kind: KindNFT, TotalValue: Money{Amount: "0.3", Currency: "ETH"}}, ""},
		{"trailing zeros are the same value", PurchaseTerms{Kind: KindNFT, TotalValue: Money{Amount: "0.300000000000000000", Currency: "ETH"}}, ""},
		{"same customer", PurchaseTerms{Kind: KindNFT, TotalValue: Money{Amount: "0.3", Currency: "ETH"}, CustomerID: "c1"}, ""},
		{"float sum is not 0.3", PurchaseTerms{Kind: KindNFT, TotalValue: Money{Amount: "0.30000000000000004", Currency: "ETH"}}, "total_value.amount"},
		{"one wei more", PurchaseTerms{Kind: KindNFT, TotalValue: Money{Amount: "0.300000000000000001", Currency: "ETH"}}, "total_value.amount"},
		{"other currency", PurchaseTerms{Kind: KindNFT, TotalValue: Money{Amount: "0.3", Currency: "MATIC"}}, "total_value.currency_code"},
		{"other kind", PurchaseTerms{Kind: KindBooking, TotalValue: Money{Amount: "0.3", Currency: "ETH"}}, "purchase"},
		{"other customer", PurchaseTerms{Kind: KindNFT, TotalValue: Money{Amount: "0.3", Currency: "ETH"}, CustomerID: "c2"}, "customer_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := MatchPurchase(q, tc.p)
			var m *MismatchError
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("MatchPurchase = %v, want a match", err)
			case tc.wantField != "" && !errors.As(err, &m):
				t.Fatalf("MatchPurchase = %v, want a mismatch on %s", err, tc.wantField)
			case tc.wantField != "" && m.Field != tc.wantField:
				t.Fatalf("mismatch on %s, want %s", m.Field, tc.wantField)
			}
		})
	}
	if err := MatchPurchase(q, PurchaseTerms{Kind: KindNFT, TotalValue: Money{Amount: "1e3", Currency: "ETH"}}); err == nil || errors.As(err, new(*MismatchError)) {
		t.Fatalf("an invalid decimal = %v, want a validation error", err)
	}
}

func TestRoundDecimal(t *testing.T) {
	cases := []struct {
		in      string
		places  int
		want    string
		rounded bool
	}{
		{"0.025", 18, "0.025", false},
		{"0.02808641972530864195", 18, "0.028086419725308642", true},
		{"0.0075000000000000010", 18, "0.007500000000000001", false},
		{"0.00750000000000000100", 18, "0.007500000000000001", false},
		{"0.0000000000000000025", 18, "0.000000000000000002", true}, // half to even: down
		{"0.0000000000000000035", 18, "0.000000000000000004", true}, // half to even: up
		{"0.00000000000000000251", 18, "0.000000000000000003", true},
		{"-0.0000000000000000035", 18, "-0.000000000000000004", true},
		{"0.00000000000000000001", 18, "0", true},
		{"12", 2, "12", false},
		{"1.005", 2, "1", true},
	}
	for _, tc := range cases {
		got, rounded, err := RoundDecimal(tc.in, tc.places)
		if err != nil || got != tc.want || rounded != tc.rounded {
			t.Errorf("RoundDecimal(%s, %d) = %s, %v, %v; want %s, %v", tc.in, tc.places, got, rounded, err, tc.want, tc.rounded)
		}
	}
	for _, bad := range []string{"", "1e5", "0x10", "1.", ".5", "NaN"} {
		if _, _, err := RoundDecimal(bad, 18); !errors.Is(err, ErrInvalidDecimal) {
			t.Errorf("RoundDecimal(%q) = %v, want ErrInvalidDecimal", bad, err)
		}
	}
}

func TestQuoteTermsRoundTrip(t *testing.T) {
	in := QuoteTerms{Kind: KindBooking, TotalValue: Money{Amount: "1", Currency: "USDC"}, Chain: "POLYGON", Token: "USDC", NFTIDs: []string{"0xab"}, CheckInDate: "2027-01-01"}
	b, err := EncodeQuoteTerms(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeQuoteTerms(b)
	if err != nil || out.Chain != "POLYGON" || len(out.NFTIDs) != 1 || out.TotalValue != in.TotalValue {
		t.Fatalf("round trip = %+v, %v", out, err)
	}
	if _, err := DecodeQuoteTerms([]byte(`{"kind":"CAR"}`)); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if _, err := DecodeQuoteTerms([]byte(Redacted)); err == nil {
		t.Fatal("terms without kind accepted")
	}
}
