package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/lifecycle"
	"github.com/covergate/covergate/server/partners/scalepoint"
	"github.com/covergate/covergate/server/store"
)

// PublishEvent queues a Scalepoint event: the publication and its publication.queued event are
// written in one transaction, and the answer (status PENDING) comes at once; the outbox workers
// deliver it.
func (s *EventService) PublishEvent(ctx context.Context, req *insurancev1.PublishEventRequest) (*insurancev1.PublishEventResponse, error) {
	dest, err := s.destination(req.GetDestination())
	if err != nil {
		return nil, err
	}
	fields, err := payloadFields(req.GetPayload())
	if err != nil {
		return nil, err
	}
	in := lifecycle.PublishInput{
		Event: domain.ScalepointEvent{
			Destination: dest, EventType: req.GetEventType(), PayloadVersion: req.GetPayloadVersion(),
			CorrelationID: req.GetCorrelationId(), Fields: fields,
		},
		// Refused now what Scalepoint's adapter would refuse at delivery: a queued event that can
		// never be sent only turns into a FAILED publication later.
		MaxPayloadBytes: scalepoint.DefaultMaxPayloadBytes,
	}
	var pub domain.Publication
	err = s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		p, err := s.d.Lifecycle.PublishEvent(ctx, tx, in, apiSource(ctx, domain.PartnerScalepoint))
		pub = p
		return err
	})
	var conflict *domain.EnvelopeConflictError
	var tooLarge *lifecycle.PayloadTooLargeError
	switch {
	case errors.As(err, &conflict):
		return nil, invalidField("payload."+conflict.Field, "payload.envelope_field",
			"payload must not set "+conflict.Field+": the gateway sets the envelope fields "+strings.Join(domain.EnvelopeFields(), ", "))
	case errors.As(err, &tooLarge):
		return nil, apierror.New(codes.InvalidArgument, insurancev1.ErrorReason_ERROR_REASON_PARTNER_INPUT_TOO_LARGE,
			fmt.Sprintf("the event is %d bytes; Scalepoint accepts at most %d", tooLarge.Size, tooLarge.Limit),
			"partner", "scalepoint", "limit_bytes", fmt.Sprint(tooLarge.Limit))
	case err != nil:
		return nil, fmt.Errorf("api: publish event: %w", err)
	}
	return &insurancev1.PublishEventResponse{Publication: PublicationToProto(pub)}, nil
}

// destination resolves the request's destination. The Scalepoint adapter publishes to its
// configured country and tenant only, so another destination is refused rather than silently
// redirected.
func (s *EventService) destination(d *insurancev1.Destination) (domain.Destination, error) {
	cfg := domain.Destination{Partner: domain.PartnerScalepoint, Country: s.d.Settings.ScalepointCountry, Tenant: s.d.Settings.ScalepointTenant}
	if cfg.Country == "" || cfg.Tenant == "" {
		return cfg, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE,
			"no Scalepoint destination is configured (scalepoint-country, scalepoint-tenant)")
	}
	if d == nil || (d.GetCountry() == cfg.Country && d.GetTenant() == cfg.Tenant) {
		return cfg, nil
	}
	return cfg, invalidField("destination", "destination.configured",
		fmt.Sprintf("this gateway publishes to country %q tenant %q only", cfg.Country, cfg.Tenant))
}

// payloadFields decodes the request's payload into the event's top-level fields.
func payloadFields(payload *structpb.Struct) (map[string]json.RawMessage, error) {
	raw, err := protojson.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("api: encode payload: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("api: decode payload: %w", err)
	}
	return fields, nil
}

// GetPublication returns one publication with its delivery state.
func (s *EventService) GetPublication(ctx context.Context, req *insurancev1.GetPublicationRequest) (*insurancev1.GetPublicationResponse, error) {
	p, err := s.d.Store.GetPublication(ctx, req.GetPublicationId())
	if err != nil {
		return nil, storeError(err, "publication")
	}
	return &insurancev1.GetPublicationResponse{Publication: PublicationToProto(p)}, nil
}

// ListPublications pages publications in id (queue) order, filtered by status and event type.
func (s *EventService) ListPublications(ctx context.Context, req *insurancev1.ListPublicationsRequest) (*insurancev1.ListPublicationsResponse, error) {
	f := store.PublicationFilter{Status: PublicationStatusFromProto(req.GetStatus()), EventType: req.GetEventType()}
	fh := filterHash("publications", string(f.Status), f.EventType)
	after, err := decodePageToken(req.GetPageToken(), fh)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Store.ListPublications(ctx, f, pageRequest(req.GetPageSize(), after))
	if err != nil {
		return nil, fmt.Errorf("api: list publications: %w", err)
	}
	out := &insurancev1.ListPublicationsResponse{NextPageToken: encodePageToken(page.Next, fh)}
	for _, p := range page.Items {
		out.Publications = append(out.Publications, PublicationToProto(p))
	}
	return out, nil
}

// RetryPublication sends a FAILED publication again (the dead-letter retry): PENDING, due now,
// a fresh attempt budget, same payload and correlation id, recorded as publication.retried.
func (s *EventService) RetryPublication(ctx context.Context, req *insurancev1.RetryPublicationRequest) (*insurancev1.RetryPublicationResponse, error) {
	var out domain.Publication
	err := s.d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		p, err := s.d.Lifecycle.RetryPublication(ctx, tx, req.GetPublicationId(), apiSource(ctx, domain.PartnerScalepoint))
		out = p
		return err
	})
	var te *domain.TransitionError
	if errors.As(err, &te) {
		return nil, apierror.New(codes.FailedPrecondition, insurancev1.ErrorReason_ERROR_REASON_INVALID_STATE,
			fmt.Sprintf("the publication is %s: only FAILED publications can be retried", te.From), "status", te.From)
	}
	if err != nil {
		return nil, storeError(err, "publication")
	}
	return &insurancev1.RetryPublicationResponse{Publication: PublicationToProto(out)}, nil
}
