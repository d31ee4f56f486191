/* Writes new desired properties (with etag and version) into many twins
 * in one statement, records each change in the twin's history (by the
 * configuration, with the patch it applied) and announces each "deviceId
 * desiredVersion" on EVENTS_TWIN at commit, as store_update_twin() does
 * for one. */
#include "server/store/configs.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_update_twins_desired(struct store_conn *c, const char *rows_json)
{
	static struct store_stmt st = {
		"update_twins_desired",
		"WITH u AS (UPDATE twins t SET etag = r.etag, version = r.version,"
		" desired = r.desired, updated_at = now()"
		" FROM jsonb_to_recordset($1::jsonb) AS r(device_id text, etag text, version bigint,"
		" desired jsonb) WHERE t.device_id = r.device_id"
		" RETURNING t.device_id, t.version, t.desired->>'$version' AS dv),"
		" h AS (INSERT INTO twin_history (device_id, version, sections, actor_kind, actor, patch)"
		" SELECT u.device_id, u.version, ARRAY['desired'], 'configuration', r.configuration,"
		" r.patch FROM u JOIN jsonb_to_recordset($1::jsonb) AS r(device_id text,"
		" configuration text, patch jsonb) ON r.device_id = u.device_id)"
		" SELECT pg_notify('" EVENTS_TWIN "', device_id || ' ' || dv) FROM u",
		0};
	const char *p[] = {rows_json};

	return store_exec_void(c, &st, 1, p);
}
