package avata

import (
	"encoding/json"
	"reflect"
)

// The sandbox's own reading of the reference's bodies. Response types have
// no omitempty on documented fields: every field of an example is always
// sent, and nothing the example does not show is ever added (except where a
// reading says so). Amounts in requests and proposals are JSON numbers
// (kept as their literal text, so every digit survives).

// Policy and claim statuses from the reference (the policy-update example
// also shows APPROVED, so the sandbox accepts it as a policy status too).
const (
	PolicyCreated  = "CREATED"
	PolicyPending  = "PENDING"
	PolicyExpired  = "EXPIRED"
	PolicySend     = "SEND"
	PolicyAccepted = "ACCEPTED"
	PolicyApproved = "APPROVED"
	PolicyRejected = "REJECTED"
	PolicyError    = "ERROR"
	PolicyRetrying = "RETRYING"

	ClaimCreated  = "CREATED"
	ClaimPending  = "PENDING"
	ClaimReported = "REPORTED"
	ClaimReviewed = "REVIEWED"
	ClaimRejected = "REJECTED"
	ClaimApproved = "APPROVED"

	EventPolicyUpdate = "policy-update"
	EventClaimUpdate  = "claim-update"
)

func isPolicyStatus(s string) bool {
	switch s {
	case PolicyCreated, PolicyPending, PolicyExpired, PolicySend, PolicyAccepted, PolicyApproved,
		PolicyRejected, PolicyError, PolicyRetrying:
		return true
	}
	return false
}

func isClaimStatus(s string) bool {
	switch s {
	case ClaimCreated, ClaimPending, ClaimReported, ClaimReviewed, ClaimRejected, ClaimApproved:
		return true
	}
	return false
}

// --- requests ---

// number is a JSON number in a request, kept as its literal text. Unlike
// json.Number it refuses a quoted string: the reference types these fields
// "number", and a client sending "10" has a bug the sandbox must show.
type number string

func (n *number) UnmarshalJSON(b []byte) error {
	var v json.Number
	if len(b) > 0 && b[0] == '"' {
		return &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeOf(n).Elem()}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = number(v)
	return nil
}

// MarshalJSON writes the number back as a number ("" as null).
func (n number) MarshalJSON() ([]byte, error) {
	if n == "" {
		return []byte("null"), nil
	}
	return []byte(n), nil
}

type nftProposalIn struct {
	TotalValue            number `json:"totalValue"`
	Chain                 string `json:"chain"`
	NFTContractID         string `json:"nftContractId"`
	CountryCode           string `json:"countryCode"`
	MarketplaceContractID string `json:"marketplaceContractId"`
	Token                 string `json:"token"`
}

type bookingProposalIn struct {
	TotalValue  number            `json:"totalValue"`
	Chain       string            `json:"chain"`
	NFTIDs      []json.RawMessage `json:"nftIds"` // "Array of arrays"; the example is []
	CountryCode string            `json:"countryCode"`
	CheckInDate string            `json:"checkInDate"`
	Token       string            `json:"token"`
}

type digitalAssetProposalIn struct {
	TotalValue   number `json:"totalValue"`
	CountryCode  string `json:"countryCode"`
	CurrencyCode string `json:"currencyCode"`
}

type proposalRefIn struct {
	ID string `json:"id"`
}

type customerIn struct {
	FirstName         string `json:"firstName"`
	LastName          string `json:"lastName"`
	HouseNumberSuffix string `json:"houseNumberSuffix"`
	PhoneNumber       string `json:"phoneNumber"`
	City              string `json:"city"`
	CountryCode       string `json:"countryCode"`
	Street            string `json:"street"`
	PostalCode        string `json:"postalCode"`
	HouseNumber       string `json:"houseNumber"`
	DateOfBirth       string `json:"dateOfBirth"`
	State             string `json:"state"`
	Email             string `json:"email"`
}

