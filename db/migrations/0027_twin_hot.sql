-- The twin write path (docs/twins.md, "Benchmark"): a desired PATCH (and a
-- device's reported PATCH) becomes a HOT update. With a GIN index on the
-- column it changes, every update of a twin inserted a new heap tuple into
-- the primary key and into all three GIN indexes (7 WAL records, 1,194
-- bytes, 20 buffers an update at 10,000 twins); without one, and with room
-- left on the page, PostgreSQL rewrites the row in place on its page and
-- touches no index (2 records, 492 bytes, 9 buffers). Equality on tags
-- stays indexed (twins_tags_path_ops: tags change rarely, and a tag change
-- re-evaluates configurations anyway); equality on properties.desired and
-- properties.reported scans, as ranges already did.
DROP INDEX twins_desired_path_ops;
DROP INDEX twins_reported_path_ops;
ALTER TABLE twins SET (fillfactor = 70);
COMMENT ON TABLE twins IS 'one device twin per device ID (IoT Hub semantics); fillfactor 70 and no index on desired or reported, so a change of either is a HOT update';
