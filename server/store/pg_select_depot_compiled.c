/* One compiled form's record (not its bytes). */
#include <string.h>

#include "server/store/pg_depot_compiled_rows.h"

enum store_qs store_select_depot_compiled(struct store_conn *c, const char *module_sha256,
					  const char *target, struct store_depot_compiled *out)
{
	static struct store_stmt st = {"select_depot_compiled",
				       "SELECT " DEPOT_COMPILED_COLS " FROM depot_compiled"
				       " WHERE module_sha256 = $1 AND target = $2",
				       0};
	const char *p[] = {module_sha256, target};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 2, p, &qs);

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE && pg_depot_compiled_row(res, 0, out) != 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
