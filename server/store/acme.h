/* Queries on ACME state: nonces and accounts, as typed rows. Each takes a
 * handle, so several share one transaction; rendering is the caller's. */
#ifndef ORCHARD_STORE_ACME_H
#define ORCHARD_STORE_ACME_H
#include <stdbool.h>

#include "server/store/store.h"

/* Records nonce, valid for ttl_s seconds of the database's clock. */
enum store_qs store_insert_acme_nonce(struct store_conn *c, const char *nonce, int ttl_s);

/* Uses nonce up: deletes it and says whether it was still unexpired.
 * STORE_NONE when unknown or used already (by any orchardd). */
enum store_qs store_take_acme_nonce(struct store_conn *c, const char *nonce, bool *fresh);

/* Deletes expired nonces; returns how many. */
enum store_qs store_purge_acme_nonces(struct store_conn *c);

/* One ACME account. Rows filled by a query own their strings:
 * store_acme_account_free(). */
struct store_acme_account {
	char *id;
	char *thumbprint;
	char *jwk;     /* RFC 7638 canonical JSON */
	char *contact; /* JSON array text */
	char *status;  /* "valid", "deactivated", "revoked" */
	bool tos_agreed;
	long long created_at;
};
void store_acme_account_free(struct store_acme_account *a);

/* Records a (only id, thumbprint, jwk, contact and tos_agreed are read).
 * STORE_CONFLICT when the id or the key is taken. */
enum store_qs store_insert_acme_account(struct store_conn *c, const struct store_acme_account *a);

/* Fetches one account by id, or by key thumbprint, into *out (zeroed). */
enum store_qs store_select_acme_account(struct store_conn *c, const char *id,
					struct store_acme_account *out);
enum store_qs store_select_acme_account_by_key(struct store_conn *c, const char *thumbprint,
					       struct store_acme_account *out);

/* Updates a valid account: contact (JSON array text) when not NULL,
 * status when not NULL; announces the id on EVENTS_ACME_ACCOUNT. The row
 * after the change goes to *out. STORE_NONE when no valid account has id. */
enum store_qs store_update_acme_account(struct store_conn *c, const char *id, const char *contact,
					const char *status, struct store_acme_account *out);

#endif
