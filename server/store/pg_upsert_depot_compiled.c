/* Records a compiled form's state (and, when ready, its bytes, statement
 * and signature) and announces it in the same statement. */
#include <limits.h>
#include <stdio.h>

#include "server/store/depot_compiled.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_upsert_depot_compiled(struct store_conn *c,
					  const struct store_depot_compiled *r, const char *sig_hex,
					  const uint8_t *data, size_t len)
{
	static struct store_stmt st = {
		"upsert_depot_compiled",
		"WITH u AS (INSERT INTO depot_compiled AS d (module_sha256, target, state, compiler,"
		" cwasm_sha256, size, data, statement, signature, key_id, error)"
		" VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bytea, $8, decode($9, 'hex'), $10, $11)"
		" ON CONFLICT (module_sha256, target) DO UPDATE SET state = EXCLUDED.state,"
		" compiler = EXCLUDED.compiler, cwasm_sha256 = EXCLUDED.cwasm_sha256,"
		" size = EXCLUDED.size, data = EXCLUDED.data, statement = EXCLUDED.statement,"
		" signature = EXCLUDED.signature, key_id = EXCLUDED.key_id, error = EXCLUDED.error,"
		" updated_at = now()"
		" WHERE EXCLUDED.state <> 'compiling' OR d.state <> 'ready'"
		" RETURNING module_sha256 || ' ' || target AS k)"
		" SELECT pg_notify('" EVENTS_DEPOT_COMPILED "', k) FROM u",
		0};
	char size[24];
	const char *p[] = {r->module_sha256,   r->target,	r->state,
			   r->compiler,	       r->cwasm_sha256, data ? size : NULL,
			   (const char *)data, r->statement,	sig_hex,
			   r->key_id,	       r->error};
	const int lengths[] = {0, 0, 0, 0, 0, 0, (int)len, 0, 0, 0, 0};
	const int formats[] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
	const struct store_bin bin = {lengths, formats};
	enum store_qs qs;
	PGresult *res;

	if (len > INT_MAX)
		return STORE_HARD;
	snprintf(size, sizeof size, "%zu", len);
	res = store_exec_bin(c, &st, 11, p, &bin, 0, &qs);
	PQclear(res);
	return qs < 0 ? qs : qs > 0 ? STORE_ONE : STORE_NONE;
}
