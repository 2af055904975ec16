package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

const pubCols = `id, dest_partner, dest_country, dest_tenant, event_type, correlation_id, payload, customer_id, status,
	attempts, next_attempt_time, last_error, partner_event_ref, lease_owner, lease_expire_time, create_time,
	update_time, deliver_time`

func scanPub(r Rows) (domain.Publication, error) {
	var p domain.Publication
	var attempts int64
	err := r.Scan(&p.ID, &p.Destination.Partner, &p.Destination.Country, &p.Destination.Tenant, &p.EventType,
		&p.CorrelationID, bytesDest{&p.Payload}, strDest{&p.CustomerID}, &p.Status, &attempts,
		timeDest{&p.NextAttemptTime}, &p.LastError, &p.PartnerEventID, &p.LeaseOwner,
		timeDest{&p.LeaseExpireTime}, timeDest{&p.CreateTime}, timeDest{&p.UpdateTime}, timeDest{&p.DeliverTime})
	p.Attempts = int32(attempts)
	return p, err
}

// GetPublication implements store.OutboxReader.
func (s *Queries) GetPublication(ctx context.Context, id string) (domain.Publication, error) {
	return getOne(ctx, s, "get publication "+id, scanPub, `SELECT `+pubCols+` FROM publications WHERE id = $1`, id)
}

// ListPublications implements store.OutboxReader.
func (s *Queries) ListPublications(ctx context.Context, pf store.PublicationFilter, page store.PageRequest) (store.Page[domain.Publication], error) {
	var f filter
	if pf.Status != "" {
		f.add("status = ?", string(pf.Status))
	}
	if pf.EventType != "" {
		f.add("event_type = ?", pf.EventType)
	}
	return listPage(ctx, s, "publications", `SELECT `+pubCols+` FROM publications`, &f, page, scanPub,
		func(p domain.Publication) string { return p.ID })
}

// OutboxStats implements store.OutboxReader.
func (s *Queries) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	var st store.OutboxStats
	rows, err := s.q.Query(ctx, `SELECT status, COUNT(*) FROM publications GROUP BY status`)
	if err != nil {
		return st, fmt.Errorf("store: outbox stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return st, fmt.Errorf("store: outbox stats: %w", err)
		}
		switch domain.PublicationStatus(status) {
		case domain.PublicationPending:
			st.Pending = n
		case domain.PublicationDelivered:
			st.Delivered = n
		case domain.PublicationFailed:
			st.Failed = n
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("store: outbox stats: %w", err)
	}
	rows.Close()
	err = s.queryOne(ctx, func(r Rows) error { return r.Scan(timeDest{&st.OldestPendingTime}) },
		`SELECT MIN(create_time) FROM publications WHERE status = 'PENDING'`)
	if err != nil && !errors.Is(err, errNoRows) {
		return st, fmt.Errorf("store: outbox stats: %w", err)
	}
	return st, nil
}