type nftConfirmIn struct {
	Proposal *proposalRefIn `json:"proposal"`
	Purchase *struct {
		TotalValue            number          `json:"totalValue"`
		Chain                 string          `json:"chain"`
		Metadata              json.RawMessage `json:"metadata"`
		CurrentBlock          string          `json:"currentBlock"`
		TxID                  string          `json:"txId"`
		MarketplaceContractID string          `json:"marketplaceContractId"`
		Source                string          `json:"source"`
		Token                 string          `json:"token"`
		Target                string          `json:"target"`
		Reference             string          `json:"reference"`
		NFTContractID         string          `json:"nftContractId"`
		CountryCode           string          `json:"countryCode"`
		NFTTokenID            string          `json:"nftTokenId"`
	} `json:"purchase"`
	Customer *customerIn `json:"customer"`
}

type bookingConfirmIn struct {
	Proposal *proposalRefIn `json:"proposal"`
	Purchase *struct {
		Reference            string          `json:"reference"`
		TotalValue           number          `json:"totalValue"`
		BookingWalletAddress string          `json:"bookingWalletAddress"`
		Chain                string          `json:"chain"`
		Metadata             json.RawMessage `json:"metadata"`
		NFTIDs               []string        `json:"nftIds"`
		BookingDateTime      string          `json:"bookingDateTime"`
		TxID                 string          `json:"txId"`
		WalletAddress        string          `json:"walletAddress"`
		CheckInDate          string          `json:"checkInDate"`
		Token                string          `json:"token"`
	} `json:"purchase"`
	Customer *customerIn `json:"customer"`
}

type digitalAssetConfirmIn struct {
	Proposal *proposalRefIn `json:"proposal"`
	Purchase *struct {
		Reference    string `json:"reference"`
		TotalValue   number `json:"totalValue"`
		InvoiceID    string `json:"invoiceId"`
		CurrencyCode string `json:"currencyCode"`
	} `json:"purchase"`
	Customer *customerIn `json:"customer"`
}

type activateIn struct {
	PolicyUUID    string   `json:"policyUuid"`
	Chain         string   `json:"chain"`
	NFTIDs        []string `json:"nftIds"`
	WalletAddress string   `json:"walletAddress"`
	Token         string   `json:"token"`
}

type uuidIn struct {
	UUID string `json:"uuid"`
}

type signInIn struct {
	Signature string `json:"signature"`
	ChainID   number `json:"chainId"`
	PublicKey string `json:"publicKey"`
}

type walletPoliciesIn struct {
	Wallet  string `json:"wallet"`
	ChainID number `json:"chainId"`
}

type claimStatusIn struct {
	PolicyUUID string `json:"policyUuid"`
}

type claimFile struct {
	FileName    string `json:"fileName"`
	FileVersion string `json:"fileVersion"`
	Key         string `json:"key"`
}

type claimCreateIn struct {
	Reason     string      `json:"reason"`
	PolicyUUID string      `json:"policyUuid"`
	Files      []claimFile `json:"files"`
	Email      string      `json:"email"`
}

type kycIO struct {
	PolicyUUID string          `json:"policyUuid"`
	Provider   string          `json:"provider"`
	Payload    json.RawMessage `json:"payload"`
}

// --- responses ---

// proposalOut is the NFT and booking proposal answer.
type proposalOut struct {
	TotalValue         json.Number `json:"totalValue"`
	Duration           json.Number `json:"duration"`
	PolicyPercentage   json.Number `json:"policyPercentage"`
	PolicyTermsURL     string      `json:"policyTermsUrl"`
	PolicyPrice        json.Number `json:"policyPrice"`
	ID                 string      `json:"id"`
	CoveragePercentage json.Number `json:"coveragePercentage"`
	PolicyLogoURL      string      `json:"policyLogoUrl"`
	AvataLogoURL       string      `json:"avataLogoUrl"`
}

// digitalAssetProposalOut has no duration and no coverage percentage.
type digitalAssetProposalOut struct {
	TotalValue       json.Number `json:"totalValue"`
	PolicyPercentage json.Number `json:"policyPercentage"`
	PolicyTermsURL   string      `json:"policyTermsUrl"`
	PolicyPrice      json.Number `json:"policyPrice"`
	ID               string      `json:"id"`
	PolicyLogoURL    string      `json:"policyLogoUrl"`
	AvataLogoURL     string      `json:"avataLogoUrl"`
}

