// Package auth authenticates callers of the internal API with bearer API keys and authorizes
// each RPC against the scope the contract declares for it (option covergate.insurance.v1.required_scope).
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// hashedPrefix marks a key given as the hex SHA-256 of the token rather than the token itself,
// so that configuration files need not hold usable secrets.
const hashedPrefix = "{sha256}"

// minTokenLen keeps trivially guessable tokens out of configuration.
const minTokenLen = 8

var scopePattern = regexp.MustCompile(`^(\*|[a-z][a-z_]*\.(\*|[a-z][a-z_]*))$`)

// Principal is an authenticated caller. Name identifies the key without revealing it.
type Principal struct {
	Name   string
	Scopes []string
}

// Allows reports whether the principal holds scope, directly or through `*` or `resource.*`.
func (p Principal) Allows(scope string) bool {
	resource, _, _ := strings.Cut(scope, ".")
	for _, s := range p.Scopes {
		if s == "*" || s == scope || s == resource+".*" {
			return true
		}
	}
	return false
}

// Keys is the set of configured API keys, held only as SHA-256 digests.
type Keys struct {
	byDigest map[[sha256.Size]byte]Principal
}

// ParseKeys reads COVERGATE_API_KEYS: entries `TOKEN:SCOPE[,SCOPE...]` separated by `;`, where
// TOKEN is the key itself or `{sha256}` followed by the hex SHA-256 of the key. Every problem is
// reported, not only the first, and no error ever contains a token.
func ParseKeys(spec string) (*Keys, error) {
	keys := &Keys{byDigest: map[[sha256.Size]byte]Principal{}}
	var problems []string
	for i, entry := range strings.Split(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		digest, p, err := parseEntry(entry)
		if err != nil {
			problems = append(problems, fmt.Sprintf("entry %d: %v", i+1, err))
			continue
		}
		if _, dup := keys.byDigest[digest]; dup {
			problems = append(problems, fmt.Sprintf("entry %d: the same key is configured twice", i+1))
			continue
		}
		keys.byDigest[digest] = p
	}
	if len(problems) > 0 {
		return nil, errors.New("api keys: " + strings.Join(problems, "; "))
	}
	return keys, nil
}

func parseEntry(entry string) ([sha256.Size]byte, Principal, error) {
	var digest [sha256.Size]byte
	token, scopeList, ok := cutLast(entry, ":")
	if !ok || token == "" {
		return digest, Principal{}, errors.New("want TOKEN:SCOPE[,SCOPE...]")
	}
	if hexDigest, hashed := strings.CutPrefix(token, hashedPrefix); hashed {
		raw, err := hex.DecodeString(hexDigest)
		if err != nil || len(raw) != sha256.Size {
			return digest, Principal{}, errors.New("a {sha256} key needs 64 hex digits")
		}
		copy(digest[:], raw)
	} else {
		if len(token) < minTokenLen {
			return digest, Principal{}, fmt.Errorf("key is shorter than %d characters", minTokenLen)
		}
		digest = sha256.Sum256([]byte(token))
	}
	scopes, err := parseScopes(scopeList)
	if err != nil {
		return digest, Principal{}, err
	}
	return digest, Principal{Name: "key:" + hex.EncodeToString(digest[:6]), Scopes: scopes}, nil
}

// cutLast splits at the last sep, so that tokens may contain ':' (scopes never do).
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func parseScopes(list string) ([]string, error) {
	var scopes []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !scopePattern.MatchString(s) {
			return nil, fmt.Errorf("invalid scope %q (want `*`, `resource.*` or `resource.action`)", s)
		}
		scopes = append(scopes, s)
	}
	if len(scopes) == 0 {
		return nil, errors.New("no scopes")
	}
	sort.Strings(scopes)
	return scopes, nil
}

// all returns every configured principal.
func (k *Keys) all() []Principal {
	if k == nil {
		return nil
	}
	out := make([]Principal, 0, len(k.byDigest))
	for _, p := range k.byDigest {
		out = append(out, p)
	}
	return out
}

// Len is the number of keys.
func (k *Keys) Len() int { return len(k.byDigest) }

// Lookup finds the principal of a presented token. Comparing digests through a map does not leak
// the configured keys through timing: an attacker controls the input of SHA-256, not its output.
func (k *Keys) Lookup(token string) (Principal, bool) {
	if k == nil || token == "" {
		return Principal{}, false
	}
	p, ok := k.byDigest[sha256.Sum256([]byte(token))]
	return p, ok
}
