/* Writes one audit row and, in the same statement, announces its id on
 * EVENTS_AUDIT; PostgreSQL delivers the notification at commit. */
#include <stdio.h>

#include "server/store/events.h"
#include "server/store/operators.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_audit(struct store_conn *c, const struct store_audit_new *e,
				 long long *id)
{
	static struct store_stmt st = {
		"insert_audit",
		"WITH a AS (INSERT INTO audit_log (subject, jti, method, path, route, params,"
		" target, status, request_id) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)"
		" RETURNING id)"
		" SELECT id, pg_notify('" EVENTS_AUDIT "', id::text) FROM a",
		0};
	char status[12];
	const char *p[] = {e->subject,	   e->jti,    e->method, e->path,      e->route,
			   e->params_json, e->target, status,	 e->request_id};
	enum store_qs qs;
	PGresult *res;

	snprintf(status, sizeof status, "%u", e->status);
	res = store_exec(c, &st, 9, p, &qs);
	if (id != NULL)
		*id = qs == STORE_ONE ? store_value_ll(res, 0, 0) : 0;
	PQclear(res);
	return qs;
}
