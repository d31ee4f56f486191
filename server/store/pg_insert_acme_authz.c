/* Records a pending ACME authorization and its challenges in one
 * statement; and the JSON-list helper the ACME inserts share. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

char *store_json_strings(size_t n, const char *const *v)
{
	json_t *a = json_array();
	char *text;

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return text;
}

enum store_qs store_insert_acme_authz(struct store_conn *c, const char *id, const char *account,
				      const char *type, const char *value, bool wildcard, int ttl_s,
				      size_t n, const char *const *chall_ids,
				      const char *const *types, const char *const *tokens)
{
	static struct store_stmt st = {
		"insert_acme_authz",
		"WITH a AS (INSERT INTO acme_authzs (id, account_id, identifier_type,"
		" identifier_value, wildcard, expires_at) VALUES ($1, $2, $3, $4, $5::boolean,"
		" now() + make_interval(secs => $6::int)) RETURNING id)"
		" INSERT INTO acme_challenges (id, authz_id, type, token)"
		" SELECT i.v, a.id, t.v, k.v FROM a,"
		" json_array_elements_text($7::json) WITH ORDINALITY i(v, n)"
		" JOIN json_array_elements_text($8::json) WITH ORDINALITY t(v, n) USING (n)"
		" JOIN json_array_elements_text($9::json) WITH ORDINALITY k(v, n) USING (n)",
		0};
	char ttl[16], *ids = store_json_strings(n, chall_ids), *ty = store_json_strings(n, types),
		      *tok = store_json_strings(n, tokens);
	const char *p[] = {id, account, type, value, wildcard ? "t" : "f", ttl, ids, ty, tok};
	enum store_qs qs = STORE_HARD;

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	if (ids != NULL && ty != NULL && tok != NULL)
		qs = store_exec_void(c, &st, 9, p);
	free(ids);
	free(ty);
	free(tok);
	return qs;
}
