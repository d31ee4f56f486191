-- Device twins: a fleet configuration's write into a twin is kept in its
-- history too, by the configuration that made it (server/configs.c).
ALTER TABLE twin_history DROP CONSTRAINT twin_history_actor_kind_check;
ALTER TABLE twin_history ADD CONSTRAINT twin_history_actor_kind_check
	CHECK (actor_kind IN ('operator', 'device', 'dps', 'configuration'));
COMMENT ON COLUMN twin_history.actor_kind IS 'who made it: an operator token, the device itself, DPS assignment, or a fleet configuration';
COMMENT ON COLUMN twin_history.actor IS 'the operator token''s jti, the device ID, the registration ID, or the configuration ID';
