package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	"github.com/covergate/covergate/server/apierror"
	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// defaultEventPage is ListEvents' page size when the request asks for 0 (the contract's
// default).
const defaultEventPage = 100

// watchBatch is how many events WatchEvents reads per query.
const watchBatch = 500

// EventToProto converts an event of the log. Data that is not a JSON object (never written by
// Covergate) is left out rather than failing the whole page.
func EventToProto(e domain.Event) *insurancev1.Event {
	out := &insurancev1.Event{
		Cursor: e.Cursor, EventId: e.ID, Type: e.Type, Subject: e.Subject,
		Partner: PartnerToProto(e.Partner), Time: ts(e.Time),
	}
	if len(e.Data) > 0 {
		var data structpb.Struct
		if err := protojson.Unmarshal(e.Data, &data); err == nil {
			out.Data = &data
		}
	}
	return out
}

// eventFilter builds the store filter of a list or watch request.
func eventFilter(after int64, types []string, subject string, partner insurancev1.Partner) store.EventFilter {
	return store.EventFilter{AfterCursor: after, Types: types, Subject: subject, Partner: PartnerFromProto(partner)}
}

// ListEvents pages the event log in cursor order. The page token carries the cursor of the last
// event returned and the filters it was issued for.
func (s *EventService) ListEvents(ctx context.Context, req *insurancev1.ListEventsRequest) (*insurancev1.ListEventsResponse, error) {
	filter := filterHash(strings.Join(req.GetTypes(), ","), req.GetSubject(), req.GetPartner().String())
	after := req.GetAfterCursor()
	if tok := req.GetPageToken(); tok != "" {
		cursor, err := decodePageToken(tok, filter)
		if err != nil {
			return nil, err
		}
		if after, err = strconv.ParseInt(cursor, 10, 64); err != nil || after < 0 {
			return nil, invalidField("page_token", "page_token.invalid", "invalid page_token")
		}
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = defaultEventPage
	}
	f := eventFilter(after, req.GetTypes(), req.GetSubject(), req.GetPartner())
	f.PageSize = size
	page, err := s.d.Store.ListEvents(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("api: list events: %w", err)
	}
	resp := &insurancev1.ListEventsResponse{Events: make([]*insurancev1.Event, 0, len(page.Items))}
	for _, e := range page.Items {
		resp.Events = append(resp.Events, EventToProto(e))
	}
	resp.NextPageToken = encodePageToken(page.Next, filter)
	return resp, nil
}

// WatchStartedHeader is the header metadata WatchEvents sends once the call has passed every
// check and the stream has begun. The REST gateway waits for it before it answers 200: headers
// alone prove nothing, because grpc-go also sends headers (the request id) ahead of an error.
const WatchStartedHeader = "covergate-watch-started"

// WatchEvents streams the events after the request's cursor, then follows new ones as they
// commit. It subscribes to the store's notifier before the first read, so an event committed
// between a read and the wait still wakes it; it reads strictly after the last cursor it sent,
// and cursors increase in commit order, so nothing is missed or sent twice, on any replica. It
// ends when the client goes away, or with UNAVAILABLE when the server shuts down (resume from
// the last cursor received).
func (s *EventService) WatchEvents(req *insurancev1.WatchEventsRequest, stream grpc.ServerStreamingServer[insurancev1.WatchEventsResponse]) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	signals, unsubscribe := s.d.Store.Subscribe(ctx)
	defer unsubscribe()
	// Headers go out now, not with the first event: a client (a browser fetch or EventSource
	// through the REST gateway, a Connect client) learns at once that the stream was accepted,
	// even when there is nothing to replay.
	if err := stream.SendHeader(metadata.Pairs(WatchStartedHeader, "1")); err != nil {
		return err
	}
	f := eventFilter(req.GetAfterCursor(), req.GetTypes(), req.GetSubject(), req.GetPartner())
	f.PageSize = watchBatch
	for {
		if err := s.sendAfter(ctx, &f, stream); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.d.Stopping:
			return apierror.New(codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_UNAVAILABLE,
				"server shutting down: resume from the last cursor received")
		case _, ok := <-signals:
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return apierror.New(codes.Unavailable, insurancev1.ErrorReason_ERROR_REASON_UNAVAILABLE,
					"event notifications stopped: resume from the last cursor received")
			}
		}
	}
}

// sendAfter sends every stored event after f.AfterCursor, advancing it past each event sent.
func (s *EventService) sendAfter(ctx context.Context, f *store.EventFilter, stream grpc.ServerStreamingServer[insurancev1.WatchEventsResponse]) error {
	for {
		page, err := s.d.Store.ListEvents(ctx, *f)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("api: watch events: %w", err)
		}
		for _, e := range page.Items {
			if err := stream.Send(&insurancev1.WatchEventsResponse{Event: EventToProto(e)}); err != nil {
				return err
			}
			f.AfterCursor = e.Cursor
		}
		if len(page.Items) < f.PageSize {
			return nil
		}
	}
}
