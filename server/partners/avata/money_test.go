package avata

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestNumberToDecimal(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"0.30000000000000004", "0.30000000000000004"},
		{"1.123456789012345678", "1.123456789012345678"},
		{"123456789012345678901234567890.000000000000000001", "123456789012345678901234567890.000000000000000001"},
		{"0", "0"},
		{"-0", "0"},
		{"-0.0", "0"},
		{"1.50", "1.5"},
		{"100", "100"},
		{"1e3", "1000"},
		{"1.5E+3", "1500"},
		{"1.5e-7", "0.00000015"},
		{"-2.5e-1", "-0.25"},
		{"12.345e1", "123.45"},
		{"0.001e3", "1"},
		{"5e-324", "0." + zeros(323) + "5"},
	}
	for _, tc := range tests {
		got, err := NumberToDecimal(json.Number(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("NumberToDecimal(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "abc", "1.", ".5", "+1", "01", "1e", "NaN", "Infinity", "1e999999", "0x10", "1 2", `"1"`} {
		if got, err := NumberToDecimal(json.Number(bad)); !errors.Is(err, ErrInvalidDecimal) {
			t.Errorf("NumberToDecimal(%q) = %q, %v; want ErrInvalidDecimal", bad, got, err)
		}
	}
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

func TestDecimalToNumberRoundTrip(t *testing.T) {
	for _, d := range []string{"0.30000000000000004", "1.123456789012345678", "-42", "0", "99999999999999999999.99", "0.000000000000000001"} {
		n, err := DecimalToNumber(d)
		if err != nil {
			t.Fatalf("DecimalToNumber(%s): %v", d, err)
		}
		// Through JSON and back: the wire never rounds.
		raw, err := json.Marshal(struct {
			V json.Number `json:"v"`
		}{n})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"v":` + d + `}`; string(raw) != want {
			t.Fatalf("marshal = %s, want %s", raw, want)
		}
		var back struct {
			V json.Number `json:"v"`
		}
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		got, err := NumberToDecimal(back.V)
		if err != nil || got != d {
			t.Fatalf("round trip %s -> %s (%v)", d, got, err)
		}
	}
	// Float64 would lose these digits; proving the test can fail.
	var f struct{ V float64 }
	json.Unmarshal([]byte(`{"V":1.123456789012345678}`), &f)
	if s, _ := NumberToDecimal(json.Number(jsonFloat(f.V))); s == "1.123456789012345678" {
		t.Fatal("float64 unexpectedly exact")
	}
	for _, bad := range []string{"", "1e3", "+1", ".5", "1.", "01.5", "NaN", "1,5", " 1"} {
		if _, err := DecimalToNumber(bad); !errors.Is(err, ErrInvalidDecimal) {
			t.Errorf("DecimalToNumber(%q) err = %v", bad, err)
		}
	}
}

func jsonFloat(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func FuzzNumberToDecimal(f *testing.F) {
	for _, s := range []string{"0.30000000000000004", "1e3", "-1.5e-7", "0", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := NumberToDecimal(json.Number(s))
		if err != nil {
			return
		}
		// Canonical output is a valid plain decimal and a fixed point.
		n, err := DecimalToNumber(d)
		if err != nil {
			t.Fatalf("%q -> %q not a plain decimal: %v", s, d, err)
		}
		again, err := NumberToDecimal(n)
		if err != nil || again != d {
			t.Fatalf("%q -> %q -> %q (%v)", s, d, again, err)
		}
	})
}
