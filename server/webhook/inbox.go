package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

// Inbound is a delivery about to be recorded.
type Inbound struct {
	Delivery    Delivery
	DeliveryKey string
	EventType   string
	// StorePayload, when set, is stored instead of Delivery.Raw (deletion requests are stored
	// redacted: their body is personal data the sender asked us to erase).
	StorePayload []byte
}

// Outcome is what applying a delivery did.
type Outcome struct {
	State      domain.InboxState // PROCESSED or IGNORED
	Error      string            // why it was ignored, for operators
	CustomerID string            // the customer it concerns, so erasure finds the delivery
	Response   proto.Message     // the answer; stored and replayed for duplicates
	// RedactStored stores domain.Redacted instead of the answer (it names a customer who asked to
	// be erased); a duplicate then gets a minimal answer rebuilt by the service.
	RedactStored bool
	// Unrecognized marks an event whose type is unknown (counted apart by the observer).
	Unrecognized bool
}

// ApplyFunc applies a delivery inside the transaction that recorded it (rec has its ID). It
// must not call partners (the transaction may run more than once). Events it appends are
// written at the end of the transaction; AppendEvent returns them without cursor.
type ApplyFunc func(ctx context.Context, tx store.Tx, rec domain.InboxRecord) (Outcome, error)

// Result is the outcome of Record.
type Result struct {
	Record    domain.InboxRecord
	Duplicate bool
}

var responseJSON = protojson.MarshalOptions{}

// Record stores the delivery in the inbox and applies it in one transaction: either both the
// inbox record and the effect commit, or neither does (the partner gets an error and retries).
// A delivery seen before has no second effect: its stored response is decoded into resp.
// On success resp holds the answer.
func Record(ctx context.Context, st store.Store, in Inbound, resp proto.Message, apply ApplyFunc) (Result, error) {
	var res Result
	unrecognized := false
	payload := in.Delivery.Raw
	if in.StorePayload != nil {
		payload = in.StorePayload
	}
	// Here, in the caller's goroutine, not in the transaction: under group commit that runs in
	// the single committer, which every delivery waits for.
	refs := domain.InboxRefs(payload, in.Delivery.Headers)
	err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		res, unrecognized = Result{}, false
		rec, err := tx.InsertInbox(ctx, domain.InboxRecord{
			Partner: in.Delivery.Partner, DeliveryKey: in.DeliveryKey, EventType: in.EventType,
			Payload: payload, Headers: in.Delivery.Headers, ReceiveTime: in.Delivery.ReceiveTime,
			State: domain.InboxReceived, Refs: refs,
		})
		var dup *store.DuplicateInboxError
		if errors.As(err, &dup) {
			res = Result{Record: dup.Existing, Duplicate: true}
			return nil
		}
		if err != nil {
			return fmt.Errorf("webhook: record delivery: %w", err)
		}
		deferred := &eventsLast{Tx: tx}
		out, err := apply(ctx, deferred, rec)
		if err != nil {
			return err
		}
		if out.Response == nil {
			return errors.New("webhook: apply returned no response")
		}
		body, err := responseJSON.Marshal(out.Response)
		if err != nil {
			return fmt.Errorf("webhook: encode response: %w", err)
		}
		if out.RedactStored {
			body = []byte(domain.Redacted)
		}
		unrecognized = out.Unrecognized
		rec.State, rec.Error, rec.Response, rec.CustomerID = out.State, out.Error, body, out.CustomerID
		if rec.State == "" {
			rec.State = domain.InboxProcessed
		}
		if err := tx.UpdateInbox(ctx, rec); err != nil {
			return fmt.Errorf("webhook: update delivery %s: %w", rec.ID, err)
		}
		if err := deferred.flush(ctx); err != nil {
			return err
		}
		res.Record = rec
		if resp != out.Response {
			proto.Reset(resp)
			proto.Merge(resp, out.Response)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	switch {
	case res.Duplicate:
		Report(ctx, in.EventType, OutcomeDuplicate)
		if err := Replay(res.Record, resp); err != nil {
			return Result{}, err
		}
	case unrecognized:
		Report(ctx, UnrecognizedType, OutcomeUnrecognized)
	default:
		Report(ctx, in.EventType, OutcomeAccepted)
	}
	return res, nil
}

// eventsLast holds back the events a delivery's effect appends and appends them, in order, as
// the last step of the transaction: on PostgreSQL the first append takes a lock held until
// commit (it orders cursors), so appending early would serialize the rest of the effect behind
// other deliveries and invite deadlocks with row locks taken after it. The effects never read
// the appended event back.
type eventsLast struct {
	store.Tx
	pending []domain.Event
}

func (e *eventsLast) AppendEvent(_ context.Context, ev domain.Event) (domain.Event, error) {
	e.pending = append(e.pending, ev)
	return ev, nil
}

func (e *eventsLast) flush(ctx context.Context) error {
	for _, ev := range e.pending {
		if _, err := e.Tx.AppendEvent(ctx, ev); err != nil {
			return fmt.Errorf("webhook: append %s event: %w", ev.Type, err)
		}
	}
	return nil
}

// Replay decodes a stored delivery's response into resp.
func Replay(rec domain.InboxRecord, resp proto.Message) error {
	proto.Reset(resp)
	if len(rec.Response) == 0 || bytes.Equal(rec.Response, []byte(domain.Redacted)) {
		return nil // never answered, or erased: the caller fills the minimal answer
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(rec.Response, resp); err != nil {
		return fmt.Errorf("webhook: decode stored response of delivery %s: %w", rec.ID, err)
	}
	return nil
}

// Seen returns the stored delivery with this key, if any. Services call it before a partner
// call so that a retried delivery is answered without calling the partner again; Record still
// decides (a delivery may arrive twice at the same moment).
func Seen(ctx context.Context, st store.InboxReader, partner domain.Partner, key string) (domain.InboxRecord, bool, error) {
	rec, err := st.FindInbox(ctx, partner, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return domain.InboxRecord{}, false, nil
	case err != nil:
		return domain.InboxRecord{}, false, fmt.Errorf("webhook: find delivery: %w", err)
	}
	return rec, true, nil
}

// HashKey is the deduplication key of a delivery without a partner event id: "sha256:" and the
// hex SHA-256 of the canonical JSON of the body (object keys sorted, insignificant whitespace
// removed, numbers kept as written), so the same event re-sent with another key order or
// spacing is still recognized. A body that is not JSON is hashed as is.
func HashKey(raw []byte) string {
	sum := sha256.Sum256(Canonical(raw))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Canonical returns the canonical JSON form of raw (see HashKey), or raw itself when it is not
// JSON.
func Canonical(raw []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	out, err := json.Marshal(v) // encoding/json sorts map keys
	if err != nil {
		return raw
	}
	return out
}

// EventTime converts an Etvas timestamp in seconds or milliseconds (EtvasEventTime); zero or
// negative means "not given" and yields fallback.
func EventTime(ts int64, fallback time.Time) time.Time {
	if at, ok := EtvasEventTime(ts); ok {
		return at
	}
	return fallback
}
