package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseKeys(t *testing.T) {
	hashed := sha256.Sum256([]byte("hashed-secret-key"))
	cases := []struct {
		name      string
		spec      string
		wantErr   []string // substrings, all required
		token     string
		wantScope string
		allowed   bool
	}{
		{name: "empty", spec: "", token: "anything-at-all", wantScope: "policies.read", allowed: false},
		{name: "all scopes", spec: "admin-secret-1:*", token: "admin-secret-1", wantScope: "claims.write", allowed: true},
		{name: "exact scope", spec: "reader-secret:policies.read", token: "reader-secret", wantScope: "policies.read", allowed: true},
		{name: "other scope", spec: "reader-secret:policies.read", token: "reader-secret", wantScope: "policies.write", allowed: false},
		{name: "resource wildcard", spec: "writer-secret:policies.*", token: "writer-secret", wantScope: "policies.write", allowed: true},
		{name: "several entries", spec: " a-secret-1:quotes.read ; b-secret-2:events.read,claims.read ;", token: "b-secret-2", wantScope: "claims.read", allowed: true},
		{name: "token with colon", spec: "tok:en:with:colons:events.read", token: "tok:en:with:colons", wantScope: "events.read", allowed: true},
		{name: "hashed", spec: "{sha256}" + hex.EncodeToString(hashed[:]) + ":*", token: "hashed-secret-key", wantScope: "events.read", allowed: true},
		{name: "unknown token", spec: "admin-secret-1:*", token: "admin-secret-2", wantScope: "events.read", allowed: false},
		{name: "no scopes", spec: "admin-secret-1:", wantErr: []string{"entry 1", "no scopes"}},
		{name: "no separator", spec: "admin-secret-1", wantErr: []string{"TOKEN:SCOPE"}},
		{name: "bad scope", spec: "admin-secret-1:Policies.Read", wantErr: []string{"invalid scope"}},
		{name: "short token", spec: "abc:*", wantErr: []string{"shorter than"}},
		{name: "bad hash", spec: "{sha256}zz:*", wantErr: []string{"64 hex digits"}},
		{name: "duplicate", spec: "admin-secret-1:*;admin-secret-1:events.read", wantErr: []string{"entry 2", "twice"}},
		{name: "every problem reported", spec: "abc:*;admin-secret-1:Bad", wantErr: []string{"entry 1", "entry 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseKeys(tc.spec)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("want an error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "admin-secret-1") {
					t.Errorf("error leaks a token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, ok := keys.Lookup(tc.token)
			if got := ok && p.Allows(tc.wantScope); got != tc.allowed {
				t.Errorf("allowed = %v, want %v (principal %+v)", got, tc.allowed, p)
			}
			if ok && strings.Contains(p.Name, tc.token) {
				t.Errorf("principal name %q reveals the token", p.Name)
			}
		})
	}
}
