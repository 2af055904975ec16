package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// This file is the sandbox's own reading of what a partner sends to the gateway, for
// `covergate sandbox send`. It deliberately shares no code with server/partners/...: the
// sandbox is a second, independent reading of the partner documents, so an adapter bug is
// not mirrored here.

// Avata callbacks (https://documentation.demo.avata.gg, "Callbacks"): a POST of
// {"eventType": "policy-update"|"claim-update", "body": {...}}. The document defines no
// authentication; Covergate's assumption is a hex HMAC-SHA256 of the raw body under a shared
// secret in X-Avata-Signature.
const (
	avataPolicyUpdate    = "policy-update"
	avataClaimUpdate     = "claim-update"
	avataSignatureHeader = "X-Avata-Signature"
)

// The status values of the document's PolicyStatus and ClaimStatus tables; the policy-update
// example also shows APPROVED.
var (
	avataPolicyStatuses = []string{"CREATED", "PENDING", "EXPIRED", "SEND", "ACCEPTED", "REJECTED", "ERROR", "RETRYING", "APPROVED"}
	avataClaimStatuses  = []string{"CREATED", "PENDING", "REPORTED", "REVIEWED", "REJECTED", "APPROVED"}
)

// avataPolicyCallback builds a policy-update callback body as the document's example shows it.
func avataPolicyCallback(status, policyUUID, reference string) ([]byte, error) {
	if !slices.Contains(avataPolicyStatuses, status) {
		return nil, fmt.Errorf("unknown policy status %q", status)
	}
	body := map[string]any{"status": status, "uuid": policyUUID, "details": map[string]any{}}
	if reference != "" {
		body["reference"] = reference
	}
	return json.Marshal(map[string]any{"eventType": avataPolicyUpdate, "body": body})
}

// avataClaimCallback builds a claim-update callback body as the document's example shows it.
func avataClaimCallback(status, claimUUID, policyUUID string) ([]byte, error) {
	if !slices.Contains(avataClaimStatuses, status) {
		return nil, fmt.Errorf("unknown claim status %q", status)
	}
	return json.Marshal(map[string]any{"eventType": avataClaimUpdate, "body": map[string]any{
		"status": status, "uuid": claimUUID, "policyUuid": policyUUID, "details": map[string]any{},
	}})
}

// hmacHex is hex(HMAC-SHA256(secret, body)): the X-Avata-Signature value (and Etvas's
// x-etvas-signature in the Etvas SDK, https://github.com/etvascom/etvas-sdk).
func hmacHex(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// etvasPurchaseEvent reports whether an Etvas event name announces a purchase (the names of
// both Etvas formats and of the current SDK), for which the gateway fetches the
// buyer's profile and so needs the context to exist in the Etvas sandbox.
func etvasPurchaseEvent(name string) bool {
	switch name {
	case "product.purchased", "purchase.succeeded", "product.purchase":
		return true
	}
	return false
}
