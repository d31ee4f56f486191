/* Queries on ACME state: nonces and accounts, as typed rows. Each takes a
 * handle, so several share one transaction; rendering is the caller's. */
#ifndef ORCHARD_STORE_ACME_H
#define ORCHARD_STORE_ACME_H
#include <stdbool.h>
#include <stddef.h>

#include "server/store/store.h"

/* Records the n nonces (base64url), each valid for ttl_s seconds of the
 * database's clock, in one statement. */
enum store_qs store_insert_acme_nonces(struct store_conn *c, const char *const *nonces, size_t n,
				       int ttl_s);

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

/* What store_take_acme_nonce_account() did with the nonce. */
enum store_nonce_state {
	STORE_NONCE_UNKNOWN, /* not taken: unknown, used, or not tried (see below) */
	STORE_NONCE_FRESH,   /* taken, unexpired */
	STORE_NONCE_EXPIRED, /* taken, past its expiry */
};

/* Reads account id into *out (store_acme_account_free()) and, in the same
 * statement, uses nonce up when the account is valid and its stored jwk
 * equals jwk (the key the caller verified the request with); otherwise
 * the nonce is left alone. STORE_NONE when there is no such account. */
enum store_qs store_take_acme_nonce_account(struct store_conn *c, const char *id, const char *nonce,
					    const char *jwk, struct store_acme_account *out,
					    enum store_nonce_state *nonce_state);

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

/* Replaces account id's key when it is still old_thumbprint's and the
 * account valid; the row after the change into *out. STORE_NONE when the
 * key changed meanwhile, STORE_CONFLICT when another account holds the
 * new key. */
enum store_qs store_update_acme_account_key(struct store_conn *c, const char *id,
					    const char *old_thumbprint, const char *thumbprint,
					    const char *jwk, struct store_acme_account *out);

/* External account binding keys (section 7.3.4): record one (hmac_key
 * base64url; created_by the operator's subject, may be NULL), read an
 * unspent one's key into *hmac_key (free()), and spend it on account
 * (STORE_NONE when spent or unknown). */
enum store_qs store_insert_acme_eab_key(struct store_conn *c, const char *kid, const char *hmac_key,
					const char *created_by);
enum store_qs store_select_acme_eab_key(struct store_conn *c, const char *kid, char **hmac_key);
enum store_qs store_bind_acme_eab_key(struct store_conn *c, const char *kid, const char *account);

/* Orders, authorizations and challenges (migration 0006). Status columns
 * read here are the computed state (acme_order_state, acme_authz_state):
 * expiry included. Rows own their strings: the matching _free(). */
struct store_acme_order {
	char *id;
	char *account_id;
	char *status;
	char *identifiers; /* JSON array text of {type, value} */
	char *authz_ids;   /* JSON array text of ids */
	char *profile;	   /* NULL: none named */
	char *error;	   /* JSON text or NULL */
	long long expires_at;
	char *certificate; /* serial of the certificate issued (valid), or NULL */
	char *replaces;	   /* serial of the certificate it renews (RFC 9773), or NULL */
};
void store_acme_order_free(struct store_acme_order *o);

struct store_acme_authz {
	char *id;
	char *account_id;
	char *type;  /* "dns" or "ip" */
	char *value; /* without "*." */
	bool wildcard;
	char *status;
	char *challenges; /* JSON array text of {id, type, token, status, validated, error} */
	long long expires_at;
};
void store_acme_authz_free(struct store_acme_authz *a);

/* A challenge with what validating it needs: its authorization's
 * identifier and state, and the account's current key thumbprint. */
struct store_acme_chall {
	char *id;
	char *authz_id;
	char *account_id;
	char *type;
	char *token;
	char *status;
	char *ident_type;
	char *ident_value;
	bool wildcard;
	char *authz_status;
	char *thumbprint;
};
void store_acme_chall_free(struct store_acme_chall *ch);

/* The id of a valid, unexpired authorization of account for this
 * identifier, still valid in min_ttl_s seconds, into *id (free()).
 * STORE_NONE when there is none. */
enum store_qs store_select_acme_authz_reusable(struct store_conn *c, const char *account,
					       const char *type, const char *value, bool wildcard,
					       int min_ttl_s, char **id);

/* Records a pending authorization with one challenge per entry of
 * chall_ids/types/tokens (n of them), living ttl_s seconds. */
enum store_qs store_insert_acme_authz(struct store_conn *c, const char *id, const char *account,
				      const char *type, const char *value, bool wildcard, int ttl_s,
				      size_t n, const char *const *chall_ids,
				      const char *const *types, const char *const *tokens);

