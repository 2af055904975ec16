-- +goose Up
-- Ids are UUIDv7 text compared byte-wise (COLLATE "C"): ORDER BY id is
-- creation order and keyset pages are stable whatever the database locale.

CREATE TABLE customers (
    id                       text COLLATE "C" PRIMARY KEY,
    pseudonym_id             text NOT NULL UNIQUE,
    status                   text NOT NULL,
    salutation               text NOT NULL DEFAULT '',
    first_name               text NOT NULL DEFAULT '',
    last_name                text NOT NULL DEFAULT '',
    email                    text NOT NULL DEFAULT '',
    phone                    text NOT NULL DEFAULT '',
    date_of_birth            text NOT NULL DEFAULT '',
    address1                 text NOT NULL DEFAULT '',
    address2                 text NOT NULL DEFAULT '',
    city                     text NOT NULL DEFAULT '',
    region                   text NOT NULL DEFAULT '',
    country                  text NOT NULL DEFAULT '',
    postal_code              text NOT NULL DEFAULT '',
    identity_status          text NOT NULL DEFAULT '',
    identity_verification_id text NOT NULL DEFAULT '',
    etvas_user_id            text,
    avata_wallet             text,
    kyc_status               text NOT NULL DEFAULT '',
    kyc_provider             text NOT NULL DEFAULT '',
    version                  bigint NOT NULL,
    create_time              timestamptz NOT NULL,
    update_time              timestamptz NOT NULL,
    erase_time               timestamptz
);
CREATE UNIQUE INDEX customers_etvas_user_id ON customers (etvas_user_id) WHERE etvas_user_id IS NOT NULL;
CREATE UNIQUE INDEX customers_avata_wallet ON customers (avata_wallet) WHERE avata_wallet IS NOT NULL;

CREATE TABLE customer_etvas_contexts (
    context_id  text COLLATE "C" PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers (id),
    create_time timestamptz NOT NULL
);
CREATE INDEX customer_etvas_contexts_customer ON customer_etvas_contexts (customer_id);

CREATE TABLE quotes (
    id                  text COLLATE "C" PRIMARY KEY,
    kind                text NOT NULL,
    partner             text NOT NULL,
    partner_proposal_id text NOT NULL DEFAULT '',
    customer_id         text REFERENCES customers (id),
    request             bytea NOT NULL,
    total_amount        text NOT NULL DEFAULT '',
    total_currency      text NOT NULL DEFAULT '',
    premium_amount      text NOT NULL DEFAULT '',
    premium_currency    text NOT NULL DEFAULT '',
    policy_percentage   text NOT NULL DEFAULT '',
    coverage_percentage text NOT NULL DEFAULT '',
    duration_days       bigint NOT NULL DEFAULT 0,
    terms_url           text NOT NULL DEFAULT '',
    expire_time         timestamptz,
    create_time         timestamptz NOT NULL
);
CREATE INDEX quotes_customer ON quotes (customer_id);

CREATE TABLE policies (
    id                     text COLLATE "C" PRIMARY KEY,
    customer_id            text REFERENCES customers (id),
    quote_id               text REFERENCES quotes (id),
    partner                text NOT NULL,
    kind                   text NOT NULL,
    product_name           text NOT NULL DEFAULT '',
    status                 text NOT NULL,
    version                bigint NOT NULL,
    premium_amount         text NOT NULL DEFAULT '',
    premium_currency       text NOT NULL DEFAULT '',
    billing_price_type     text NOT NULL DEFAULT '',
    billing_price_interval text NOT NULL DEFAULT '',
    etvas_context_id       text,
    etvas_product_id       text NOT NULL DEFAULT '',
    etvas_user_id          text NOT NULL DEFAULT '',
    avata_policy_uuid      text,
    avata_reference        text NOT NULL DEFAULT '',
    start_time             timestamptz,
    end_time               timestamptz,
    status_time            timestamptz,
    create_time            timestamptz NOT NULL,
    update_time            timestamptz NOT NULL
);
CREATE UNIQUE INDEX policies_etvas_context_id ON policies (etvas_context_id) WHERE etvas_context_id IS NOT NULL;
CREATE UNIQUE INDEX policies_avata_policy_uuid ON policies (avata_policy_uuid) WHERE avata_policy_uuid IS NOT NULL;
CREATE INDEX policies_customer ON policies (customer_id, id);
CREATE INDEX policies_status ON policies (status, id);

