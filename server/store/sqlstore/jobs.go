package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/covergate/covergate/server/domain"
	"github.com/covergate/covergate/server/store"
)

const jobCols = `id, kind, job_key, payload, customer_id, status, attempts, next_attempt_time, last_error,
	lease_owner, lease_expire_time, create_time, update_time, done_time`

func scanJob(r Rows) (domain.Job, error) {
	var j domain.Job
	var attempts int64
	err := r.Scan(&j.ID, &j.Kind, &j.Key, bytesDest{&j.Payload}, strDest{&j.CustomerID}, &j.Status, &attempts,
		timeDest{&j.NextAttemptTime}, &j.LastError, &j.LeaseOwner, timeDest{&j.LeaseExpireTime},
		timeDest{&j.CreateTime}, timeDest{&j.UpdateTime}, timeDest{&j.DoneTime})
	j.Attempts = int32(attempts)
	return j, err
}

// GetJob implements store.JobReader.
func (s *Queries) GetJob(ctx context.Context, id string) (domain.Job, error) {
	return getOne(ctx, s, "get job "+id, scanJob, `SELECT `+jobCols+` FROM jobs WHERE id = $1`, id)
}

// FindJob implements store.JobReader.
func (s *Queries) FindJob(ctx context.Context, kind, key string) (domain.Job, error) {
	return getOne(ctx, s, "find job "+kind, scanJob, `SELECT `+jobCols+` FROM jobs WHERE kind = $1 AND job_key = $2`, kind, key)
}

// ListJobs implements store.JobReader.
func (s *Queries) ListJobs(ctx context.Context, jf store.JobFilter, page store.PageRequest) (store.Page[domain.Job], error) {
	var f filter
	if jf.Kind != "" {
		f.add("kind = ?", jf.Kind)
	}
	if jf.Status != "" {
		f.add("status = ?", string(jf.Status))
	}
	return listPage(ctx, s, "jobs", `SELECT `+jobCols+` FROM jobs`, &f, page, scanJob,
		func(j domain.Job) string { return j.ID })
}

