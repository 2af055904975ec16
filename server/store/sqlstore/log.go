package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

const inboxCols = `id, partner, delivery_key, event_type, payload, headers, receive_time, state, error, response, customer_id`

func scanInbox(r Rows) (domain.InboxRecord, error) {
	var rec domain.InboxRecord
	var headers string
	err := r.Scan(&rec.ID, &rec.Partner, &rec.DeliveryKey, &rec.EventType, bytesDest{&rec.Payload}, &headers,
		timeDest{&rec.ReceiveTime}, &rec.State, &rec.Error, bytesDest{&rec.Response}, strDest{&rec.CustomerID})
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal([]byte(headers), &rec.Headers); err != nil {
		return rec, fmt.Errorf("decode headers of inbox %s: %w", rec.ID, err)
	}
	return rec, nil
}

// GetInbox implements store.InboxReader.
func (s *Queries) GetInbox(ctx context.Context, id string) (domain.InboxRecord, error) {
	return getOne(ctx, s, "get inbox "+id, scanInbox, `SELECT `+inboxCols+` FROM inbox WHERE id = $1`, id)
}

// FindInbox implements store.InboxReader.
func (s *Queries) FindInbox(ctx context.Context, partner domain.Partner, deliveryKey string) (domain.InboxRecord, error) {
	return getOne(ctx, s, "find inbox "+string(partner)+"/"+deliveryKey, scanInbox,
		`SELECT `+inboxCols+` FROM inbox WHERE partner = $1 AND delivery_key = $2`, string(partner), deliveryKey)
}

// ListInbox implements store.InboxReader.
func (s *Queries) ListInbox(ctx context.Context, inf store.InboxFilter, page store.PageRequest) (store.Page[domain.InboxRecord], error) {
	var f filter
	if inf.Partner != "" {
		f.add("partner = ?", string(inf.Partner))
	}
	if inf.State != "" {
		f.add("state = ?", string(inf.State))
	}
	return listPage(ctx, s, "inbox", `SELECT `+inboxCols+` FROM inbox`, &f, page, scanInbox,
		func(r domain.InboxRecord) string { return r.ID })
}

