/* Records a pending AK challenge; the same statement drops challenges
 * expired for a day, so the table does not grow. */
#include <stdio.h>

#include "server/store/attest.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_attest_challenge(struct store_conn *c,
					    const struct store_attest_challenge *ch, int ttl_s)
{
	static struct store_stmt st = {
		"insert_attest_challenge",
		"WITH gone AS (DELETE FROM attest_ak_challenges"
		" WHERE expires_at < now() - interval '1 day')"
		" INSERT INTO attest_ak_challenges (id, enrollment_kind, enrollment_id,"
		" registration_id, ek_hash, attestation_key, tpm_name, secret_hash, expires_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + $9::integer * interval '1 second')",
		0};
	char ttl[16];
	const char *p[] = {ch->id,	ch->enrollment_kind, ch->enrollment_id, ch->registration_id,
			   ch->ek_hash, ch->attestation_key, ch->tpm_name,	ch->secret_hash,
			   ttl};

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	return store_exec_void(c, &st, 9, p);
}
