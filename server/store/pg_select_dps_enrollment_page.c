/* One page of enrollments of a kind, in id order after a given id (the
 * service API's query with continuation tokens). */
#include <stdio.h>

#include "server/store/dps_rows.h"

enum store_qs store_select_dps_enrollment_page(struct store_conn *c, const char *kind,
					       const char *after, int limit,
					       struct store_dps_enrollment_list *out)
{
	static struct store_stmt st = {"select_dps_enrollment_page",
				       "SELECT " DPS_ENROLLMENT_COLS
				       " FROM dps_enrollments WHERE kind = $1 AND id > $2"
				       " ORDER BY id LIMIT $3::integer",
				       0};
	char lim[16];
	const char *p[] = {kind, after, lim};
	enum store_qs qs;
	PGresult *res;

	snprintf(lim, sizeof lim, "%d", limit);
	res = store_exec(c, &st, 3, p, &qs);
	qs = dps_enrollment_list_from(res, qs, out);
	PQclear(res);
	return qs;
}
