package avata

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/covergate/covergate/server/ethsign"
)

// walletPolicies lists the signed-in wallet's policies on the chain named by
// chainId. A wallet may only list its own policies.
func (s *Server) walletPolicies(w http.ResponseWriter, r *http.Request, c *call) {
	var req walletPoliciesIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	var v validator
	chainID := v.chainID("chainId", req.ChainID)
	addr, err := ethsign.NormalizeAddress(req.Wallet)
	if err != nil {
		v.fail("wallet must be a 0x wallet address")
	}
	if v.err != nil {
		s.fail(w, c, v.err)
		return
	}
	if addr != c.wallet {
		s.fail(w, c, forbidden("wallet does not match the signed-in wallet"))
		return
	}
	out := walletPoliciesOut{Policies: []policyEnvelope{}}
	s.mu.Lock()
	for _, id := range s.st.policyOrder {
		pol := s.st.policies[id]
		if pol.owner == c.wallet && onChain(pol.chain, chainID) {
			out.Policies = append(out.Policies, policyEnvelope{Policy: pol.out(c.rd)})
		}
	}
	s.mu.Unlock()
	s.ok(w, r, c, out)
}

func onChain(chain string, id int64) bool {
	for _, v := range chainIDs[chain] {
		if v == id {
			return true
		}
	}
	return false
}

// ownedBy reports whether wallet may act on pol: a policy without an owner
// wallet (digital assets) is open to any signed-in wallet.
func ownedBy(pol *policy, wallet string) bool { return pol.owner == "" || pol.owner == wallet }

// uploadClaimDocuments takes a multipart form with policyUuid, publicKey and
// the files. The reference does not name the files' form field, so every file
// part counts, whatever its name.
func (s *Server) uploadClaimDocuments(w http.ResponseWriter, r *http.Request, c *call) {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" {
		s.fail(w, c, &apiError{status: http.StatusUnsupportedMediaType, code: codeValidation, msg: "content type must be multipart/form-data"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBody)
	if err := r.ParseMultipartForm(maxUploadBody); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.fail(w, c, &apiError{status: http.StatusRequestEntityTooLarge, code: codeValidation, msg: "upload too large"})
			return
		}
		s.fail(w, c, badRequest("malformed multipart body"))
		return
	}
	defer r.MultipartForm.RemoveAll()
	form := r.MultipartForm
	policyUUID := first(form.Value["policyUuid"])
	var files []*multipart.FileHeader
	for _, fhs := range form.File {
		files = append(files, fhs...)
	}
	if _, err := uuid.Parse(policyUUID); err != nil {
		s.fail(w, c, badRequest("policyUuid must be a uuid"))
		return
	}
	pk, err := ethsign.NormalizeAddress(first(form.Value["publicKey"]))
	switch {
	case err != nil:
		s.fail(w, c, badRequest("publicKey must be a 0x wallet address"))
		return
	case pk != c.wallet:
		s.fail(w, c, forbidden("publicKey does not match the signed-in wallet"))
		return
	case len(files) == 0:
		s.fail(w, c, badRequest("files must not be empty"))
		return
	}
	stored := make([]*upload, 0, len(files))
	for i, fh := range files {
		if fh.Size > maxFileBytes {
			s.fail(w, c, &apiError{status: http.StatusRequestEntityTooLarge, code: codeValidation, msg: "file too large"})
			return
		}
		u, err := readUpload(fh)
		if err != nil {
			s.fail(w, c, badRequest("files[%d] is empty or unreadable", i))
			return
		}
		u.policyUUID, u.wallet = policyUUID, c.wallet
		stored = append(stored, u)
	}
	s.mu.Lock()
	pol, ok := s.st.policies[policyUUID]
	if !ok || !ownedBy(pol, c.wallet) {
		s.mu.Unlock()
		if !ok {
			s.fail(w, c, notFound("policy"))
		} else {
			s.fail(w, c, forbidden("policy belongs to another wallet"))
		}
		return
	}
	keys := make([]string, len(stored))
	for i, u := range stored {
		keys[i] = "claims/" + policyUUID + "/" + uuid.NewString()
		s.st.uploads[keys[i]] = u
	}
	s.mu.Unlock()
	s.ok(w, r, c, uploadOut{Keys: keys, Message: "Files uploaded"})
}

func readUpload(fh *multipart.FileHeader) (*upload, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	content, err := io.ReadAll(f)
	if err != nil || len(content) == 0 {
		return nil, errors.New("empty or unreadable")
	}
	sum := sha256.Sum256(content)
	return &upload{name: fh.Filename, contentType: fh.Header.Get("Content-Type"), size: len(content), sha256: hex.EncodeToString(sum[:])}, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (s *Server) createClaim(w http.ResponseWriter, r *http.Request, c *call) {
	var req claimCreateIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
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
		s.fail(w, c, v.err)
		return
	}
	s.mu.Lock()
	cl, existing, apiErr := s.st.newClaim(req, c.wallet, s.cfg.Clock())
	var out claimCreateOut
	if cl != nil {
		out = cl.createOut(s.st.policies[cl.policyUUID], c.rd)
	}
	s.mu.Unlock()
	switch {
	case apiErr != nil:
		s.fail(w, c, apiErr)
		return
	case existing:
		s.duplicateClaim(w, r, c, out)
		return
	}
	s.scheduleClaimSteps(cl.uuid)
	s.ok(w, r, c, out)
}

