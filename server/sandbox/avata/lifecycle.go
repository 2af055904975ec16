package avata

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Delivery is one callback sent (or being sent) to the gateway.
type Delivery struct {
	Time      time.Time `json:"time"`
	EventType string    `json:"eventType"`
	Body      string    `json:"body"` // statuses and ids only: no personal data
	Attempts  int       `json:"attempts"`
	Status    int       `json:"status"` // last HTTP status; 0 = transport error or not sent
	Delivered bool      `json:"delivered"`
	Error     string    `json:"error,omitempty"`
}

type pendingCallback struct {
	eventType string
	body      []byte
}

// spawn runs fn on a goroutine the Server owns; after Close it does nothing.
func (s *Server) spawn(fn func(ctx context.Context)) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
}

// sleepCtx waits d or until ctx ends; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// schedulePolicyAccept moves a new PENDING policy to ACCEPTED after
// PolicyAcceptDelay (at once when 0), with a policy-update callback.
func (s *Server) schedulePolicyAccept(policyUUID string) {
	accept := func() {
		s.mu.Lock()
		pol, ok := s.st.policies[policyUUID]
		if !ok || pol.status != PolicyPending { // moved meanwhile (activate, control): leave it
			s.mu.Unlock()
			return
		}
		pol.setStatus(PolicyAccepted, s.cfg.Clock())
		cb := &callbackOut{EventType: EventPolicyUpdate, Body: pol.update()}
		s.mu.Unlock()
		s.deliver(cb)
	}
	if s.cfg.PolicyAcceptDelay == 0 {
		accept()
		return
	}
	s.spawn(func(ctx context.Context) {
		if sleepCtx(ctx, s.cfg.PolicyAcceptDelay) {
			accept()
		}
	})
}

// scheduleClaimSteps walks a new claim through ClaimSteps, one per
// ClaimStepDelay, stopping if someone else changed its status meanwhile.
func (s *Server) scheduleClaimSteps(claimUUID string) {
	s.mu.Lock()
	steps := s.claimSteps
	s.mu.Unlock()
	if len(steps) == 0 {
		return
	}
	s.spawn(func(ctx context.Context) {
		expect := ClaimCreated
		for _, next := range steps {
			if !sleepCtx(ctx, s.cfg.ClaimStepDelay) {
				return
			}
			s.mu.Lock()
			c, ok := s.st.claims[claimUUID]
			if !ok || c.status != expect {
				s.mu.Unlock()
				return
			}
			c.status = next
			cb := &callbackOut{EventType: EventClaimUpdate, Body: c.update()}
			s.mu.Unlock()
			s.deliver(cb)
			expect = next
		}
	})
}

// SetClaimSteps replaces the statuses claims filed from now on move through
// (Config.ClaimSteps). None: a new claim stays CREATED, and sends no callback,
// until SetClaimStatus or /_sandbox/claims/{uuid}/status moves it. Claims
// already walking keep their steps.
func (s *Server) SetClaimSteps(steps ...string) error {
	for _, st := range steps {
		if !isClaimStatus(st) {
			return fmt.Errorf("avata sandbox: claim step %q is not a claim status", st)
		}
	}
	s.mu.Lock()
	s.claimSteps = append([]string(nil), steps...)
	s.mu.Unlock()
	return nil
}

// ErrNotFound: no policy or claim with that uuid.
var ErrNotFound = errors.New("avata sandbox: not found")

// SetPolicyStatus moves a policy (test control) and sends the callback.
func (s *Server) SetPolicyStatus(policyUUID, status string) error {
	if !isPolicyStatus(status) {
		return fmt.Errorf("avata sandbox: unknown policy status %q", status)
	}
	s.mu.Lock()
	pol, ok := s.st.policies[policyUUID]
	if !ok {
		s.mu.Unlock()
		return ErrNotFound
	}
	pol.setStatus(status, s.cfg.Clock())
	cb := &callbackOut{EventType: EventPolicyUpdate, Body: pol.update()}
	s.mu.Unlock()
	s.deliver(cb)
	return nil
}

// SetClaimStatus moves a claim, named by its uuid (test control), and sends
// the callback.
func (s *Server) SetClaimStatus(claimUUID, status string) error {
	if !isClaimStatus(status) {
		return fmt.Errorf("avata sandbox: unknown claim status %q", status)
	}
	s.mu.Lock()
	c, ok := s.st.claims[claimUUID]
	if !ok {
		s.mu.Unlock()
		return ErrNotFound
	}
	c.status = status
	cb := &callbackOut{EventType: EventClaimUpdate, Body: c.update()}
	s.mu.Unlock()
	s.deliver(cb)
	return nil
}

