-- +goose Up
-- Timestamps are TEXT in fixed-width UTC RFC 3339 with microseconds
-- ("2026-01-02T03:04:05.000006Z") so that text order is time order.
-- Ids are UUIDv7 text: ORDER BY id is creation order and pages stably.

CREATE TABLE customers (
    id                       TEXT PRIMARY KEY,
    pseudonym_id             TEXT NOT NULL UNIQUE,
    status                   TEXT NOT NULL,
    salutation               TEXT NOT NULL DEFAULT '',
    first_name               TEXT NOT NULL DEFAULT '',
    last_name                TEXT NOT NULL DEFAULT '',
    email                    TEXT NOT NULL DEFAULT '',
    phone                    TEXT NOT NULL DEFAULT '',
    date_of_birth            TEXT NOT NULL DEFAULT '',
    address1                 TEXT NOT NULL DEFAULT '',
    address2                 TEXT NOT NULL DEFAULT '',
    city                     TEXT NOT NULL DEFAULT '',
    region                   TEXT NOT NULL DEFAULT '',
    country                  TEXT NOT NULL DEFAULT '',
    postal_code              TEXT NOT NULL DEFAULT '',
    identity_status          TEXT NOT NULL DEFAULT '',
    identity_verification_id TEXT NOT NULL DEFAULT '',
    etvas_user_id            TEXT,
    avata_wallet             TEXT,
    kyc_status               TEXT NOT NULL DEFAULT '',
    kyc_provider             TEXT NOT NULL DEFAULT '',
    version                  INTEGER NOT NULL,
    create_time              TEXT NOT NULL,
    update_time              TEXT NOT NULL,
    erase_time               TEXT
) STRICT;
CREATE UNIQUE INDEX customers_etvas_user_id ON customers (etvas_user_id) WHERE etvas_user_id IS NOT NULL;
CREATE UNIQUE INDEX customers_avata_wallet ON customers (avata_wallet) WHERE avata_wallet IS NOT NULL;

CREATE TABLE customer_etvas_contexts (
    context_id  TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    create_time TEXT NOT NULL
) STRICT;
CREATE INDEX customer_etvas_contexts_customer ON customer_etvas_contexts (customer_id);

CREATE TABLE quotes (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    partner             TEXT NOT NULL,
    partner_proposal_id TEXT NOT NULL DEFAULT '',
    customer_id         TEXT REFERENCES customers (id),
    request             BLOB NOT NULL,
    total_amount        TEXT NOT NULL DEFAULT '',
    total_currency      TEXT NOT NULL DEFAULT '',
    premium_amount      TEXT NOT NULL DEFAULT '',
    premium_currency    TEXT NOT NULL DEFAULT '',
    policy_percentage   TEXT NOT NULL DEFAULT '',
    coverage_percentage TEXT NOT NULL DEFAULT '',
    duration_days       INTEGER NOT NULL DEFAULT 0,
    terms_url           TEXT NOT NULL DEFAULT '',
    expire_time         TEXT,
    create_time         TEXT NOT NULL
) STRICT;
CREATE INDEX quotes_customer ON quotes (customer_id);