// EnqueuePublication implements store.Outbox.
func (s *Queries) EnqueuePublication(ctx context.Context, p domain.Publication) (domain.Publication, error) {
	if p.Destination.Partner == "" || p.EventType == "" {
		return p, fmt.Errorf("store: enqueue publication: destination partner and event type are required")
	}
	if err := newID(&p.ID); err != nil {
		return p, err
	}
	now := s.now()
	p.Status, p.Attempts, p.LastError, p.PartnerEventID = domain.PublicationPending, 0, "", ""
	p.LeaseOwner, p.LeaseExpireTime, p.DeliverTime = "", time.Time{}, time.Time{}
	p.CreateTime, p.UpdateTime = now, now
	if p.NextAttemptTime.IsZero() {
		p.NextAttemptTime = now
	}
	p.NextAttemptTime = Trunc(p.NextAttemptTime)
	refs := domain.RefsInPayload(p.Payload)
	if p.CustomerID == "" {
		// A publication whose payload names exactly one customer is filed under it.
		id, err := s.resolveCustomer(ctx, refs)
		if err != nil {
			return p, err
		}
		p.CustomerID = id
	}
	_, err := s.q.Exec(ctx, `INSERT INTO publications (`+pubCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'','',NULL,$13,$13,NULL)`,
		p.ID, string(p.Destination.Partner), p.Destination.Country, p.Destination.Tenant, p.EventType,
		p.CorrelationID, blob(p.Payload), nstr(p.CustomerID), string(p.Status), int64(0), s.ts(p.NextAttemptTime), "",
		s.ts(now))
	if err != nil {
		return p, s.mapWriteErr("enqueue publication", err)
	}
	return p, s.link(ctx, refPublication, p.ID, refs)
}

// ClaimDue implements store.Outbox. The materialized CTE picks the due rows
// once (a plain IN-subquery may be re-evaluated by the planner and overshoot
// the limit); on PostgreSQL it carries FOR UPDATE SKIP LOCKED so concurrent
// workers on several replicas pick disjoint rows without waiting on each
// other. The UPDATE re-checks the lease condition, so even without row locks
// (SQLite, where the single writer already serializes) a row is never leased
// twice. In that re-check, status is compared with an empty string appended
// to it, so that SQLite does not pick the (status, …) index for the UPDATE and
// walk every PENDING row testing id IN (…): the expression keeps the planner on
// the primary key, one lookup per claimed row instead of a scan that grew with
// the queue (a 10,000-publication backlog spent ~20 % of the worker's CPU in it).
func (s *Queries) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]domain.Publication, error) {
	if owner == "" || lease <= 0 || limit <= 0 {
		return nil, fmt.Errorf("store: claim due publications: owner, positive lease and limit are required")
	}
	limit = min(limit, store.MaxPageSize)
	now = Trunc(now)
	pubs, err := queryAll(ctx, s, scanPub, `WITH due AS MATERIALIZED (
			SELECT id FROM publications
			WHERE status='PENDING' AND next_attempt_time <= $3 AND (lease_expire_time IS NULL OR lease_expire_time <= $3)
			ORDER BY next_attempt_time, id LIMIT $4`+s.d.LockSuffix+`)
		UPDATE publications SET lease_owner=$1, lease_expire_time=$2, attempts=attempts+1, update_time=$3
		WHERE id IN (SELECT id FROM due)
			AND status || '' = 'PENDING' AND (lease_expire_time IS NULL OR lease_expire_time <= $3)
		RETURNING `+pubCols,
		owner, s.ts(now.Add(lease)), s.ts(now), int64(limit))
	if err != nil {
		return nil, fmt.Errorf("store: claim due publications: %w", err)
	}
	return pubs, nil
}

// The SET clauses of the lease-guarded outcome updates (finish).
const (
	setDelivered = `status='DELIVERED', partner_event_ref=$3, deliver_time=$4, update_time=$4, last_error='', lease_owner='', lease_expire_time=NULL`
	setRetry     = `next_attempt_time=$3, last_error=$4, update_time=$5, lease_owner='', lease_expire_time=NULL`
	setFailed    = `status='FAILED', last_error=$3, update_time=$4, lease_owner='', lease_expire_time=NULL`
	setReleased  = `attempts=CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, next_attempt_time=$3, update_time=$4,
		lease_owner='', lease_expire_time=NULL`
)

// finishSQL is the lease-guarded update with the given SET clause.
func finishSQL(set string) string {
	return `UPDATE publications SET ` + set + `
		WHERE id=$1 AND lease_owner=$2 AND status='PENDING'`
}

// PreparedWrites are the SQL texts of the writes an engine may prepare once and reuse: the
// outbox's outcome updates, one transaction per delivered publication, whose compilation
// (SQLite parses and plans the UPDATE anew on every unprepared run) was a tenth of the outbox
// worker's CPU.
func PreparedWrites() []string {
	return []string{finishSQL(setDelivered), finishSQL(setRetry), finishSQL(setFailed), finishSQL(setReleased)}
}

// finish applies a terminal or retry update guarded by the lease.
func (s *Queries) finish(ctx context.Context, what, id, owner, set string, args ...any) error {
	all := append([]any{id, owner}, args...)
	n, err := s.q.Exec(ctx, finishSQL(set), all...)
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", what, id, err)
	}
	if n == 0 {
		if _, err := s.GetPublication(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("store: %s %s: lease not held by %s: %w", what, id, owner, store.ErrConflict)
	}
	return nil
}

// MarkDelivered implements store.Outbox.
func (s *Queries) MarkDelivered(ctx context.Context, id, owner string, partnerEventID string, now time.Time) error {
	return s.finish(ctx, "mark publication delivered", id, owner, setDelivered, partnerEventID, s.ts(now))
}

// MarkRetry implements store.Outbox.
func (s *Queries) MarkRetry(ctx context.Context, id, owner string, nextAttempt time.Time, lastError string, now time.Time) error {
	return s.finish(ctx, "mark publication for retry", id, owner, setRetry, s.ts(nextAttempt), lastError, s.ts(now))
}

// MarkFailed implements store.Outbox.
func (s *Queries) MarkFailed(ctx context.Context, id, owner string, lastError string, now time.Time) error {
	return s.finish(ctx, "mark publication failed", id, owner, setFailed, lastError, s.ts(now))
}

// ReleasePublication implements store.Outbox.
func (s *Queries) ReleasePublication(ctx context.Context, id, owner string, nextAttempt time.Time, now time.Time) error {
	return s.finish(ctx, "release publication", id, owner, setReleased, s.ts(nextAttempt), s.ts(now))
}

// RequeuePublication implements store.Outbox.
func (s *Queries) RequeuePublication(ctx context.Context, id string, now time.Time) error {
	const what = "requeue publication"
	n, err := s.q.Exec(ctx, `UPDATE publications SET status='PENDING', attempts=0, next_attempt_time=$2, update_time=$2
		WHERE id=$1 AND status='FAILED'`, id, s.ts(now))
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", what, id, err)
	}
	if n == 0 {
		p, err := s.GetPublication(ctx, id)
		if err != nil {
			return err
		}
		return fmt.Errorf("store: %s %s: status is %s, not FAILED: %w", what, id, p.Status, store.ErrConflict)
	}
	return nil
}
