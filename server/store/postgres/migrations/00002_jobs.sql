-- +goose Up
-- Durable background jobs (issue 12 §2: the Etvas profile fetched after a formal purchase was
-- acknowledged). Leased like publications (FOR UPDATE SKIP LOCKED); unique per (kind, job_key).
CREATE TABLE jobs (
    id                text COLLATE "C" PRIMARY KEY,
    kind              text NOT NULL,
    job_key           text NOT NULL,
    payload           bytea NOT NULL,
    customer_id       text REFERENCES customers (id),
    status            text NOT NULL,
    attempts          bigint NOT NULL DEFAULT 0,
    next_attempt_time timestamptz NOT NULL,
    last_error        text NOT NULL DEFAULT '',
    lease_owner       text NOT NULL DEFAULT '',
    lease_expire_time timestamptz,
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    done_time         timestamptz,
    UNIQUE (kind, job_key)
);
CREATE INDEX jobs_due ON jobs (status, next_attempt_time, id);
CREATE INDEX jobs_customer ON jobs (customer_id);
