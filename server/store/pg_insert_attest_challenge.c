/* Records a pending AK challenge unless its EK has too many pending; the
 * same statement drops challenges expired for a day, so the table does not
 * grow. */
#include <stdio.h>

#include "server/store/attest.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_attest_challenge(struct store_conn *c,
					    const struct store_attest_challenge *ch, int ttl_s,
					    int max_pending)
{
	static struct store_stmt st = {
		"insert_attest_challenge",
		"WITH gone AS (DELETE FROM attest_ak_challenges"
		" WHERE expires_at < now() - interval '1 day')"
		" INSERT INTO attest_ak_challenges (id, enrollment_kind, enrollment_id,"
		" registration_id, ek_hash, attestation_key, tpm_name, secret_hash, expires_at)"
		" SELECT $1, $2, $3, $4, $5, $6, $7, $8, now() + $9::integer * interval '1 second'"
		" WHERE (SELECT count(*) FROM attest_ak_challenges"
		" WHERE ek_hash = $5 AND expires_at > now()) < $10::integer RETURNING id",
		0};
	char ttl[16], max[16];
	const char *p[] = {ch->id,
			   ch->enrollment_kind,
			   ch->enrollment_id,
			   ch->registration_id,
			   ch->ek_hash,
			   ch->attestation_key,
			   ch->tpm_name,
			   ch->secret_hash,
			   ttl,
			   max};

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	snprintf(max, sizeof max, "%d", max_pending);
	return store_exec_void(c, &st, 10, p);
}
