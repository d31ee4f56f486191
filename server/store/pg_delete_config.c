/* Deletes a fleet configuration (its applied rows cascade) and announces
 * its ID on EVENTS_TWIN_CONFIGURATION in the same statement. */
#include "server/store/configs.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_delete_config(struct store_conn *c, const char *id)
{
	static struct store_stmt st = {
		"delete_config",
		"WITH d AS (DELETE FROM twin_configurations WHERE id = $1 RETURNING id)"
		" SELECT pg_notify('" EVENTS_TWIN_CONFIGURATION "', id) FROM d",
		0};
	const char *p[] = {id};

	return store_exec_void(c, &st, 1, p);
}
