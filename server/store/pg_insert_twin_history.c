/* Records one accepted change of a device twin in its history, inside the
 * transaction that made the change. */
#include <stdio.h>

#include "server/store/store_pg.h"
#include "server/store/twins.h"

enum store_qs store_insert_twin_history(struct store_conn *c, const struct store_twin_change *h)
{
	static struct store_stmt st = {
		"insert_twin_history",
		"INSERT INTO twin_history (device_id, version, sections, actor_kind, actor, patch)"
		" VALUES ($1, $2, string_to_array($3, ','), $4, $5, $6::jsonb)",
		0};
	char version[24];
	const char *p[] = {h->device_id, version, h->sections, h->actor_kind, h->actor, h->patch};

	snprintf(version, sizeof version, "%lld", h->version);
	return store_exec_void(c, &st, 6, p);
}
