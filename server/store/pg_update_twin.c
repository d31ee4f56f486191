/* Writes a changed device twin and, in the same statement, records the
 * change in its history (when given) and announces "deviceId
 * desiredVersion" on EVENTS_TWIN (delivered at commit): one round trip. */
#include <stdio.h>

#include "server/store/events.h"
#include "server/store/store_pg.h"
#include "server/store/twins.h"

enum store_qs store_update_twin(struct store_conn *c, const struct store_twin *t,
				const struct store_twin_change *h)
{
	static struct store_stmt st = {
		"update_twin",
		"WITH u AS (UPDATE twins SET etag = $2, version = $3, tags = $4::jsonb,"
		" desired = $5::jsonb, reported = $6::jsonb, updated_at = now()"
		" WHERE device_id = $1 RETURNING device_id, version, desired->>'$version' AS dv),"
		" h AS (INSERT INTO twin_history (device_id, version, sections, actor_kind, actor, patch)"
		" SELECT device_id, version, string_to_array($7, ','), $8::text, $9, $10::jsonb FROM u"
		" WHERE $8::text IS NOT NULL)"
		" SELECT pg_notify('" EVENTS_TWIN "', device_id || ' ' || dv) FROM u",
		0};
	char version[24];
	const char *p[] = {t->device_id,
			   t->etag,
			   version,
			   t->tags,
			   t->desired,
			   t->reported,
			   h ? h->sections : NULL,
			   h ? h->actor_kind : NULL,
			   h ? h->actor : NULL,
			   h ? h->patch : NULL};

	snprintf(version, sizeof version, "%lld", t->version);
	return store_exec_void(c, &st, 10, p);
}
