package avata

import (
	"encoding/json"
	"math/big"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/covergate/covergate/server/partners/avata"
)

// Patterns from the API reference.
var (
	contractPattern = regexp.MustCompile(`^0x[A-Fa-f0-9]{40}$`)
	nftIDPattern    = regexp.MustCompile(`^0x[A-Fa-f0-9]{64}$`)
)

// validator collects the first problem of a request body, naming the field.
type validator struct{ err *apiError }

func (v *validator) fail(format string, args ...any) {
	if v.err == nil {
		v.err = badRequest(format, args...)
	}
}

func (v *validator) required(field, value string) {
	if strings.TrimSpace(value) == "" {
		v.fail("%s is required", field)
	}
}

// amount checks a required positive number and returns it canonical.
func (v *validator) amount(field string, n json.Number) string {
	if n == "" {
		v.fail("%s is required", field)
		return ""
	}
	d, err := avata.NumberToDecimal(n)
	if err != nil {
		v.fail("%s must be a number", field)
		return ""
	}
	if r, ok := new(big.Rat).SetString(d); !ok || r.Sign() <= 0 {
		v.fail("%s must be greater than 0", field)
		return ""
	}
	return d
}

func (v *validator) chain(field, s string) {
	if !avata.IsChain(s) {
		v.fail("%s must be one of ETHEREUM, POLYGON", field)
	}
}

func (v *validator) token(field, s string) {
	if !avata.IsToken(s) {
		v.fail("%s must be one of ETH, MATIC, USDC, USDT, EUR, USD, GBP, AED", field)
	}
}

func (v *validator) country(field, s string, required bool) {
	if s == "" && !required {
		return
	}
	if !avata.IsCountryCode(s) {
		v.fail("%s must be one of global, nl, be, de, gb", field)
	}
}

func (v *validator) contract(field, s string, required bool) {
	if s == "" && !required {
		return
	}
	if !contractPattern.MatchString(s) {
		v.fail("%s must match ^0x[A-Fa-f0-9]{40}$", field)
	}
}

func (v *validator) nftIDs(field string, ids []string) {
	for i, id := range ids {
		if !nftIDPattern.MatchString(id) {
			v.fail("%s[%d] must match ^0x[A-Fa-f0-9]{64}$", field, i)
			return
		}
	}
}

func (v *validator) date(field, s string) {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		v.fail("%s must be a date yyyy-MM-dd", field)
	}
}

func (v *validator) email(field, s string, required bool) {
	if s == "" && !required {
		return
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
		v.fail("%s must be an e-mail address", field)
	}
}

func (v *validator) customer(c *avata.Customer) {
	if c != nil {
		v.email("customer.email", c.Email, false)
	}
}

// price returns totalValue × percent / 100 as an exact decimal string.
// Amounts arrive as finite decimals, so the product is a finite decimal too:
// enough fractional digits are the input's plus the percentage's.
func price(total, percent string) string {
	t, _ := new(big.Rat).SetString(total)
	p, _ := new(big.Rat).SetString(percent)
	r := new(big.Rat).Mul(t, p)
	r.Quo(r, big.NewRat(100, 1))
	s := r.FloatString(fracDigits(total) + fracDigits(percent) + 2)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func fracDigits(d string) int {
	_, frac, _ := strings.Cut(d, ".")
	return len(frac)
}

// sameAmount compares two JSON numbers exactly (1.50 equals 1.5).
func sameAmount(a json.Number, canonical string) bool {
	d, err := avata.NumberToDecimal(a)
	return err == nil && d == canonical
}
