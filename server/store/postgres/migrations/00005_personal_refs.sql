-- +goose Up
-- Links every stored record that can carry personal data to the people it names (issue 14):
-- ref is the hex SHA-256 of "kind:value" (domain.RefDigest: an e-mail, wallet, UUID, Etvas user
-- or context id), never the value itself. record_kind 'customer' rows list the identifiers a
-- customer has had; the other kinds (inbox, publication, claim, idempotency, quote) list what a
-- record names. Erasure scrubs every record sharing a ref with the customer, then deletes the refs.
CREATE TABLE personal_refs (
    ref         text COLLATE "C" NOT NULL,
    record_kind text COLLATE "C" NOT NULL,
    record_id   text COLLATE "C" NOT NULL,
    PRIMARY KEY (ref, record_kind, record_id)
);
CREATE INDEX personal_refs_record ON personal_refs (record_kind, record_id);

