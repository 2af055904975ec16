package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/store"
)

// Conversions between domain types and API messages. Times are UTC timestamps (nil when
// unset); money stays a decimal string end to end.

// Etag is the etag of a policy or claim: the decimal version, e.g. "3". It changes with every
// write, so a client that sends back the etag it read fails with HTTP 412 / ABORTED
// (ETAG_MISMATCH) if somebody else changed the resource in between.
func Etag(version int64) string { return strconv.FormatInt(version, 10) }

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// MoneyToProto converts money; the zero Money is nil.
func MoneyToProto(m domain.Money) *insurancev1.Money {
	if m.IsZero() {
		return nil
	}
	return &insurancev1.Money{CurrencyCode: m.Currency, Amount: m.Amount}
}

// MoneyFromProto converts and validates money from a request.
func MoneyFromProto(m *insurancev1.Money) (domain.Money, error) {
	out := domain.Money{Currency: m.GetCurrencyCode(), Amount: m.GetAmount()}
	if err := out.Validate(); err != nil {
		return domain.Money{}, err
	}
	return out, nil
}

// PartnerToProto converts a partner.
func PartnerToProto(p domain.Partner) insurancev1.Partner {
	switch p {
	case domain.PartnerEtvas:
		return insurancev1.Partner_PARTNER_ETVAS
	case domain.PartnerAvata:
		return insurancev1.Partner_PARTNER_AVATA
	case domain.PartnerScalepoint:
		return insurancev1.Partner_PARTNER_SCALEPOINT
	}
	return insurancev1.Partner_PARTNER_UNSPECIFIED
}

// PartnerFromProto converts a partner filter ("" = any).
func PartnerFromProto(p insurancev1.Partner) domain.Partner {
	switch p {
	case insurancev1.Partner_PARTNER_ETVAS:
		return domain.PartnerEtvas
	case insurancev1.Partner_PARTNER_AVATA:
		return domain.PartnerAvata
	case insurancev1.Partner_PARTNER_SCALEPOINT:
		return domain.PartnerScalepoint
	}
	return ""
}

var quoteKinds = map[domain.QuoteKind]insurancev1.QuoteKind{
	domain.KindNFT:          insurancev1.QuoteKind_QUOTE_KIND_NFT,
	domain.KindBooking:      insurancev1.QuoteKind_QUOTE_KIND_BOOKING,
	domain.KindDigitalAsset: insurancev1.QuoteKind_QUOTE_KIND_DIGITAL_ASSET,
}

var policyKinds = map[domain.QuoteKind]insurancev1.PolicyKind{
	domain.KindNFT:          insurancev1.PolicyKind_POLICY_KIND_NFT,
	domain.KindBooking:      insurancev1.PolicyKind_POLICY_KIND_BOOKING,
	domain.KindDigitalAsset: insurancev1.PolicyKind_POLICY_KIND_DIGITAL_ASSET,
	domain.KindEtvasProduct: insurancev1.PolicyKind_POLICY_KIND_ETVAS_PRODUCT,
}

// PolicyStatusToProto converts a policy status.
func PolicyStatusToProto(s domain.PolicyStatus) insurancev1.PolicyStatus {
	if v, ok := insurancev1.PolicyStatus_value["POLICY_STATUS_"+string(s)]; ok {
		return insurancev1.PolicyStatus(v)
	}
	return insurancev1.PolicyStatus_POLICY_STATUS_UNSPECIFIED
}

// PolicyStatusFromProto converts a policy status filter ("" = any).
func PolicyStatusFromProto(s insurancev1.PolicyStatus) domain.PolicyStatus {
	if s == insurancev1.PolicyStatus_POLICY_STATUS_UNSPECIFIED {
		return ""
	}
	return domain.PolicyStatus(strings.TrimPrefix(s.String(), "POLICY_STATUS_"))
}

// ClaimStatusToProto converts a claim status.
func ClaimStatusToProto(s domain.ClaimStatus) insurancev1.ClaimStatus {
	if v, ok := insurancev1.ClaimStatus_value["CLAIM_STATUS_"+string(s)]; ok {
		return insurancev1.ClaimStatus(v)
	}
	return insurancev1.ClaimStatus_CLAIM_STATUS_UNSPECIFIED
}