CREATE TABLE claims (
    id               text COLLATE "C" PRIMARY KEY,
    policy_id        text NOT NULL REFERENCES policies (id),
    customer_id      text REFERENCES customers (id),
    avata_claim_uuid text,
    status           text NOT NULL,
    reason           text NOT NULL DEFAULT '',
    claimant_email   text NOT NULL DEFAULT '',
    document_keys    text NOT NULL DEFAULT '[]',
    status_time      timestamptz,
    version          bigint NOT NULL,
    create_time      timestamptz NOT NULL,
    update_time      timestamptz NOT NULL
);
CREATE UNIQUE INDEX claims_avata_claim_uuid ON claims (avata_claim_uuid) WHERE avata_claim_uuid IS NOT NULL;
CREATE INDEX claims_policy ON claims (policy_id, id);
CREATE INDEX claims_customer ON claims (customer_id, id);

CREATE TABLE claim_documents (
    id           text COLLATE "C" PRIMARY KEY,
    policy_id    text NOT NULL REFERENCES policies (id),
    partner_key  text NOT NULL,
    file_name    text NOT NULL DEFAULT '',
    content_type text NOT NULL DEFAULT '',
    size_bytes   bigint NOT NULL DEFAULT 0,
    sha256       text NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL
);
CREATE INDEX claim_documents_policy ON claim_documents (policy_id, id);

CREATE TABLE inbox (
    id           text COLLATE "C" PRIMARY KEY,
    partner      text NOT NULL,
    delivery_key text NOT NULL,
    event_type   text NOT NULL DEFAULT '',
    payload      bytea NOT NULL,
    headers      text NOT NULL DEFAULT '{}',
    receive_time timestamptz NOT NULL,
    state        text NOT NULL,
    error        text NOT NULL DEFAULT '',
    response     bytea NOT NULL,
    customer_id  text REFERENCES customers (id),
    UNIQUE (partner, delivery_key)
);
CREATE INDEX inbox_customer ON inbox (customer_id);
CREATE INDEX inbox_state ON inbox (state, id);

-- seq comes from an identity sequence, which alone is NOT commit-ordered;
-- appenders serialize on a transaction advisory lock taken before their first
-- insert (see postgres.lockEventLog), which makes seq order commit order.
CREATE TABLE events (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          text NOT NULL UNIQUE,
    type        text NOT NULL,
    subject     text NOT NULL,
    partner     text NOT NULL DEFAULT '',
    customer_id text REFERENCES customers (id),
    data        bytea NOT NULL,
    event_time  timestamptz NOT NULL
);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_subject ON events (subject, seq);
CREATE INDEX events_customer ON events (customer_id);

CREATE TABLE publications (
    id                text COLLATE "C" PRIMARY KEY,
    dest_partner      text NOT NULL,
    dest_country      text NOT NULL DEFAULT '',
    dest_tenant       text NOT NULL DEFAULT '',
    event_type        text NOT NULL,
    correlation_id    text NOT NULL DEFAULT '',
    payload           bytea NOT NULL,
    customer_id       text REFERENCES customers (id),
    status            text NOT NULL,
    attempts          bigint NOT NULL DEFAULT 0,
    next_attempt_time timestamptz NOT NULL,
    last_error        text NOT NULL DEFAULT '',
    partner_event_id  bigint,
    lease_owner       text NOT NULL DEFAULT '',
    lease_expire_time timestamptz,
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    deliver_time      timestamptz
);
CREATE INDEX publications_due ON publications (status, next_attempt_time, id);
CREATE INDEX publications_event_type ON publications (event_type, id);
CREATE INDEX publications_customer ON publications (customer_id);

CREATE TABLE idempotency (
    principal    text NOT NULL,
    idem_key     text NOT NULL,
    method       text NOT NULL DEFAULT '',
    request_hash text NOT NULL DEFAULT '',
    state        text NOT NULL,
    response     bytea NOT NULL,
    customer_id  text REFERENCES customers (id),
    create_time  timestamptz NOT NULL,
    expire_time  timestamptz NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE INDEX idempotency_expire ON idempotency (expire_time);
CREATE INDEX idempotency_customer ON idempotency (customer_id);

CREATE TABLE checkpoints (
    name        text COLLATE "C" PRIMARY KEY,
    value       text NOT NULL,
    update_time timestamptz NOT NULL
);
