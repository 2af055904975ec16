-- +goose Up
-- Structured customer address as Avata takes it; Avata's policy data; customers' wallet sessions.

ALTER TABLE customers ADD COLUMN street TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN house_number TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN house_number_suffix TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN country_code TEXT NOT NULL DEFAULT '';

ALTER TABLE policies ADD COLUMN avata_policy_id TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN avata_policy_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN avata_policy_type TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN avata_partner_status TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN avata_reported_reference TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN avata_finish_time TEXT;
ALTER TABLE policies ADD COLUMN avata_owner_wallet TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN avata_sync_time TEXT;

-- One wallet sign-in per customer: the pending nonce, then Avata's access token encrypted with a
-- key the database never sees.
CREATE TABLE wallet_sessions (
    customer_id       TEXT PRIMARY KEY REFERENCES customers (id),
    wallet            TEXT NOT NULL,
    chain_id          INTEGER NOT NULL,
    nonce             TEXT NOT NULL DEFAULT '',
    nonce_expire_time TEXT,
    token             BLOB,
    expire_time       TEXT,
    create_time       TEXT NOT NULL,
    update_time       TEXT NOT NULL
) STRICT;
