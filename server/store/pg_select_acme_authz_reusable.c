/* Finds a valid authorization an account may reuse for a new order's
 * identifier (RFC 8555 7.4: "the server MAY reuse"). */
#include <stdio.h>

#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_select_acme_authz_reusable(struct store_conn *c, const char *account,
					       const char *type, const char *value, bool wildcard,
					       int min_ttl_s, char **id)
{
	static struct store_stmt st = {
		"select_acme_authz_reusable",
		"SELECT id FROM acme_authzs WHERE account_id = $1 AND identifier_type = $2"
		" AND identifier_value = $3 AND wildcard = $4::boolean AND status = 'valid'"
		" AND expires_at > now() + make_interval(secs => $5::int)"
		" ORDER BY expires_at DESC LIMIT 1",
		0};
	char ttl[16];
	const char *p[] = {account, type, value, wildcard ? "t" : "f", ttl};
	enum store_qs qs;
	PGresult *res;
	int ok = 1;

	snprintf(ttl, sizeof ttl, "%d", min_ttl_s);
	res = store_exec(c, &st, 5, p, &qs);
	*id = NULL;
	if (qs == STORE_ONE && (*id = store_value_dup(res, 0, 0, &ok)) == NULL)
		qs = STORE_HARD;
	PQclear(res);
	return qs;
}
