package domain

import (
	"slices"
	"testing"
)

func TestRefsInPayload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		want    []string
		notWant []string
	}{
		{
			name:    "etvas portal event",
			payload: `{"event":{"type":"user.loggedIn"},"user":{"id":"u-1","email":"Ada@Example.com"}}`,
			want:    []string{RefEtvasUser + "u-1", RefEmail + "ada@example.com"},
		},
		{
			name:    "etvas app event with context",
			payload: `{"name":"x","payload":{"contextId":"c-9","user_id":"u-2"}}`,
			want:    []string{RefEtvasContext + "c-9", RefEtvasUser + "u-2"},
		},
		{
			name:    "ids and wallets inside free text",
			payload: `{"note":"claim 0190A0A0-0000-7000-8000-000000000000 paid to 0xABCDEFabcdef0123456789abcdef0123456789ab"}`,
			want:    []string{RefID + "0190a0a0-0000-7000-8000-000000000000", RefWallet + "0xabcdefabcdef0123456789abcdef0123456789ab"},
		},
		{
			// Member names are matched without case, '_' or '-' (normalizeMember's fast path
			// leaves names already folded as they are).
			name:    "member names in other spellings",
			payload: `{"Context-Id":"c-1","ETVAS_USER_ID":"u-3","User":{"Id":"u-4"},"userid":"u-5"}`,
			want:    []string{RefEtvasContext + "c-1", RefEtvasUser + "u-3", RefEtvasUser + "u-4", RefEtvasUser + "u-5"},
		},
		{
			name:    "an id outside a user object is not an Etvas user",
			payload: `{"event":{"id":"evt-1"}}`,
			notWant: []string{RefEtvasUser + "evt-1"},
		},
		{
			name:    "not JSON: text patterns only",
			payload: "\x0a\x10bob@example.org\x12",
			want:    []string{RefEmail + "bob@example.org"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RefsInPayload([]byte(tc.payload))
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("refs %v lack %q", got, w)
				}
			}
			for _, w := range tc.notWant {
				if slices.Contains(got, w) {
					t.Errorf("refs %v hold %q", got, w)
				}
			}
		})
	}
}

func TestCustomerRefsAndDigest(t *testing.T) {
	c := Customer{ID: "0190A0A0-0000-7000-8000-000000000001", Profile: Profile{Email: "A@B.example"}, EtvasUserID: "u",
		EtvasContextIDs: []string{"c1"}, AvataWallet: "0xAB"}
	got := CustomerRefs(c)
	want := []string{RefEmail + "a@b.example", RefEtvasContext + "c1", RefEtvasUser + "u", RefID + "0190a0a0-0000-7000-8000-000000000001", RefWallet + "0xab"}
	if !slices.Equal(got, want) {
		t.Fatalf("CustomerRefs = %v, want %v", got, want)
	}
	if RefDigest("email:a@b.example") == RefDigest("email:a@b.example ") || len(RefDigest("x")) != 64 {
		t.Fatal("RefDigest")
	}
}

func TestErasureReason(t *testing.T) {
	if ErasureReason("made up").Known() != ErasureUnspecified || ErasurePartnerDeletion.Known() != ErasurePartnerDeletion {
		t.Fatal("Known")
	}
	for r := range erasureDescriptions {
		if r.Description() == "" {
			t.Errorf("%s has no description", r)
		}
	}
}
