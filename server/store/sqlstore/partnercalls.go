package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

const partnerCallCols = `id, partner, operation, subject, dedupe_key, request_hash, state, request, result,
	last_error, attempts, customer_id, next_check_time, version, create_time, update_time`

func scanPartnerCall(r Rows) (domain.PartnerCall, error) {
	var c domain.PartnerCall
	var attempts int64
	err := r.Scan(&c.ID, &c.Partner, &c.Operation, &c.Subject, &c.DedupeKey, &c.RequestHash, &c.State,
		bytesDest{&c.Request}, bytesDest{&c.Result}, &c.LastError, &attempts, strDest{&c.CustomerID},
		timeDest{&c.NextCheckTime}, &c.Version, timeDest{&c.CreateTime}, timeDest{&c.UpdateTime})
	c.Attempts = int32(attempts)
	return c, err
}

// GetPartnerCall implements store.PartnerCallReader.
func (s *Queries) GetPartnerCall(ctx context.Context, id string) (domain.PartnerCall, error) {
	return getOne(ctx, s, "get partner call "+id, scanPartnerCall, `SELECT `+partnerCallCols+` FROM partner_calls WHERE id = $1`, id)
}

// FindPartnerCall implements store.PartnerCallReader.
func (s *Queries) FindPartnerCall(ctx context.Context, dedupeKey string) (domain.PartnerCall, error) {
	return getOne(ctx, s, "find partner call", scanPartnerCall,
		`SELECT `+partnerCallCols+` FROM partner_calls WHERE dedupe_key = $1 ORDER BY id DESC LIMIT 1`, dedupeKey)
}

// ListDuePartnerCalls implements store.PartnerCallReader.
func (s *Queries) ListDuePartnerCalls(ctx context.Context, now time.Time, limit int) ([]domain.PartnerCall, error) {
	calls, err := queryAll(ctx, s, scanPartnerCall, `SELECT `+partnerCallCols+` FROM partner_calls
		WHERE state = $1 AND next_check_time <= $2 ORDER BY next_check_time, id LIMIT $3`,
		string(domain.PartnerCallPending), s.ts(now), pageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("store: list due partner calls: %w", err)
	}
	return calls, nil
}

// CreatePartnerCall implements store.PartnerCallStore. The insert skips a conflicting PENDING
// key instead of failing, so the caller's transaction stays usable on PostgreSQL.
func (s *Queries) CreatePartnerCall(ctx context.Context, c domain.PartnerCall) (domain.PartnerCall, error) {
	if c.DedupeKey == "" {
		return c, errors.New("store: create partner call: empty dedupe key")
	}
	if err := newID(&c.ID); err != nil {
		return c, err
	}
	if c.State == "" {
		c.State = domain.PartnerCallPending
	}
	now := s.now()
	c.Version, c.CreateTime, c.UpdateTime = 1, now, now
	if c.NextCheckTime.IsZero() {
		c.NextCheckTime = now
	}
	c.NextCheckTime = Trunc(c.NextCheckTime)
	n, err := s.q.Exec(ctx, `INSERT INTO partner_calls (`+partnerCallCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
		ON CONFLICT (dedupe_key) WHERE state = 'PENDING' DO NOTHING`,
		c.ID, string(c.Partner), c.Operation, c.Subject, c.DedupeKey, c.RequestHash, string(c.State),
		blob(c.Request), blob(c.Result), c.LastError, int64(c.Attempts), nstr(c.CustomerID),
		s.ts(c.NextCheckTime), c.Version, s.ts(c.CreateTime), s.ts(c.UpdateTime))
	if err != nil {
		return c, s.mapWriteErr("create partner call", err)
	}
	if n == 0 {
		return c, fmt.Errorf("store: create partner call %s: another call is pending: %w", c.DedupeKey, store.ErrDuplicate)
	}
	return c, s.linkPartnerCall(ctx, c)
}

// UpdatePartnerCall implements store.PartnerCallStore.
func (s *Queries) UpdatePartnerCall(ctx context.Context, c domain.PartnerCall, expectedVersion int64) (domain.PartnerCall, error) {
	c.Version, c.UpdateTime, c.NextCheckTime = expectedVersion+1, s.now(), Trunc(c.NextCheckTime)
	err := s.queryOne(ctx, func(r Rows) error { return r.Scan(timeDest{&c.CreateTime}) },
		`UPDATE partner_calls SET state=$2, request=$3, result=$4, last_error=$5, attempts=$6, subject=$7,
		customer_id=$8, next_check_time=$9, version=$10, update_time=$11
		WHERE id=$1 AND version=$12 RETURNING create_time`,
		c.ID, string(c.State), blob(c.Request), blob(c.Result), c.LastError, int64(c.Attempts), c.Subject,
		nstr(c.CustomerID), s.ts(c.NextCheckTime), c.Version, s.ts(c.UpdateTime), expectedVersion)
	if errors.Is(err, errNoRows) {
		return c, s.versionMiss(ctx, "partner_calls", "update partner call", c.ID, expectedVersion)
	}
	if err != nil {
		return c, s.mapWriteErr("update partner call", err)
	}
	return c, s.linkPartnerCall(ctx, c)
}
