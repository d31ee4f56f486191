-- Device twins: what the operator wants a device to do (desired), what the
-- device says it does (reported), and the operator's labels (tags). Keyed by
-- device ID with no foreign key: the operator's first PUT or PATCH creates a
-- twin, and DPS assignment will too.
CREATE TABLE twins (
	device_id text PRIMARY KEY,
	etag text NOT NULL,
	version bigint NOT NULL DEFAULT 1,
	status text NOT NULL DEFAULT 'enabled',
	tags jsonb NOT NULL DEFAULT '{}',
	desired jsonb NOT NULL,
	reported jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE twins IS 'one device twin per device ID (IoT Hub semantics)';
COMMENT ON COLUMN twins.etag IS 'opaque, new on every change; compared with If-Match';
COMMENT ON COLUMN twins.version IS 'the twin''s version: +1 on every accepted change of any part';
COMMENT ON COLUMN twins.desired IS 'properties.desired as served: values, $metadata ($lastUpdated, $lastUpdatedVersion per object and leaf) and $version';
COMMENT ON COLUMN twins.reported IS 'properties.reported as served: values, $metadata ($lastUpdated per object and leaf) and $version';
