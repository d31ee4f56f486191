/* Deactivates an ACME authorization (RFC 8555 7.5.2) and announces it. */
#include "server/store/acme.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_deactivate_acme_authz(struct store_conn *c, const char *id)
{
	static struct store_stmt st = {
		"deactivate_acme_authz",
		"WITH a AS (UPDATE acme_authzs SET status = 'deactivated', updated_at = now()"
		" WHERE id = $1 AND acme_authz_state(status, expires_at) IN ('pending', 'valid')"
		" RETURNING id) SELECT pg_notify('" EVENTS_ACME_AUTHZ "', id) FROM a",
		0};
	const char *p[] = {id};

	return store_exec_void(c, &st, 1, p);
}
