package avata

import (
	"encoding/json"
	"math/big"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// Patterns and enums from the reference.
var (
	contractPattern = regexp.MustCompile(`^0x[A-Fa-f0-9]{40}$`)
	nftIDPattern    = regexp.MustCompile(`^0x[A-Fa-f0-9]{64}$`)
	plainNumber     = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$`)
	chains          = []string{"ETHEREUM", "POLYGON"}
	tokens          = []string{"ETH", "MATIC", "USDC", "USDT", "EUR", "USD", "GBP", "AED"}
	countries       = []string{"global", "nl", "be", "de", "gb"}
)

// chainIDs maps a chain to the EVM chain ids that name it (main network and
// its public test networks), for the wallet-policies query.
var chainIDs = map[string][]int64{
	"ETHEREUM": {1, 11155111, 17000, 5},
	"POLYGON":  {137, 80002, 80001},
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

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
func (v *validator) amount(field string, n number) string {
	if n == "" {
		v.fail("%s is required", field)
		return ""
	}
	d, ok := canonicalDecimal(string(n))
	if !ok {
		v.fail("%s must be a number", field)
		return ""
	}
	if strings.HasPrefix(d, "-") || d == "0" {
		v.fail("%s must be greater than 0", field)
		return ""
	}
	return d
}

func (v *validator) enum(field, s string, set []string, required bool) {
	if s == "" && !required {
		return
	}
	if !oneOf(s, set) {
		v.fail("%s must be one of %s", field, strings.Join(set, ", "))
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

// chainID checks a required positive chain id.
func (v *validator) chainID(field string, n number) int64 {
	id, err := json.Number(n).Int64()
	if err != nil || id <= 0 {
		v.fail("%s must be a positive integer", field)
		return 0
	}
	return id
}

// canonicalDecimal renders a JSON number as a plain decimal with no exponent,
// no trailing fractional zeros and "0" for zero: "1.50" and "15e-1" both give
// "1.5". Every input is a finite decimal, so the conversion is exact.
func canonicalDecimal(s string) (string, bool) {
	if !plainNumber.MatchString(s) {
		return "", false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", false
	}
	return ratString(r), true
}

// ratString renders a Rat whose denominator is 2^a·5^b exactly.
func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	digits := 0
	for x := new(big.Rat).Set(r); !x.IsInt() && digits < 2000; digits++ {
		x.Mul(x, big.NewRat(10, 1))
	}
	return r.FloatString(digits)
}

// price returns totalValue × percent / 100 as an exact decimal string.
func price(total, percent string) string {
	t, _ := new(big.Rat).SetString(total)
	p, _ := new(big.Rat).SetString(percent)
	r := new(big.Rat).Mul(t, p)
	return ratString(r.Quo(r, big.NewRat(100, 1)))
}

// sameAmount compares a JSON number with a canonical decimal exactly.
func sameAmount(a number, canonical string) bool {
	d, ok := canonicalDecimal(string(a))
	return ok && d == canonical
}
