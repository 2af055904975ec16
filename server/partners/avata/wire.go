package avata

import "encoding/json"

// Wire types follow the Avata API reference 0.12.0 field for field. Numbers
// the partner sends or receives are json.Number (see money.go); optional
// fields are omitempty so we never send an empty string where Avata expects
// an enum or a 0x address.

// Chain values accepted by Avata.
const (
	ChainEthereum = "ETHEREUM"
	ChainPolygon  = "POLYGON"
)

// IsChain reports whether s is a chain Avata accepts.
func IsChain(s string) bool { return s == ChainEthereum || s == ChainPolygon }

// IsToken reports whether s is a token Avata accepts.
func IsToken(s string) bool {
	switch s {
	case "ETH", "MATIC", "USDC", "USDT", "EUR", "USD", "GBP", "AED":
		return true
	}
	return false
}

// IsCountryCode reports whether s is a country code Avata accepts.
func IsCountryCode(s string) bool {
	switch s {
	case "global", "nl", "be", "de", "gb":
		return true
	}
	return false
}

// NFTProposalRequest asks for a policy proposal for an NFT purchase.
type NFTProposalRequest struct {
	TotalValue            json.Number `json:"totalValue"`
	Chain                 string      `json:"chain"`
	NFTContractID         string      `json:"nftContractId"`
	CountryCode           string      `json:"countryCode,omitempty"`
	MarketplaceContractID string      `json:"marketplaceContractId,omitempty"`
	Token                 string      `json:"token"`
}

// BookingProposalRequest asks for a policy proposal for a booking.
// NFTIDs is "Array of arrays" in the reference; its example is [] and the
// confirm call sends strings, so the inner items are kept as raw JSON.
type BookingProposalRequest struct {
	TotalValue  json.Number       `json:"totalValue"`
	Chain       string            `json:"chain"`
	NFTIDs      []json.RawMessage `json:"nftIds"`
	CountryCode string            `json:"countryCode,omitempty"`
	CheckInDate string            `json:"checkInDate"` // yyyy-MM-dd
	Token       string            `json:"token"`
}

// DigitalAssetProposalRequest asks for a policy proposal for a digital asset.
type DigitalAssetProposalRequest struct {
	TotalValue   json.Number `json:"totalValue"`
	CountryCode  string      `json:"countryCode"`
	CurrencyCode string      `json:"currencyCode"` // "eur"
}

// Proposal is Avata's priced offer. Duration and CoveragePercentage are absent
// for digital assets.
type Proposal struct {
	ID                 string      `json:"id"`
	TotalValue         json.Number `json:"totalValue"`
	Duration           json.Number `json:"duration,omitempty"`
	PolicyPercentage   json.Number `json:"policyPercentage"`
	PolicyPrice        json.Number `json:"policyPrice"`
	CoveragePercentage json.Number `json:"coveragePercentage,omitempty"`
	PolicyTermsURL     string      `json:"policyTermsUrl"`
	PolicyLogoURL      string      `json:"policyLogoUrl"`
	AvataLogoURL       string      `json:"avataLogoUrl"`
}

// ProposalRef names the proposal being confirmed.
type ProposalRef struct {
	ID string `json:"id"`
}

// Customer holds contact details; every field is personal data and is never
// logged.
type Customer struct {
	FirstName         string `json:"firstName,omitempty"`
	LastName          string `json:"lastName,omitempty"`
	Street            string `json:"street,omitempty"`
	HouseNumber       string `json:"houseNumber,omitempty"`
	HouseNumberSuffix string `json:"houseNumberSuffix,omitempty"`
	PostalCode        string `json:"postalCode,omitempty"`
	City              string `json:"city,omitempty"`
	State             string `json:"state,omitempty"`
	CountryCode       string `json:"countryCode,omitempty"`
	PhoneNumber       string `json:"phoneNumber,omitempty"`
	DateOfBirth       string `json:"dateOfBirth,omitempty"`
	Email             string `json:"email,omitempty"`
}

// NFTPurchase describes the confirmed NFT purchase; it must match the proposal.
type NFTPurchase struct {
	TotalValue            json.Number     `json:"totalValue"`
	Chain                 string          `json:"chain"`
	Token                 string          `json:"token"`
	NFTContractID         string          `json:"nftContractId"`
	NFTTokenID            string          `json:"nftTokenId,omitempty"`
	MarketplaceContractID string          `json:"marketplaceContractId,omitempty"`
	CountryCode           string          `json:"countryCode,omitempty"`
	CurrentBlock          string          `json:"currentBlock,omitempty"`
	TxID                  string          `json:"txId,omitempty"`
	Source                string          `json:"source,omitempty"`
	Target                string          `json:"target,omitempty"`
	Reference             string          `json:"reference,omitempty"`
	Metadata              json.RawMessage `json:"metadata,omitempty"`
}

