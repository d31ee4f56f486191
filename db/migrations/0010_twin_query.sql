-- Twin queries and fleet configurations (IoT Hub automatic device
-- management). The twin query compiler (server/twinq.c) turns every
-- `path = literal` into a containment test (column @> '{"a":{"b":v}}')
-- beside the exact equality, so these GIN indexes answer the common
-- equality forms on tags and properties; ranges and functions scan.
CREATE INDEX twins_tags_path_ops ON twins USING gin (tags jsonb_path_ops);
CREATE INDEX twins_desired_path_ops ON twins USING gin (desired jsonb_path_ops);
CREATE INDEX twins_reported_path_ops ON twins USING gin (reported jsonb_path_ops);
COMMENT ON INDEX twins_tags_path_ops IS 'answers tags.x = literal in twin queries and targetConditions';
COMMENT ON INDEX twins_desired_path_ops IS 'answers properties.desired.x = literal in twin queries';
COMMENT ON INDEX twins_reported_path_ops IS 'answers properties.reported.x = literal in twin queries';

CREATE TABLE twin_configurations (
	id text PRIMARY KEY,
	etag text NOT NULL,
	priority integer NOT NULL,
	target_condition text NOT NULL,
	device_content jsonb NOT NULL,
	labels jsonb NOT NULL DEFAULT '{}',
	metric_queries jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE twin_configurations IS 'fleet configurations: desired content applied to every twin the target condition matches, the highest priority winning per twin';
COMMENT ON COLUMN twin_configurations.etag IS 'opaque, new on every change; compared with If-Match';
COMMENT ON COLUMN twin_configurations.target_condition IS 'a twin query condition (IoT Hub language), compiled to parameterised SQL when used';
COMMENT ON COLUMN twin_configurations.device_content IS 'content.deviceContent: "properties.desired.a.b" paths to the values they set';
COMMENT ON COLUMN twin_configurations.metric_queries IS 'metrics.queries: name to a SELECT deviceId FROM devices WHERE ... query counted on GET';

CREATE TABLE twin_configuration_applied (
	device_id text PRIMARY KEY REFERENCES twins (device_id) ON DELETE CASCADE,
	configuration_id text NOT NULL REFERENCES twin_configurations (id) ON DELETE CASCADE,
	etag text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX twin_configuration_applied_by_config ON twin_configuration_applied (configuration_id);
COMMENT ON TABLE twin_configuration_applied IS 'which configuration last wrote its content into each twin''s desired properties (the highest-priority one that targets it)';
COMMENT ON COLUMN twin_configuration_applied.etag IS 'the configuration''s etag when applied: a changed configuration is applied again';