// ClaimStatusFromProto converts a claim status filter ("" = any).
func ClaimStatusFromProto(s insurancev1.ClaimStatus) domain.ClaimStatus {
	if s == insurancev1.ClaimStatus_CLAIM_STATUS_UNSPECIFIED {
		return ""
	}
	return domain.ClaimStatus(strings.TrimPrefix(s.String(), "CLAIM_STATUS_"))
}

// PublicationStatusToProto converts a publication status.
func PublicationStatusToProto(s domain.PublicationStatus) insurancev1.PublicationStatus {
	if v, ok := insurancev1.PublicationStatus_value["PUBLICATION_STATUS_"+string(s)]; ok {
		return insurancev1.PublicationStatus(v)
	}
	return insurancev1.PublicationStatus_PUBLICATION_STATUS_UNSPECIFIED
}

// PublicationStatusFromProto converts a publication status filter ("" = any).
func PublicationStatusFromProto(s insurancev1.PublicationStatus) domain.PublicationStatus {
	if s == insurancev1.PublicationStatus_PUBLICATION_STATUS_UNSPECIFIED {
		return ""
	}
	return domain.PublicationStatus(strings.TrimPrefix(s.String(), "PUBLICATION_STATUS_"))
}

// Avata's wire values for the contract's enums.
var (
	chainNames = map[insurancev1.Chain]string{
		insurancev1.Chain_CHAIN_ETHEREUM: "ETHEREUM",
		insurancev1.Chain_CHAIN_POLYGON:  "POLYGON",
	}
	countryNames = map[insurancev1.CoverCountry]string{
		insurancev1.CoverCountry_COVER_COUNTRY_GLOBAL: "global",
		insurancev1.CoverCountry_COVER_COUNTRY_NL:     "nl",
		insurancev1.CoverCountry_COVER_COUNTRY_BE:     "be",
		insurancev1.CoverCountry_COVER_COUNTRY_DE:     "de",
		insurancev1.CoverCountry_COVER_COUNTRY_GB:     "gb",
	}
)

// tokenName is the wire name of a token ("ETH"), equal to the currency code it must match.
func tokenName(t insurancev1.Token) string {
	if t == insurancev1.Token_TOKEN_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(t.String(), "TOKEN_")
}

func tokenFromName(s string) insurancev1.Token {
	return insurancev1.Token(insurancev1.Token_value["TOKEN_"+s])
}

func chainFromName(s string) insurancev1.Chain {
	for k, v := range chainNames {
		if v == s {
			return k
		}
	}
	return insurancev1.Chain_CHAIN_UNSPECIFIED
}

func countryFromName(s string) insurancev1.CoverCountry {
	for k, v := range countryNames {
		if v == s {
			return k
		}
	}
	return insurancev1.CoverCountry_COVER_COUNTRY_UNSPECIFIED
}

// QuoteToProto converts a stored quote; its cover details come from the stored terms.
func QuoteToProto(q domain.Quote) *insurancev1.Quote {
	out := &insurancev1.Quote{
		QuoteId:            q.ID,
		Kind:               quoteKinds[q.Kind],
		Partner:            PartnerToProto(q.Partner),
		PartnerProposalId:  q.PartnerProposalID,
		CustomerId:         q.CustomerID,
		TotalValue:         MoneyToProto(q.TotalValue),
		Premium:            MoneyToProto(q.Premium),
		PolicyPercentage:   q.PolicyPercentage,
		CoveragePercentage: q.CoveragePercentage,
		DurationDays:       q.DurationDays,
		TermsUri:           q.TermsURL,
		ExpireTime:         ts(q.ExpireTime),
		CreateTime:         ts(q.CreateTime),
	}
	t, err := domain.DecodeQuoteTerms(q.Request)
	if err != nil {
		return out // the money and ids above are still right; the cover details are unknown
	}
	out.PolicyLogoUri, out.PartnerLogoUri = t.PolicyLogoURL, t.PartnerLogoURL
	switch t.Kind {
	case domain.KindNFT:
		out.Cover = &insurancev1.Quote_Nft{Nft: &insurancev1.NftCover{
			Chain: chainFromName(t.Chain), NftContractAddress: t.NFTContract,
			MarketplaceContractAddress: t.Marketplace, Country: countryFromName(t.Country), Token: tokenFromName(t.Token),
		}}
	case domain.KindBooking:
		out.Cover = &insurancev1.Quote_Booking{Booking: &insurancev1.BookingCover{
			Chain: chainFromName(t.Chain), NftIds: t.NFTIDs, Country: countryFromName(t.Country),
			CheckInDate: t.CheckInDate, Token: tokenFromName(t.Token),
		}}
	case domain.KindDigitalAsset:
		out.Cover = &insurancev1.Quote_DigitalAsset{DigitalAsset: &insurancev1.DigitalAssetCover{Country: countryFromName(t.Country)}}
	}
	return out
}

