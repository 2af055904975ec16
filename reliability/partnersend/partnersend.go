// Package partnersend posts signed partner webhooks to a gateway the way a partner does: the
// same body is resent after any non-2xx answer or connection error, with exponential backoff
// and jitter, until the gateway acknowledges it with a 2xx or the context ends.
package partnersend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/covergate/covergate/server/partners/etvas"
	sandboxetvas "github.com/covergate/covergate/server/sandbox/etvas"
	"github.com/covergate/covergate/server/webhook"
)

// maxAnswerBytes bounds how much of an answer is kept.
const maxAnswerBytes = 64 << 10

// AppEvent is an Etvas App event body (`{"name","timestamp","payload"}`), signed by Etvas
// over these exact bytes.
func AppEvent(name, contextID, productID string, at time.Time) ([]byte, error) {
	b, err := json.Marshal(map[string]any{
		"name":      name,
		"timestamp": at.UnixMilli(),
		"payload":   map[string]string{"contextId": contextID, "productId": productID},
	})
	if err != nil {
		return nil, fmt.Errorf("partnersend: app event: %w", err)
	}
	return b, nil
}

// EtvasAppKey is the inbox delivery key the gateway gives an App event body (the hash of its
// canonical JSON), so a test can find exactly that delivery in the store.
func EtvasAppKey(body []byte) string { return "app:" + webhook.HashKey(body) }

// Sender delivers to one gateway.
type Sender struct {
	GatewayURL string
	Client     *http.Client
	// EtvasAPIKey and EtvasSecret default to the sandbox credentials.
	EtvasAPIKey, EtvasSecret string
}

// New returns a Sender with a pooled client sized for workers concurrent deliveries.
func New(gatewayURL string, workers int) *Sender {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = workers*2, workers*2
	return &Sender{
		GatewayURL: gatewayURL,
		Client:     &http.Client{Transport: tr, Timeout: 30 * time.Second},
	}
}

// Close releases idle connections.
func (s *Sender) Close() { s.Client.CloseIdleConnections() }

// Answer is the gateway's acknowledgement of one delivery.
type Answer struct {
	Status   int
	Body     []byte
	Attempts int // 1 when the first try was acknowledged
}

// errNotAcked makes backoff retry a non-2xx answer.
var errNotAcked = errors.New("not acknowledged")

// DeliverEtvasApp posts a signed App event to /etvas/events until it is acknowledged.
func (s *Sender) DeliverEtvasApp(ctx context.Context, body []byte) (Answer, error) {
	key, secret := s.EtvasAPIKey, s.EtvasSecret
	if key == "" {
		key = sandboxetvas.DefaultAPIKey
	}
	if secret == "" {
		secret = sandboxetvas.DefaultEventSecret
	}
	headers := map[string]string{
		etvas.HeaderAPIKey:           key,
		etvas.HeaderWebhookSignature: etvas.SignWebhook([]byte(secret), body),
	}
	return s.Deliver(ctx, webhook.RouteEtvasApp, body, headers)
}

// Deliver posts body to path with headers until a 2xx answer; every other answer and every
// transport error is retried with the same bytes (a partner does not re-sign differently).
func (s *Sender) Deliver(ctx context.Context, path string, body []byte, headers map[string]string) (Answer, error) {
	attempts := 0
	eb := backoff.NewExponentialBackOff()
	eb.InitialInterval, eb.MaxInterval = 50*time.Millisecond, time.Second
	ans, err := backoff.Retry(ctx, func() (Answer, error) {
		attempts++
		a, err := s.post(ctx, path, body, headers)
		if err != nil {
			return Answer{}, err
		}
		if a.Status < 200 || a.Status > 299 {
			return Answer{}, fmt.Errorf("%w: HTTP %d %s", errNotAcked, a.Status, a.Body)
		}
		return a, nil
	}, backoff.WithBackOff(eb), backoff.WithMaxElapsedTime(5*time.Minute))
	ans.Attempts = attempts
	if err != nil {
		return ans, fmt.Errorf("partnersend: deliver %s after %d attempts: %w", path, attempts, err)
	}
	return ans, nil
}

func (s *Sender) post(ctx context.Context, path string, body []byte, headers map[string]string) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.GatewayURL+path, bytes.NewReader(body))
	if err != nil {
		return Answer{}, backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		// The answer was cut off (the gateway died mid-response): not an acknowledgement.
		return Answer{}, err
	}
	return Answer{Status: resp.StatusCode, Body: b}, nil
}
