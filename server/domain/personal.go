package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
)

// ErasureReason is why a customer was erased: a code from a fixed list (the contract's
// ErasureReason enum), never free text, because free text written by people about a person is
// personal data itself.
type ErasureReason string

// Erasure reasons.
const (
	ErasureUnspecified        ErasureReason = "UNSPECIFIED"
	ErasureDataSubjectRequest ErasureReason = "DATA_SUBJECT_REQUEST"
	ErasurePartnerDeletion    ErasureReason = "PARTNER_DELETION"
	ErasureRetentionExpired   ErasureReason = "RETENTION_EXPIRED"
	ErasureLegalObligation    ErasureReason = "LEGAL_OBLIGATION"
	ErasureCreatedInError     ErasureReason = "CREATED_IN_ERROR"
	ErasureOther              ErasureReason = "OTHER"
)

var erasureDescriptions = map[ErasureReason]string{
	ErasureUnspecified:        "no reason given",
	ErasureDataSubjectRequest: "the customer asked for erasure",
	ErasurePartnerDeletion:    "the partner deleted the customer's account",
	ErasureRetentionExpired:   "the retention period ended",
	ErasureLegalObligation:    "a legal obligation requires erasure",
	ErasureCreatedInError:     "the account was created in error",
	ErasureOther:              "other reason",
}

// Known returns r if it is one of the codes, else ErasureUnspecified.
func (r ErasureReason) Known() ErasureReason {
	if _, ok := erasureDescriptions[r]; ok {
		return r
	}
	return ErasureUnspecified
}

// Description is the code's fixed, non-personal description (what the event log keeps).
func (r ErasureReason) Description() string { return erasureDescriptions[r.Known()] }

// Personal-data references link a stored record to the people it names, so that erasure finds
// records that are not filed under a customer (a partner event about a user we know only by the
// partner's user id, a publication whose payload names a customer, a claim on a custodial policy
// filed with the customer's e-mail). A reference is "kind:value"; the store keeps only its
// SHA-256 (RefDigest), never the value.
const (
	RefEmail        = "email:"         // an e-mail address, lower-case
	RefWallet       = "wallet:"        // a 0x-address, lower-case
	RefID           = "id:"            // a UUID: customer, policy, claim, quote, partner policy/claim ids
	RefEtvasUser    = "etvas_user:"    // an Etvas user id
	RefEtvasContext = "etvas_context:" // an Etvas purchase context id
)

var (
	emailPattern  = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	walletPattern = regexp.MustCompile(`0x[0-9a-fA-F]{40}`)
	uuidPattern   = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
)

// RefDigest is the stored form of a reference.
func RefDigest(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return hex.EncodeToString(sum[:])
}

// RefsInText finds the references any text holds: e-mail addresses, wallet addresses and UUIDs.
// It works on JSON and on binary protobuf alike (their strings are stored as UTF-8).
func RefsInText(b []byte) []string {
	var out []string
	// Each pattern is tried only on text holding a byte every match has: the scans run for
	// every stored delivery, in the store's single writer on SQLite (issue 17).
	if bytes.IndexByte(b, '@') >= 0 {
		for _, m := range emailPattern.FindAll(b, -1) {
			out = append(out, RefEmail+strings.ToLower(string(m)))
		}
	}
	if bytes.IndexByte(b, 'x') >= 0 {
		for _, m := range walletPattern.FindAll(b, -1) {
			out = append(out, RefWallet+strings.ToLower(string(m)))
		}
	}
	if bytes.IndexByte(b, '-') >= 0 {
		for _, m := range uuidPattern.FindAll(b, -1) {
			out = append(out, RefID+strings.ToLower(string(m)))
		}
	}
	return out
}

// RefsInPayload is RefsInText plus the partner identifiers a JSON payload names by member name:
// Etvas user ids (`userId`, `user_id`, `etvasUserId`, or `id` inside a `user` object) and
// purchase contexts (`contextId`, `context_id`), at any depth. Non-JSON input gets RefsInText.
func RefsInPayload(b []byte) []string {
	out := RefsInText(b)
	var v any
	if len(b) == 0 || json.Unmarshal(b, &v) != nil {
		return Dedupe(out)
	}
	var walk func(parent string, v any)
	walk = func(parent string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				name := normalizeMember(k)
				if s, ok := child.(string); ok && s != "" {
					switch {
					case name == "userid" || name == "etvasuserid" || (name == "id" && parent == "user"):
						out = append(out, RefEtvasUser+s)
					case name == "contextid" || name == "etvascontextid":
						out = append(out, RefEtvasContext+s)
					}
				}
				walk(name, child)
			}
		case []any:
			for _, child := range v {
				walk(parent, child)
			}
		}
	}
	walk("", v)
	return Dedupe(out)
}

// normalizeMember folds a JSON member name for matching: lower case, without '_' and '-'. It
// runs on every member of every stored delivery, so it builds no replacer and allocates only
// when the name changes.
func normalizeMember(k string) string {
	if !needsFolding(k) {
		return k
	}
	var b strings.Builder
	b.Grow(len(k))
	for _, r := range k {
		if r != '_' && r != '-' {
			b.WriteRune(r)
		}
	}
	return strings.ToLower(b.String())
}

// needsFolding reports whether normalizeMember would change k (non-ASCII is left to ToLower).
func needsFolding(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c == '_' || c == '-' || ('A' <= c && c <= 'Z') || c >= 0x80 {
			return true
		}
	}
	return false
}

// CustomerRefs are the references that identify a customer: its id, e-mail, Etvas user id and
// contexts, and wallet.
func CustomerRefs(c Customer) []string {
	out := []string{RefID + strings.ToLower(c.ID)}
	if c.Profile.Email != "" {
		out = append(out, RefEmail+strings.ToLower(c.Profile.Email))
	}
	if c.EtvasUserID != "" {
		out = append(out, RefEtvasUser+c.EtvasUserID)
		if uuidPattern.MatchString(c.EtvasUserID) {
			out = append(out, RefID+strings.ToLower(c.EtvasUserID))
		}
	}
	for _, ctx := range c.EtvasContextIDs {
		out = append(out, RefEtvasContext+ctx)
	}
	if c.AvataWallet != "" {
		out = append(out, RefWallet+strings.ToLower(c.AvataWallet))
	}
	return Dedupe(out)
}

// Dedupe sorts refs and drops repeats.
func Dedupe(refs []string) []string {
	sort.Strings(refs)
	out := refs[:0]
	for i, r := range refs {
		if i == 0 || r != refs[i-1] {
			out = append(out, r)
		}
	}
	return out
}

// InboxRefs are the references a delivery names in its payload and headers (see
// RefsInPayload), deduplicated: InsertInbox files and links the delivery by them.
func InboxRefs(payload []byte, headers map[string]string) []string {
	var b strings.Builder
	for _, v := range headers {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	refs := append([]string{}, RefsInPayload(payload)...) // never nil: nil InboxRecord.Refs means "not computed"
	return Dedupe(append(refs, RefsInText([]byte(b.String()))...))
}