// InsertInbox implements store.InboxStore. ON CONFLICT DO NOTHING keeps the
// transaction usable on PostgreSQL (a unique violation would abort it), so a
// webhook handler can answer a duplicate from the stored record.
func (s *Queries) InsertInbox(ctx context.Context, rec domain.InboxRecord) (domain.InboxRecord, error) {
	const what = "insert inbox"
	if rec.Partner == "" || rec.DeliveryKey == "" {
		return rec, fmt.Errorf("store: %s: partner and delivery key are required", what)
	}
	if err := newID(&rec.ID); err != nil {
		return rec, err
	}
	if rec.ReceiveTime.IsZero() {
		rec.ReceiveTime = s.now()
	}
	rec.ReceiveTime = Trunc(rec.ReceiveTime)
	if rec.State == "" {
		rec.State = domain.InboxReceived
	}
	if rec.Headers == nil {
		rec.Headers = map[string]string{}
	}
	headers, err := json.Marshal(rec.Headers)
	if err != nil {
		return rec, fmt.Errorf("store: %s: encode headers: %w", what, err)
	}
	refs := rec.Refs
	if refs == nil {
		refs = domain.InboxRefs(rec.Payload, rec.Headers)
	}
	// One statement records the delivery and files it: a delivery about a known customer (by
	// partner user id, context, wallet, e-mail or id) is filed under it even when the event
	// itself is not understood (see inboxCustomer). RETURNING says whether it was new.
	customer, args := inboxCustomer(rec.CustomerID, refs, 12)
	given := rec.CustomerID
	err = s.queryOne(ctx, func(r Rows) error { return r.Scan(strDest{&rec.CustomerID}) },
		`INSERT INTO inbox (`+inboxCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,`+customer+`)
		ON CONFLICT (partner, delivery_key) DO NOTHING RETURNING customer_id`,
		append([]any{rec.ID, string(rec.Partner), rec.DeliveryKey, rec.EventType, blob(rec.Payload), string(headers),
			s.ts(rec.ReceiveTime), string(rec.State), rec.Error, blob(rec.Response), nstr(given)}, args...)...)
	if errors.Is(err, errNoRows) {
		existing, err := s.FindInbox(ctx, rec.Partner, rec.DeliveryKey)
		if err != nil {
			return rec, err
		}
		return existing, fmt.Errorf("store: %s: %w", what, &store.DuplicateInboxError{Existing: existing})
	}
	if err != nil {
		return rec, s.mapWriteErr(what, err)
	}
	return rec, s.link(ctx, refInbox, rec.ID, refs)
}

// inboxCustomer is the customer_id expression of a new delivery ($11 is the customer given by
// the caller) and its arguments, numbered from first: the caller's customer, else the one
// customer whose identifiers include one of refs (none, or more than one, files it under
// nobody). It is a subquery of the INSERT rather than a SELECT before it: one statement less
// for every delivery (issue 17).
func inboxCustomer(given string, refs []string, first int) (string, []any) {
	if given != "" || len(refs) == 0 {
		return "$11", nil
	}
	in, args := digestList(refs, first+1)
	return fmt.Sprintf(`COALESCE($11, (SELECT CASE WHEN COUNT(DISTINCT record_id) = 1 THEN MIN(record_id) END
		FROM personal_refs WHERE record_kind = $%d AND ref IN (%s)))`, first, in), append([]any{refCustomer}, args...)
}

// UpdateInbox implements store.InboxStore.
func (s *Queries) UpdateInbox(ctx context.Context, rec domain.InboxRecord) error {
	what := "update inbox " + rec.ID
	return s.execLater(ctx, func(n int64, err error) error { return checkOne(n, what, err) },
		`UPDATE inbox SET state=$2, error=$3, response=$4, event_type=$5,
		customer_id=COALESCE($6, customer_id) WHERE id=$1`,
		rec.ID, string(rec.State), rec.Error, blob(rec.Response), rec.EventType, nstr(rec.CustomerID))
}

const eventCols = `seq, id, type, subject, partner, customer_id, data, event_time`

func scanEvent(r Rows) (domain.Event, error) {
	var e domain.Event
	err := r.Scan(&e.Cursor, &e.ID, &e.Type, &e.Subject, &e.Partner, strDest{&e.CustomerID}, bytesDest{&e.Data}, timeDest{&e.Time})
	return e, err
}

// AppendEvent implements store.EventLog.
func (s *Queries) AppendEvent(ctx context.Context, e domain.Event) (domain.Event, error) {
	const what = "append event"
	if err := s.prepareAppend(ctx, what, &e); err != nil {
		return e, err
	}
	if err := s.beforeAppend(ctx, what, s.q); err != nil {
		return e, err
	}
	err := s.queryOne(ctx, func(r Rows) error { return r.Scan(&e.Cursor) },
		`INSERT INTO events (id, type, subject, partner, customer_id, data, event_time) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING seq`,
		eventArgs(s, e)...)
	if err != nil {
		return e, s.mapWriteErr(what, err)
	}
	s.st.AppendedEvents = true
	return e, nil
}

// appendChunks are the row counts of AppendEvents' statements, largest first: a batch is
// written in as few statements as these allow, and the engines' statement caches see six SQL
// texts whatever the batch sizes.
var appendChunks = [...]int{32, 16, 8, 4, 2, 1}

// AppendEvents implements store.EventBatchAppender: the events in order, as AppendEvent would
// append them one by one (cursors follow the slice: both engines number the rows of a
// multi-row INSERT in the order of its VALUES), in a few multi-row statements.
func (s *Queries) AppendEvents(ctx context.Context, evs []domain.Event) error {
	const what = "append events"
	for i := range evs {
		if err := s.prepareAppend(ctx, what, &evs[i]); err != nil {
			return err
		}
	}
	if len(evs) > 0 {
		if err := s.beforeAppend(ctx, what, laterQuerier{s}); err != nil {
			return err
		}
	}
	for len(evs) > 0 {
		n := chunkSize(len(evs))
		args := make([]any, 0, 7*n)
		for _, e := range evs[:n] {
			args = append(args, eventArgs(s, e)...)
		}
		if err := s.execLater(ctx, func(_ int64, err error) error { return s.mapWriteErr(what, err) },
			`INSERT INTO events (id, type, subject, partner, customer_id, data, event_time) VALUES `+rowPlaceholders(n, 7),
			args...); err != nil {
			return err
		}
		s.st.AppendedEvents = true
		evs = evs[n:]
	}
	return nil
}

func chunkSize(left int) int {
	for _, n := range appendChunks {
		if n <= left {
			return n
		}
	}
	return 1
}

// prepareAppend checks an event and completes its id, time and data.
func (s *Queries) prepareAppend(ctx context.Context, what string, e *domain.Event) error {
	if s.st == nil {
		return fmt.Errorf("store: %s: needs a transaction", what)
	}
	if e.Type == "" || e.Subject == "" {
		return fmt.Errorf("store: %s: type and subject are required", what)
	}
	if len(e.Data) > 0 && !json.Valid(e.Data) {
		return fmt.Errorf("store: %s: data is not valid JSON", what)
	}
	if err := newID(&e.ID); err != nil {
		return err
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = Trunc(e.Time)
	if len(e.Data) == 0 {
		e.Data = []byte("{}")
	}
	return nil
}

// beforeAppend takes what the engine needs before the transaction's first append (PostgreSQL:
// the event-log lock).
func (s *Queries) beforeAppend(ctx context.Context, what string, q Querier) error {
	if !s.st.AppendedEvents && s.d.BeforeFirstAppend != nil {
		if err := s.d.BeforeFirstAppend(ctx, q); err != nil {
			return fmt.Errorf("store: %s: %w", what, err)
		}
	}
	return nil
}

func eventArgs(s *Queries, e domain.Event) []any {
	return []any{e.ID, e.Type, e.Subject, string(e.Partner), nstr(e.CustomerID), e.Data, s.ts(e.Time)}
}

// rowPlaceholders renders "($1,...,$cols),(...)" for rows rows.
func rowPlaceholders(rows, cols int) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "$%d", r*cols+c+1)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// ListEvents implements store.EventLogReader.
func (s *Queries) ListEvents(ctx context.Context, ef store.EventFilter) (store.Page[domain.Event], error) {
	var f filter
	f.add("seq > ?", ef.AfterCursor)
	if len(ef.Types) > 0 {
		ph := make([]string, len(ef.Types))
		for i, t := range ef.Types {
			ph[i] = f.param(t)
		}
		f.conds = append(f.conds, "type IN ("+strings.Join(ph, ",")+")")
	}
	if ef.Subject != "" {
		f.add("subject = ?", ef.Subject)
	}
	if ef.Partner != "" {
		f.add("partner = ?", string(ef.Partner))
	}
	if ef.CustomerID != "" {
		f.add("customer_id = ?", ef.CustomerID)
	}
	size := pageSize(ef.PageSize)
	q := `SELECT ` + eventCols + ` FROM events` + f.where() + ` ORDER BY seq LIMIT ` + f.param(size+1)
	items, err := queryAll(ctx, s, scanEvent, q, f.args...)
	if err != nil {
		return store.Page[domain.Event]{}, fmt.Errorf("store: list events: %w", err)
	}
	var out store.Page[domain.Event]
	if len(items) > size {
		items = items[:size]
		out.Next = strconv.FormatInt(items[size-1].Cursor, 10)
	}
	out.Items = items
	return out, nil
}

// LatestCursor implements store.EventLogReader.
func (s *Queries) LatestCursor(ctx context.Context) (int64, error) {
	var c int64
	err := s.queryOne(ctx, func(r Rows) error { return r.Scan(intDest{&c}) }, `SELECT MAX(seq) FROM events`)
	if err != nil && !errors.Is(err, errNoRows) {
		return 0, fmt.Errorf("store: latest cursor: %w", err)
	}
	return c, nil
}

const idemCols = `principal, idem_key, method, request_hash, state, response, customer_id, create_time, expire_time, holder, lease_expire_time`

func scanIdem(r Rows) (domain.IdempotencyRecord, error) {
	var rec domain.IdempotencyRecord
	err := r.Scan(&rec.Principal, &rec.Key, &rec.Method, &rec.RequestHash, &rec.State, bytesDest{&rec.Response},
		strDest{&rec.CustomerID}, timeDest{&rec.CreateTime}, timeDest{&rec.ExpireTime}, &rec.Holder, timeDest{&rec.LeaseExpireTime})
	return rec, err
}

// GetIdempotency implements store.IdempotencyReader.
func (s *Queries) GetIdempotency(ctx context.Context, principal, key string) (domain.IdempotencyRecord, error) {
	return getOne(ctx, s, "get idempotency key", scanIdem,
		`SELECT `+idemCols+` FROM idempotency WHERE principal = $1 AND idem_key = $2`, principal, key)
}

// ReserveIdempotency implements store.IdempotencyStore. One statement inserts
// a new key or takes over an expired one, or an abandoned one (IN_PROGRESS,
// lease passed, same request); a live key makes it return nothing.
func (s *Queries) ReserveIdempotency(ctx context.Context, rec domain.IdempotencyRecord) (domain.IdempotencyRecord, error) {
	const what = "reserve idempotency key"
	if rec.Principal == "" || rec.Key == "" {
		return rec, fmt.Errorf("store: %s: principal and key are required", what)
	}
	if rec.ExpireTime.IsZero() || rec.LeaseExpireTime.IsZero() || rec.Holder == "" {
		return rec, fmt.Errorf("store: %s: expire time, lease and holder are required", what)
	}
	now := s.now()
	rec.State, rec.Response, rec.CreateTime = domain.IdempotencyInProgress, nil, now
	rec.ExpireTime, rec.LeaseExpireTime = Trunc(rec.ExpireTime), Trunc(rec.LeaseExpireTime)
	var got string
	err := s.queryOne(ctx, func(r Rows) error { return r.Scan(&got) },
		`INSERT INTO idempotency (`+idemCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
		ON CONFLICT (principal, idem_key) DO UPDATE SET method=excluded.method, request_hash=excluded.request_hash,
			state=excluded.state, response=excluded.response, customer_id=excluded.customer_id,
			create_time=excluded.create_time, expire_time=excluded.expire_time,
			holder=excluded.holder, lease_expire_time=excluded.lease_expire_time
		WHERE idempotency.expire_time <= excluded.create_time
			OR (idempotency.state = $12 AND idempotency.method = excluded.method
				AND idempotency.request_hash = excluded.request_hash
				AND (idempotency.lease_expire_time IS NULL OR idempotency.lease_expire_time <= excluded.create_time))
		RETURNING idem_key`,
		rec.Principal, rec.Key, rec.Method, rec.RequestHash, string(rec.State), []byte{}, nstr(rec.CustomerID),
		s.ts(rec.CreateTime), s.ts(rec.ExpireTime), rec.Holder, s.ts(rec.LeaseExpireTime), string(domain.IdempotencyInProgress))
	if errors.Is(err, errNoRows) {
		existing, gerr := s.GetIdempotency(ctx, rec.Principal, rec.Key)
		if gerr != nil {
			return rec, gerr
		}
		return existing, fmt.Errorf("store: %s: %w", what, &store.DuplicateIdempotencyError{Existing: existing})
	}
	if err != nil {
		return rec, fmt.Errorf("store: %s: %w", what, err)
	}
	return rec, nil
}

