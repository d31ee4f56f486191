/* device-attest-01 at finalize: whether every device authorization of an
 * order attested the CSR's key. The authorizations one id at a time, as
 * ACME_ORDER_STATE() in acme_pg.h does (an index scan in the generic plan). */
#include <stdlib.h>

#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_select_acme_attested(struct store_conn *c, const char *order_id,
					 const char *spki, long long *n, long long *other)
{
	static struct store_stmt st = {
		"select_acme_attested",
		"SELECT count(*), count(*) FILTER (WHERE a.attested_key IS NULL"
		" OR a.attested_key <> $2::bytea)"
		" FROM acme_orders o, unnest(o.authz_ids) AS u (id), LATERAL (SELECT x.attested_key,"
		" x.identifier_type FROM acme_authzs x WHERE x.id = u.id OFFSET 0) AS a"
		" WHERE o.id = $1 AND a.identifier_type IN ('permanent-identifier', 'hardware-module')",
		0};
	const char *p[] = {order_id, spki};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 2, p, &qs);

	*n = *other = 0;
	if (qs == STORE_ONE) {
		*n = store_value_ll(res, 0, 0);
		*other = store_value_ll(res, 0, 1);
	}
	PQclear(res);
	return qs;
}
