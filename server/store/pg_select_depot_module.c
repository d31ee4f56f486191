/* A byte range of a module, read as binary: substring() on the EXTERNAL
 * column fetches only the chunks the range covers. */
#include <stdio.h>

#include "server/store/depot.h"
#include "server/store/store_pg.h"

enum store_qs store_select_depot_module(struct store_conn *c, const char *sha256_hex,
					uint64_t offset, uint64_t len, uint8_t **data, size_t *got)
{
	static struct store_stmt st = {"select_depot_module",
				       "SELECT substring(data FROM $2::int FOR $3::int)"
				       " FROM depot_modules WHERE sha256 = $1",
				       0};
	char from[24], count[24];
	const char *p[] = {sha256_hex, from, count};
	enum store_qs qs;
	PGresult *res;

	*data = NULL;
	*got = 0;
	snprintf(from, sizeof from, "%llu", (unsigned long long)offset + 1); /* SQL counts from 1 */
	snprintf(count, sizeof count, "%llu", (unsigned long long)len);
	res = store_exec_bin(c, &st, 3, p, NULL, 1, &qs);
	if (qs == STORE_ONE && store_bytes_dup(res, 0, 0, data, got) < 0)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
