-- +goose Up
-- Durable background jobs (issue 12 §2: the Etvas profile fetched after a formal purchase was
-- acknowledged). Leased like publications; unique per (kind, job_key).
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    job_key           TEXT NOT NULL,
    payload           BLOB NOT NULL,
    customer_id       TEXT REFERENCES customers (id),
    status            TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_time TEXT NOT NULL,
    last_error        TEXT NOT NULL DEFAULT '',
    lease_owner       TEXT NOT NULL DEFAULT '',
    lease_expire_time TEXT,
    create_time       TEXT NOT NULL,
    update_time       TEXT NOT NULL,
    done_time         TEXT,
    UNIQUE (kind, job_key)
) STRICT;
CREATE INDEX jobs_due ON jobs (status, next_attempt_time, id);
CREATE INDEX jobs_customer ON jobs (customer_id);
