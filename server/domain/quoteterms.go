package domain

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// QuoteTerms is what a quote was priced for, kept with the quote (Quote.Request) so that a later
// purchase can be checked against exactly what was offered before the carrier is called.
// Display-only values of the proposal (logos) travel with it because the store has no columns
// for them.
type QuoteTerms struct {
	Kind        QuoteKind `json:"kind"`
	TotalValue  Money     `json:"total_value"`
	Chain       string    `json:"chain,omitempty"`        // ETHEREUM | POLYGON (NFT, booking)
	Token       string    `json:"token,omitempty"`        // ETH, USDC, ... (NFT, booking)
	Country     string    `json:"country,omitempty"`      // Avata country code: global, nl, ...
	NFTContract string    `json:"nft_contract,omitempty"` // NFT
	Marketplace string    `json:"marketplace,omitempty"`  // NFT, optional
	NFTIDs      []string  `json:"nft_ids,omitempty"`      // booking
	CheckInDate string    `json:"check_in_date,omitempty"`

	PolicyLogoURL  string `json:"policy_logo_url,omitempty"`
	PartnerLogoURL string `json:"partner_logo_url,omitempty"`
}

// EncodeQuoteTerms renders t for Quote.Request.
func EncodeQuoteTerms(t QuoteTerms) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("domain: encode quote terms: %w", err)
	}
	return b, nil
}

// DecodeQuoteTerms reads Quote.Request.
func DecodeQuoteTerms(b []byte) (QuoteTerms, error) {
	var t QuoteTerms
	if err := json.Unmarshal(b, &t); err != nil {
		return QuoteTerms{}, fmt.Errorf("domain: decode quote terms: %w", err)
	}
	if !t.Kind.Valid() {
		return QuoteTerms{}, fmt.Errorf("domain: decode quote terms: unknown kind %q", t.Kind)
	}
	return t, nil
}

// PurchaseTerms is what a buyer claims to have bought, as far as it can be compared with a
// quote.
type PurchaseTerms struct {
	Kind       QuoteKind
	TotalValue Money
	CustomerID string // optional
}

// MismatchError says which field of a purchase differs from its quote. The API answers
// FAILED_PRECONDITION / QUOTE_MISMATCH with Field in the ErrorInfo metadata.
type MismatchError struct {
	Field string
	Want  string // what the quote says (never personal data)
	Got   string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s does not match the quote: quoted %s, got %s", e.Field, e.Want, e.Got)
}

// MatchPurchase checks a purchase against the quote it refers to: the kind, the currency and
// the exact value (compared as decimals, so "1.50" equals "1.5" but "0.3" never equals
// "0.30000000000000004"), and the customer when the quote was made for one.
func MatchPurchase(q Quote, p PurchaseTerms) error {
	if p.Kind != q.Kind {
		return &MismatchError{Field: "purchase", Want: string(q.Kind), Got: string(p.Kind)}
	}
	if p.TotalValue.Currency != q.TotalValue.Currency {
		return &MismatchError{Field: "total_value.currency_code", Want: q.TotalValue.Currency, Got: p.TotalValue.Currency}
	}
	cmp, err := CompareDecimal(p.TotalValue.Amount, q.TotalValue.Amount)
	if err != nil {
		return fmt.Errorf("total_value.amount: %w", err)
	}
	if cmp != 0 {
		return &MismatchError{Field: "total_value.amount", Want: q.TotalValue.Amount, Got: p.TotalValue.Amount}
	}
	if q.CustomerID != "" && p.CustomerID != "" && p.CustomerID != q.CustomerID {
		return &MismatchError{Field: "customer_id", Want: q.CustomerID, Got: p.CustomerID}
	}
	return nil
}

// RoundDecimal returns the decimal s rounded half-to-even to places fractional digits, and
// whether a non-zero remainder was rounded away. Partners may price with more digits than any token can
// carry (2.5 % of an 18-decimal amount has 21); the excess is below the smallest unit of every
// supported currency, and this is the single place where it is dropped.
func RoundDecimal(s string, places int) (string, bool, error) {
	if places < 0 || places > MaxDecimalPlaces {
		return "", false, fmt.Errorf("%w: cannot round to %d places", ErrInvalidDecimal, places)
	}
	if !decimalPattern.MatchString(s) {
		return "", false, fmt.Errorf("%w: %q is not a plain decimal", ErrInvalidDecimal, s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", false, fmt.Errorf("%w: %q", ErrInvalidDecimal, s)
	}
	_, frac, _ := strings.Cut(s, ".")
	if len(frac) <= places {
		out, err := FormatDecimal(r)
		return out, false, err
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	q, m := new(big.Int).QuoRem(scaled.Num(), scaled.Denom(), new(big.Int))
	// Compare twice the remainder with the denominator to decide the rounding direction.
	twice := new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2))
	switch c := twice.Cmp(scaled.Denom()); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	out, err := FormatDecimal(new(big.Rat).SetFrac(q, scale))
	return out, m.Sign() != 0, err
}