// RenewIdempotencyLease implements store.IdempotencyStore.
func (s *Queries) RenewIdempotencyLease(ctx context.Context, principal, key, holder string, until time.Time) error {
	n, err := s.q.Exec(ctx, `UPDATE idempotency SET lease_expire_time=$4
		WHERE principal=$1 AND idem_key=$2 AND holder=$3 AND state=$5`,
		principal, key, holder, s.ts(until), string(domain.IdempotencyInProgress))
	return s.heldOne(ctx, n, err, "renew idempotency lease", principal, key)
}

// CompleteIdempotency implements store.IdempotencyStore.
func (s *Queries) CompleteIdempotency(ctx context.Context, principal, key, holder string, response []byte, customerID string) error {
	n, err := s.q.Exec(ctx, `UPDATE idempotency SET state=$4, response=$5, customer_id=COALESCE($6, customer_id), lease_expire_time=NULL
		WHERE principal=$1 AND idem_key=$2 AND holder=$3 AND state=$7`, principal, key, holder,
		string(domain.IdempotencyCompleted), blob(response), nstr(customerID), string(domain.IdempotencyInProgress))
	if err := s.heldOne(ctx, n, err, "complete idempotency key", principal, key); err != nil {
		return err
	}
	// A stored answer can name people the call was not filed under (a claim on a custodial
	// policy carries the claimant's e-mail).
	return s.link(ctx, refIdempotency, principal+idemSep+key, domain.RefsInText(response))
}

