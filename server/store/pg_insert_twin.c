/* Creates a device twin unless one exists (a concurrent creator of the same
 * twin makes this wait for its commit, then do nothing). Not announced on
 * EVENTS_TWIN: a waiter subscribes before it reads the twin and answers 404
 * when there is none, so nobody waits on a twin that does not exist yet;
 * and a NOTIFY would serialise the commits of every registering device
 * (PostgreSQL holds one database-wide lock through a notifying commit's
 * WAL flush; see pg_upsert_dps_registration.c). */
#include <stdio.h>

#include "server/store/store_pg.h"
#include "server/store/twins.h"

enum store_qs store_insert_twin(struct store_conn *c, const struct store_twin *t)
{
	static struct store_stmt st = {
		"insert_twin",
		"WITH i AS (INSERT INTO twins (device_id, etag, version, tags, desired, reported)"
		" VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb)"
		" ON CONFLICT (device_id) DO NOTHING RETURNING device_id)"
		" SELECT device_id FROM i",
		0};
	char version[24];
	const char *p[] = {t->device_id, t->etag, version, t->tags, t->desired, t->reported};

	snprintf(version, sizeof version, "%lld", t->version);
	return store_exec_void(c, &st, 6, p);
}
