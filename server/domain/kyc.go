package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// KYCSubmitted is the Customer.KYCStatus prefix of a customer whose KYC data was sent to the
// carrier; the rest of the status is the JSON of KYCSubmission.
const KYCSubmitted = "SUBMITTED"

// KYCSubmission is the last know-your-customer submission of a customer. It is stored in
// Customer.KYCStatus (the store keeps one text column for it) and holds no personal data: the
// KYC payload itself goes to the carrier only.
type KYCSubmission struct {
	PolicyID   string    `json:"policy_id"`
	SubmitTime time.Time `json:"submit_time"`
}

// EncodeKYCStatus renders s for Customer.KYCStatus.
func EncodeKYCStatus(s KYCSubmission) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("domain: encode kyc status: %w", err)
	}
	return KYCSubmitted + " " + string(b), nil
}

// DecodeKYCStatus reads Customer.KYCStatus; ok is false when no submission is recorded.
func DecodeKYCStatus(status string) (s KYCSubmission, ok bool) {
	const prefix = KYCSubmitted + " "
	if len(status) <= len(prefix) || status[:len(prefix)] != prefix {
		return KYCSubmission{}, false
	}
	if err := json.Unmarshal([]byte(status[len(prefix):]), &s); err != nil {
		return KYCSubmission{}, false
	}
	return s, true
}
