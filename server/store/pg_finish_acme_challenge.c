/* Records a validation's outcome on the challenge and its authorization
 * (with device-attest-01's attested key), announces the authorization and
 * returns the challenge's validated time, in one statement (the answer
 * that waited for the outcome needs no read after it). The authorization is found by its key from
 * ch, and "still pending" is written as not one of the other four states (the domain
 * acme_authz_status has five): with "status = 'pending'" the generic plan, made while acme_authzs
 * was small, read every pending authorization through the partial index acme_authzs_pending and
 * joined (bench/acme.sh with ACME_BENCH_PGSS=1 and auto_explain: 27 index entries a validation at
 * 64 flows, growing with the flows in flight). */
#include <stdio.h>

#include "server/store/acme.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_finish_acme_challenge(struct store_conn *c, const char *id, bool ok,
					  const char *error, int valid_ttl_s,
					  const char *attested_key, const char *ak_serial,
					  const char *verdict, long long *validated)
{
	static struct store_stmt st = {
		"finish_acme_challenge",
		"WITH ch AS (UPDATE acme_challenges SET status = CASE WHEN $2::boolean THEN"
		" 'valid' ELSE 'invalid' END, validated_at = CASE WHEN $2::boolean THEN now() END,"
		" error = $3::jsonb, updated_at = now() WHERE id = $1 AND status = 'processing'"
		" RETURNING authz_id, validated_at),"
		" a AS (UPDATE acme_authzs SET status = CASE WHEN $2::boolean THEN 'valid'"
		" ELSE 'invalid' END, expires_at = CASE WHEN $2::boolean THEN now() +"
		" make_interval(secs => $4::int) ELSE expires_at END, updated_at = now(),"
		" attested_key = CASE WHEN $2::boolean THEN $5::bytea END,"
		" attested_ak_serial = CASE WHEN $2::boolean THEN $6 END,"
		" attestation_verdict = $7::jsonb"
		" WHERE acme_authzs.id = (SELECT authz_id FROM ch)"
		" AND acme_authzs.status NOT IN ('valid', 'invalid', 'deactivated', 'revoked')"
		" RETURNING acme_authzs.id)"
		" SELECT pg_notify('" EVENTS_ACME_AUTHZ "', a.id),"
		" extract(epoch FROM ch.validated_at)::bigint FROM a, ch",
		0};
	char ttl[16];
	const char *p[] = {id, ok ? "t" : "f", error, ttl, attested_key, ak_serial, verdict};

	enum store_qs qs;
	PGresult *res;

	snprintf(ttl, sizeof ttl, "%d", valid_ttl_s);
	res = store_exec(c, &st, 7, p, &qs);
	*validated = qs == STORE_ONE ? store_value_ll(res, 0, 1) : 0;
	PQclear(res);
	return qs;
}
