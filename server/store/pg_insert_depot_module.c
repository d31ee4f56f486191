/* Stores a module's bytes under their SHA-256, once: the bytes go as a
 * binary parameter (no hex doubling of a 64 MiB module). */
#include <limits.h>
#include <stdio.h>

#include "server/store/depot.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_depot_module(struct store_conn *c, const char *sha256_hex,
					const uint8_t *data, size_t len)
{
	static struct store_stmt st = {
		"insert_depot_module",
		"INSERT INTO depot_modules (sha256, size, data) VALUES ($1, $2::bigint, $3::bytea)"
		" ON CONFLICT (sha256) DO NOTHING",
		0};
	static const char empty[1];
	char size[24];
	const char *p[] = {sha256_hex, size, len > 0 ? (const char *)data : empty};
	const int lengths[] = {0, 0, (int)len}, formats[] = {0, 0, 1};
	const struct store_bin bin = {lengths, formats};
	enum store_qs qs;
	PGresult *res;

	if (len > INT_MAX)
		return STORE_HARD;
	snprintf(size, sizeof size, "%zu", len);
	res = store_exec_bin(c, &st, 3, p, &bin, 0, &qs);
	if (qs >= 0)
		qs = PQcmdTuples(res)[0] == '1' ? STORE_ONE : STORE_NONE;
	PQclear(res);
	return qs;
}
