package domain

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"0", true}, {"12.5", true}, {"-3.25", true}, {"0.000000000000000001", true},
		{"0.30000000000000004", true}, {"100.50", true},
		{"", false}, {"NaN", false}, {"Inf", false}, {"1e5", false}, {"1E-2", false},
		{"+1", false}, {".5", false}, {"1.", false}, {"007", false}, {" 1", false},
		{"0.0000000000000000001", false}, {"1,5", false}, {"0x10", false}, {"--1", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseDecimal(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseDecimal(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidDecimal) {
				t.Fatalf("error %v does not wrap ErrInvalidDecimal", err)
			}
		})
	}
}

func TestAddAndCompareDecimal(t *testing.T) {
	tests := []struct {
		a, b, sum string
		cmp       int
	}{
		{"0.1", "0.2", "0.3", -1},
		{"1.50", "1.5", "3", 0},
		{"0.000000000000000001", "0.999999999999999999", "1", -1},
		{"-5", "2.25", "-2.75", -1},
		{"123456789012345678901234567890.123456789012345678", "0.000000000000000002", "123456789012345678901234567890.12345678901234568", 1},
		{"1", "-1", "0", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"+"+tt.b, func(t *testing.T) {
			got, err := AddDecimal(tt.a, tt.b)
			if err != nil || got != tt.sum {
				t.Fatalf("AddDecimal = %q, %v; want %q", got, err, tt.sum)
			}
			c, err := CompareDecimal(tt.a, tt.b)
			if err != nil || c != tt.cmp {
				t.Fatalf("CompareDecimal = %d, %v; want %d", c, err, tt.cmp)
			}
		})
	}
	if _, err := AddDecimal("1", "1e3"); err == nil {
		t.Fatal("AddDecimal accepted an exponent form")
	}
}

func TestDecimalFromFloatLiteral(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"0.30000000000000004", "0.30000000000000004", true},
		{"100.50", "100.50", true},
		{"12", "12", true},
		{"1e-7", "0.0000001", true},
		{"1.5E+2", "150", true},
		{"-2.5e1", "-25", true},
		{"1e-19", "", false},
		{"1e99999", "", false},
		{"NaN", "", false},
		{"0x1p3", "", false},
		{"", "", false},
		{"0.1234567890123456789", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := DecimalFromFloatLiteral(json.Number(tt.in))
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("DecimalFromFloatLiteral(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestDecimalFromFloatLiteralDecoder(t *testing.T) {
	// The whole point: a partner's JSON float reaches us digit for digit.
	dec := json.NewDecoder(stringsReader(`{"value": 0.30000000000000004}`))
	dec.UseNumber()
	var v struct{ Value json.Number }
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	got, err := DecimalFromFloatLiteral(v.Value)
	if err != nil || got != "0.30000000000000004" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestMoney(t *testing.T) {
	tests := []struct {
		name    string
		a, b    Money
		want    Money
		wantErr bool
	}{
		{"same currency", Money{"10.25", "EUR"}, Money{"0.75", "EUR"}, Money{"11", "EUR"}, false},
		{"crypto 18 decimals", Money{"0.000000000000000001", "ETH"}, Money{"1", "ETH"}, Money{"1.000000000000000001", "ETH"}, false},
		{"currency mismatch", Money{"1", "EUR"}, Money{"1", "USD"}, Money{}, true},
		{"bad currency", Money{"1", "eur"}, Money{"1", "eur"}, Money{}, true},
		{"bad amount", Money{"1e2", "EUR"}, Money{"1", "EUR"}, Money{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.Add(tt.b)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Add = %+v, %v; want %+v err=%v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
