package etvas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	etvasapi "github.com/covergate/covergate/server/partners/etvas"
)

// Event formats.
const (
	FormatApp    = "app"    // Etvas App: POST /etvas/events {"name","payload","timestamp"}
	FormatPortal = "portal" // developer portal: POST /etvas-events {"event","user","data"}
)

// maxRedirects is how many redirects Etvas follows when delivering an event.
const maxRedirects = 5

// maxGatewayAnswer bounds how much of the gateway's answer is kept.
const maxGatewayAnswer = 1 << 20

// EventRequest describes an event to deliver (the body of POST /_sandbox/events).
type EventRequest struct {
	Format    string `json:"format,omitempty"` // app (default) | portal
	Name      string `json:"name"`
	ContextID string `json:"contextId"`
	ProductID string `json:"productId,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"` // ms; default now
}

// Validate checks the request and fills defaults (format app, a product id, timestamp).
func (e *EventRequest) Validate(now time.Time) error {
	e.Format = strings.ToLower(strings.TrimSpace(e.Format))
	if e.Format == "" {
		e.Format = FormatApp
	}
	if e.Format != FormatApp && e.Format != FormatPortal {
		return fmt.Errorf("format must be %q or %q", FormatApp, FormatPortal)
	}
	if strings.TrimSpace(e.Name) == "" {
		return errors.New("name is required")
	}
	if strings.TrimSpace(e.ContextID) == "" {
		return errors.New("contextId is required")
	}
	if e.ProductID == "" {
		e.ProductID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("etvas-sandbox-product")).String()
	}
	if e.Timestamp == 0 {
		e.Timestamp = now.UnixMilli()
	}
	return nil
}

// Path returns the gateway path of the event's format.
func (e EventRequest) Path() string {
	if e.Format == FormatPortal {
		return etvasapi.PortalEventsPath
	}
	return etvasapi.AppEventsPath
}

// Body builds the JSON body the real platform would send. e must be validated.
func (e EventRequest) Body() ([]byte, error) {
	if e.Format == FormatPortal {
		partnerID := e.ContextID
		return json.Marshal(etvasapi.PortalEvent{
			Event: etvasapi.PortalEventHeader{ID: uuid.NewString(), Type: e.Name, Timestamp: e.Timestamp},
			User: etvasapi.PortalUser{
				ID:        uuid.NewSHA1(uuid.NameSpaceURL, []byte("etvas-user:"+e.ContextID)).String(),
				PartnerID: &partnerID,
			},
			Data: map[string]json.RawMessage{
				"product": mustJSON(map[string]string{"id": e.ProductID, "partnerId": e.ContextID}),
			},
		})
	}
	return json.Marshal(etvasapi.AppEvent{
		Name:      e.Name,
		Payload:   etvasapi.AppEventPayload{ProductID: e.ProductID, ContextID: e.ContextID},
		Timestamp: e.Timestamp,
	})
}

func mustJSON(v map[string]string) json.RawMessage {
	b, _ := json.Marshal(v) // a map of strings always encodes
	return b
}

// Delivery is the gateway's answer to an event.
type Delivery struct {
	Status      int
	ContentType string
	Body        []byte
	Sent        []byte // the exact body that was signed and sent
}

// NewDeliveryClient returns the client used to deliver events: 10 s per delivery and at
// most 5 redirects, as the platform does.
func NewDeliveryClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
}

// Deliver builds, signs and POSTs ev (validated) to gatewayURL, the way Etvas delivers
// events: Content-Type and Accept application/json, x-api-key, x-etvas-signature =
// hex(HMAC-SHA256(eventSecret, raw body)).
func Deliver(ctx context.Context, hc *http.Client, gatewayURL string, ev EventRequest, apiKey string, eventSecret []byte) (Delivery, error) {
	base, err := url.Parse(gatewayURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return Delivery{}, fmt.Errorf("etvas sandbox: gateway URL %q is not an http(s) URL", gatewayURL)
	}
	body, err := ev.Body()
	if err != nil {
		return Delivery{}, fmt.Errorf("etvas sandbox: build event: %w", err)
	}
	target := base.JoinPath(ev.Path()).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Delivery{}, fmt.Errorf("etvas sandbox: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(etvasapi.HeaderAPIKey, apiKey)
	req.Header.Set(etvasapi.HeaderWebhookSignature, etvasapi.SignWebhook(eventSecret, body))
	resp, err := hc.Do(req)
	if err != nil {
		return Delivery{Sent: body}, fmt.Errorf("etvas sandbox: deliver %s: %w", ev.Name, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxGatewayAnswer))
	if err != nil {
		return Delivery{Sent: body}, fmt.Errorf("etvas sandbox: read gateway answer: %w", err)
	}
	return Delivery{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: answer, Sent: body}, nil
}
