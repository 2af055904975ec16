package domain

import "time"

// CustomerStatus says whether a customer's personal data is still held.
type CustomerStatus string

// Customer statuses.
const (
	CustomerActive CustomerStatus = "ACTIVE"
	CustomerErased CustomerStatus = "ERASED"
)

// Profile is the customer's personal data. Every field is PII and is cleared by
// erasure; nothing else in Customer may hold personal data in clear.
type Profile struct {
	Salutation  string
	FirstName   string
	LastName    string
	Email       string
	Phone       string
	DateOfBirth string // ISO date YYYY-MM-DD as the partner sent it
	Address1    string
	Address2    string
	City        string
	Region      string
	Country     string // as the partner gave it: an ISO 3166-1 code or a name
	PostalCode  string
	// Structured address parts, as Avata takes them (street without the number, house number,
	// its suffix) and the ISO 3166-1 alpha-2 country code (upper case).
	Street            string
	HouseNumber       string
	HouseNumberSuffix string
	CountryCode       string
}

// IdentityVerification is the partner's identity-check result for a customer.
type IdentityVerification struct {
	Status         string
	VerificationID string
}

// Customer is a person insured through a partner. ID and PseudonymID survive
// erasure so policies and claims stay attributable without personal data.
type Customer struct {
	ID                   string
	PseudonymID          string
	Status               CustomerStatus
	Profile              Profile
	IdentityVerification IdentityVerification
	EtvasUserID          string
	EtvasContextIDs      []string
	AvataWallet          string // 0x-address, stored lower-case
	KYCStatus            string
	KYCProvider          string
	Version              int64
	CreateTime           time.Time
	UpdateTime           time.Time
	EraseTime            time.Time // zero unless erased
}

// QuoteKind is what a quote (and the policy bought from it) covers.
type QuoteKind string

// Quote kinds.
const (
	KindNFT          QuoteKind = "NFT"
	KindBooking      QuoteKind = "BOOKING"
	KindDigitalAsset QuoteKind = "DIGITAL_ASSET"
)

// Valid reports whether k is a known kind.
func (k QuoteKind) Valid() bool {
	return k == KindNFT || k == KindBooking || k == KindDigitalAsset
}

// Quote is a partner's priced proposal.
type Quote struct {
	ID                 string
	Kind               QuoteKind
	Partner            Partner
	PartnerProposalID  string
	CustomerID         string // optional
	Request            []byte // the proposal request as the domain saw it (JSON), to check a later confirm matches
	TotalValue         Money
	Premium            Money
	PolicyPercentage   string // decimal
	CoveragePercentage string // decimal
	DurationDays       int32
	TermsURL           string
	ExpireTime         time.Time
	CreateTime         time.Time
}

// Billing is how a premium is charged.
type Billing struct {
	PriceType     string // e.g. "one-time", "recurring"
	PriceInterval string // e.g. "month", "year"
}

// Policy is a contract of cover. Version increments on every write; the API
// derives the etag from it.
type Policy struct {
	ID              string
	CustomerID      string // optional
	QuoteID         string // optional
	Partner         Partner
	Kind            QuoteKind
	ProductName     string
	Status          PolicyStatus
	Version         int64
	Premium         Money
	Billing         Billing
	EtvasContextID  string
	EtvasProductID  string
	EtvasUserID     string
	AvataPolicyUUID string
	AvataReference  string
	// Avata is what Avata reported about the policy (details, wallet listing, policy-update).
	Avata      AvataPolicyData
	StartTime  time.Time
	EndTime    time.Time
	StatusTime time.Time // time of the partner event that set Status
	CreateTime time.Time
	UpdateTime time.Time
}

// Claim is a request for a payout under a policy.
type Claim struct {
	ID             string
	PolicyID       string
	CustomerID     string // optional
	AvataClaimUUID string
	// AvataClaimID is Avata's claim id (details.claimId of claim-update callbacks).
	AvataClaimID  string
	Status        ClaimStatus
	Reason        string
	ClaimantEmail string // PII, cleared by erasure
	DocumentKeys  []string
	StatusTime    time.Time
	Version       int64
	CreateTime    time.Time
	UpdateTime    time.Time
}

// ClaimDocument is a file uploaded to the partner for a claim.
type ClaimDocument struct {
	ID          string
	PolicyID    string
	PartnerKey  string
	FileName    string
	ContentType string
	SizeBytes   int64
	SHA256      string // hex
	CreateTime  time.Time
}

// AvataPolicyData is what Avata reports about a policy, kept as reported. OwnerWallet is the
// customer's own wallet the policy was bought to (lower case; "" = held by our merchant wallet).
type AvataPolicyData struct {
	PolicyID      string
	PolicyHash    string
	PolicyType    string
	PartnerStatus string
	Reference     string
	FinishTime    time.Time
	OwnerWallet   string
	SyncTime      time.Time
}

// WalletSession is a customer's wallet sign-in with Avata: the pending sign-in nonce and, once
// completed, the access token Avata issued, encrypted (TokenCiphertext; the key never reaches the
// store). One session per customer.
type WalletSession struct {
	CustomerID      string
	Wallet          string // lower-case 0x address
	ChainID         int64
	Nonce           string // pending sign-in message; "" once completed
	NonceExpireTime time.Time
	TokenCiphertext []byte // nil until completed
	ExpireTime      time.Time
	CreateTime      time.Time
	UpdateTime      time.Time
}
