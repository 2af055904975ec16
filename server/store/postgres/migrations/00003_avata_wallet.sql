-- +goose Up
-- Structured customer address as Avata takes it; Avata's policy data; customers' wallet sessions.

ALTER TABLE customers
    ADD COLUMN street              text NOT NULL DEFAULT '',
    ADD COLUMN house_number        text NOT NULL DEFAULT '',
    ADD COLUMN house_number_suffix text NOT NULL DEFAULT '',
    ADD COLUMN country_code        text NOT NULL DEFAULT '';

ALTER TABLE policies
    ADD COLUMN avata_policy_id          text NOT NULL DEFAULT '',
    ADD COLUMN avata_policy_hash        text NOT NULL DEFAULT '',
    ADD COLUMN avata_policy_type        text NOT NULL DEFAULT '',
    ADD COLUMN avata_partner_status     text NOT NULL DEFAULT '',
    ADD COLUMN avata_reported_reference text NOT NULL DEFAULT '',
    ADD COLUMN avata_finish_time        timestamptz,
    ADD COLUMN avata_owner_wallet       text NOT NULL DEFAULT '',
    ADD COLUMN avata_sync_time          timestamptz;

-- One wallet sign-in per customer: the pending nonce, then Avata's access token encrypted with a
-- key the database never sees.
CREATE TABLE wallet_sessions (
    customer_id       text COLLATE "C" PRIMARY KEY REFERENCES customers (id),
    wallet            text NOT NULL,
    chain_id          bigint NOT NULL,
    nonce             text NOT NULL DEFAULT '',
    nonce_expire_time timestamptz,
    token             bytea,
    expire_time       timestamptz,
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL
);
