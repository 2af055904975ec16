package domain_test

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/covergate/covergate/server/domain"
)

// FuzzParseDecimal: an accepted amount formats back to a canonical string with exactly the same
// value, and that string is accepted again unchanged.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "1.5", "-12.30", "0.30000000000000004", "1e5", "+1", ".5", "NaN", "00.1", "1.123456789012345678", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := domain.ParseDecimal(s)
		if err != nil {
			return
		}
		out, err := domain.FormatDecimal(r)
		if err != nil {
			t.Fatalf("ParseDecimal(%q) accepted but FormatDecimal failed: %v", s, err)
		}
		back, err := domain.ParseDecimal(out)
		if err != nil || back.Cmp(r) != 0 {
			t.Fatalf("%q → %q → %v (%v): value changed", s, out, back, err)
		}
		again, err := domain.FormatDecimal(back)
		if err != nil || again != out {
			t.Fatalf("format not canonical: %q then %q (%v)", out, again, err)
		}
	})
}

// FuzzDecimalFromFloatLiteral: a partner's JSON number becomes a plain decimal of exactly the
// same value (never through float64), or an error.
func FuzzDecimalFromFloatLiteral(f *testing.F) {
	for _, s := range []string{"0.30000000000000004", "1.5e-7", "1E+3", "-2.50", "1e9999", "0x1p3", "1e", "", " 1 ", "-0.0e-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := domain.DecimalFromFloatLiteral(json.Number(s))
		if err != nil {
			return
		}
		got, err := domain.ParseDecimal(out)
		if err != nil {
			t.Fatalf("DecimalFromFloatLiteral(%q) = %q, which is not a plain decimal: %v", s, out, err)
		}
		// Surrounding space is tolerated (trimmed); what is left must be a JSON number.
		trimmed := strings.TrimSpace(s)
		if !json.Valid([]byte(trimmed)) {
			t.Fatalf("DecimalFromFloatLiteral accepted %q, which is not a JSON number", s)
		}
		want, ok := new(big.Rat).SetString(trimmed)
		if !ok || want.Cmp(got) != 0 {
			t.Fatalf("DecimalFromFloatLiteral(%q) = %q: value changed", s, out)
		}
	})
}
