package avata

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/covergate/covergate/server/ethsign"
	"github.com/covergate/covergate/server/partners/avata"
)

func (s *Server) policiesForWallet(w http.ResponseWriter, r *http.Request, wallet string) {
	var req avata.PoliciesForWalletRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	addr, err := ethsign.NormalizeAddress(req.Wallet)
	switch {
	case err != nil:
		fail(w, badRequest("wallet must be a 0x wallet address"))
		return
	case req.ChainID <= 0:
		fail(w, badRequest("chainId must be a positive integer"))
		return
	case addr != wallet:
		fail(w, forbidden("wallet does not match the signed-in wallet"))
		return
	}
	out := avata.PoliciesForWalletResponse{Policies: []avata.PolicyEnvelope{}}
	s.mu.Lock()
	for _, id := range s.st.policyOrder {
		if pol := s.st.policies[id]; pol.owner == wallet {
			out.Policies = append(out.Policies, avata.PolicyEnvelope{Policy: pol.wire()})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func forbidden(msg string) *apiError {
	return &apiError{status: http.StatusForbidden, code: avata.CodeForbidden, msg: msg}
}

// ownedBy reports whether wallet may act on pol: a policy without an owner
// wallet (digital assets) is open to any signed-in wallet.
func ownedBy(pol *policy, wallet string) bool { return pol.owner == "" || pol.owner == wallet }

func (s *Server) uploadClaimDocuments(w http.ResponseWriter, r *http.Request, wallet string) {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" {
		fail(w, &apiError{status: http.StatusUnsupportedMediaType, code: avata.CodeValidation, msg: "content type must be multipart/form-data"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBody)
	if err := r.ParseMultipartForm(maxUploadBody); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(w, &apiError{status: http.StatusRequestEntityTooLarge, code: avata.CodeValidation, msg: "upload too large"})
			return
		}
		fail(w, badRequest("malformed multipart body"))
		return
	}
	defer r.MultipartForm.RemoveAll()
	form := r.MultipartForm
	policyUUID := first(form.Value[avata.FormFieldPolicyUUID])
	publicKey := first(form.Value[avata.FormFieldPublicKey])
	files := form.File[avata.FormFieldFiles]
	if _, err := uuid.Parse(policyUUID); err != nil {
		fail(w, badRequest("policyUuid must be a uuid"))
		return
	}
	pk, err := ethsign.NormalizeAddress(publicKey)
	switch {
	case err != nil:
		fail(w, badRequest("publicKey must be a 0x wallet address"))
		return
	case pk != wallet:
		fail(w, forbidden("publicKey does not match the signed-in wallet"))
		return
	case len(files) == 0:
		fail(w, badRequest("files must not be empty"))
		return
	}
	stored := make([]*upload, 0, len(files))
	for i, fh := range files {
		if fh.Size > maxFileBytes {
			fail(w, &apiError{status: http.StatusRequestEntityTooLarge, code: avata.CodeValidation, msg: "file too large"})
			return
		}
		f, err := fh.Open()
		if err != nil {
			fail(w, badRequest("unreadable file"))
			return
		}
		content, err := io.ReadAll(f)
		f.Close()
		if err != nil || len(content) == 0 {
			fail(w, badRequest("files[%d] is empty or unreadable", i))
			return
		}
		sum := sha256.Sum256(content)
		stored = append(stored, &upload{
			policyUUID: policyUUID, wallet: wallet, name: fh.Filename,
			contentType: fh.Header.Get("Content-Type"), size: len(content), sha256: hex.EncodeToString(sum[:]),
		})
	}
	s.mu.Lock()
	pol, ok := s.st.policies[policyUUID]
	if !ok || !ownedBy(pol, wallet) {
		s.mu.Unlock()
		if !ok {
			fail(w, notFound("policy"))
		} else {
			fail(w, forbidden("policy belongs to another wallet"))
		}
		return
	}
	keys := make([]string, len(stored))
	for i, u := range stored {
		keys[i] = "claims/" + policyUUID + "/" + uuid.NewString()
		s.st.uploads[keys[i]] = u
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, avata.UploadResponse{Keys: keys, Message: "Files uploaded"})
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (s *Server) createClaim(w http.ResponseWriter, r *http.Request, wallet string) {
	var req avata.CreateClaimRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	var v validator
	v.required("reason", req.Reason)
	v.required("policyUuid", req.PolicyUUID)
	if len(req.Files) == 0 {
		v.fail("files must not be empty")
	}
	for i, f := range req.Files {
		if strings.TrimSpace(f.FileName) == "" || f.Key == "" {
			v.fail("files[%d] needs fileName and key", i)
		}
	}
	v.email("email", req.Email, true)
	if v.err != nil {
		fail(w, v.err)
		return
	}
	now := s.cfg.Clock()
	s.mu.Lock()
	c, apiErr := s.st.newClaim(req, wallet, now)
	var out avata.Claim
	if apiErr == nil {
		out = c.wire(s.st.policies[c.policyUUID])
		if s.documentedClaims {
			out.UUID = "" // the documented create answer has no claim uuid
		}
	}
	s.mu.Unlock()
	if apiErr != nil {
		fail(w, apiErr)
		return
	}
	s.scheduleClaimSteps(c.uuid)
	writeJSON(w, http.StatusOK, avata.ClaimEnvelope{Claim: out})
}

// newClaim checks the policy, the documents and the state, then records a
// CREATED claim. Caller holds s.mu.
func (st *state) newClaim(req avata.CreateClaimRequest, wallet string, now time.Time) (*claim, *apiError) {
	pol, ok := st.policies[req.PolicyUUID]
	if !ok {
		return nil, notFound("policy")
	}
	if !ownedBy(pol, wallet) {
		return nil, forbidden("policy belongs to another wallet")
	}
	for i, f := range req.Files {
		u, ok := st.uploads[f.Key]
		if !ok || u.policyUUID != req.PolicyUUID || u.wallet != wallet {
			return nil, &apiError{status: http.StatusUnprocessableEntity, code: avata.CodeValidation,
				msg: "files[" + strconv.Itoa(i) + "].key is not a document uploaded for this policy"}
		}
	}
	if pol.status != avata.PolicyAccepted && pol.status != avata.PolicyApproved {
		return nil, &apiError{status: http.StatusConflict, code: avata.CodeInvalidState,
			msg: "claims need an ACCEPTED policy; this one is " + string(pol.status)}
	}
	if _, exists := st.claimByPolicy[req.PolicyUUID]; exists {
		return nil, &apiError{status: http.StatusConflict, code: avata.CodeClaimExists, msg: "policy already has a claim"}
	}
	c := &claim{
		uuid: uuid.NewString(), id: claimNumber(now), policyUUID: req.PolicyUUID, reason: req.Reason, email: req.Email,
		files: append([]avata.ClaimFile(nil), req.Files...), status: avata.ClaimCreated, created: now.UTC(),
	}
	st.claims[c.uuid] = c
	st.claimByPolicy[c.policyUUID] = c.uuid
	return c, nil
}

func (s *Server) claimStatus(w http.ResponseWriter, r *http.Request, wallet string) {
	var req struct {
		PolicyUUID string `json:"policyUuid"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.PolicyUUID == "" {
		fail(w, badRequest("policyUuid is required"))
		return
	}
	s.mu.Lock()
	var (
		out    avata.Claim
		apiErr *apiError
	)
	pol, ok := s.st.policies[req.PolicyUUID]
	id, hasClaim := s.st.claimByPolicy[req.PolicyUUID]
	switch {
	case !ok:
		apiErr = notFound("policy")
	case !ownedBy(pol, wallet):
		apiErr = forbidden("policy belongs to another wallet")
	case !hasClaim:
		apiErr = notFound("claim")
	case s.documentedClaims:
		// The documented status answer, field for field: {"claim":{"status","policy":{"uuid"}}}.
		doc := map[string]any{"claim": map[string]any{"status": s.st.claims[id].status, "policy": map[string]string{"uuid": pol.uuid}}}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, doc)
		return
	default:
		out = s.st.claims[id].wire(pol)
	}
	s.mu.Unlock()
	if apiErr != nil {
		fail(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, avata.ClaimEnvelope{Claim: out})
}

// claimNumber is Avata's claim id (details.claimId), a number like the documented
// "1234567890", distinct from the claim uuid.
func claimNumber(now time.Time) string { return strconv.FormatInt(now.UnixNano()%10_000_000_000, 10) }
