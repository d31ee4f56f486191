/* Reads the unexpired TPM challenge of one registration ID; frees such rows. */
#include <stdlib.h>
#include <string.h>

#include "server/store/dps_rows.h"

void store_dps_tpm_challenge_free(struct store_dps_tpm_challenge *t)
{
	if (t == NULL)
		return;
	free(t->registration_id);
	free(t->enrollment_kind);
	free(t->enrollment_id);
	if (t->auth_key != NULL)
		explicit_bzero(t->auth_key, strlen(t->auth_key));
	free(t->auth_key);
	free(t->endorsement_key);
	free(t->storage_root_key);
	memset(t, 0, sizeof *t);
}

enum store_qs store_select_dps_tpm_challenge(struct store_conn *c, const char *registration_id,
					     struct store_dps_tpm_challenge *out)
{
	static struct store_stmt st = {
		"select_dps_tpm_challenge",
		"SELECT registration_id, enrollment_kind, enrollment_id, auth_key, endorsement_key,"
		" storage_root_key FROM dps_tpm_challenges"
		" WHERE registration_id = $1 AND expires_at > now()",
		0};
	const char *p[] = {registration_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);
	int ok = 1;

	memset(out, 0, sizeof *out);
	if (qs == STORE_ONE) {
		out->registration_id = store_value_dup(res, 0, 0, &ok);
		out->enrollment_kind = store_value_dup(res, 0, 1, &ok);
		out->enrollment_id = store_value_dup(res, 0, 2, &ok);
		out->auth_key = store_value_dup(res, 0, 3, &ok);
		out->endorsement_key = store_value_dup(res, 0, 4, &ok);
		out->storage_root_key = store_value_dup(res, 0, 5, &ok);
		if (!ok) {
			store_dps_tpm_challenge_free(out);
			qs = STORE_HARD;
		}
	}
	PQclear(res);
	return qs;
}
