/* One publisher with its key history. */
#include <string.h>

#include "server/store/pg_depot_rows.h"

enum store_qs store_select_depot_publisher(struct store_conn *c, const char *name,
					   struct store_depot_publisher *out)
{
	static struct store_stmt st = {
		"select_depot_publisher",
		"SELECT " DEPOT_PUBLISHER_COLS " FROM depot_publishers p WHERE p.name = $1", 0};
	const char *p[] = {name};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE && pg_depot_publisher_row(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