// PolicyStatus returns a policy's status (for tests).
func (s *Server) PolicyStatus(policyUUID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pol, ok := s.st.policies[policyUUID]
	if !ok {
		return "", false
	}
	return pol.status, true
}

// ClaimUUID returns the uuid of the claim on a policy (for tests: the API
// itself only reveals it in claim-update callbacks, unless the claimUuid
// reading is "present").
func (s *Server) ClaimUUID(policyUUID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.st.claimByPolicy[policyUUID]
	return id, ok
}

type statusRequest struct {
	Status string `json:"status"`
}

func (s *Server) controlStatus(w http.ResponseWriter, r *http.Request, set func(id, status string) error) {
	var req statusRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "body must be {\"status\": ...}"})
		return
	}
	switch err := set(r.PathValue("uuid"), req.Status); {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "not found"})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) controlPolicyStatus(w http.ResponseWriter, r *http.Request) {
	s.controlStatus(w, r, s.SetPolicyStatus)
}

func (s *Server) controlClaimStatus(w http.ResponseWriter, r *http.Request) {
	s.controlStatus(w, r, s.SetClaimStatus)
}

// deliver queues a callback for the gateway. One worker sends them in order,
// so the gateway sees PENDING→ACCEPTED or CREATED→…→APPROVED in the order
// they happened. nil does nothing.
func (s *Server) deliver(cb *callbackOut) {
	if cb == nil || s.cfg.GatewayURL == "" || s.ctx.Err() != nil {
		return // nothing to send, no gateway, or closed
	}
	body, err := json.Marshal(cb)
	if err != nil {
		s.cfg.Logger.Error("avata sandbox: cannot encode callback", "error", err)
		return
	}
	s.mu.Lock()
	s.queue = append(s.queue, pendingCallback{eventType: cb.EventType, body: body})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // the worker is already due to look at the queue
	}
}

// deliveryWorker sends queued callbacks until Close.
func (s *Server) deliveryWorker(ctx context.Context) {
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, cb := range batch {
			s.send(ctx, cb)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
	}
}

// SignCallback returns the X-Avata-Signature value of a callback body:
// hex(HMAC-SHA256(secret, body)).
func SignCallback(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// send delivers one callback with bounded retries on transport errors and
// non-2xx answers, recording the outcome.
func (s *Server) send(ctx context.Context, cb pendingCallback) {
	d := Delivery{Time: s.cfg.Clock().UTC(), EventType: cb.eventType, Body: string(cb.body)}
	target := strings.TrimRight(s.cfg.GatewayURL, "/") + CallbackPath
	sig := SignCallback([]byte(s.cfg.CallbackSecret), cb.body)
	wait := s.cfg.CallbackBackoff
	for d.Attempts < s.cfg.CallbackAttempts && ctx.Err() == nil {
		if d.Attempts > 0 {
			if !sleepCtx(ctx, wait) {
				break
			}
			wait *= 2
		}
		d.Attempts++
		d.Status, d.Error = s.post(ctx, target, sig, cb.body)
		if d.Status >= 200 && d.Status < 300 {
			d.Delivered, d.Error = true, ""
			break
		}
	}
	if !d.Delivered {
		s.cfg.Logger.Warn("avata sandbox: callback not delivered",
			"event_type", cb.eventType, "attempts", d.Attempts, "status", d.Status)
	}
	s.mu.Lock()
	s.deliv = append(s.deliv, d)
	if over := len(s.deliv) - maxDeliveries; over > 0 {
		s.deliv = append([]Delivery(nil), s.deliv[over:]...) // a long-running sandbox keeps the newest
	}
	s.mu.Unlock()
}

func (s *Server) post(ctx context.Context, target, sig string, body []byte) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, "build request: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(CallbackSignatureHeader, sig)
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, "transport error"
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Sprintf("gateway answered %d", resp.StatusCode)
	}
	return resp.StatusCode, ""
}

// Deliveries lists finished callback deliveries, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery{}, s.deliv...)
}

// PolicyDetails returns the policy-details answer the API would give for a policy — the
// documented `{"policy": {...}}` body under the current readings — so a test can compare what
// the gateway stored with what Avata reports, through its own decoder.
func (s *Server) PolicyDetails(policyUUID string) ([]byte, bool) {
	rd := s.Readings()
	s.mu.Lock()
	pol, ok := s.st.policies[policyUUID]
	var out policyOut
	if ok {
		out = pol.out(rd)
	}
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	b, err := json.Marshal(policyEnvelope{Policy: out})
	if err != nil {
		return nil, false
	}
	return b, true
}
