-- +goose Up
-- Idempotency keys in progress carry a short lease held by one request (holder), renewed while
-- it runs. A key whose holder died (kill -9, lost replica) is taken over by a retry of the same
-- request once the lease has passed, instead of answering 409 for the key's whole lifetime.
-- Rows in progress from before this migration have no lease: they are taken over at once.
ALTER TABLE idempotency ADD COLUMN holder TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency ADD COLUMN lease_expire_time TEXT;
