-- +goose Up
-- The durable before and after of every partner call with a side effect (see
-- domain.PartnerCall), Avata's claim id, and the lookup of a policy by the reference we
-- sent Avata (a policy-update callback for a uuid we never heard back names it).

CREATE TABLE partner_calls (
    id              text COLLATE "C" PRIMARY KEY,
    partner         text NOT NULL,
    operation       text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    dedupe_key      text NOT NULL,
    request_hash    text NOT NULL DEFAULT '',
    state           text NOT NULL,
    request         bytea NOT NULL,
    result          bytea NOT NULL,
    last_error      text NOT NULL DEFAULT '',
    attempts        bigint NOT NULL DEFAULT 0,
    customer_id     text REFERENCES customers (id),
    next_check_time timestamptz NOT NULL,
    version         bigint NOT NULL,
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL
);
-- At most one attempt of a logical operation is in flight at a time.
CREATE UNIQUE INDEX partner_calls_pending_key ON partner_calls (dedupe_key) WHERE state = 'PENDING';
CREATE INDEX partner_calls_key ON partner_calls (dedupe_key, id);
CREATE INDEX partner_calls_due ON partner_calls (state, next_check_time, id);
CREATE INDEX partner_calls_customer ON partner_calls (customer_id);

ALTER TABLE claims ADD COLUMN avata_claim_id text NOT NULL DEFAULT '';
CREATE INDEX policies_avata_reference ON policies (avata_reference) WHERE avata_reference <> '';