// PolicyToProto converts a policy.
func PolicyToProto(p domain.Policy) *insurancev1.Policy {
	out := &insurancev1.Policy{
		PolicyId:    p.ID,
		CustomerId:  p.CustomerID,
		QuoteId:     p.QuoteID,
		Partner:     PartnerToProto(p.Partner),
		Kind:        policyKinds[p.Kind],
		ProductName: p.ProductName,
		Status:      PolicyStatusToProto(p.Status),
		Premium:     MoneyToProto(p.Premium),
		PartnerRefs: &insurancev1.PolicyPartnerRefs{
			EtvasContextId: p.EtvasContextID, EtvasProductId: p.EtvasProductID, EtvasUserId: p.EtvasUserID,
			AvataPolicyUuid: p.AvataPolicyUUID, AvataReference: p.AvataReference,
		},
		StartTime:  ts(p.StartTime),
		EndTime:    ts(p.EndTime),
		StatusTime: ts(p.StatusTime),
		Etag:       Etag(p.Version),
		CreateTime: ts(p.CreateTime),
		UpdateTime: ts(p.UpdateTime),
		Avata:      AvataPolicyDataToProto(p.Avata),
	}
	if p.Billing != (domain.Billing{}) {
		out.Billing = &insurancev1.Billing{PriceType: p.Billing.PriceType, PriceInterval: p.Billing.PriceInterval}
	}
	return out
}

// ClaimToProto converts a claim. The claimant's e-mail is not part of the API answer.
func ClaimToProto(c domain.Claim) *insurancev1.Claim {
	return &insurancev1.Claim{
		ClaimId:        c.ID,
		PolicyId:       c.PolicyID,
		CustomerId:     c.CustomerID,
		Status:         ClaimStatusToProto(c.Status),
		Reason:         c.Reason,
		DocumentKeys:   c.DocumentKeys,
		PartnerClaimId: c.AvataClaimUUID, PartnerClaimNumber: c.AvataClaimID,
		StatusTime: ts(c.StatusTime),
		Etag:       Etag(c.Version),
		CreateTime: ts(c.CreateTime),
		UpdateTime: ts(c.UpdateTime),
	}
}

// ClaimDocumentToProto converts an uploaded document.
func ClaimDocumentToProto(d domain.ClaimDocument) *insurancev1.ClaimDocument {
	return &insurancev1.ClaimDocument{
		DocumentKey: d.PartnerKey, FileName: d.FileName, ContentType: d.ContentType,
		SizeBytes: d.SizeBytes, Sha256: d.SHA256, CreateTime: ts(d.CreateTime),
	}
}