/* A new pending authorization with its n challenges, for
 * store_insert_acme_order_one(): used only when reuse is false or the
 * account has no valid authorization for the identifier that lasts
 * reuse_min_s more seconds. */
struct store_acme_authz_new {
	const char *id, *type, *value;
	bool wildcard, reuse;
	int reuse_min_s, ttl_s;
	size_t n;
	const char *const *chall_ids, *const *types, *const *tokens;
};

struct store_acme_late;

/* newOrder for one identifier and no replaces in one statement: the
 * reused or new authorization a, then order id, read back into *out
 * (store_acme_order_free()). late not NULL (ACME_LATE): the signer's
 * account is read into late and its nonce taken in the same statement,
 * and nothing is written unless late->nonce_state is STORE_NONCE_FRESH
 * (*out's id is NULL then); STORE_NONE when there is no such account. */
enum store_qs store_insert_acme_order_one(struct store_conn *c, const char *id, const char *account,
					  const char *identifiers, const char *profile, int ttl_s,
					  const struct store_acme_authz_new *a,
					  struct store_acme_late *late,
					  struct store_acme_order *out);

/* Records an order (identifiers: JSON array text; authz_ids: n ids;
 * replaces: a certificate serial or NULL) and reads it back, state
 * computed, into *out (store_acme_order_free()) in the same statement. */
enum store_qs store_insert_acme_order(struct store_conn *c, const char *id, const char *account,
				      const char *identifiers, size_t n,
				      const char *const *authz_ids, const char *profile,
				      const char *replaces, int ttl_s,
				      struct store_acme_order *out);

/* Finalize's state machine (section 7.1.6): moves order id from the
 * served state from ("ready") to the stored state to ("valid",
 * "invalid"), setting certificate_serial when serial is not NULL and error
 * (problem JSON text) when error is not NULL. Row-locks the order, so of
 * racing finalizers one moves it. STORE_NONE
 * when the order is not in state from. The order after the change into
 * *out (store_acme_order_free()) unless out is NULL. */
enum store_qs store_update_acme_order_status(struct store_conn *c, const char *id, const char *from,
					     const char *to, const char *serial, const char *error,
					     struct store_acme_order *out);

/* Finalize's success (section 7.1.6) in one statement: order id from the
 * served state "ready" to "valid" with cert's serial, cert recorded
 * (store_insert_certificate()'s fields; acme_order_id is id), the order
 * after the change into *out (store_acme_order_free()). Of racing
 * finalizers one moves it; STORE_NONE, nothing recorded, when the order is
 * not ready. */
struct store_cert;
enum store_qs store_issue_acme_order(struct store_conn *c, const char *id,
				     const struct store_cert *cert, struct store_acme_order *out);

/* RFC 9773 replaces: the account that ordered certificate serial into
 * *account (free(); NULL when not through ACME) and whether an order that
 * has not failed already replaces it. STORE_NONE for an unknown serial. */
enum store_qs store_select_acme_replaced(struct store_conn *c, const char *serial, char **account,
					 bool *replaced);

enum store_qs store_select_acme_order(struct store_conn *c, const char *id,
				      struct store_acme_order *out);

/* A kid request's first statement (ACME_LATE) reads its signer's account
 * into *account and, when the account is valid and holds jwk, takes nonce
 * (*nonce_state, as store_take_acme_nonce_account()), and reads the object
 * the request names. */
struct store_acme_late {
	const char *account_id, *nonce, *jwk;
	struct store_acme_account *account;
	enum store_nonce_state nonce_state;
};

/* The ACME_LATE reads of an order and an authorization: *out as
 * store_select_acme_order() and _authz() fill it (its id NULL when there
 * is none). STORE_NONE when there is no such account (*out then empty
 * too). */
enum store_qs store_take_acme_nonce_order(struct store_conn *c, const char *id,
					  struct store_acme_late *late,
					  struct store_acme_order *out);
enum store_qs store_take_acme_nonce_authz(struct store_conn *c, const char *id,
					  struct store_acme_late *late,
					  struct store_acme_authz *out);

/* What store_take_acme_nonce_challenge() does with the challenge. */
enum store_chall_take {
	STORE_CHALL_READ,      /* a POST-as-GET: read it */
	STORE_CHALL_START,     /* an answer: start it too, unless device-attest-01 */
	STORE_CHALL_START_ANY, /* an answer carrying an attObj: start any type */
};

/* The ACME_LATE read of a challenge, as the order's and authorization's;
 * an answer (how not STORE_CHALL_READ) also starts it in the same
 * statement, by store_start_acme_challenge()'s rule, when the nonce is
 * taken fresh and the authorization is late->account_id's: *started says
 * whether it did. *out is the row as it was before. */
