package avata

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/covergate/covergate/server/partners/avata"
	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Server is the Avata sandbox. Callbacks and status progressions run on
// goroutines it owns; Close stops and waits for them.
type Server struct {
	cfg     Config
	kit     *sandboxkit.Kit
	handler http.Handler

	ctx    context.Context // canceled by Close: stops timers and callback retries
	cancel context.CancelFunc
	wg     sync.WaitGroup
	lifeMu sync.Mutex // orders spawn against Close
	closed bool
	wake   chan struct{} // nudges the delivery worker

	mu sync.Mutex
	// documentedClaims: see Config.DocumentedClaimBodies (switchable at run time).
	documentedClaims bool
	claimSteps       []avata.ClaimStatus // Config.ClaimSteps, switchable at run time
	st               state
	queue            []pendingCallback
	deliv            []Delivery
}

// New builds a sandbox from cfg (zero fields get defaults).
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	if len(cfg.JWTSecret) == 0 {
		cfg.JWTSecret = make([]byte, 32)
		rand.Read(cfg.JWTSecret) // crypto/rand.Read never fails (Go ≥ 1.24)
	}
	kitOpts := cfg.Kit
	kitOpts.Redact = append(append([]string(nil), kitOpts.Redact...), cfg.APIKeyHeader, avata.CallbackSignatureHeader)
	if kitOpts.MaxBodyBytes == 0 {
		kitOpts.MaxBodyBytes = maxUploadBody // claim uploads are bigger than the kit's default
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, ctx: ctx, cancel: cancel, st: newState(), wake: make(chan struct{}, 1), documentedClaims: cfg.DocumentedClaimBodies, claimSteps: cfg.ClaimSteps}
	s.kit = sandboxkit.New("avata", kitOpts)
	s.handler = s.kit.Wrap(s.routes())
	if cfg.GatewayURL != "" {
		s.spawn(s.deliveryWorker)
	}
	return s
}

// SetDocumentedClaimBodies switches the claim answers between the documented bodies (no claim
// uuid) and bodies that include it; see Config.DocumentedClaimBodies.
func (s *Server) SetDocumentedClaimBodies(on bool) {
	s.mu.Lock()
	s.documentedClaims = on
	s.mu.Unlock()
}

// SetClaimSteps replaces the statuses new claims walk through (none: a claim stays CREATED, and
// sends no callback, until /_sandbox/claims/{uuid}/status moves it).
func (s *Server) SetClaimSteps(steps ...avata.ClaimStatus) {
	s.mu.Lock()
	s.claimSteps = append([]avata.ClaimStatus(nil), steps...)
	s.mu.Unlock()
}

// Handler serves the sandbox (journal and faults included).
func (s *Server) Handler() http.Handler { return s.handler }

// Kit exposes the journal and fault controls.
func (s *Server) Kit() *sandboxkit.Kit { return s.kit }

// Close stops pending status progressions and callback retries and waits for
// their goroutines to end. The handler keeps answering API calls.
func (s *Server) Close() {
	s.lifeMu.Lock()
	s.closed = true
	s.lifeMu.Unlock()
	s.cancel()
	s.wg.Wait()
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.requireAPIKey(h)) }
	wallet := func(pattern string, h func(http.ResponseWriter, *http.Request, string)) {
		mux.Handle(pattern, s.requireAPIKey(s.requireWallet(h)))
	}
	api("POST "+avata.PathNFTProposal, s.nftProposal)
	api("POST "+avata.PathNFTConfirm, s.nftConfirm)
	api("POST "+avata.PathBookingProposal, s.bookingProposal)
	api("POST "+avata.PathBookingConfirm, s.bookingConfirm)
	api("POST "+avata.PathDigitalAssetProposal, s.digitalAssetProposal)
	api("POST "+avata.PathDigitalAssetConfirm, s.digitalAssetConfirm)
	api("POST "+avata.PathPolicyActivate, s.activatePolicy)
	api("POST "+avata.PathPolicyRequestStatus, s.policyRequestStatus)
	api("POST "+avata.PathPolicyDetails, s.policyDetails)
	api("GET "+avata.PathAuthNonce, s.nonce)
	api("POST "+avata.PathAuthToken, s.signIn)
	api("POST "+avata.PathKYC, s.kyc)
	wallet("POST "+avata.PathPoliciesForWallet, s.policiesForWallet)
	wallet("POST "+avata.PathClaimUpload, s.uploadClaimDocuments)
	wallet("POST "+avata.PathClaimCreate, s.createClaim)
	wallet("POST "+avata.PathClaimStatus, s.claimStatus)

	mux.HandleFunc("POST /_sandbox/policies/{uuid}/status", s.controlPolicyStatus)
	mux.HandleFunc("POST /_sandbox/claims/{uuid}/status", s.controlClaimStatus)
	mux.HandleFunc("POST /_sandbox/tokens/revoke", func(w http.ResponseWriter, _ *http.Request) {
		s.RevokeTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sandbox/deliveries", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Deliveries())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, avata.CodeNotFound, "no route "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// requireAPIKey checks the api key (constant time) and, when a brand is
// configured, the optional X-Brand-Id.
func (s *Server) requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(s.cfg.APIKeyHeader)
		if key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
			writeError(w, http.StatusUnauthorized, avata.CodeUnauthorized, "missing or invalid api key")
			return
		}
		if b := r.Header.Get(avata.HeaderBrandID); b != "" && s.cfg.BrandID != "" && b != s.cfg.BrandID {
			writeError(w, http.StatusForbidden, avata.CodeUnauthorized, "unknown brand")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireWallet checks the wallet JWT and passes its subject (the wallet).
func (s *Server) requireWallet(next func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			writeError(w, http.StatusUnauthorized, avata.CodeUnauthorized, "wallet token required")
			return
		}
		wallet, err := s.verifyToken(tok)
		if err != nil {
			writeError(w, http.StatusUnauthorized, avata.CodeUnauthorized, "invalid wallet token")
			return
		}
		next(w, r, wallet)
	})
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"message":"internal error","code":"INTERNAL"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// writeError answers with Avata's (assumed) error body {"message","code"}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, avata.ErrorBody{Message: msg, Code: code})
}

// apiError is a failure a handler reports; status 0 means 400.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: avata.CodeValidation, msg: fmt.Sprintf(format, args...)}
}

func notFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, code: avata.CodeNotFound, msg: what + " not found"}
}

func fail(w http.ResponseWriter, err *apiError) {
	writeError(w, err.status, err.code, err.msg)
}

// decodeJSON reads one JSON object (bounded) with exact numbers.
func decodeJSON(w http.ResponseWriter, r *http.Request, out any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &apiError{status: http.StatusUnsupportedMediaType, code: avata.CodeValidation, msg: "content type must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &apiError{status: http.StatusRequestEntityTooLarge, code: avata.CodeValidation, msg: "body too large"}
		}
		return badRequest("malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed JSON body: trailing data")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %s has the wrong type (%s)", typeErr.Field, typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("syntax error at offset %d", syntaxErr.Offset)
	}
	if errors.Is(err, io.EOF) {
		return "empty body"
	}
	return "invalid JSON"
}
