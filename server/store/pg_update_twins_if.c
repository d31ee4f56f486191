/* The optimistic twin write: many changed twins (server/twin_batch.c) or
 * one (server/h_twins_update.c's optimistic PATCH) in one statement and one
 * commit, each only if its etag is still the one read, with each written
 * change's history row and audit row in that same statement. Columns travel
 * as arrays and are unnested together; audit ids are drawn in the statement
 * so that each change learns its own. No pg_notify here: a NOTIFY makes the
 * commit take PostgreSQL's global notify lock, which serialised these
 * commits; the caller announces the written changes after commit through
 * the hub's notifier (events_notify), batched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/operators.h"
#include "server/store/store_pg.h"
#include "server/store/twins.h"

#define COLS 20

enum store_qs store_update_twins_if(struct store_conn *c, struct store_twin_write *w, size_t n)
{
	static struct store_stmt st = {
		"update_twins_if",
		"WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::jsonb[],"
		" $5::jsonb[], $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[],"
		" $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::jsonb[],"
		" $17::text[], $18::int[], $19::text[], $20::int[])"
		" AS v(device_id, etag, version, tags, desired, read_etag, sections, actor_kind,"
		" actor, patch, subject, jti, method, path, route, params, target, status,"
		" request_id, i)),"
		" u AS (UPDATE twins t SET etag = v.etag, version = v.version, tags = v.tags,"
		" desired = v.desired, updated_at = now() FROM v"
		" WHERE t.device_id = v.device_id AND t.etag = v.read_etag RETURNING v.i),"
		" w AS (SELECT v.*, CASE WHEN v.method IS NOT NULL"
		" THEN nextval('audit_log_id_seq') END AS aid FROM v JOIN u USING (i)),"
		" h AS (INSERT INTO twin_history (device_id, version, sections, actor_kind, actor,"
		" patch) SELECT device_id, version, string_to_array(sections, ','), actor_kind,"
		" actor, patch FROM w),"
		" a AS (INSERT INTO audit_log (id, subject, jti, method, path, route, params,"
		" target, status, request_id) SELECT aid, subject, jti, method, path, route,"
		" params, target, status, request_id FROM w WHERE aid IS NOT NULL)"
		" SELECT i, aid FROM w",
		0};
	struct buf col[COLS];
	const char *p[COLS];
	enum store_qs qs = STORE_HARD;
	PGresult *res = NULL;
	int rc = 0;

	for (int k = 0; k < COLS; k++)
		buf_init(&col[k], SIZE_MAX);
	for (size_t i = 0; i < n; i++) {
		const struct store_twin *t = w[i].t;
		const struct store_twin_change *h = w[i].h;
		const struct store_audit_new *a = w[i].a;
		char version[24], status[12], idx[24];

		snprintf(version, sizeof version, "%lld", t->version);
		snprintf(status, sizeof status, "%u", a ? a->status : 0);
		snprintf(idx, sizeof idx, "%zu", i);
		const char *v[COLS] = {t->device_id,
				       t->etag,
				       version,
				       t->tags,
				       t->desired,
				       w[i].read_etag,
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
				       a ? a->request_id : NULL,
				       idx};
		for (int k = 0; k < COLS; k++)
			rc |= store_array_add(&col[k], v[k]);
		w[i].written = false;
		w[i].audit_id = 0;
	}
	for (int k = 0; k < COLS && rc == 0; k++)
		if ((p[k] = store_array_end(&col[k])) == NULL)
			rc = -1;
	if (rc == 0 && (res = store_exec(c, &st, COLS, p, &qs)) != NULL) {
		for (int r = 0; r < PQntuples(res); r++) {
			long long i = store_value_ll(res, r, 0);

			if (i >= 0 && (size_t)i < n) {
				w[i].written = true;
				w[i].audit_id = store_value_ll(res, r, 1);
			}
		}
	}
	PQclear(res);
	for (int k = 0; k < COLS; k++)
		buf_free(&col[k]);
	return qs;
}