enum store_qs store_take_acme_nonce_challenge(struct store_conn *c, const char *id,
					      struct store_acme_late *late,
					      enum store_chall_take how,
					      struct store_acme_chall *out, bool *started);

/* An answer's nonce (ACME_LATE) and its validation's outcome, as
 * store_finish_acme_challenge() records it for a challenge still pending
 * (without its notify: no reader waits on a pending challenge), in one
 * statement, when the nonce is taken fresh and the authorization
 * is late->account_id's and pending: *finished says whether it recorded
 * (with *validated as there). Nothing changes otherwise. */
enum store_qs store_take_acme_nonce_finish_challenge(struct store_conn *c, const char *id,
						     struct store_acme_late *late, bool ok,
						     const char *error, int valid_ttl_s,
						     bool *finished, long long *validated);

/* The ACME_LATE read of newOrder's rate-limit counts of the signer's
 * account, as store_count_acme_limits(). */
enum store_qs store_take_acme_nonce_limits(struct store_conn *c, struct store_acme_late *late,
					   long long *orders_hour, long long *retry_after_s,
					   long long *pending_authzs);

/* The ACME_LATE read of certificate serial for its download: the account
 * that ordered it into *account_id (NULL when none or not through ACME)
 * and its DER in base64 into *der_b64 (NULL when there is no such
 * certificate); free() both. */
enum store_qs store_take_acme_nonce_cert(struct store_conn *c, const char *serial,
					 struct store_acme_late *late, char **account_id,
					 char **der_b64);

/* The account's order ids, newest first, after order after (NULL or "":
 * from the newest), at most limit + 1 of them (the extra one says another
 * page follows), as JSON array text into *ids (free()). An after that is
 * not the account's order gives an empty list. */
enum store_qs store_select_acme_orders(struct store_conn *c, const char *account, const char *after,
				       int limit, char **ids);

enum store_qs store_select_acme_authz(struct store_conn *c, const char *id,
				      struct store_acme_authz *out);

enum store_qs store_select_acme_challenge(struct store_conn *c, const char *id,
					  struct store_acme_chall *out);

/* Moves a pending challenge of a pending authorization to processing (or
 * takes back one stuck in processing for over a minute: its validator
 * died). STORE_ONE when this caller is the one to validate it. */
enum store_qs store_start_acme_challenge(struct store_conn *c, const char *id);

/* Records a validation's outcome on a processing challenge: it and its
 * authorization become valid (the authorization then lives valid_ttl_s) or invalid with
 * error (problem JSON text); announces the authorization id on
 * EVENTS_ACME_AUTHZ in the same statement. device-attest-01 also records
 * the attested key (bytea text "\\x<hex>" of its SPKI DER) and the AK
 * certificate's serial, and the quote gate's verdict (JSON text, recorded
 * whatever the outcome); NULL for other types. STORE_ONE when it moved
 * the challenge and its still undecided authorization, with *validated
 * the challenge's validated time (Unix seconds; 0 when invalid). */
enum store_qs store_finish_acme_challenge(struct store_conn *c, const char *id, bool ok,
					  const char *error, int valid_ttl_s,
					  const char *attested_key, const char *ak_serial,
					  const char *verdict, long long *validated);

/* device-attest-01: the permanent identifier account is bound to (the
 * first one it proved with a TPM) into *device (the caller frees), or
 * STORE_NONE. */
enum store_qs store_select_acme_account_device(struct store_conn *c, const char *account,
					       char **device);

/* device-attest-01 at finalize: of order_id's authorizations for
 * permanent-identifier or hardware-module, how many there are (*n) and
 * how many attested another key than spki ("\\x<hex>" of SPKI DER) or
 * none (*other). */
enum store_qs store_select_acme_attested(struct store_conn *c, const char *order_id,
					 const char *spki, long long *n, long long *other);

/* Deactivates account's pending or valid authorization id (section
 * 7.5.2), announcing it. STORE_NONE when it is in neither state. */
enum store_qs store_deactivate_acme_authz(struct store_conn *c, const char *id);

/* Rate-limit counters of an account: orders created in the last hour,
 * with the seconds until the oldest of them leaves the window, and
 * pending unexpired authorizations. */
enum store_qs store_count_acme_limits(struct store_conn *c, const char *account,
				      long long *orders_hour, long long *retry_after_s,
				      long long *pending_authzs);

/* Whether account holds a valid, unexpired authorization for every
 * identifier of identifiers (JSON array text of {type, value}; a "*.name"
 * value needs the wildcard authorization of name) into *covered; false
 * for an empty list. */
enum store_qs store_select_acme_authz_cover(struct store_conn *c, const char *account,
					    const char *identifiers, bool *covered);

#endif
