/* Queries on operator tokens and the audit log. The only callers of these
 * tables; SQL stays in the .c files beside each binding. */
#ifndef ORCHARD_STORE_OPERATORS_H
#define ORCHARD_STORE_OPERATORS_H
#include <jansson.h>

#include "server/store/store.h"

/* Records an issued token (never the token itself). */
enum store_qs store_insert_token(struct store *s, const char *jti, const char *subject,
				 const char *scopes, long expires_at);

/* Fetches one token's metadata as a new JSON object in *out. */
enum store_qs store_select_token(struct store *s, const char *jti, json_t **out);

/* Marks a token revoked and announces it on REVOCATIONS_CHANNEL in the
 * same statement. STORE_NONE when no such unrevoked token exists. */
enum store_qs store_revoke_token(struct store *s, const char *jti);

struct audit_entry {
	const char *subject, *jti, *method, *path, *request_id;
	unsigned status;
};
enum store_qs store_insert_audit(struct store *s, const struct audit_entry *e);

/* Up to limit entries with id < before (0: from the newest), newest first,
 * as a new JSON array in *out. */
enum store_qs store_select_audit(struct store *s, long long before, int limit, json_t **out);

/* Up to limit entries with id > after, oldest first. */
enum store_qs store_select_audit_after(struct store *s, long long after, int limit, json_t **out);

#endif
