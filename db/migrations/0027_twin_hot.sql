-- The twin write path (docs/twins.md, "Benchmark"): an operator's desired
-- PATCH becomes a HOT update. With a GIN index on the column it changes,
-- every update of a twin inserted a new tuple into the primary key and
-- into all three GIN indexes (7 WAL records, 1,194 bytes, 20 buffers an
-- update at 10,000 twins); with no index on desired, and with room left on
-- the page (fillfactor), PostgreSQL rewrites the row on its page and
-- touches no index (2 records, 492 bytes, 9 buffers): tags and reported
-- are written back unchanged, and an unchanged indexed column does not
-- stop a HOT update. Equality on tags and properties.reported stays
-- indexed (what fleets select devices by); equality on properties.desired,
-- which the operator wrote, scans, as ranges already did.
DROP INDEX twins_desired_path_ops;
ALTER TABLE twins SET (fillfactor = 70);
COMMENT ON TABLE twins IS 'one device twin per device ID (IoT Hub semantics); fillfactor 70 and no index on desired, so a desired change is a HOT update';
