/* Creates a device twin unless one exists (a concurrent creator of the same
 * twin makes this wait for its commit, then do nothing) and, in the same
 * statement, announces "deviceId desiredVersion" on EVENTS_TWIN. */
#include <stdio.h>

#include "server/store/events.h"
#include "server/store/store_pg.h"
#include "server/store/twins.h"

enum store_qs store_insert_twin(struct store_conn *c, const struct store_twin *t)
{
	static struct store_stmt st = {
		"insert_twin",
		"WITH i AS (INSERT INTO twins (device_id, etag, version, tags, desired, reported)"
		" VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb)"
		" ON CONFLICT (device_id) DO NOTHING RETURNING device_id, desired->>'$version' AS dv)"
		" SELECT pg_notify('" EVENTS_TWIN "', device_id || ' ' || dv) FROM i",
		0};
	char version[24];
	const char *p[] = {t->device_id, t->etag, version, t->tags, t->desired, t->reported};

	snprintf(version, sizeof version, "%lld", t->version);
	return store_exec_void(c, &st, 6, p);
}
