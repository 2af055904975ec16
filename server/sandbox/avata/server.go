package avata

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/covergate/covergate/server/sandbox/sandboxkit"
)

// Server is the Avata sandbox. Callbacks and status progressions run on
// goroutines it owns; Close stops and waits for them.
type Server struct {
	cfg      Config
	kit      *sandboxkit.Kit
	handler  http.Handler
	handlers map[string]handlerFunc

	ctx    context.Context // canceled by Close: stops timers and callback retries
	cancel context.CancelFunc
	wg     sync.WaitGroup
	lifeMu sync.Mutex // orders spawn against Close
	closed bool
	wake   chan struct{} // nudges the delivery worker

	mu         sync.Mutex
	readings   Readings
	claimSteps []string // Config.ClaimSteps, switchable at run time (SetClaimSteps)
	st         state
	queue      []pendingCallback
	deliv      []Delivery
}

// call is what a handler knows about its request: the readings in force when
// it arrived (one request sees one set) and, for wallet routes, the wallet.
type call struct {
	op     string
	rd     Readings
	wallet string
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

// Open validates cfg and builds a sandbox (zero fields get defaults).
func Open(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Readings.Validate(); err != nil {
		return nil, fmt.Errorf("avata sandbox: %w", err)
	}
	if len(cfg.JWTSecret) == 0 {
		cfg.JWTSecret = make([]byte, 32)
		rand.Read(cfg.JWTSecret) // crypto/rand.Read never fails (Go ≥ 1.24)
	}
	for _, st := range cfg.ClaimSteps {
		if !isClaimStatus(st) {
			return nil, fmt.Errorf("avata sandbox: claim step %q is not a claim status", st)
		}
	}
	kitOpts := cfg.Kit
	// Every api-key header of every reading is a secret in the journal.
	kitOpts.Redact = append(append([]string(nil), kitOpts.Redact...), HeaderXAPIKey, HeaderAPIKey, CallbackSignatureHeader)
	kitOpts.RedactFields = append(append([]string(nil), kitOpts.RedactFields...), "signature", "accessToken")
	if kitOpts.MaxBodyBytes == 0 {
		kitOpts.MaxBodyBytes = maxUploadBody // claim uploads are bigger than the kit's default
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, ctx: ctx, cancel: cancel, st: newState(), wake: make(chan struct{}, 1), readings: cfg.Readings,
		claimSteps: cfg.ClaimSteps}
	s.handlers = map[string]handlerFunc{
		opNFTProposal:          s.nftProposal,
		opNFTConfirm:           s.nftConfirm,
		opBookingProposal:      s.bookingProposal,
		opBookingConfirm:       s.bookingConfirm,
		opDigitalAssetProposal: s.digitalAssetProposal,
		opDigitalAssetConfirm:  s.digitalAssetConfirm,
		opActivate:             s.activatePolicy,
		opRequestStatus:        s.policyRequestStatus,
		opPolicyDetails:        s.policyDetails,
		opWalletPolicies:       s.walletPolicies,
		opNonce:                s.nonce,
		opSignIn:               s.signIn,
		opClaimUpload:          s.uploadClaimDocuments,
		opClaimCreate:          s.createClaim,
		opClaimStatus:          s.claimStatus,
		opKYC:                  s.kyc,
	}
	s.kit = sandboxkit.New("avata", kitOpts)
	s.handler = s.kit.Wrap(s.routes())
	if cfg.GatewayURL != "" {
		s.spawn(s.deliveryWorker)
	}
	return s, nil
}

// New is Open for configurations written in code (sandbox mode, tests): it
// panics on an invalid reading, which is a programming error there.
func New(cfg Config) *Server {
	s, err := Open(cfg)
	if err != nil {
		panic(err)
	}
	return s
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

// Readings returns the readings in force.
func (s *Server) Readings() Readings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readings
}

// SetReadings applies the set fields of r (the others stay) after checking
// the result.
func (s *Server) SetReadings(r Readings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.readings.merge(r)
	if err := next.Validate(); err != nil {
		return err
	}
	s.readings = next
	return nil
}

// ResetReadings goes back to the configured readings.
func (s *Server) ResetReadings() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readings = s.cfg.Readings
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sandbox/readings", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"readings": s.Readings(), "offered": AllReadings()})
	})
	mux.HandleFunc("POST /_sandbox/readings", s.controlReadings)
	mux.HandleFunc("DELETE /_sandbox/readings", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetReadings()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sandbox/policies/{uuid}/status", s.controlPolicyStatus)
	mux.HandleFunc("POST /_sandbox/claims/{uuid}/status", s.controlClaimStatus)
	mux.HandleFunc("POST /_sandbox/tokens/revoke", func(w http.ResponseWriter, _ *http.Request) {
		s.RevokeTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sandbox/deliveries", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Deliveries())
	})
	mux.HandleFunc("/", s.dispatch)
	return mux
}

// walletOps need a wallet JWT from the nonce sign-in.
var walletOps = map[string]bool{opWalletPolicies: true, opClaimUpload: true, opClaimCreate: true, opClaimStatus: true}

