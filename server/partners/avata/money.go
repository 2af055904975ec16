package avata

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Avata sends and receives amounts and percentages as JSON numbers. Parsing
// them into float64 would turn 1.123456789012345678 ETH into
// 1.1234567890123457, so the wire types keep json.Number (the literal text)
// and these two functions convert at the edge to the decimal strings the rest
// of Covergate uses. No arithmetic happens here: digits are moved, never
// rounded.

// ErrInvalidDecimal is returned for text that is not a plain decimal number.
var ErrInvalidDecimal = errors.New("avata: invalid decimal")

// maxExponent bounds exponent shifts so a hostile "1e999999999" cannot make us
// allocate gigabytes of zeros.
const maxExponent = 400

// DecimalToNumber turns a plain decimal string ("-12", "0.30000000000000004",
// "1.123456789012345678") into a json.Number with exactly the same digits.
// Exponents, "+" signs, leading dots, NaN and Inf are refused: our own decimal
// strings never contain them, so seeing one means a bug upstream.
func DecimalToNumber(s string) (json.Number, error) {
	if !isPlainDecimal(s) || !json.Valid([]byte(s)) { // json.Valid: no leading zeros
		return "", fmt.Errorf("%w: %q is not a plain decimal", ErrInvalidDecimal, truncate(s))
	}
	return json.Number(s), nil
}

// NumberToDecimal renders a JSON number from Avata as a canonical plain
// decimal string: no exponent, no leading zeros, no trailing fractional
// zeros, "-0" as "0". 1.5e-7 becomes "0.00000015" and 0.30000000000000004
// stays "0.30000000000000004".
func NumberToDecimal(n json.Number) (string, error) {
	s := string(n)
	neg, mant, exp, err := splitNumber(s)
	if err != nil {
		return "", err
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp // position of the decimal point within digits
	switch {
	case point <= 0:
		digits = strings.Repeat("0", -point+1) + digits
		point = 1
	case point > len(digits):
		digits += strings.Repeat("0", point-len(digits))
	}
	whole := strings.TrimLeft(digits[:point], "0")
	if whole == "" {
		whole = "0"
	}
	fraction := strings.TrimRight(digits[point:], "0")
	out := whole
	if fraction != "" {
		out += "." + fraction
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out, nil
}

// splitNumber validates JSON number syntax and returns sign, mantissa digits
// (with an optional '.') and the decimal exponent.
func splitNumber(s string) (neg bool, mant string, exp int, err error) {
	bad := func() (bool, string, int, error) {
		return false, "", 0, fmt.Errorf("%w: %q is not a JSON number", ErrInvalidDecimal, truncate(s))
	}
	if !json.Valid([]byte(s)) || s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return bad()
	}
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	mant = s
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, convErr := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if convErr != nil || e > maxExponent || e < -maxExponent {
			return bad()
		}
		exp = e
	}
	if !isPlainDecimal(mant) {
		return bad()
	}
	return neg, mant, exp, nil
}

// isPlainDecimal reports whether s matches -?digits(.digits)? .
func isPlainDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if !allDigits(intPart) || (hasPoint && !allDigits(frac)) {
		return false
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// UnmarshalJSON reads purchase data whose amounts Avata's example shows as
// strings ("totalValue": "string") but which may arrive as JSON numbers, the
// way proposals carry them; null means "not set". Numbers become canonical
// decimal strings with every digit kept.
func (p *PurchaseData) UnmarshalJSON(b []byte) error {
	type plain PurchaseData // no UnmarshalJSON: no recursion
	var aux struct {
		plain
		TotalValue         flexDecimal `json:"totalValue"`
		Duration           flexDecimal `json:"duration"`
		CoveragePercentage flexDecimal `json:"coveragePercentage"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*p = PurchaseData(aux.plain)
	p.TotalValue, p.Duration, p.CoveragePercentage = string(aux.TotalValue), string(aux.Duration), string(aux.CoveragePercentage)
	return nil
}

// flexDecimal is a string or a JSON number on the wire, a string here.
type flexDecimal string

func (f *flexDecimal) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*f = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexDecimal(s)
		return nil
	}
	d, err := NumberToDecimal(json.Number(b))
	if err != nil {
		return err
	}
	*f = flexDecimal(d)
	return nil
}
