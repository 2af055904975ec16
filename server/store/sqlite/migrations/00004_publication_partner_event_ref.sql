-- +goose Up
-- Scalepoint's publish answer carries the new event's `_id` without a documented type (the
-- example shows a number; a string is as plausible), so it is kept as text. Ids recorded by
-- the integer column before are copied over; the integer column is no longer written.
ALTER TABLE publications ADD COLUMN partner_event_ref TEXT NOT NULL DEFAULT '';
UPDATE publications SET partner_event_ref = CAST(partner_event_id AS TEXT) WHERE partner_event_id IS NOT NULL;
