/* Records a new ACME order over its authorizations. */
#include <stdio.h>
#include <stdlib.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_acme_order(struct store_conn *c, const char *id, const char *account,
				      const char *identifiers, size_t n,
				      const char *const *authz_ids, const char *profile,
				      const char *replaces, int ttl_s)
{
	static struct store_stmt st = {
		"insert_acme_order",
		"INSERT INTO acme_orders (id, account_id, identifiers, authz_ids, profile, expires_at,"
		" replaces) VALUES ($1, $2, $3::jsonb, ARRAY(SELECT json_array_elements_text($4::json)),"
		" $5, now() + make_interval(secs => $6::int), $7)",
		0};
	char ttl[16], *ids = store_json_strings(n, authz_ids);
	const char *p[] = {id, account, identifiers, ids, profile, ttl, replaces};
	enum store_qs qs = STORE_HARD;

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	if (ids != NULL)
		qs = store_exec_void(c, &st, 7, p);
	free(ids);
	return qs;
}
