package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckAmountBounds(t *testing.T) {
	for _, tt := range []struct {
		amount string
		ok     bool
	}{
		{"0", true},
		{"123.45", true},
		{"-1.5", true},
		{strings.Repeat("9", 21), true},
		{strings.Repeat("9", 21) + ".123456789012345678", true},        // 40 characters
		{"-" + strings.Repeat("9", 21) + ".123456789012345678", false}, // 41 characters
		{strings.Repeat("9", 22), false},
		{"1" + strings.Repeat("0", 300), false}, // 1e300 expanded
		{"0.1234567890123456789", false},        // 19 fractional digits
		{"1e3", false},
		{"", false},
	} {
		err := CheckAmountBounds(tt.amount)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidDecimal)) {
			t.Errorf("CheckAmountBounds(%.30q) = %v, want ok=%v", tt.amount, err, tt.ok)
		}
	}
}
