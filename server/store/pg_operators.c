/* SQL for operator tokens and the audit trail. Timestamps leave the
 * database as RFC 3339 UTC strings so handlers pass them through untouched. */
#include <stdio.h>
#include <stdlib.h>

#include "server/store/events.h"
#include "server/store/revocations.h"
#include "server/store/operators.h"

#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Acquires a connection, runs one statement, releases. */
static PGresult *exec_once(struct store *s, struct store_stmt *st, int n, const char *const *p,
			   enum store_qs *qs)
{
	struct store_conn *c = store_acquire(s, 2000);
	PGresult *res;

	if (c == NULL) {
		*qs = STORE_HARD;
		return NULL;
	}
	res = store_exec(c, st, n, p, qs);
	store_release(s, c);
	return res;
}

enum store_qs store_insert_token(struct store *s, const char *jti, const char *subject,
				 const char *scopes, long expires_at)
{
	static struct store_stmt st = {
		"insert_token",
		"INSERT INTO operator_tokens (jti, subject, scopes, expires_at)"
		" VALUES ($1, $2, $3, to_timestamp($4))",
		0};
	char exp[24];
	const char *p[] = {jti, subject, scopes, exp};
	enum store_qs qs;

	snprintf(exp, sizeof exp, "%ld", expires_at);
	PQclear(exec_once(s, &st, 4, p, &qs));
	return qs;
}

enum store_qs store_select_token(struct store *s, const char *jti, json_t **out)
{
	static struct store_stmt st = {
		"select_token",
		"SELECT jti, subject, scopes, " RFC3339("issued_at") ", " RFC3339(
			"expires_at") ", " RFC3339("revoked_at") " FROM operator_tokens WHERE jti = $1",
		0};
	const char *p[] = {jti};
	enum store_qs qs;
	PGresult *res = exec_once(s, &st, 1, p, &qs);

	*out = NULL;
	if (qs == STORE_ONE) {
		*out = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:o}", "jti", PQgetvalue(res, 0, 0), "subject",
			PQgetvalue(res, 0, 1), "scope", PQgetvalue(res, 0, 2), "issued_at",
			PQgetvalue(res, 0, 3), "expires_at", PQgetvalue(res, 0, 4), "revoked_at",
			PQgetisnull(res, 0, 5) ? json_null() : json_string(PQgetvalue(res, 0, 5)));
		if (*out == NULL)
			qs = STORE_HARD;
	}
	PQclear(res);
	return qs;
}

enum store_qs store_revoke_token(struct store *s, const char *jti)
{
	static struct store_stmt st = {"revoke_token",
				       "WITH r AS (UPDATE operator_tokens SET revoked_at = now()"
				       " WHERE jti = $1 AND revoked_at IS NULL RETURNING jti)"
				       " SELECT pg_notify('" REVOCATIONS_CHANNEL "', jti) FROM r",
				       0};
	const char *p[] = {jti};
	enum store_qs qs;

	PQclear(exec_once(s, &st, 1, p, &qs));
	return qs;
}

enum store_qs store_insert_audit(struct store *s, const struct audit_entry *e)
{
	static struct store_stmt st = {
		"insert_audit",
		"WITH a AS (INSERT INTO audit_log (subject, jti, method, path, status, request_id)"
		" VALUES ($1, $2, $3, $4, $5, $6) RETURNING id)"
		" SELECT pg_notify('" EVENTS_AUDIT "', id::text) FROM a",
		0};
	char status[8];
	const char *p[] = {e->subject, e->jti, e->method, e->path, status, e->request_id};
	enum store_qs qs;

	snprintf(status, sizeof status, "%u", e->status);
	PQclear(exec_once(s, &st, 6, p, &qs));
	return qs;
}

/* Newest first before a cursor, or oldest first after one (ascending). */
static enum store_qs store_select_audit_page(struct store *s, long long cursor, int ascending,
					     int limit, json_t **out)
{
	static struct store_stmt desc = {
		"select_audit",
		"SELECT id, " RFC3339(
			"at") ", subject, jti, method, path, status, request_id"
			      " FROM audit_log WHERE $1::bigint = 0 OR id < $1::bigint ORDER BY id DESC LIMIT $2",
		0};
	static struct store_stmt asc = {
		"select_audit_after",
		"SELECT id, " RFC3339(
			"at") ", subject, jti, method, path, status, request_id"
			      " FROM audit_log WHERE id > $1::bigint ORDER BY id LIMIT $2",
		0};
	char b[24], l[12];
	const char *p[] = {b, l};
	enum store_qs qs;
	PGresult *res;

	snprintf(b, sizeof b, "%lld", cursor);
	snprintf(l, sizeof l, "%d", limit);
	res = exec_once(s, ascending ? &asc : &desc, 2, p, &qs);
	*out = NULL;
	if (qs >= 0) {
		*out = json_array();
		for (int i = 0; *out != NULL && i < PQntuples(res); i++) {
			json_t *row = json_pack(
				"{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "id",
				(json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "at",
				PQgetvalue(res, i, 1), "subject", PQgetvalue(res, i, 2), "jti",
				PQgetvalue(res, i, 3), "method", PQgetvalue(res, i, 4), "path",
				PQgetvalue(res, i, 5), "status",
				(int)strtol(PQgetvalue(res, i, 6), NULL, 10), "request_id",
				PQgetvalue(res, i, 7));
			if (row == NULL || json_array_append_new(*out, row) != 0) {
				json_decref(*out);
				*out = NULL;
			}
		}
		if (*out == NULL)
			qs = STORE_HARD;
	}
	PQclear(res);
	return qs;
}

enum store_qs store_select_audit(struct store *s, long long before, int limit, json_t **out)
{
	return store_select_audit_page(s, before, 0, limit, out);
}

enum store_qs store_select_audit_after(struct store *s, long long after, int limit, json_t **out)
{
	return store_select_audit_page(s, after, 1, limit, out);
}
