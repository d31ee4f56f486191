/* A byte range of a ready compiled form, read as binary: substring() on
 * the EXTERNAL column fetches only the chunks the range covers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/depot_compiled.h"
#include "server/store/store_pg.h"

enum store_qs store_select_depot_compiled_data(struct store_conn *c, const char *module_sha256,
					       const char *target, uint64_t offset, uint64_t len,
					       uint8_t **data, size_t *got)
{
	static struct store_stmt st = {
		"select_depot_compiled_data",
		"SELECT substring(data FROM $3::int FOR $4::int)"
		" FROM depot_compiled WHERE module_sha256 = $1 AND target = $2"
		" AND state = 'ready'",
		0};
	char from[24], count[24];
	const char *p[] = {module_sha256, target, from, count};
	enum store_qs qs;
	PGresult *res;
	int n;

	*data = NULL;
	*got = 0;
	snprintf(from, sizeof from, "%llu", (unsigned long long)offset + 1); /* SQL counts from 1 */
	snprintf(count, sizeof count, "%llu", (unsigned long long)len);
	res = store_exec_bin(c, &st, 4, p, NULL, 1, &qs);
	if (qs == STORE_ONE) {
		n = PQgetlength(res, 0, 0);
		if ((*data = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
			qs = STORE_HARD;
		} else {
			memcpy(*data, PQgetvalue(res, 0, 0), (size_t)n);
			*got = (size_t)n;
		}
	}
	PQclear(res);
	return qs;
}
