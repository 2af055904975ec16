package avata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/covergate/covergate/server/partners/avata"
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
// PolicyAcceptDelay (at once when 0), with a callback.
func (s *Server) schedulePolicyAccept(policyUUID string) {
	accept := func() {
		s.mu.Lock()
		pol, ok := s.st.policies[policyUUID]
		if !ok || pol.status != avata.PolicyPending { // moved meanwhile (activate, control): leave it
			s.mu.Unlock()
			return
		}
		pol.setStatus(avata.PolicyAccepted, s.cfg.Clock())
		body, err := avata.NewPolicyUpdateCallback(pol.update())
		s.mu.Unlock()
		if err == nil {
			s.deliver(avata.EventPolicyUpdate, body)
		}
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
		expect := avata.ClaimCreated
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
			body, err := avata.NewClaimUpdateCallback(c.update())
			s.mu.Unlock()
			if err == nil {
				s.deliver(avata.EventClaimUpdate, body)
			}
			expect = next
		}
	})
}

// SetPolicyStatus moves a policy (test control) and sends the callback.
func (s *Server) SetPolicyStatus(policyUUID string, status avata.PolicyStatus) error {
	if !status.Known() {
		return fmt.Errorf("avata sandbox: unknown policy status %q", status)
	}
	s.mu.Lock()
	pol, ok := s.st.policies[policyUUID]
	if !ok {
		s.mu.Unlock()
		return errNotFound
	}
	pol.setStatus(status, s.cfg.Clock())
	body, err := avata.NewPolicyUpdateCallback(pol.update())
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.deliver(avata.EventPolicyUpdate, body)
	return nil
}

// SetClaimStatus moves a claim (test control) and sends the callback.
func (s *Server) SetClaimStatus(claimUUID string, status avata.ClaimStatus) error {
	if !status.Known() {
		return fmt.Errorf("avata sandbox: unknown claim status %q", status)
	}
	s.mu.Lock()
	c, ok := s.st.claims[claimUUID]
	if !ok {
		s.mu.Unlock()
		return errNotFound
	}
	c.status = status
	body, err := avata.NewClaimUpdateCallback(c.update())
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.deliver(avata.EventClaimUpdate, body)
	return nil
}

var errNotFound = errors.New("avata sandbox: not found")

type statusRequest struct {
	Status string `json:"status"`
}

func (s *Server) controlPolicyStatus(w http.ResponseWriter, r *http.Request) {
	var req statusRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	st := avata.PolicyStatus(req.Status)
	if !st.Known() {
		fail(w, badRequest("status must be a policy status"))
		return
	}
	if err := s.SetPolicyStatus(r.PathValue("uuid"), st); err != nil {
		fail(w, notFound("policy"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) controlClaimStatus(w http.ResponseWriter, r *http.Request) {
	var req statusRequest
	if err := decodeJSON(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	st := avata.ClaimStatus(req.Status)
	if !st.Known() {
		fail(w, badRequest("status must be a claim status"))
		return
	}
	if err := s.SetClaimStatus(r.PathValue("uuid"), st); err != nil {
		fail(w, notFound("claim"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deliver queues a signed callback for the gateway. One worker sends them in
// order, so the gateway sees PENDING→ACCEPTED or CREATED→…→APPROVED in the
// order they happened.
func (s *Server) deliver(eventType string, body []byte) {
	if s.cfg.GatewayURL == "" || body == nil || s.ctx.Err() != nil {
		return // no gateway, or closed: nobody would send it
	}
	s.mu.Lock()
	s.queue = append(s.queue, pendingCallback{eventType: eventType, body: body})
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

// send delivers one callback with bounded retries on transport errors and
// non-2xx answers, recording the outcome.
func (s *Server) send(ctx context.Context, cb pendingCallback) {
	d := Delivery{Time: s.cfg.Clock().UTC(), EventType: cb.eventType, Body: string(cb.body)}
	target := strings.TrimRight(s.cfg.GatewayURL, "/") + CallbackPath
	sig := avata.SignCallback([]byte(s.cfg.CallbackSecret), cb.body)
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
	req.Header.Set(avata.CallbackSignatureHeader, sig)
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

// Policy returns a policy as the API would (for tests).
func (s *Server) Policy(policyUUID string) (avata.Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pol, ok := s.st.policies[policyUUID]
	if !ok {
		return avata.Policy{}, false
	}
	return pol.wire(), true
}

// ClaimUUID returns the uuid of the claim on a policy (for tests).
func (s *Server) ClaimUUID(policyUUID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.st.claimByPolicy[policyUUID]
	return id, ok
}