// ReleaseIdempotency implements store.IdempotencyStore.
func (s *Queries) ReleaseIdempotency(ctx context.Context, principal, key, holder string) error {
	n, err := s.q.Exec(ctx, `DELETE FROM idempotency WHERE principal=$1 AND idem_key=$2 AND holder=$3 AND state=$4`,
		principal, key, holder, string(domain.IdempotencyInProgress))
	return s.heldOne(ctx, n, err, "release idempotency key", principal, key)
}

// heldOne turns the row count of a holder-guarded change into its error: the key is gone
// (ErrNotFound), or held by another request or completed (ErrConflict).
func (s *Queries) heldOne(ctx context.Context, n int64, err error, what, principal, key string) error {
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		if _, err := s.GetIdempotency(ctx, principal, key); err != nil {
			return err
		}
		return fmt.Errorf("store: %s: not held by this request (completed or taken over): %w", what, store.ErrConflict)
	}
	return nil
}

// DeleteExpiredIdempotency implements store.IdempotencyStore.
func (s *Queries) DeleteExpiredIdempotency(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.q.Exec(ctx, `DELETE FROM idempotency WHERE expire_time <= $1`, s.ts(now))
	if err != nil {
		return 0, fmt.Errorf("store: delete expired idempotency keys: %w", err)
	}
	return n, nil
}

// GetCheckpoint implements store.CheckpointReader.
func (s *Queries) GetCheckpoint(ctx context.Context, name string) (domain.Checkpoint, error) {
	return getOne(ctx, s, "get checkpoint "+name, func(r Rows) (domain.Checkpoint, error) {
		var c domain.Checkpoint
		err := r.Scan(&c.Name, &c.Value, timeDest{&c.UpdateTime})
		return c, err
	}, `SELECT name, value, update_time FROM checkpoints WHERE name = $1`, name)
}

// SetCheckpoint implements store.CheckpointStore.
func (s *Queries) SetCheckpoint(ctx context.Context, name, value string) (domain.Checkpoint, error) {
	c := domain.Checkpoint{Name: name, Value: value, UpdateTime: s.now()}
	_, err := s.q.Exec(ctx, `INSERT INTO checkpoints (name, value, update_time) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, update_time = excluded.update_time`,
		name, value, s.ts(c.UpdateTime))
	if err != nil {
		return c, fmt.Errorf("store: set checkpoint %s: %w", name, err)
	}
	return c, nil
}