// dispatch finds the operation for method and path in the route table of the
// paths reading in force; the other table's paths answer 404, so a test
// proves which reading the client follows.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	c := &call{rd: s.Readings()}
	pathKnown := false
	for op, route := range RoutesFor(c.rd.Paths) {
		if route.Path != r.URL.Path {
			continue
		}
		pathKnown = true
		if route.Method == r.Method {
			c.op = op
			break
		}
	}
	switch {
	case c.op == "" && pathKnown:
		s.fail(w, c, &apiError{status: http.StatusMethodNotAllowed, code: codeNotFound, msg: "method " + r.Method + " not allowed on " + r.URL.Path})
		return
	case c.op == "":
		s.fail(w, c, &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "no route " + r.Method + " " + r.URL.Path})
		return
	}
	if !s.checkAPIKey(w, r, c) {
		return
	}
	if walletOps[c.op] {
		wallet, err := s.walletFromRequest(r)
		if err != nil {
			s.fail(w, c, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: err.Error()})
			return
		}
		c.wallet = wallet
	}
	s.handlers[c.op](w, r, c)
}

// checkAPIKey checks the api key in the header of the reading (constant
// time) and, when a brand is configured, the optional X-Brand-Id. Under the
// "Authorization" reading wallet calls carry the wallet JWT in that header
// instead; the JWT, issued to a caller who had the key, stands for it.
func (s *Server) checkAPIKey(w http.ResponseWriter, r *http.Request, c *call) bool {
	header := c.rd.APIKeyHeader
	if !(header == HeaderAuthorization && walletOps[c.op]) {
		key := r.Header.Get(header)
		if key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
			s.fail(w, c, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: "missing or invalid api key"})
			return false
		}
	}
	if b := r.Header.Get(BrandHeader); b != "" && s.cfg.BrandID != "" && b != s.cfg.BrandID {
		s.fail(w, c, &apiError{status: http.StatusForbidden, code: codeUnauthorized, msg: "unknown brand"})
		return false
	}
	return true
}

// Error codes of the "message-code" error body (undocumented: ours).
const (
	codeValidation       = "VALIDATION_ERROR"
	codeProposalMismatch = "PROPOSAL_MISMATCH"
	codeNotFound         = "NOT_FOUND"
	codeAlreadyConfirmed = "ALREADY_CONFIRMED"
	codeUnauthorized     = "UNAUTHORIZED"
	codeInvalidState     = "INVALID_STATE"
	codeClaimExists      = "CLAIM_EXISTS"
	codeForbidden        = "FORBIDDEN"
	codeInternal         = "INTERNAL"
)

// apiError is a failure a handler reports.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeValidation, msg: fmt.Sprintf(format, args...)}
}

func notFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, msg: what + " not found"}
}

func forbidden(msg string) *apiError {
	return &apiError{status: http.StatusForbidden, code: codeForbidden, msg: msg}
}

// fail writes the error body of the errorBody reading.
func (s *Server) fail(w http.ResponseWriter, c *call, e *apiError) {
	if c.rd.ErrorBody == ErrorNest {
		writeJSON(w, e.status, map[string]any{"statusCode": e.status, "message": e.msg, "error": http.StatusText(e.status)})
		return
	}
	writeJSON(w, e.status, map[string]string{"message": e.msg, "code": e.code})
}

// ok answers a successful call: POST and PUT with the successStatus reading,
// GET with 200.
func (s *Server) ok(w http.ResponseWriter, r *http.Request, c *call, v any) {
	status := http.StatusOK
	if r.Method != http.MethodGet {
		status = c.rd.SuccessStatus
	}
	writeJSON(w, status, v)
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

// decodeInput reads the documented request fields: from the JSON body, or —
// for GET routes of the "rest" reading — from the query parameters of the
// same names. Numbers keep every digit.
func decodeInput(w http.ResponseWriter, r *http.Request, out any) *apiError {
	if r.Method == http.MethodGet {
		return decodeQuery(r.URL.Query(), out)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &apiError{status: http.StatusUnsupportedMediaType, code: codeValidation, msg: "content type must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &apiError{status: http.StatusRequestEntityTooLarge, code: codeValidation, msg: "body too large"}
		}
		return badRequest("malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed JSON body: trailing data")
	}
	return nil
}

// numericParams are the documented number fields a GET may carry.
var numericParams = map[string]bool{"chainId": true}

// decodeQuery maps single-valued query parameters onto the JSON field names
// of out: strings stay strings, documented numbers must be numbers.
func decodeQuery(q url.Values, out any) *apiError {
	m := make(map[string]json.RawMessage, len(q))
	for k, vs := range q {
		if len(vs) != 1 {
			return badRequest("query parameter %s must be given once", k)
		}
		if numericParams[k] {
			if !json.Valid([]byte(vs[0])) {
				return badRequest("query parameter %s must be a number", k)
			}
			m[k] = json.RawMessage(vs[0])
			continue
		}
		m[k], _ = json.Marshal(vs[0])
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return badRequest("bad query")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return badRequest("bad query: %s", jsonProblem(err))
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

func (s *Server) controlReadings(w http.ResponseWriter, r *http.Request) {
	var in Readings
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "body must be a readings object: " + jsonProblem(err)})
		return
	}
	if err := s.SetReadings(in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": err.Error(), "offered": AllReadings()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"readings": s.Readings()})
}
