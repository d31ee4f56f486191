/* Records the authenticationKey sent to a TPM device in a 401, replacing
 * an earlier one for the same registration ID; the same statement drops
 * challenges expired for a day, so the table does not grow. */
#include <stdio.h>

#include "server/store/dps_rows.h"

enum store_qs store_upsert_dps_tpm_challenge(struct store_conn *c,
					     const struct store_dps_tpm_challenge *t, int ttl_s)
{
	static struct store_stmt st = {
		"upsert_dps_tpm_challenge",
		"WITH gone AS (DELETE FROM dps_tpm_challenges"
		" WHERE expires_at < now() - interval '1 day' AND registration_id <> $1)"
		" INSERT INTO dps_tpm_challenges (registration_id, enrollment_kind, enrollment_id,"
		" auth_key, endorsement_key, storage_root_key, expires_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, now() + $7::integer * interval '1 second')"
		" ON CONFLICT (registration_id) DO UPDATE SET"
		" enrollment_kind = EXCLUDED.enrollment_kind, enrollment_id = EXCLUDED.enrollment_id,"
		" auth_key = EXCLUDED.auth_key, endorsement_key = EXCLUDED.endorsement_key,"
		" storage_root_key = EXCLUDED.storage_root_key, expires_at = EXCLUDED.expires_at",
		0};
	char ttl[16];
	const char *p[] = {t->registration_id,
			   t->enrollment_kind,
			   t->enrollment_id,
			   t->auth_key,
			   t->endorsement_key,
			   t->storage_root_key,
			   ttl};
	enum store_qs qs;
	PGresult *res;

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	res = store_exec(c, &st, 7, p, &qs);
	PQclear(res);
	return qs;
}
