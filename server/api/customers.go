package api

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/partners/etvas"
	"github.com/covergate/covergate/server/store"
)

// CustomerService serves customers, Etvas portal tokens, GDPR erasure, KYC and the Etvas
// key-value store.
type CustomerService struct {
	insurancev1.UnimplementedCustomerServiceServer
	d Deps
}

func newCustomerService(d Deps) insurancev1.CustomerServiceServer { return &CustomerService{d: d} }

// GetCustomer returns one customer; an erased one without personal data.
func (s *CustomerService) GetCustomer(ctx context.Context, req *insurancev1.GetCustomerRequest) (*insurancev1.GetCustomerResponse, error) {
	c, err := s.d.Store.GetCustomer(ctx, req.GetCustomerId())
	if err != nil {
		return nil, storeError(err, "customer")
	}
	return &insurancev1.GetCustomerResponse{Customer: CustomerToProto(c)}, nil
}

// VerifyPortalToken verifies an Etvas App token with Etvas (never by decoding it), reads the
// profile of its purchase context and creates or updates the customer.
func (s *CustomerService) VerifyPortalToken(ctx context.Context, req *insurancev1.VerifyPortalTokenRequest) (*insurancev1.VerifyPortalTokenResponse, error) {
	v, err := s.d.Etvas.VerifyToken(ctx, req.GetToken())
	if err != nil {
		return nil, err // UNAUTHENTICATED / PARTNER_REJECTED for a token Etvas refuses
	}
	prof, err := s.d.Etvas.UserProfile(ctx, v.ContextID, true)
	if err != nil {
		return nil, err
	}
	profile := domain.Profile{
		FirstName: prof.FirstName, LastName: prof.LastName, Email: prof.Email, Phone: prof.PhoneNumber,
		Address1: prof.Address1, Address2: prof.Address2, City: prof.City, Region: prof.RegionState,
		Country: prof.Country, PostalCode: prof.PostalCode,
	}
	var (
		c       domain.Customer
		created bool
	)
	err = s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		c, created, err = s.d.Lifecycle.UpsertCustomer(ctx, tx, lifecycle.CustomerInput{EtvasContextID: v.ContextID, Profile: &profile},
			apiSource(ctx, domain.PartnerEtvas))
		return err
	})
	if err != nil {
		return nil, storeError(err, "customer")
	}
	return &insurancev1.VerifyPortalTokenResponse{Customer: CustomerToProto(c), ContextId: v.ContextID, Created: created}, nil
}

// EraseCustomer erases the customer's personal data everywhere (the same erasure as Etvas's
// user.deleted webhook). Erasing twice answers the erased customer again.
func (s *CustomerService) EraseCustomer(ctx context.Context, req *insurancev1.EraseCustomerRequest) (*insurancev1.EraseCustomerResponse, error) {
	// req.reason is free text about the person being erased: it is not kept anywhere.
	reason := erasureReason(req.GetReasonCode())
	var c domain.Customer
	err := s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		c, err = s.d.Lifecycle.EraseCustomer(ctx, tx, req.GetCustomerId(), reason, apiSource(ctx, ""))
		return err
	})
	if err != nil {
		return nil, storeError(err, "customer")
	}
	return &insurancev1.EraseCustomerResponse{Customer: CustomerToProto(c)}, nil
}

// erasureReason maps the contract's code to the domain's.
func erasureReason(r insurancev1.ErasureReason) domain.ErasureReason {
	switch r {
	case insurancev1.ErasureReason_ERASURE_REASON_DATA_SUBJECT_REQUEST:
		return domain.ErasureDataSubjectRequest
	case insurancev1.ErasureReason_ERASURE_REASON_PARTNER_DELETION:
		return domain.ErasurePartnerDeletion
	case insurancev1.ErasureReason_ERASURE_REASON_RETENTION_EXPIRED:
		return domain.ErasureRetentionExpired
	case insurancev1.ErasureReason_ERASURE_REASON_LEGAL_OBLIGATION:
		return domain.ErasureLegalObligation
	case insurancev1.ErasureReason_ERASURE_REASON_CREATED_IN_ERROR:
		return domain.ErasureCreatedInError
	case insurancev1.ErasureReason_ERASURE_REASON_OTHER:
		return domain.ErasureOther
	}
	return domain.ErasureUnspecified
}

