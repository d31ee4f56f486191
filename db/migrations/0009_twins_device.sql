-- Device twins, second slice: the history of every accepted change (the
-- operator's PATCH and PUT, the device's reported PATCH, the twin DPS
-- seeds), written in the transaction that makes the change.
CREATE TABLE twin_history (
	device_id text NOT NULL,
	version bigint NOT NULL,
	sections text[] NOT NULL,
	actor_kind text NOT NULL CHECK (actor_kind IN ('operator', 'device', 'dps')),
	actor text NOT NULL,
	patch jsonb NOT NULL,
	at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (device_id, version)
);
COMMENT ON TABLE twin_history IS 'every accepted change of a device twin, one row per twin version; rows outlive their twin';
COMMENT ON COLUMN twin_history.version IS 'the twin''s version after the change (twins.version): unique per device, pages the history';
COMMENT ON COLUMN twin_history.sections IS 'the sections the change wrote: tags, desired, reported';
COMMENT ON COLUMN twin_history.actor_kind IS 'who made it: an operator token, the device itself, or DPS assignment';
COMMENT ON COLUMN twin_history.actor IS 'the operator token''s jti, the device ID, or the registration ID';
COMMENT ON COLUMN twin_history.patch IS 'the update as accepted: the merge patch, the replacement, or the seeded twin';
COMMENT ON COLUMN twin_history.at IS 'when the change was made';
