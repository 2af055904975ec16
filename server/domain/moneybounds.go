package domain

import (
	"fmt"
	"strings"
)

// The bounds of an amount that the API contract enforces on every Money field (covergate.
// insurance.v1.Money: `^-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,18})?$`, at most 40 characters).
// Amounts that reach us another way — partner webhooks — are held to the same bounds, so that
// nothing is stored that the API itself would refuse (or could not return).
const (
	MaxIntegerDigits = 21
	MaxAmountLength  = 40
)

// CheckAmountBounds validates amount like ParseDecimal and also enforces the API's size
// bounds: at most MaxIntegerDigits integer digits and MaxAmountLength characters.
func CheckAmountBounds(amount string) error {
	if _, err := ParseDecimal(amount); err != nil {
		return err
	}
	whole, _, _ := strings.Cut(strings.TrimPrefix(amount, "-"), ".")
	if len(whole) > MaxIntegerDigits {
		return fmt.Errorf("%w: %d integer digits, at most %d allowed", ErrInvalidDecimal, len(whole), MaxIntegerDigits)
	}
	if len(amount) > MaxAmountLength {
		return fmt.Errorf("%w: %d characters, at most %d allowed", ErrInvalidDecimal, len(amount), MaxAmountLength)
	}
	return nil
}