// NFTConfirmRequest confirms an NFT proposal.
type NFTConfirmRequest struct {
	Proposal ProposalRef `json:"proposal"`
	Purchase NFTPurchase `json:"purchase"`
	Customer *Customer   `json:"customer,omitempty"`
}

// BookingPurchase describes the confirmed booking; it must match the proposal.
type BookingPurchase struct {
	Reference            string          `json:"reference,omitempty"`
	TotalValue           json.Number     `json:"totalValue"`
	Chain                string          `json:"chain"`
	Token                string          `json:"token"`
	NFTIDs               []string        `json:"nftIds,omitempty"`
	BookingWalletAddress string          `json:"bookingWalletAddress,omitempty"`
	WalletAddress        string          `json:"walletAddress,omitempty"`
	BookingDateTime      string          `json:"bookingDateTime,omitempty"`
	CheckInDate          string          `json:"checkInDate,omitempty"`
	TxID                 string          `json:"txId,omitempty"`
	Metadata             json.RawMessage `json:"metadata,omitempty"`
}

// BookingConfirmRequest confirms a booking proposal.
type BookingConfirmRequest struct {
	Proposal ProposalRef     `json:"proposal"`
	Purchase BookingPurchase `json:"purchase"`
	Customer *Customer       `json:"customer,omitempty"`
}

// DigitalAssetPurchase describes the confirmed digital-asset purchase.
type DigitalAssetPurchase struct {
	Reference    string      `json:"reference,omitempty"`
	TotalValue   json.Number `json:"totalValue"`
	InvoiceID    string      `json:"invoiceId,omitempty"`
	CurrencyCode string      `json:"currencyCode"`
}

// DigitalAssetConfirmRequest confirms a digital-asset proposal; the customer
// is required for this product.
type DigitalAssetConfirmRequest struct {
	Proposal ProposalRef          `json:"proposal"`
	Purchase DigitalAssetPurchase `json:"purchase"`
	Customer Customer             `json:"customer"`
}

// Confirmation is Avata's answer to a confirm call: ID is the policy UUID.
type Confirmation struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

// ActivatePolicyRequest activates a policy (and cancels the booking).
type ActivatePolicyRequest struct {
	PolicyUUID    string   `json:"policyUuid"`
	Chain         string   `json:"chain"`
	NFTIDs        []string `json:"nftIds"`
	WalletAddress string   `json:"walletAddress"`
	Token         string   `json:"token"`
}

// ActivatePolicyResponse is the (undocumented) answer to activate; Avata's
// confirm-style {id, message} is assumed and both fields are optional.
type ActivatePolicyResponse struct {
	ID      string `json:"id,omitempty"`
	Message string `json:"message,omitempty"`
}

// PolicyRequestStatus is the answer to a policy request status query; it has
// the shape of a policy-update callback.
type PolicyRequestStatus struct {
	EventType string `json:"eventType"`
	Body      struct {
		Reference string       `json:"reference"`
		UUID      string       `json:"uuid"`
		Status    PolicyStatus `json:"status"`
	} `json:"body"`
}

// Policy is a policy as returned by details, wallet and claim queries. Avata
// sends its numbers here as strings (totalValue, duration, coverage).
type Policy struct {
	UUID          string       `json:"uuid"`
	PolicyID      string       `json:"policyId"`
	PolicyHash    string       `json:"policyHash,omitempty"`
	PolicyType    string       `json:"policyType"`
	Status        PolicyStatus `json:"status"`
	StartDateTime string       `json:"startDateTime,omitempty"`
	EndDateTime   string       `json:"endDateTime,omitempty"`
	FinishedAt    string       `json:"finishedAt,omitempty"`
	PurchaseData  PurchaseData `json:"purchaseData"`
}

// PurchaseData is the purchase a policy covers.
type PurchaseData struct {
	Reference          string   `json:"reference,omitempty"`
	TotalValue         string   `json:"totalValue"`
	Duration           string   `json:"duration,omitempty"`
	ConfirmedAt        string   `json:"confirmedAt,omitempty"`
	CoveragePercentage string   `json:"coveragePercentage,omitempty"`
	NFT                *NFTData `json:"nft,omitempty"`
}

// NFTData describes the insured NFT.
type NFTData struct {
	TxID   string   `json:"txId,omitempty"`
	Source string   `json:"source,omitempty"`
	Target string   `json:"target,omitempty"`
	Token  string   `json:"token,omitempty"`
	Asset  NFTAsset `json:"asset"`
}

