/* Writes a changed device twin only if nobody changed it since it was read
 * (its etag is still the one read), and in the same statement records the
 * change in its history and writes the request's audit row, returning the
 * audit id. Outside a transaction this is the whole accepted change in one
 * round trip and one commit: the optimistic PATCH. No pg_notify here: a
 * NOTIFY makes the commit take PostgreSQL's global notify lock, which
 * serialised these commits; the handler announces the change after commit
 * through the hub's notifier (events_notify), batched. */
#include <stdio.h>

#include "server/store/operators.h"
#include "server/store/store_pg.h"
#include "server/store/twins.h"

enum store_qs store_update_twin_if(struct store_conn *c, const struct store_twin *t,
				   const char *read_etag, const struct store_twin_change *h,
				   const struct store_audit_new *a, long long *audit_id)
{
	static struct store_stmt st = {
		"update_twin_if",
		"WITH u AS (UPDATE twins SET etag = $2, version = $3, tags = $4::jsonb,"
		" desired = $5::jsonb, reported = $6::jsonb, updated_at = now()"
		" WHERE device_id = $1 AND etag = $7"
		" RETURNING device_id, version),"
		" h AS (INSERT INTO twin_history (device_id, version, sections, actor_kind, actor, patch)"
		" SELECT device_id, version, string_to_array($8, ','), $9::text, $10, $11::jsonb FROM u),"
		" a AS (INSERT INTO audit_log (subject, jti, method, path, route, params, target,"
		" status, request_id) SELECT $12, $13, $14::text, $15, $16, $17::jsonb, $18, $19::int,"
		" $20 FROM u WHERE $14::text IS NOT NULL RETURNING id)"
		" SELECT (SELECT a.id FROM a) FROM u",
		0};
	char version[24], status[12];
	const char *p[] = {t->device_id,
			   t->etag,
			   version,
			   t->tags,
			   t->desired,
			   t->reported,
			   read_etag,
			   h->sections,
			   h->actor_kind,
			   h->actor,
			   h->patch,
			   a ? a->subject : NULL,
			   a ? a->jti : NULL,
			   a ? a->method : NULL,
			   a ? a->path : NULL,
			   a ? a->route : NULL,
			   a ? a->params_json : NULL,
			   a ? a->target : NULL,
			   a ? status : NULL,
			   a ? a->request_id : NULL};

	snprintf(version, sizeof version, "%lld", t->version);
	snprintf(status, sizeof status, "%u", a ? a->status : 0);
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 20, p, &qs);

	*audit_id = qs == STORE_ONE && !PQgetisnull(res, 0, 0) ? store_value_ll(res, 0, 0) : 0;
	PQclear(res);
	return qs;
}
