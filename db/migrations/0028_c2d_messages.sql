-- Cloud-to-device messages (IoT Hub's devices/{deviceId}/messages/devicebound/
-- over MQTT): an operator queues them (POST /devices/{deviceId}/messages/devicebound),
-- orchardd hands each once to the device's connection when it listens, and
-- keeps a row a day after its delivery or expiry for GET
-- (server/store/pg_c2d_queue.c).
CREATE TABLE c2d_messages (
	id bigserial PRIMARY KEY,
	device_id text NOT NULL,
	enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	expires_at timestamptz NOT NULL,
	delivered_at timestamptz,
	system_properties jsonb NOT NULL DEFAULT '{}',
	properties jsonb NOT NULL DEFAULT '{}',
	body bytea NOT NULL
);
CREATE INDEX c2d_messages_device ON c2d_messages (device_id, id);
COMMENT ON TABLE c2d_messages IS 'cloud-to-device messages for devices/{deviceId}/messages/devicebound/ (MQTT): at most 50 queued per device; kept a day after delivery or expiry';
COMMENT ON COLUMN c2d_messages.delivered_at IS 'when orchardd handed it to the device''s connection (QoS 1); NULL while queued';
COMMENT ON COLUMN c2d_messages.system_properties IS 'IoT Hub system properties by name: messageId, correlationId, contentType, contentEncoding';
COMMENT ON COLUMN c2d_messages.properties IS 'application properties: {"key": "value"}';
