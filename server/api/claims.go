package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partnerops"
	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/store"
)

// ClaimService files claims with Avata on active policies and serves their status.
type ClaimService struct {
	insurancev1.UnimplementedClaimServiceServer
	d Deps
}

func newClaimService(d Deps) insurancev1.ClaimServiceServer { return &ClaimService{d: d} }

// claimablePolicy loads a policy a claim can be filed on: ACTIVE and carried by Avata.
func (s *ClaimService) claimablePolicy(ctx context.Context, id string) (domain.Policy, error) {
	p, err := s.d.Store.GetPolicy(ctx, id)
	if err != nil {
		return domain.Policy{}, storeError(err, "policy")
	}
	if p.Status != domain.PolicyActive {
		return domain.Policy{}, invalidState("claims can only be filed on ACTIVE policies; policy "+p.ID+" is "+string(p.Status),
			"resource", "policy", "status", string(p.Status))
	}
	if p.Partner != domain.PartnerAvata || p.AvataPolicyUUID == "" {
		return domain.Policy{}, invalidState("claims on "+string(p.Partner)+" policies are handled by the partner, not through this API",
			"resource", "policy")
	}
	return p, nil
}

// UploadClaimDocuments uploads documents to Avata for a future claim and records them with
// their size and SHA-256. The bytes are checked against the declared media type first.
func (s *ClaimService) UploadClaimDocuments(ctx context.Context, req *insurancev1.UploadClaimDocumentsRequest) (*insurancev1.UploadClaimDocumentsResponse, error) {
	var violations []apierror.FieldViolation
	for i, d := range req.GetDocuments() {
		if !contentMatches(d.GetContentType(), d.GetContent()) {
			violations = append(violations, apierror.FieldViolation{
				Field:       "documents[" + strconv.Itoa(i) + "].content",
				Description: "the file is not a " + d.GetContentType() + " file",
				Reason:      "content.type_mismatch",
			})
		}
	}
	if len(violations) > 0 {
		return nil, apierror.Invalid("document content does not match its content_type", violations)
	}
	p, err := s.claimablePolicy(ctx, req.GetPolicyId())
	if err != nil {
		return nil, err
	}
	// The policy owner's wallet: ours for custodial policies, else the customer's wallet session.
	wallet, err := s.d.policyWallet(ctx, p)
	if err != nil {
		return nil, err
	}
	files := make([]avata.UploadFile, len(req.GetDocuments()))
	for i, d := range req.GetDocuments() {
		files[i] = avata.UploadFile{Name: d.GetFileName(), ContentType: d.GetContentType(), Content: d.GetContent()}
	}
	up, err := s.d.Avata.UploadClaimDocuments(ctx, wallet, p.AvataPolicyUUID, files)
	if err != nil {
		return nil, s.d.walletCallFailed(ctx, p.CustomerID, wallet, err)
	}
	if len(up.Keys) != len(files) {
		return nil, apierror.New(codes.Internal, insurancev1.ErrorReason_ERROR_REASON_PARTNER_BAD_RESPONSE,
			fmt.Sprintf("the carrier returned %d keys for %d documents", len(up.Keys), len(files)), "partner", avata.PartnerName)
	}
	uploaded := make([]domain.ClaimDocument, len(files))
	for i, f := range files {
		sum := sha256.Sum256(f.Content)
		uploaded[i] = domain.ClaimDocument{
			PolicyID: p.ID, PartnerKey: up.Keys[i], FileName: f.Name, ContentType: f.ContentType,
			SizeBytes: int64(len(f.Content)), SHA256: hex.EncodeToString(sum[:]),
		}
	}
	var docs []domain.ClaimDocument
	err = s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		docs, err = s.d.Lifecycle.RecordClaimDocuments(ctx, tx, uploaded)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("api: record claim documents of policy %s: %w", p.ID, err)
	}
	out := &insurancev1.UploadClaimDocumentsResponse{}
	for _, d := range docs {
		out.Documents = append(out.Documents, ClaimDocumentToProto(d))
	}
	return out, nil
}