CREATE TABLE policies (
    id                     TEXT PRIMARY KEY,
    customer_id            TEXT REFERENCES customers (id),
    quote_id               TEXT REFERENCES quotes (id),
    partner                TEXT NOT NULL,
    kind                   TEXT NOT NULL,
    product_name           TEXT NOT NULL DEFAULT '',
    status                 TEXT NOT NULL,
    version                INTEGER NOT NULL,
    premium_amount         TEXT NOT NULL DEFAULT '',
    premium_currency       TEXT NOT NULL DEFAULT '',
    billing_price_type     TEXT NOT NULL DEFAULT '',
    billing_price_interval TEXT NOT NULL DEFAULT '',
    etvas_context_id       TEXT,
    etvas_product_id       TEXT NOT NULL DEFAULT '',
    etvas_user_id          TEXT NOT NULL DEFAULT '',
    avata_policy_uuid      TEXT,
    avata_reference        TEXT NOT NULL DEFAULT '',
    start_time             TEXT,
    end_time               TEXT,
    status_time            TEXT,
    create_time            TEXT NOT NULL,
    update_time            TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX policies_etvas_context_id ON policies (etvas_context_id) WHERE etvas_context_id IS NOT NULL;
CREATE UNIQUE INDEX policies_avata_policy_uuid ON policies (avata_policy_uuid) WHERE avata_policy_uuid IS NOT NULL;
CREATE INDEX policies_customer ON policies (customer_id, id);
CREATE INDEX policies_status ON policies (status, id);

CREATE TABLE claims (
    id               TEXT PRIMARY KEY,
    policy_id        TEXT NOT NULL REFERENCES policies (id),
    customer_id      TEXT REFERENCES customers (id),
    avata_claim_uuid TEXT,
    status           TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    claimant_email   TEXT NOT NULL DEFAULT '',
    document_keys    TEXT NOT NULL DEFAULT '[]',
    status_time      TEXT,
    version          INTEGER NOT NULL,
    create_time      TEXT NOT NULL,
    update_time      TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX claims_avata_claim_uuid ON claims (avata_claim_uuid) WHERE avata_claim_uuid IS NOT NULL;
CREATE INDEX claims_policy ON claims (policy_id, id);
CREATE INDEX claims_customer ON claims (customer_id, id);

CREATE TABLE claim_documents (
    id           TEXT PRIMARY KEY,
    policy_id    TEXT NOT NULL REFERENCES policies (id),
    partner_key  TEXT NOT NULL,
    file_name    TEXT NOT NULL DEFAULT '',
    content_type TEXT NOT NULL DEFAULT '',
    size_bytes   INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT NOT NULL DEFAULT '',
    create_time  TEXT NOT NULL
) STRICT;
CREATE INDEX claim_documents_policy ON claim_documents (policy_id, id);

CREATE TABLE inbox (
    id           TEXT PRIMARY KEY,
    partner      TEXT NOT NULL,
    delivery_key TEXT NOT NULL,
    event_type   TEXT NOT NULL DEFAULT '',
    payload      BLOB NOT NULL,
    headers      TEXT NOT NULL DEFAULT '{}',
    receive_time TEXT NOT NULL,
    state        TEXT NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    response     BLOB NOT NULL,
    customer_id  TEXT REFERENCES customers (id),
    UNIQUE (partner, delivery_key)
) STRICT;
CREATE INDEX inbox_customer ON inbox (customer_id);
CREATE INDEX inbox_state ON inbox (state, id);

-- AUTOINCREMENT: a cursor is never reused, even after the newest row is
-- deleted; one writer means rowid order is commit order.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    partner     TEXT NOT NULL DEFAULT '',
    customer_id TEXT REFERENCES customers (id),
    data        BLOB NOT NULL,
    event_time  TEXT NOT NULL
) STRICT;
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_subject ON events (subject, seq);
CREATE INDEX events_customer ON events (customer_id);

CREATE TABLE publications (
    id                TEXT PRIMARY KEY,
    dest_partner      TEXT NOT NULL,
    dest_country      TEXT NOT NULL DEFAULT '',
    dest_tenant       TEXT NOT NULL DEFAULT '',
    event_type        TEXT NOT NULL,
    correlation_id    TEXT NOT NULL DEFAULT '',
    payload           BLOB NOT NULL,
    customer_id       TEXT REFERENCES customers (id),
    status            TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_time TEXT NOT NULL,
    last_error        TEXT NOT NULL DEFAULT '',
    partner_event_id  INTEGER,
    lease_owner       TEXT NOT NULL DEFAULT '',
    lease_expire_time TEXT,
    create_time       TEXT NOT NULL,
    update_time       TEXT NOT NULL,
    deliver_time      TEXT
) STRICT;
CREATE INDEX publications_due ON publications (status, next_attempt_time, id);
CREATE INDEX publications_event_type ON publications (event_type, id);
CREATE INDEX publications_customer ON publications (customer_id);

CREATE TABLE idempotency (
    principal    TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    method       TEXT NOT NULL DEFAULT '',
    request_hash TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    response     BLOB NOT NULL,
    customer_id  TEXT REFERENCES customers (id),
    create_time  TEXT NOT NULL,
    expire_time  TEXT NOT NULL,
    PRIMARY KEY (principal, idem_key)
) STRICT;
CREATE INDEX idempotency_expire ON idempotency (expire_time);
CREATE INDEX idempotency_customer ON idempotency (customer_id);

CREATE TABLE checkpoints (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    update_time TEXT NOT NULL
) STRICT;
