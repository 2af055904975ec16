package scalepoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Push delivery policy: a handful of attempts with doubling waits, enough to ride over a
// gateway restart in development without keeping goroutines for long.
const (
	pushAttempts  = 5
	pushFirstWait = 200 * time.Millisecond
)

// WebhookRequest builds the delivery of one event to the gateway, as Scalepoint's webhook
// would send it: POST {gatewayURL}/webhooks/scalepoint, Authorization: Bearer <token>,
// the event (a receive data item) as the JSON body. The CLI uses it to send an event to a
// running gateway; add a context with WithContext.
func WebhookRequest(gatewayURL, token string, event Event) (*http.Request, error) {
	body, err := json.Marshal(event)
	if err != nil {
		return nil, fmt.Errorf("scalepoint sandbox: encode event: %w", err)
	}
	target := strings.TrimRight(gatewayURL, "/") + "/webhooks/scalepoint"
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("scalepoint sandbox: webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return req, nil
}

// push delivers ev to the gateway with bounded retries; only 2xx is success and a 4xx
// other than 408/429 is final (the gateway refused it, repeating will not help).
func (s *Server) push(ev Event) {
	defer s.wg.Done()
	d := Delivery{EventID: ev.ID}
	wait := pushFirstWait
attempts:
	for d.Attempts < pushAttempts {
		d.Attempts++
		status, err := s.pushOnce(ev)
		d.Status = status
		if err == nil && status >= 200 && status < 300 {
			d.OK, d.Error = true, ""
			break attempts
		}
		if err != nil {
			d.Error = err.Error()
		} else {
			d.Error = fmt.Sprintf("gateway answered %d", status)
		}
		if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
			break attempts
		}
		select {
		case <-time.After(wait):
			wait *= 2
		case <-s.ctx.Done():
			d.Error = "sandbox closed before delivery: " + d.Error
			break attempts
		}
	}
	s.cfg.Logger.Info("scalepoint sandbox: webhook push finished",
		slog.String("event_id", ev.ID), slog.Int("attempts", d.Attempts), slog.Int("status", d.Status), slog.Bool("ok", d.OK))
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
}

func (s *Server) pushOnce(ev Event) (int, error) {
	req, err := WebhookRequest(s.cfg.GatewayURL, s.cfg.WebhookToken, ev)
	if err != nil {
		return 0, err
	}
	resp, err := s.cfg.HTTPClient.Do(req.WithContext(s.ctx))
	if err != nil {
		return 0, fmt.Errorf("deliver: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	return resp.StatusCode, nil
}