// EnsureJob implements store.JobStore. ON CONFLICT DO NOTHING keeps a concurrent insert of the
// same (kind, key) from failing (which would abort a PostgreSQL transaction); the row is then
// read back.
func (s *Queries) EnsureJob(ctx context.Context, j domain.Job) (domain.Job, bool, error) {
	if j.Kind == "" || j.Key == "" {
		return j, false, errors.New("store: ensure job: kind and key are required")
	}
	if err := newID(&j.ID); err != nil {
		return j, false, err
	}
	now := s.now()
	j.Status, j.Attempts, j.LastError = domain.JobPending, 0, ""
	j.LeaseOwner, j.LeaseExpireTime, j.DoneTime = "", time.Time{}, time.Time{}
	j.CreateTime, j.UpdateTime = now, now
	if j.NextAttemptTime.IsZero() {
		j.NextAttemptTime = now
	}
	j.NextAttemptTime = Trunc(j.NextAttemptTime)
	n, err := s.q.Exec(ctx, `INSERT INTO jobs (`+jobCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,0,$7,'','',NULL,$8,$8,NULL)
		ON CONFLICT (kind, job_key) DO NOTHING`,
		j.ID, j.Kind, j.Key, blob(j.Payload), nstr(j.CustomerID), string(j.Status), s.ts(j.NextAttemptTime), s.ts(now))
	if err != nil {
		return j, false, s.mapWriteErr("ensure job", err)
	}
	if n == 1 {
		return j, true, nil
	}
	existing, err := s.FindJob(ctx, j.Kind, j.Key)
	return existing, false, err
}

// ClaimJobs implements store.JobStore, exactly like ClaimDue for publications: the
// materialized CTE picks the due rows once (FOR UPDATE SKIP LOCKED on PostgreSQL), and the
// UPDATE re-checks the lease so a job is never leased twice.
//
// As in ClaimDue, the re-check compares status with an empty string appended, which keeps
// SQLite on the primary key for the claimed ids instead of walking every PENDING job through the
// (status, …) index: a cost that grew with the queue.
func (s *Queries) ClaimJobs(ctx context.Context, owner string, kinds []string, now time.Time, lease time.Duration, limit int) ([]domain.Job, error) {
	if owner == "" || lease <= 0 || limit <= 0 || len(kinds) == 0 {
		return nil, errors.New("store: claim jobs: owner, kinds, positive lease and limit are required")
	}
	limit = min(limit, store.MaxPageSize)
	now = Trunc(now)
	var f filter
	ownerP, leaseP, nowP, limitP := f.param(owner), f.param(s.ts(now.Add(lease))), f.param(s.ts(now)), f.param(int64(limit))
	in := make([]string, len(kinds))
	for i, k := range kinds {
		in[i] = f.param(k)
	}
	jobs, err := queryAll(ctx, s, scanJob, `WITH due AS MATERIALIZED (
			SELECT id FROM jobs
			WHERE status='PENDING' AND kind IN (`+strings.Join(in, ",")+`) AND next_attempt_time <= `+nowP+`
				AND (lease_expire_time IS NULL OR lease_expire_time <= `+nowP+`)
			ORDER BY next_attempt_time, id LIMIT `+limitP+s.d.LockSuffix+`)
		UPDATE jobs SET lease_owner=`+ownerP+`, lease_expire_time=`+leaseP+`, attempts=attempts+1, update_time=`+nowP+`
		WHERE id IN (SELECT id FROM due)
			AND status || '' = 'PENDING' AND (lease_expire_time IS NULL OR lease_expire_time <= `+nowP+`)
		RETURNING `+jobCols, f.args...)
	if err != nil {
		return nil, fmt.Errorf("store: claim jobs: %w", err)
	}
	return jobs, nil
}

// finishJob applies a terminal or retry update guarded by the lease.
func (s *Queries) finishJob(ctx context.Context, what, id, owner, set string, args ...any) error {
	all := append([]any{id, owner}, args...)
	n, err := s.q.Exec(ctx, `UPDATE jobs SET `+set+`
		WHERE id=$1 AND lease_owner=$2 AND status='PENDING'`, all...)
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", what, id, err)
	}
	if n == 0 {
		if _, err := s.GetJob(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("store: %s %s: lease not held by %s: %w", what, id, owner, store.ErrConflict)
	}
	return nil
}

// CompleteJob implements store.JobStore.
func (s *Queries) CompleteJob(ctx context.Context, id, owner string, now time.Time) error {
	return s.finishJob(ctx, "complete job", id, owner,
		`status='DONE', done_time=$3, update_time=$3, last_error='', lease_owner='', lease_expire_time=NULL`, s.ts(now))
}

// RetryJob implements store.JobStore.
func (s *Queries) RetryJob(ctx context.Context, id, owner string, nextAttempt time.Time, lastError string, now time.Time) error {
	return s.finishJob(ctx, "retry job", id, owner,
		`next_attempt_time=$3, last_error=$4, update_time=$5, lease_owner='', lease_expire_time=NULL`,
		s.ts(nextAttempt), lastError, s.ts(now))
}

// FailJob implements store.JobStore.
func (s *Queries) FailJob(ctx context.Context, id, owner string, lastError string, now time.Time) error {
	return s.finishJob(ctx, "fail job", id, owner,
		`status='FAILED', last_error=$3, update_time=$4, lease_owner='', lease_expire_time=NULL`, lastError, s.ts(now))
}

// RequeueJob implements store.JobStore.
func (s *Queries) RequeueJob(ctx context.Context, id string, now time.Time) error {
	const what = "requeue job"
	n, err := s.q.Exec(ctx, `UPDATE jobs SET status='PENDING', attempts=0, next_attempt_time=$2, update_time=$2
		WHERE id=$1 AND status='FAILED'`, id, s.ts(now))
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", what, id, err)
	}
	if n == 0 {
		j, err := s.GetJob(ctx, id)
		if err != nil {
			return err
		}
		return fmt.Errorf("store: %s %s: status is %s, not FAILED: %w", what, id, j.Status, store.ErrConflict)
	}
	return nil
}
