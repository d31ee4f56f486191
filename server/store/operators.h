/* Queries on operator tokens and the audit log, as typed rows. Each takes
 * a handle, so several share one transaction; rendering is the caller's. */
#ifndef ORCHARD_STORE_OPERATORS_H
#define ORCHARD_STORE_OPERATORS_H
#include <stddef.h>

#include "server/store/store.h"

/* One operator token (never the token itself). Times are seconds since the
 * epoch. Rows filled by a query own their strings: store_token_free(). */
struct store_token {
	char *jti;
	char *subject;
	char *scopes; /* space-separated */
	char *issuer; /* jti of the token that minted it; NULL for the CLI */
	long long issued_at, expires_at;
	long long revoked_at; /* 0 while valid */
};
void store_token_free(struct store_token *t);

/* Records t (only jti, subject, scopes, issuer and expires_at are read; the
 * caller keeps its strings). An issuer that does not exist is a hard error:
 * lock it first with store_lock_token(). STORE_CONFLICT for a jti in use. */
enum store_qs store_insert_token(struct store_conn *c, const struct store_token *t);

/* Fetches one token into *out (zeroed first). */
enum store_qs store_select_token(struct store_conn *c, const char *jti, struct store_token *out);

/* Inside a transaction: holds the unrevoked token jti against revocation
 * until the transaction ends and reads its expiry. STORE_NONE when it is
 * revoked or unknown. */
enum store_qs store_lock_token(struct store_conn *c, const char *jti, long long *expires_at);

/* Inside a transaction: revokes jti and every token minted from it, at any
 * depth, announcing each on EVENTS_TOKEN_REVOKED. Returns how many were
 * revoked: STORE_NONE when no such unrevoked token exists. */
enum store_qs store_revoke_token(struct store_conn *c, const char *jti);

/* An audit row to write; the caller keeps its strings. */
struct store_audit_new {
	const char *subject, *jti; /* the operator token used */
	const char *method;
	const char *path;	 /* the raw request path */
	const char *route;	 /* the route pattern, "/ops/tokens/{jti}" */
	const char *params_json; /* decoded captures as a JSON object, or NULL */
	const char *target;	 /* what the request created, or NULL */
	const char *request_id;
	unsigned status;
};

/* Writes e and announces its id on EVENTS_AUDIT when the
 * transaction commits; *id (may be NULL) receives the new row's id. */
enum store_qs store_insert_audit(struct store_conn *c, const struct store_audit_new *e,
				 long long *id);

/* One audit row, owning its strings. */
struct store_audit_entry {
	long long id;
	long long at; /* seconds since the epoch */
	char *subject, *jti, *method, *path;
	char *route, *params_json, *target; /* NULL on rows older than them */
	char *request_id;
	int status;
};

struct store_audit_page {
	struct store_audit_entry *items;
	size_t n;
};
/* Frees every entry and resets p; accepts an empty page. */
void store_audit_page_free(struct store_audit_page *p);

/* Up to limit entries with id < before (0: from the newest), newest first. */
enum store_qs store_select_audit(struct store_conn *c, long long before, int limit,
				 struct store_audit_page *out);

/* Up to limit entries with id > after_id, oldest first: what a watcher
 * that has seen after_id has missed. */
enum store_qs store_select_audit_after(struct store_conn *c, long long after_id, int limit,
				       struct store_audit_page *out);

#endif
