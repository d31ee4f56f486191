/* Consumes an AK challenge: deleted and returned in one statement, so two
 * activations of one challenge cannot both see it. Frees such rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/attest.h"
#include "server/store/store_pg.h"

void store_attest_challenge_free(struct store_attest_challenge *ch)
{
	if (ch == NULL)
		return;
	free(ch->id);
	free(ch->enrollment_kind);
	free(ch->enrollment_id);
	free(ch->registration_id);
	free(ch->ek_hash);
	free(ch->attestation_key);
	free(ch->tpm_name);
	free(ch->secret_hash);
	memset(ch, 0, sizeof *ch);
}

enum store_qs store_take_attest_challenge(struct store_conn *c, const char *id,
					  struct store_attest_challenge *out)
{
	static struct store_stmt st = {
		"take_attest_challenge",
		"DELETE FROM attest_ak_challenges WHERE id = $1"
		" RETURNING id, enrollment_kind, enrollment_id, registration_id, ek_hash,"
		" attestation_key, tpm_name, secret_hash, expires_at > now()",
		0};
	const char *p[] = {id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int ok = 1;

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE) {
		out->id = store_value_dup(res, 0, 0, &ok);
		out->enrollment_kind = store_value_dup(res, 0, 1, &ok);
		out->enrollment_id = store_value_dup(res, 0, 2, &ok);
		out->registration_id = store_value_dup(res, 0, 3, &ok);
		out->ek_hash = store_value_dup(res, 0, 4, &ok);
		out->attestation_key = store_value_dup(res, 0, 5, &ok);
		out->tpm_name = store_value_dup(res, 0, 6, &ok);
		out->secret_hash = store_value_dup(res, 0, 7, &ok);
		out->live = strcmp(PQgetvalue(res, 0, 8), "t") == 0;
		if (!ok) {
			store_attest_challenge_free(out);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
