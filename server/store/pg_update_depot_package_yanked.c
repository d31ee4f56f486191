/* Yanks or restores a package: the one change a published package takes. */
#include "server/store/depot.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_update_depot_package_yanked(struct store_conn *c, const char *publisher,
						const char *name, const char *version, bool yanked)
{
	static struct store_stmt st = {
		"update_depot_package_yanked",
		"WITH u AS (UPDATE depot_packages SET yanked = $4::boolean,"
		" yanked_at = CASE WHEN $4::boolean THEN coalesce(yanked_at, now()) END"
		" WHERE publisher = $1 AND name = $2 AND version = $3"
		" RETURNING publisher || '/pkg/' || name || '/' || version AS ref)"
		" SELECT pg_notify('" EVENTS_DEPOT "', ref) FROM u",
		0};
	const char *p[] = {publisher, name, version, yanked ? "true" : "false"};

	return store_exec_void(c, &st, 4, p);
}
