package domain

import "testing"

func TestIDs(t *testing.T) {
	a, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(a) || !ValidID(b) || a[14] != '7' || b <= a {
		t.Fatalf("ids %s, %s are not increasing canonical UUIDv7", a, b)
	}
	p, err := NewPseudonymID()
	if err != nil || !ValidID(p) || p[14] != '4' {
		t.Fatalf("pseudonym id %s, %v", p, err)
	}
	for _, bad := range []string{"", "not-a-uuid", "01890000-0000-7000-8000-00000000000A", "{01890000-0000-7000-8000-000000000000}"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