type confirmationOut struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

type requestStatusOut struct {
	EventType string `json:"eventType"`
	Body      struct {
		Reference string `json:"reference"`
		UUID      string `json:"uuid"`
		Status    string `json:"status"`
	} `json:"body"`
}

type nonceOut struct {
	Nonce string `json:"nonce"`
}

type signInOut struct {
	AccessToken string `json:"accessToken"`
}

// docValue is a policy-details value the example shows as a string
// ("totalValue": "string"); the policyMoney reading may send it as a number.
// Unset times are null.
type docValue struct {
	text     string
	asNumber bool
	null     bool
}

func (v docValue) MarshalJSON() ([]byte, error) {
	switch {
	case v.null:
		return []byte("null"), nil
	case v.asNumber:
		return []byte(v.text), nil
	}
	return json.Marshal(v.text)
}

type assetOut struct {
	Owner      string `json:"owner"`
	Chain      string `json:"chain"`
	TokenID    string `json:"tokenId"`
	ContractID string `json:"contractId"`
	Title      string `json:"title"`
	URI        string `json:"uri"`
}

type nftOut struct {
	TxID   string   `json:"txId"`
	Source string   `json:"source"`
	Asset  assetOut `json:"asset"`
	Token  string   `json:"token"`
	Target string   `json:"target"`
}

type purchaseDataOut struct {
	Reference          string   `json:"reference"`
	TotalValue         docValue `json:"totalValue"`
	Duration           docValue `json:"duration"`
	ConfirmedAt        docValue `json:"confirmedAt"`
	NFT                *nftOut  `json:"nft"` // null for booking and digital-asset policies
	CoveragePercentage docValue `json:"coveragePercentage"`
}

type policyOut struct {
	StartDateTime docValue        `json:"startDateTime"`
	PolicyID      string          `json:"policyId"`
	PolicyHash    string          `json:"policyHash"`
	PurchaseData  purchaseDataOut `json:"purchaseData"`
	PolicyType    string          `json:"policyType"`
	EndDateTime   docValue        `json:"endDateTime"`
	UUID          string          `json:"uuid"`
	Status        string          `json:"status"`
	FinishedAt    docValue        `json:"finishedAt"`
}

type policyEnvelope struct {
	Policy policyOut `json:"policy"`
}

type walletPoliciesOut struct {
	Policies []policyEnvelope `json:"policies"`
}

type uploadOut struct {
	Keys    []string `json:"keys"`
	Message string   `json:"message"`
}

// claimCreateOut is the documented create answer: no claim uuid unless the
// claimUuid reading is "present".
type claimCreateOut struct {
	Claim struct {
		UUID        *string     `json:"uuid,omitempty"`
		Reason      string      `json:"reason"`
		CreatedDate string      `json:"createdDate"`
		Files       []claimFile `json:"files"`
		Email       string      `json:"email"`
		Status      string      `json:"status"`
		Policy      policyOut   `json:"policy"`
	} `json:"claim"`
}

// claimStatusOut is {"claim":{"status","policy":{"uuid"}}}.
type claimStatusOut struct {
	Claim struct {
		UUID   *string `json:"uuid,omitempty"`
		Status string  `json:"status"`
		Policy struct {
			UUID string `json:"uuid"`
		} `json:"policy"`
	} `json:"claim"`
}

// Callback bodies, exactly as the reference's examples.
type callbackOut struct {
	EventType string `json:"eventType"`
	Body      any    `json:"body"`
}

type policyUpdateOut struct {
	Status    string `json:"status"`
	UUID      string `json:"uuid"`
	Reference string `json:"reference"`
	Details   struct {
		PolicyID      string `json:"policyId"`
		PolicyType    string `json:"policyType"`
		StartDateTime string `json:"startDateTime"`
		EndDateTime   string `json:"endDateTime"`
	} `json:"details"`
}

type claimUpdateOut struct {
	Status     string `json:"status"`
	UUID       string `json:"uuid"`
	PolicyUUID string `json:"policyUuid"`
	Details    struct {
		ClaimID string `json:"claimId"`
	} `json:"details"`
}
