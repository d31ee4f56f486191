/* Records a validation's outcome on the challenge and its authorization
 * (with device-attest-01's attested key), announces the authorization and
 * returns the challenge's validated time, in one statement (the answer
 * that waited for the outcome needs no read after it). */
#include <stdio.h>

#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_finish_acme_challenge(struct store_conn *c, const char *id, bool ok,
					  const char *error, int valid_ttl_s,
					  const char *attested_key, const char *ak_serial,
					  const char *verdict, long long *validated)
{
	static struct store_stmt st = {
		"finish_acme_challenge",
		"WITH " ACME_FINISH_CTES(
			"id = $1 AND status = 'processing'", "$2", "$3", "$4", "$5", "$6",
			"$7") " " ACME_FINISH_SELECT(", pg_notify('" EVENTS_ACME_AUTHZ "', a.id)"),
		0};
	char ttl[16];
	const char *p[] = {id, ok ? "t" : "f", error, ttl, attested_key, ak_serial, verdict};

	enum store_qs qs;
	PGresult *res;

	snprintf(ttl, sizeof ttl, "%d", valid_ttl_s);
	res = store_exec(c, &st, 7, p, &qs);
	*validated = qs == STORE_ONE ? store_value_ll(res, 0, 0) : 0;
	PQclear(res);
	return qs;
}