// SubmitKyc sends KYC data for one of the customer's Avata policies and records the submission
// (provider, policy, time; never the payload) on the customer.
func (s *CustomerService) SubmitKyc(ctx context.Context, req *insurancev1.SubmitKycRequest) (*insurancev1.SubmitKycResponse, error) {
	c, err := activeCustomer(ctx, s.d.Store, req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	p, err := s.d.Store.GetPolicy(ctx, req.GetPolicyId())
	if err != nil {
		return nil, storeError(err, "policy")
	}
	if p.CustomerID != c.ID {
		return nil, invalidState("policy "+p.ID+" does not belong to customer "+c.ID, "resource", "policy")
	}
	if p.Partner != domain.PartnerAvata || p.AvataPolicyUUID == "" {
		return nil, invalidState("KYC data goes to the carrier: policy "+p.ID+" is not carried by Avata", "resource", "policy")
	}
	var payload json.RawMessage
	if req.GetPayload() != nil {
		if payload, err = protojson.Marshal(req.GetPayload()); err != nil {
			return nil, fmt.Errorf("api: encode kyc payload: %w", err)
		}
	}
	c, err = s.d.Ops.SubmitKYC(ctx, partnerops.KYC{
		Customer: c, Policy: p, Source: apiSource(ctx, domain.PartnerAvata),
		Request: avata.KYCRequest{PolicyUUID: p.AvataPolicyUUID, Provider: req.GetProvider(), Payload: payload},
	})
	if err != nil {
		return nil, storeError(err, "customer")
	}
	return &insurancev1.SubmitKycResponse{Customer: CustomerToProto(c)}, nil
}

// contextIDPattern keeps context ids free of the ':' that separates them from keys in the
// scoped Etvas key (Etvas context ids are UUIDs).
var contextIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// externalKey scopes a key to a purchase context: Etvas's key-value store is one namespace per
// app, so "<context_id>:<key>" keeps one customer's data out of another's. Etvas keys are at
// most 64 characters and the budget covers the whole stored key: the prefix we add
// (context_id and ':') plus the caller's key. For a 36-character Etvas context id the key may
// have at most 27 characters. A longer key is INVALID_ARGUMENT with a BadRequest violation on
// `key` naming the maximum for this context, before any call to Etvas.
func externalKey(contextID, key string) (string, error) {
	if !contextIDPattern.MatchString(contextID) {
		return "", invalidField("context_id", "context_id.pattern", "context_id must be 1-64 letters, digits, '_' or '-'")
	}
	budget := etvas.MaxExternalDataKey - len(contextID) - 1 // the ':' separator
	if budget < 1 {
		return "", invalidField("context_id", "context_id.no_key_budget",
			fmt.Sprintf("context_id has %d characters: stored at Etvas as <context_id>:<key> within %d characters, it leaves no room for a key",
				len(contextID), etvas.MaxExternalDataKey))
	}
	if n := utf8.RuneCountInString(key); n > budget {
		return "", invalidField("key", "key.scoped_too_long",
			fmt.Sprintf("key has %d characters; for this context_id it may have at most %d (Etvas keys are at most %d characters and the key is stored as <context_id>:<key>)",
				n, budget, etvas.MaxExternalDataKey))
	}
	return contextID + ":" + key, nil
}

// checkExternalValue refuses a value over Etvas's 100 KB before any call: INVALID_ARGUMENT,
// reason PARTNER_INPUT_TOO_LARGE, with a BadRequest violation on `data` giving the size that
// counts (the JSON-encoded value, quotes and escapes included).
func checkExternalValue(value string) error {
	n := etvas.EncodedValueSize(value)
	if n <= etvas.MaxExternalDataValue {
		return nil
	}
	msg := fmt.Sprintf("data is %d bytes once JSON-encoded; Etvas stores at most %d (100 KB)", n, etvas.MaxExternalDataValue)
	st := apierror.Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE, msg, "partner", etvas.Partner)
	withBR, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "data", Description: msg, Reason: "data.encoded_too_large"},
	}})
	if err != nil {
		return st.Err()
	}
	return withBR.Err()
}

// GetExternalData reads a value of the Etvas key-value store; a missing key is found=false.
func (s *CustomerService) GetExternalData(ctx context.Context, req *insurancev1.GetExternalDataRequest) (*insurancev1.GetExternalDataResponse, error) {
	key, err := externalKey(req.GetContextId(), req.GetKey())
	if err != nil {
		return nil, err
	}
	v, found, err := s.d.Etvas.GetExternalData(ctx, key)
	if err != nil {
		return nil, err
	}
	return &insurancev1.GetExternalDataResponse{Key: req.GetKey(), Found: found, Data: v}, nil
}

// PutExternalData writes a value (with the write method configured for Etvas, POST by default);
// the 100 KB limit on the JSON-encoded value is checked before calling Etvas.
func (s *CustomerService) PutExternalData(ctx context.Context, req *insurancev1.PutExternalDataRequest) (*insurancev1.PutExternalDataResponse, error) {
	key, err := externalKey(req.GetContextId(), req.GetKey())
	if err != nil {
		return nil, err
	}
	if err := checkExternalValue(req.GetData()); err != nil {
		return nil, err
	}
	if err := s.d.Etvas.PutExternalData(ctx, key, req.GetData()); err != nil {
		return nil, err
	}
	return &insurancev1.PutExternalDataResponse{Key: req.GetKey()}, nil
}

// DeleteExternalData clears a value (no error when there was none), by writing {"data": null}
// unless the adapter is configured to send DELETE.
func (s *CustomerService) DeleteExternalData(ctx context.Context, req *insurancev1.DeleteExternalDataRequest) (*insurancev1.DeleteExternalDataResponse, error) {
	key, err := externalKey(req.GetContextId(), req.GetKey())
	if err != nil {
		return nil, err
	}
	if err := s.d.Etvas.DeleteExternalData(ctx, key); err != nil {
		return nil, err
	}
	return &insurancev1.DeleteExternalDataResponse{Key: req.GetKey()}, nil
}
