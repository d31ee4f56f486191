/* One package's record (not its module's bytes). */
#include <string.h>

#include "server/store/pg_depot_rows.h"

enum store_qs store_select_depot_package(struct store_conn *c, const char *publisher,
					 const char *name, const char *version,
					 struct store_depot_package *out)
{
	static struct store_stmt st = {"select_depot_package",
				       "SELECT " DEPOT_PACKAGE_COLS " FROM depot_packages d"
				       " WHERE d.publisher = $1 AND d.name = $2 AND d.version = $3",
				       0};
	const char *p[] = {publisher, name, version};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 3, p, &qs);

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE && pg_depot_package_row(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
