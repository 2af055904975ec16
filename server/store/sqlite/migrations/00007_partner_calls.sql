-- +goose Up
-- The durable before and after of every partner call with a side effect (see
-- domain.PartnerCall), Avata's claim id, and the lookup of a policy by the reference we
-- sent Avata (a policy-update callback for a uuid we never heard back names it).

CREATE TABLE partner_calls (
    id              TEXT PRIMARY KEY,
    partner         TEXT NOT NULL,
    operation       TEXT NOT NULL,
    subject         TEXT NOT NULL DEFAULT '',
    dedupe_key      TEXT NOT NULL,
    request_hash    TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    request         BLOB NOT NULL,
    result          BLOB NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    customer_id     TEXT REFERENCES customers (id),
    next_check_time TEXT NOT NULL,
    version         INTEGER NOT NULL,
    create_time     TEXT NOT NULL,
    update_time     TEXT NOT NULL
) STRICT;
-- At most one attempt of a logical operation is in flight at a time.
CREATE UNIQUE INDEX partner_calls_pending_key ON partner_calls (dedupe_key) WHERE state = 'PENDING';
CREATE INDEX partner_calls_key ON partner_calls (dedupe_key, id);
CREATE INDEX partner_calls_due ON partner_calls (state, next_check_time, id);
CREATE INDEX partner_calls_customer ON partner_calls (customer_id);

ALTER TABLE claims ADD COLUMN avata_claim_id TEXT NOT NULL DEFAULT '';
CREATE INDEX policies_avata_reference ON policies (avata_reference) WHERE avata_reference <> '';
