/* Packages, optionally of one publisher and name, newest first. */
#include <stdio.h>
#include <stdlib.h>

#include "server/store/pg_depot_rows.h"

enum store_qs store_select_depot_packages(struct store_conn *c, const char *publisher,
					  const char *name, long limit,
					  struct store_depot_package **out, size_t *n)
{
	static struct store_stmt st = {
		"select_depot_packages",
		"SELECT " DEPOT_PACKAGE_COLS " FROM depot_packages d"
		" WHERE ($1::text IS NULL OR d.publisher = $1) AND ($2::text IS NULL OR d.name = $2)"
		" ORDER BY d.publisher, d.name, d.published_at DESC, d.version DESC LIMIT $3::bigint",
		0};
	char lim[24];
	const char *p[] = {publisher, name, lim};
	enum store_qs qs;
	PGresult *res;
	int rows;

	snprintf(lim, sizeof lim, "%ld", limit);
	res = store_exec(c, &st, 3, p, &qs);
	rows = qs > 0 ? PQntuples(res) : 0;
	*out = NULL;
	*n = 0;
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof **out)) == NULL)
		qs = STORE_HARD;
	for (int i = 0; *out != NULL && i < rows; i++, (*n)++)
		if (pg_depot_package_row(res, i, &(*out)[i]) != 0) {
			qs = STORE_HARD;
			break;
		}
	PQclear(res);
	return qs;
}