// CustomerToProto converts a customer; an erased one has no profile.
func CustomerToProto(c domain.Customer) *insurancev1.Customer {
	out := &insurancev1.Customer{
		CustomerId:  c.ID,
		PseudonymId: c.PseudonymID,
		State:       insurancev1.CustomerState_CUSTOMER_STATE_ACTIVE,
		PartnerRefs: &insurancev1.CustomerPartnerRefs{
			EtvasUserId: c.EtvasUserID, EtvasContextIds: c.EtvasContextIDs, AvataWalletAddress: c.AvataWallet,
		},
		CreateTime: ts(c.CreateTime),
		UpdateTime: ts(c.UpdateTime),
		EraseTime:  ts(c.EraseTime),
	}
	if c.Status == domain.CustomerErased {
		out.State = insurancev1.CustomerState_CUSTOMER_STATE_ERASED
		return out
	}
	out.Profile = ProfileToProto(c.Profile)
	if c.IdentityVerification != (domain.IdentityVerification{}) {
		out.IdentityVerification = &insurancev1.IdentityVerification{
			Status: c.IdentityVerification.Status, VerificationId: c.IdentityVerification.VerificationID,
		}
	}
	if sub, ok := domain.DecodeKYCStatus(c.KYCStatus); ok {
		out.Kyc = &insurancev1.KycStatus{Provider: c.KYCProvider, PolicyId: sub.PolicyID, SubmitTime: ts(sub.SubmitTime)}
	}
	return out
}

// ProfileToProto converts personal data.
func ProfileToProto(p domain.Profile) *insurancev1.CustomerProfile {
	out := &insurancev1.CustomerProfile{
		Salutation: p.Salutation, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email,
		Phone: p.Phone, DateOfBirth: p.DateOfBirth,
	}
	a := &insurancev1.PostalAddress{
		Line1: p.Address1, Line2: p.Address2, City: p.City, Region: p.Region, Country: p.Country, PostalCode: p.PostalCode,
		Street: p.Street, HouseNumber: p.HouseNumber, HouseNumberSuffix: p.HouseNumberSuffix, CountryCode: p.CountryCode,
	}
	if a.Line1+a.Line2+a.City+a.Region+a.Country+a.PostalCode+a.Street+a.HouseNumber+a.HouseNumberSuffix+a.CountryCode != "" {
		out.Address = a
	}
	return out
}

// ProfileFromProto converts personal data from a request.
func ProfileFromProto(p *insurancev1.CustomerProfile) domain.Profile {
	a := p.GetAddress()
	return domain.Profile{
		Salutation: p.GetSalutation(), FirstName: p.GetFirstName(), LastName: p.GetLastName(), Email: p.GetEmail(),
		Phone: p.GetPhone(), DateOfBirth: p.GetDateOfBirth(),
		Address1: a.GetLine1(), Address2: a.GetLine2(), City: a.GetCity(), Region: a.GetRegion(),
		Country: a.GetCountry(), PostalCode: a.GetPostalCode(),
		Street: a.GetStreet(), HouseNumber: a.GetHouseNumber(), HouseNumberSuffix: a.GetHouseNumberSuffix(),
		CountryCode: strings.ToUpper(a.GetCountryCode()),
	}
}

// PublicationToProto converts a publication. The payload is the JSON object sent to the
// partner; a payload that is no longer an object (erased) is returned empty.
func PublicationToProto(p domain.Publication) *insurancev1.Publication {
	out := &insurancev1.Publication{
		PublicationId:   p.ID,
		Destination:     &insurancev1.Destination{Country: p.Destination.Country, Tenant: p.Destination.Tenant},
		EventType:       p.EventType,
		CorrelationId:   p.CorrelationID,
		Status:          PublicationStatusToProto(p.Status),
		Attempts:        p.Attempts,
		LastError:       p.LastError,
		PartnerEventId:  numericEventID(p.PartnerEventID),
		PartnerEventRef: p.PartnerEventID,
		CreateTime:      ts(p.CreateTime),
		UpdateTime:      ts(p.UpdateTime),
		DeliverTime:     ts(p.DeliverTime),
	}
	if p.Status == domain.PublicationPending {
		out.NextAttemptTime = ts(p.NextAttemptTime)
	}
	var payload structpb.Struct
	if err := protojson.Unmarshal(p.Payload, &payload); err == nil {
		out.Payload = &payload
		if v, ok := payload.GetFields()[domain.EnvelopePayloadVersion]; ok {
			out.PayloadVersion = v.GetStringValue()
		}
	}
	return out
}

