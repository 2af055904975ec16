package requestid

import (
	"regexp"
	"strings"
	"testing"
)

// The rule OrNew applies, as it was written before the loop replaced the regular expression.
var rule = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func TestOrNewKeepsWellFormedIDsOnly(t *testing.T) {
	ids := []string{
		"", "a", "0190a0a0-0000-7000-8000-000000000000", "req.1_2:3-4", strings.Repeat("x", 128),
		strings.Repeat("x", 129), "with space", "new\nline", "tab\t", "quote\"", "semi;colon", "slash/",
		"é", "caf\u00e9", "\x00", "ok\x00", "<script>", "a,b", "ä-ö", "Z9", "-", ".", ":", "_",
	}
	for c := 0; c < 256; c++ {
		ids = append(ids, "id"+string(rune(c)), "id"+string([]byte{byte(c)}))
	}
	for _, id := range ids {
		want := rule.MatchString(id)
		if got := valid(id); got != want {
			t.Errorf("valid(%q) = %v, want %v", id, got, want)
		}
		out := OrNew(id)
		if want && out != id {
			t.Errorf("OrNew(%q) = %q, want it kept", id, out)
		}
		if !want && (out == id || !rule.MatchString(out)) {
			t.Errorf("OrNew(%q) = %q, want a new well-formed id", id, out)
		}
	}
}

func BenchmarkOrNew(b *testing.B) {
	for b.Loop() {
		OrNew("0190a0a0-0000-7000-8000-000000000000")
	}
}

func BenchmarkRegexpRule(b *testing.B) {
	for b.Loop() {
		rule.MatchString("0190a0a0-0000-7000-8000-000000000000")
	}
}