// contentMatches checks a file's leading bytes (magic numbers) against its declared type, so a
// renamed executable is not forwarded as a "PDF".
func contentMatches(contentType string, b []byte) bool {
	switch contentType {
	case "application/pdf":
		return bytes.HasPrefix(b, []byte("%PDF-"))
	case "image/jpeg":
		return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF})
	case "image/png":
		return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
	case "image/heic":
		// ISO base media file: size(4) "ftyp" brand(4); HEIC brands per ISO/IEC 23008-12.
		if len(b) < 12 || string(b[4:8]) != "ftyp" {
			return false
		}
		switch string(b[8:12]) {
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1":
			return true
		}
	}
	return false
}

// validReason refuses reasons that are blank or padded to pass the length rule, and control
// characters other than line breaks and tabs.
func validReason(reason string) error {
	if len([]rune(strings.TrimSpace(reason))) < 10 {
		return invalidField("reason", "reason.blank", "reason must say what happened in at least 10 characters that are not blanks")
	}
	for _, r := range reason {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return invalidField("reason", "reason.control", "reason must not contain control characters")
		}
	}
	return nil
}

// CreateClaim files a claim with Avata using documents uploaded for the same policy and records
// it CREATED, with or without Avata's claim uuid (see partnerops.FileClaim).
func (s *ClaimService) CreateClaim(ctx context.Context, req *insurancev1.CreateClaimRequest) (*insurancev1.CreateClaimResponse, error) {
	if err := validReason(req.GetReason()); err != nil {
		return nil, err
	}
	p, err := s.claimablePolicy(ctx, req.GetPolicyId())
	if err != nil {
		return nil, err
	}
	docs, err := s.policyDocuments(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	var violations []apierror.FieldViolation
	files := make([]avata.ClaimFile, 0, len(req.GetDocumentKeys()))
	for i, key := range req.GetDocumentKeys() {
		d, ok := docs[key]
		if !ok {
			violations = append(violations, apierror.FieldViolation{
				Field: "document_keys[" + strconv.Itoa(i) + "]", Reason: "document_key.unknown",
				Description: "not a document uploaded for policy " + p.ID,
			})
			continue
		}
		files = append(files, avata.ClaimFile{FileName: d.FileName, FileVersion: "1", Key: key})
	}
	if len(violations) > 0 {
		return nil, apierror.Invalid("document_keys must name documents uploaded for this policy", violations)
	}
	// The customer's wallet token for a policy bought to the customer's own wallet, our merchant
	// wallet otherwise: a customer's policy is never signed for with the merchant wallet.
	wallet, err := s.d.policyWallet(ctx, p)
	if err != nil {
		return nil, err
	}
	claimID, err := domain.NewID()
	if err != nil {
		return nil, err
	}
	c, err := s.d.Ops.FileClaim(ctx, partnerops.ClaimFiling{
		Policy:      p,
		Wallet:      wallet,
		RequestHash: partnerops.RequestHash(req.GetReason(), req.GetClaimantEmail(), req.GetDocumentKeys()),
		Claim: domain.Claim{
			ID: claimID, Reason: req.GetReason(), ClaimantEmail: req.GetClaimantEmail(), DocumentKeys: req.GetDocumentKeys(),
		},
		Request: avata.CreateClaimRequest{Reason: req.GetReason(), PolicyUUID: p.AvataPolicyUUID, Files: files, Email: req.GetClaimantEmail()},
		Source:  apiSource(ctx, domain.PartnerAvata),
	})
	if err != nil {
		return nil, s.d.walletCallFailed(ctx, p.CustomerID, wallet, err)
	}
	return &insurancev1.CreateClaimResponse{Claim: ClaimToProto(c)}, nil
}

// policyDocuments indexes the documents uploaded for a policy by their partner key.
func (s *ClaimService) policyDocuments(ctx context.Context, policyID string) (map[string]domain.ClaimDocument, error) {
	out := map[string]domain.ClaimDocument{}
	page := store.PageRequest{Size: store.MaxPageSize}
	for {
		docs, err := s.d.Store.ListClaimDocuments(ctx, policyID, page)
		if err != nil {
			return nil, fmt.Errorf("api: list documents of policy %s: %w", policyID, err)
		}
		for _, d := range docs.Items {
			out[d.PartnerKey] = d
		}
		if docs.Next == "" {
			return out, nil
		}
		page.After = docs.Next
	}
}

// GetClaim returns one claim with the status last reported by Avata.
func (s *ClaimService) GetClaim(ctx context.Context, req *insurancev1.GetClaimRequest) (*insurancev1.GetClaimResponse, error) {
	c, err := s.d.Store.GetClaim(ctx, req.GetClaimId())
	if err != nil {
		return nil, storeError(err, "claim")
	}
	return &insurancev1.GetClaimResponse{Claim: ClaimToProto(c)}, nil
}

// ListClaims pages claims in id (creation) order; see ListPolicies for why paging is stable.
func (s *ClaimService) ListClaims(ctx context.Context, req *insurancev1.ListClaimsRequest) (*insurancev1.ListClaimsResponse, error) {
	f := store.ClaimFilter{PolicyID: req.GetPolicyId(), CustomerID: req.GetCustomerId(), Status: ClaimStatusFromProto(req.GetStatus())}
	fh := filterHash("claims", f.PolicyID, f.CustomerID, string(f.Status))
	after, err := decodePageToken(req.GetPageToken(), fh)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Store.ListClaims(ctx, f, pageRequest(req.GetPageSize(), after))
	if err != nil {
		return nil, fmt.Errorf("api: list claims: %w", err)
	}
	out := &insurancev1.ListClaimsResponse{NextPageToken: encodePageToken(page.Next, fh)}
	for _, c := range page.Items {
		out.Claims = append(out.Claims, ClaimToProto(c))
	}
	return out, nil
}

// GetClaimPortalLink returns Avata's merchant-claim page for the claim's policy, carrying a
// signature of the Avata policy uuid by the policy owner's wallet: the customer's (passed as
// owner_signature and checked to recover to the owner wallet) for policies bought to the
// customer's own wallet, ours for custodial ones.
func (s *ClaimService) GetClaimPortalLink(ctx context.Context, req *insurancev1.GetClaimPortalLinkRequest) (*insurancev1.GetClaimPortalLinkResponse, error) {
	c, err := s.d.Store.GetClaim(ctx, req.GetClaimId())
	if err != nil {
		return nil, storeError(err, "claim")
	}
	p, err := s.d.Store.GetPolicy(ctx, c.PolicyID)
	if err != nil {
		return nil, storeError(err, "policy")
	}
	if p.AvataPolicyUUID == "" {
		return nil, invalidState("the claim's policy is not carried by Avata: there is no claim portal", "resource", "policy")
	}
	owner := p.Avata.OwnerWallet
	if owner == "" { // custodial: our merchant wallet owns the policy
		w := s.d.Avata.MerchantWallet()
		if w == nil {
			return nil, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_PARTNER_AUTH_FAILED,
				"no Avata merchant wallet is configured (avata-merchant-wallet-key): no claim-portal link", "partner", avata.PartnerName)
		}
		if req.GetOwnerSignature() == "" {
			uri, err := s.d.Avata.MerchantClaimLink(p.AvataPolicyUUID)
			if err != nil {
				return nil, fmt.Errorf("api: claim portal link: %w", err)
			}
			return &insurancev1.GetClaimPortalLinkResponse{Uri: uri, SignerWalletAddress: w.Address()}, nil
		}
		owner = w.Address()
	}
	ownerAddr, err := ethsign.NormalizeAddress(owner)
	if err != nil {
		return nil, fmt.Errorf("api: claim portal link: stored owner wallet of policy %s: %w", p.ID, err)
	}
	if req.GetOwnerSignature() == "" {
		st := apierror.Status(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_VALIDATION_FAILED,
			"owner_signature is required: the policy belongs to wallet "+ownerAddr+", which must sign the policy uuid "+p.AvataPolicyUUID+
				" (ethers signMessage)", "wallet_address", ownerAddr, "message", p.AvataPolicyUUID)
		if withBR, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
			Field: "owner_signature", Reason: "required", Description: "the policy owner's signature of the Avata policy uuid",
		}}}); err == nil {
			return nil, withBR.Err()
		}
		return nil, st.Err()
	}
	if err := ethsign.VerifyMessage(p.AvataPolicyUUID, req.GetOwnerSignature(), ownerAddr); err != nil {
		return nil, signatureInvalid("owner_signature", ownerAddr,
			"owner_signature is not the signature of the policy uuid "+p.AvataPolicyUUID+" by the policy owner's wallet "+ownerAddr)
	}
	uri, err := s.d.Avata.ClaimLink(p.AvataPolicyUUID, req.GetOwnerSignature())
	if err != nil {
		return nil, err
	}
	return &insurancev1.GetClaimPortalLinkResponse{Uri: uri, SignerWalletAddress: ownerAddr}, nil
}