// duplicateClaim answers a second claim on a policy per the duplicateClaim
// reading; nothing changes at the sandbox in any of them.
func (s *Server) duplicateClaim(w http.ResponseWriter, r *http.Request, c *call, existing claimCreateOut) {
	const msg = "Claim already exists for this policy"
	switch c.rd.DuplicateClaim {
	case DuplicateBadRequest:
		s.fail(w, c, &apiError{status: http.StatusBadRequest, code: codeClaimExists, msg: msg})
	case DuplicateOKMessage:
		s.ok(w, r, c, map[string]string{"message": msg})
	case DuplicateOKClaim:
		s.ok(w, r, c, existing)
	default:
		s.fail(w, c, &apiError{status: http.StatusConflict, code: codeClaimExists, msg: msg})
	}
}

// newClaim checks the policy, the documents and the state, then records a
// CREATED claim. A policy that already has a claim returns that claim with
// existing = true. Caller holds s.mu.
func (st *state) newClaim(req claimCreateIn, wallet string, now time.Time) (c *claim, existing bool, _ *apiError) {
	pol, ok := st.policies[req.PolicyUUID]
	if !ok {
		return nil, false, notFound("policy")
	}
	if !ownedBy(pol, wallet) {
		return nil, false, forbidden("policy belongs to another wallet")
	}
	if id, exists := st.claimByPolicy[req.PolicyUUID]; exists {
		return st.claims[id], true, nil
	}
	for i, f := range req.Files {
		u, ok := st.uploads[f.Key]
		if !ok || u.policyUUID != req.PolicyUUID || u.wallet != wallet {
			return nil, false, &apiError{status: http.StatusUnprocessableEntity, code: codeValidation,
				msg: fmt.Sprintf("files[%d].key is not a document uploaded for this policy", i)}
		}
	}
	if pol.status != PolicyAccepted && pol.status != PolicyApproved {
		return nil, false, &apiError{status: http.StatusConflict, code: codeInvalidState,
			msg: "claims need an ACCEPTED policy; this one is " + pol.status}
	}
	st.claimSeq++
	c = &claim{
		uuid: uuid.NewString(), claimID: fmt.Sprintf("%010d", 2000000000+st.claimSeq), policyUUID: req.PolicyUUID,
		reason: req.Reason, email: req.Email, files: append([]claimFile(nil), req.Files...),
		status: ClaimCreated, created: now.UTC(),
	}
	st.claims[c.uuid] = c
	st.claimByPolicy[c.policyUUID] = c.uuid
	return c, false, nil
}

func (c *claim) createOut(pol *policy, rd Readings) claimCreateOut {
	var out claimCreateOut
	if rd.ClaimUUID == ClaimUUIDPresent {
		id := c.uuid
		out.Claim.UUID = &id
	}
	out.Claim.Reason, out.Claim.CreatedDate, out.Claim.Email = c.reason, isoTime(c.created), c.email
	out.Claim.Files = append([]claimFile{}, c.files...)
	out.Claim.Status = c.status
	out.Claim.Policy = pol.out(rd)
	return out
}

// claimStatus answers {"claim":{"status","policy":{"uuid"}}} for the claim
// on a policy.
func (s *Server) claimStatus(w http.ResponseWriter, r *http.Request, c *call) {
	var req claimStatusIn
	if err := decodeInput(w, r, &req); err != nil {
		s.fail(w, c, err)
		return
	}
	if req.PolicyUUID == "" {
		s.fail(w, c, badRequest("policyUuid is required"))
		return
	}
	s.mu.Lock()
	var (
		out    claimStatusOut
		apiErr *apiError
	)
	pol, ok := s.st.policies[req.PolicyUUID]
	id, hasClaim := s.st.claimByPolicy[req.PolicyUUID]
	switch {
	case !ok:
		apiErr = notFound("policy")
	case !ownedBy(pol, c.wallet):
		apiErr = forbidden("policy belongs to another wallet")
	case !hasClaim:
		apiErr = notFound("claim")
	default:
		cl := s.st.claims[id]
		out.Claim.Status, out.Claim.Policy.UUID = cl.status, pol.uuid
		if c.rd.ClaimUUID == ClaimUUIDPresent {
			claimUUID := cl.uuid
			out.Claim.UUID = &claimUUID
		}
	}
	s.mu.Unlock()
	if apiErr != nil {
		s.fail(w, c, apiErr)
		return
	}
	s.ok(w, r, c, out)
}
