/* Revokes one certificate and announces its serial in the same statement. */
#include <stdio.h>

#include "server/store/events.h"
#include "server/store/pki.h"
#include "server/store/store_pg.h"

enum store_qs store_revoke_certificate(struct store_conn *c, const char *serial, int reason)
{
	static struct store_stmt st = {
		"revoke_certificate",
		"WITH r AS (UPDATE certificates SET revoked_at = now(), revocation_reason = $2"
		" WHERE serial = $1 AND revoked_at IS NULL RETURNING serial)"
		" SELECT pg_notify('" EVENTS_CERT_REVOKED "', serial) FROM r",
		0};
	char r[12];
	const char *p[] = {serial, r};

	snprintf(r, sizeof r, "%d", reason);
	return store_exec_void(c, &st, 2, p);
}
