/* Reads one ACME challenge with its authorization's identifier and state
 * and the account's current key thumbprint, and frees challenge rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/acme.h"
#include "server/store/store_pg.h"

void store_acme_chall_free(struct store_acme_chall *ch)
{
	if (ch == NULL)
		return;
	free(ch->id);
	free(ch->authz_id);
	free(ch->account_id);
	free(ch->type);
	free(ch->token);
	free(ch->status);
	free(ch->ident_type);
	free(ch->ident_value);
	free(ch->authz_status);
	free(ch->thumbprint);
	memset(ch, 0, sizeof *ch);
}

enum store_qs store_select_acme_challenge(struct store_conn *c, const char *id,
					  struct store_acme_chall *out)
{
	static struct store_stmt st = {
		"select_acme_challenge",
		"SELECT ch.id, ch.authz_id, a.account_id, ch.type, ch.token, ch.status,"
		" a.identifier_type, a.identifier_value, a.wildcard,"
		" acme_authz_state(a.status, a.expires_at), ac.key_thumbprint"
		" FROM acme_challenges ch JOIN acme_authzs a ON a.id = ch.authz_id"
		" JOIN acme_accounts ac ON ac.id = a.account_id WHERE ch.id = $1",
		0};
	const char *p[] = {id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int ok = 1;

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE) {
		out->id = store_value_dup(res, 0, 0, &ok);
		out->authz_id = store_value_dup(res, 0, 1, &ok);
		out->account_id = store_value_dup(res, 0, 2, &ok);
		out->type = store_value_dup(res, 0, 3, &ok);
		out->token = store_value_dup(res, 0, 4, &ok);
		out->status = store_value_dup(res, 0, 5, &ok);
		out->ident_type = store_value_dup(res, 0, 6, &ok);
		out->ident_value = store_value_dup(res, 0, 7, &ok);
		out->wildcard = strcmp(PQgetvalue(res, 0, 8), "t") == 0;
		out->authz_status = store_value_dup(res, 0, 9, &ok);
		out->thumbprint = store_value_dup(res, 0, 10, &ok);
		if (!ok) {
			store_acme_chall_free(out);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