// NFTAsset is the on-chain asset.
type NFTAsset struct {
	Owner      string `json:"owner,omitempty"`
	Chain      string `json:"chain,omitempty"`
	TokenID    string `json:"tokenId,omitempty"`
	ContractID string `json:"contractId,omitempty"`
	Title      string `json:"title,omitempty"`
	URI        string `json:"uri,omitempty"`
}

// PolicyEnvelope wraps a policy: {"policy": {...}}.
type PolicyEnvelope struct {
	Policy Policy `json:"policy"`
}

// PoliciesForWalletRequest lists the policies of a wallet on a chain.
type PoliciesForWalletRequest struct {
	Wallet  string `json:"wallet"`
	ChainID int64  `json:"chainId"`
}

// PoliciesForWalletResponse is {"policies": [{"policy": {...}}]}.
type PoliciesForWalletResponse struct {
	Policies []PolicyEnvelope `json:"policies"`
}

// ClaimFile references an uploaded claim document.
type ClaimFile struct {
	FileName    string `json:"fileName"`
	FileVersion string `json:"fileVersion"`
	Key         string `json:"key"`
}

// UploadFile is one document to upload. Content is personal data.
type UploadFile struct {
	Name        string
	ContentType string
	Content     []byte
}

// UploadResponse carries the keys to reference in CreateClaimRequest.Files,
// in the order the files were sent.
type UploadResponse struct {
	Keys    []string `json:"keys"`
	Message string   `json:"message"`
}

// CreateClaimRequest files a claim on a policy.
type CreateClaimRequest struct {
	Reason     string      `json:"reason"`
	PolicyUUID string      `json:"policyUuid"`
	Files      []ClaimFile `json:"files"`
	Email      string      `json:"email"`
}

// Claim is a claim as returned by create and status calls.
type Claim struct {
	UUID        string      `json:"uuid,omitempty"`
	Reason      string      `json:"reason,omitempty"`
	CreatedDate string      `json:"createdDate,omitempty"`
	Files       []ClaimFile `json:"files,omitempty"`
	Email       string      `json:"email,omitempty"`
	Status      ClaimStatus `json:"status"`
	Policy      Policy      `json:"policy"`
}

// ClaimEnvelope wraps a claim: {"claim": {...}}.
type ClaimEnvelope struct {
	Claim Claim `json:"claim"`
}

// KYCRequest forwards KYC information for a policy; Payload is passed through
// untouched (it is provider specific and personal data).
type KYCRequest struct {
	PolicyUUID string          `json:"policyUuid"`
	Provider   string          `json:"provider"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

// NonceResponse is the answer to the nonce call.
type NonceResponse struct {
	Nonce string `json:"nonce"`
}

// SignInRequest exchanges a signed nonce for a wallet JWT.
type SignInRequest struct {
	Signature string `json:"signature"`
	ChainID   int64  `json:"chainId"`
	PublicKey string `json:"publicKey"`
}

// SignInResponse carries the wallet JWT.
type SignInResponse struct {
	AccessToken string `json:"accessToken"`
}

// ErrorBody is Avata's (assumed) error body.
type ErrorBody struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

// PolicyStatus is a policy's state at Avata.
type PolicyStatus string

// Policy statuses (the reference lists all but APPROVED, which its callback
// example uses).
const (
	PolicyCreated  PolicyStatus = "CREATED"
	PolicyPending  PolicyStatus = "PENDING"
	PolicySend     PolicyStatus = "SEND"
	PolicyAccepted PolicyStatus = "ACCEPTED"
	PolicyApproved PolicyStatus = "APPROVED"
	PolicyRejected PolicyStatus = "REJECTED"
	PolicyError    PolicyStatus = "ERROR"
	PolicyRetrying PolicyStatus = "RETRYING"
	PolicyExpired  PolicyStatus = "EXPIRED"
)

// Known reports whether s is one of the documented statuses.
func (s PolicyStatus) Known() bool {
	switch s {
	case PolicyCreated, PolicyPending, PolicySend, PolicyAccepted, PolicyApproved,
		PolicyRejected, PolicyError, PolicyRetrying, PolicyExpired:
		return true
	}
	return false
}

// ClaimStatus is a claim's state at Avata.
type ClaimStatus string

// Claim statuses.
const (
	ClaimCreated  ClaimStatus = "CREATED"
	ClaimPending  ClaimStatus = "PENDING"
	ClaimReported ClaimStatus = "REPORTED"
	ClaimReviewed ClaimStatus = "REVIEWED"
	ClaimRejected ClaimStatus = "REJECTED"
	ClaimApproved ClaimStatus = "APPROVED"
)

// Known reports whether s is one of the documented statuses.
func (s ClaimStatus) Known() bool {
	switch s {
	case ClaimCreated, ClaimPending, ClaimReported, ClaimReviewed, ClaimRejected, ClaimApproved:
		return true
	}
	return false
}