// pageToken is the opaque paging token of the List methods: the store's cursor plus a hash of
// the filters, so a token is refused when the filters changed between pages.
type pageToken struct {
	After  string `json:"a"`
	Filter string `json:"f"`
}

// filterHash identifies a set of list filters.
func filterHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// encodePageToken returns the token for the page after `after` ("" = no more pages).
func encodePageToken(after, filter string) string {
	if after == "" {
		return ""
	}
	b, _ := json.Marshal(pageToken{After: after, Filter: filter}) // two strings cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodePageToken returns the store cursor of a token, checking that it was issued for the
// same filters.
func decodePageToken(token, filter string) (string, error) {
	if token == "" {
		return "", nil
	}
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.After == "" {
		return "", apierror.Invalid("invalid page_token", []apierror.FieldViolation{{
			Field: "page_token", Description: "not a token returned by this method", Reason: "page_token.invalid",
		}})
	}
	if t.Filter != filter {
		return "", apierror.Invalid("page_token was issued for other filters", []apierror.FieldViolation{{
			Field: "page_token", Description: "the filters must be the same as for the first page", Reason: "page_token.filters_changed",
		}})
	}
	return t.After, nil
}

// pageRequest builds a store page request from an API page size (0 = default).
func pageRequest(size int32, after string) store.PageRequest {
	n := int(size)
	if n <= 0 {
		n = store.DefaultPageSize
	}
	return store.PageRequest{Size: n, After: after}
}

// storeError maps a store error: not found → NOT_FOUND naming the resource, a version conflict
// → ABORTED ETAG_MISMATCH (HTTP 412), a transition the state machine refuses →
// FAILED_PRECONDITION INVALID_STATE, a partner error as it is; anything else stays an internal
// fault whose text is logged, never shown.
func storeError(err error, resource string) error {
	var te *domain.TransitionError
	switch {
	case err == nil:
		return nil
	case isStatus(err):
		return err
	case errors.Is(err, store.ErrNotFound):
		return apierror.New(codes.NotFound, insurancev1.ErrorReason_ERROR_REASON_NOT_FOUND, resource+" not found", "resource", resource)
	case errors.Is(err, store.ErrConflict):
		return apierror.New(codes.Aborted, insurancev1.ErrorReason_ERROR_REASON_ETAG_MISMATCH,
			resource+" was changed concurrently: read it again and retry with the new etag", "resource", resource)
	case errors.As(err, &te):
		return apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE,
			fmt.Sprintf("%s is %s and cannot become %s", te.Entity, te.From, te.To), "from", te.From, "to", te.To)
	}
	return err
}

// isStatus reports whether err already carries an API answer (an apierror, or a partner error
// apierror.FromPartner translates).
func isStatus(err error) bool { return apierror.IsStatus(err) }

func invalidState(msg string, kv ...string) error {
	return apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE, msg, kv...)
}

func invalidField(field, rule, msg string) error {
	return apierror.Invalid(msg, []apierror.FieldViolation{{Field: field, Description: msg, Reason: rule}})
}

// AvataPolicyDataToProto converts what Avata reported about a policy; nil when nothing is known.
func AvataPolicyDataToProto(a domain.AvataPolicyData) *insurancev1.AvataPolicyData {
	if a == (domain.AvataPolicyData{}) {
		return nil
	}
	owner := a.OwnerWallet
	if addr, err := ethsign.NormalizeAddress(owner); err == nil {
		owner = addr
	}
	return &insurancev1.AvataPolicyData{
		PolicyId: a.PolicyID, PolicyHash: a.PolicyHash, PolicyType: a.PolicyType, PartnerStatus: a.PartnerStatus,
		Reference: a.Reference, FinishTime: ts(a.FinishTime), OwnerWalletAddress: owner, SyncTime: ts(a.SyncTime),
	}
}

// numericEventID is the partner's event id as an integer when it is written as one (the
// documented `{"_id": 1}`), else 0; PartnerEventRef always has the text.
func numericEventID(id string) int64 {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0
	}
	return n
}
