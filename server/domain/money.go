package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// MaxDecimalPlaces is the largest number of fractional digits an amount may
// carry. 18 is what ERC-20 tokens such as ETH need (wei).
const MaxDecimalPlaces = 18

// ErrInvalidDecimal is wrapped by every decimal and money validation error.
var ErrInvalidDecimal = errors.New("invalid decimal")

// decimalPattern is the only accepted textual form: optional minus, an integer
// part without superfluous leading zeros, and an optional fraction. Exponents,
// a leading '+' or '.', NaN and Inf are rejected on purpose: they are where
// float-minded producers smuggle rounding in.
var decimalPattern = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)

// currencyPattern accepts ISO 4217 codes (EUR) and crypto tickers (ETH, USDC,
// MATIC), which are not ISO codes but are what Avata quotes values in.
var currencyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]{2,9}$`)

// ParseDecimal validates s and returns its exact rational value.
func ParseDecimal(s string) (*big.Rat, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidDecimal)
	}
	if !decimalPattern.MatchString(s) {
		return nil, fmt.Errorf("%w: %q is not a plain decimal (digits, optional '-' and '.', no exponent)", ErrInvalidDecimal, s)
	}
	if _, frac, ok := strings.Cut(s, "."); ok && len(frac) > MaxDecimalPlaces {
		return nil, fmt.Errorf("%w: %q has more than %d fractional digits", ErrInvalidDecimal, s, MaxDecimalPlaces)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrInvalidDecimal, s)
	}
	return r, nil
}

// FormatDecimal renders r without exponent and without trailing fractional
// zeros. It fails when r needs more than MaxDecimalPlaces digits, because any
// rounding here would silently change an amount.
func FormatDecimal(r *big.Rat) (string, error) {
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(MaxDecimalPlaces), nil)))
	if !scaled.IsInt() {
		return "", fmt.Errorf("%w: value needs more than %d fractional digits", ErrInvalidDecimal, MaxDecimalPlaces)
	}
	s := r.FloatString(MaxDecimalPlaces)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s, nil
}

// AddDecimal returns a+b exactly.
func AddDecimal(a, b string) (string, error) {
	ra, err := ParseDecimal(a)
	if err != nil {
		return "", err
	}
	rb, err := ParseDecimal(b)
	if err != nil {
		return "", err
	}
	return FormatDecimal(new(big.Rat).Add(ra, rb))
}

// CompareDecimal returns -1, 0 or +1 as a is less than, equal to or greater
// than b ("1.50" equals "1.5").
func CompareDecimal(a, b string) (int, error) {
	ra, err := ParseDecimal(a)
	if err != nil {
		return 0, err
	}
	rb, err := ParseDecimal(b)
	if err != nil {
		return 0, err
	}
	return ra.Cmp(rb), nil
}

// DecimalFromFloatLiteral converts a JSON number from a partner into a decimal
// string without passing through float64: 0.30000000000000004 stays exactly
// that. A plain literal is returned as written; an exponent form (1e-7) is
// expanded exactly.
func DecimalFromFloatLiteral(n json.Number) (string, error) {
	s := strings.TrimSpace(n.String())
	if s == "" {
		return "", fmt.Errorf("%w: empty number", ErrInvalidDecimal)
	}
	if _, err := ParseDecimal(s); err == nil {
		return s, nil
	}
	if !strings.ContainsAny(s, "eE") {
		_, err := ParseDecimal(s)
		return "", err
	}
	// JSON grammar: -?int(.frac)?([eE][+-]?digits)? — check it before trusting
	// big.Rat, which also accepts forms such as "0x1p3".
	if !jsonNumberPattern.MatchString(s) {
		return "", fmt.Errorf("%w: %q is not a JSON number", ErrInvalidDecimal, s)
	}
	_, exp, _ := strings.Cut(strings.ToLower(s), "e")
	if len(strings.TrimLeft(exp, "+-")) > 4 {
		// Refuse absurd exponents before big.Rat allocates 10^exp.
		return "", fmt.Errorf("%w: exponent of %q out of range", ErrInvalidDecimal, s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrInvalidDecimal, s)
	}
	return FormatDecimal(r)
}

var jsonNumberPattern = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// Money is an exact amount in one currency. Amount is a decimal string (see
// ParseDecimal); there is no float anywhere in the money path.
type Money struct {
	Amount   string
	Currency string
}

// Validate checks the amount form and the currency code.
func (m Money) Validate() error {
	if _, err := ParseDecimal(m.Amount); err != nil {
		return fmt.Errorf("money amount: %w", err)
	}
	if !currencyPattern.MatchString(m.Currency) {
		return fmt.Errorf("%w: currency %q is not an upper-case code such as EUR or ETH", ErrInvalidDecimal, m.Currency)
	}
	return nil
}

// IsZero reports whether m is the zero value (no amount, no currency), which
// the store uses for "not set".
func (m Money) IsZero() bool { return m.Amount == "" && m.Currency == "" }

// Add returns m+o; both must be valid and in the same currency.
func (m Money) Add(o Money) (Money, error) {
	if err := m.Validate(); err != nil {
		return Money{}, err
	}
	if err := o.Validate(); err != nil {
		return Money{}, err
	}
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: cannot add %s to %s", ErrInvalidDecimal, o.Currency, m.Currency)
	}
	sum, err := AddDecimal(m.Amount, o.Amount)
	if err != nil {
		return Money{}, err
	}
	return Money{Amount: sum, Currency: m.Currency}, nil
}

// Cmp compares two amounts in the same currency.
func (m Money) Cmp(o Money) (int, error) {
	if m.Currency != o.Currency {
		return 0, fmt.Errorf("%w: cannot compare %s with %s", ErrInvalidDecimal, m.Currency, o.Currency)
	}
	return CompareDecimal(m.Amount, o.Amount)
}
