/* Reads one ACME authorization with its computed state and its challenges
 * as JSON, and frees authorization rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/store_pg.h"

void store_acme_authz_free(struct store_acme_authz *a)
{
	if (a == NULL)
		return;
	free(a->id);
	free(a->account_id);
	free(a->type);
	free(a->value);
	free(a->status);
	free(a->challenges);
	memset(a, 0, sizeof *a);
}

enum store_qs store_select_acme_authz(struct store_conn *c, const char *id,
				      struct store_acme_authz *out)
{
	static struct store_stmt st = {
		"select_acme_authz",
		"SELECT a.id, a.account_id, a.identifier_type, a.identifier_value, a.wildcard,"
		" acme_authz_state(a.status, a.expires_at), " STORE_EPOCH(
			"a.expires_at") ","
					" (SELECT coalesce(json_agg(json_build_object('id', ch.id, 'type', ch.type,"
					" 'token', ch.token, 'status', ch.status, 'validated', " STORE_EPOCH(
						"ch.validated_at") ", 'error', ch.error) ORDER BY ch.type), '[]')"
								   " FROM acme_challenges ch WHERE ch.authz_id = a.id)::text"
								   " FROM acme_authzs a WHERE a.id = $1",
		0};
	const char *p[] = {id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int ok = 1;

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE) {
		out->id = store_value_dup(res, 0, 0, &ok);
		out->account_id = store_value_dup(res, 0, 1, &ok);
		out->type = store_value_dup(res, 0, 2, &ok);
		out->value = store_value_dup(res, 0, 3, &ok);
		out->wildcard = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
		out->status = store_value_dup(res, 0, 5, &ok);
		out->expires_at = store_value_ll(res, 0, 6);
		out->challenges = store_value_dup(res, 0, 7, &ok);
		if (!ok) {
			store_acme_authz_free(out);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
