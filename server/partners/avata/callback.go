package avata

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Avata documents its callbacks but no authentication for them. Covergate
// requires a shared secret: the sender puts hex(HMAC-SHA256(secret, raw body))
// in the X-Avata-Signature header. Even a verified callback is only a hint —
// the gateway fetches the policy or claim from Avata before changing state.

// Callback verification errors.
var (
	ErrSignatureMissing = errors.New("avata: callback signature missing")
	ErrSignatureInvalid = errors.New("avata: callback signature invalid")
	ErrInvalidCallback  = errors.New("avata: invalid callback")
	ErrUnknownEventType = errors.New("avata: unknown callback event type")
	errNoCallbackSecret = errors.New("avata: no callback secret configured")
)

// Callback event types.
const (
	EventPolicyUpdate = "policy-update"
	EventClaimUpdate  = "claim-update"
)

// SignCallback returns the X-Avata-Signature value for body.
func SignCallback(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyCallbackSignature checks header (the X-Avata-Signature value) against
// rawBody, in constant time. It must be given the body exactly as received.
func VerifyCallbackSignature(secret, rawBody []byte, header string) error {
	if len(secret) == 0 {
		// Refuse rather than accept everything: an unset secret is a
		// configuration error, never "no authentication".
		return fmt.Errorf("%w: %w", ErrSignatureInvalid, errNoCallbackSecret)
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrSignatureMissing
	}
	got, err := hex.DecodeString(strings.TrimPrefix(header, "sha256="))
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: not a hex SHA-256 HMAC", ErrSignatureInvalid)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(rawBody)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrSignatureInvalid
	}
	return nil
}

// PolicyUpdate is the body of a policy-update callback.
type PolicyUpdate struct {
	Status    PolicyStatus        `json:"status"`
	UUID      string              `json:"uuid"`
	Reference string              `json:"reference,omitempty"`
	Details   PolicyUpdateDetails `json:"details"`
}

// PolicyUpdateDetails is PolicyDetails in the callback documentation.
type PolicyUpdateDetails struct {
	PolicyID      string `json:"policyId,omitempty"`
	PolicyType    string `json:"policyType,omitempty"`
	StartDateTime string `json:"startDateTime,omitempty"`
	EndDateTime   string `json:"endDateTime,omitempty"`
}

// ClaimUpdate is the body of a claim-update callback.
type ClaimUpdate struct {
	Status     ClaimStatus        `json:"status"`
	UUID       string             `json:"uuid"`
	PolicyUUID string             `json:"policyUuid"`
	Details    ClaimUpdateDetails `json:"details"`
}

// ClaimUpdateDetails is ClaimDetails in the callback documentation.
type ClaimUpdateDetails struct {
	ClaimID string `json:"claimId,omitempty"`
}

// Callback is a parsed callback: exactly one of Policy and Claim is set when
// EventType is known.
type Callback struct {
	EventType string
	Policy    *PolicyUpdate
	Claim     *ClaimUpdate
}

// callbackEnvelope is the wire form {"eventType": ..., "body": {...}}.
type callbackEnvelope struct {
	EventType string          `json:"eventType"`
	Body      json.RawMessage `json:"body"`
}

// NewPolicyUpdateCallback renders a policy-update callback body.
func NewPolicyUpdateCallback(u PolicyUpdate) ([]byte, error) {
	return marshalCallback(EventPolicyUpdate, u)
}

// NewClaimUpdateCallback renders a claim-update callback body.
func NewClaimUpdateCallback(u ClaimUpdate) ([]byte, error) {
	return marshalCallback(EventClaimUpdate, u)
}

func marshalCallback(eventType string, body any) ([]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("avata: marshal %s callback: %w", eventType, err)
	}
	return json.Marshal(callbackEnvelope{EventType: eventType, Body: raw})
}

// ParseCallback decodes a callback body. An unknown eventType returns a
// Callback with only EventType set and an error wrapping ErrUnknownEventType,
// so the gateway can record and acknowledge it instead of failing. Unknown
// statuses are kept (PolicyStatus.Known tells them apart): a callback is a
// hint, and the authoritative state is fetched from Avata anyway.
func ParseCallback(raw []byte) (*Callback, error) {
	var env callbackEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCallback, err)
	}
	if env.EventType == "" {
		return nil, fmt.Errorf("%w: eventType missing", ErrInvalidCallback)
	}
	if len(env.Body) == 0 || string(env.Body) == "null" {
		return nil, fmt.Errorf("%w: body missing", ErrInvalidCallback)
	}
	cb := &Callback{EventType: env.EventType}
	switch env.EventType {
	case EventPolicyUpdate:
		var u PolicyUpdate
		if err := json.Unmarshal(env.Body, &u); err != nil {
			return nil, fmt.Errorf("%w: policy-update body: %w", ErrInvalidCallback, err)
		}
		if u.UUID == "" || u.Status == "" {
			return nil, fmt.Errorf("%w: policy-update needs uuid and status", ErrInvalidCallback)
		}
		cb.Policy = &u
	case EventClaimUpdate:
		var u ClaimUpdate
		if err := json.Unmarshal(env.Body, &u); err != nil {
			return nil, fmt.Errorf("%w: claim-update body: %w", ErrInvalidCallback, err)
		}
		if u.UUID == "" || u.Status == "" || u.PolicyUUID == "" {
			return nil, fmt.Errorf("%w: claim-update needs uuid, policyUuid and status", ErrInvalidCallback)
		}
		cb.Claim = &u
	default:
		return cb, fmt.Errorf("%w: %q", ErrUnknownEventType, truncate(env.EventType))
	}
	return cb, nil
}
