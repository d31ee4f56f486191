/* The ACME server's glue in orchardd: nonces in PostgreSQL (the
 * Replay-Nonce hook), the AUTH_ACME_JWS authentication kind, the URLs the
 * protocol names, and account rendering. Handlers: server/h_acme_*.c. */
#ifndef ORCHARD_SERVER_ACME_H
#define ORCHARD_SERVER_ACME_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "acme/jws.h"
#include "common/errors_gen.h"
#include "server/server.h"
#include "server/store/acme.h"

struct request;

/* How long a nonce is accepted, and how often expired ones are purged. */
#define ACME_NONCE_TTL_S 3600
#define ACME_NONCE_SWEEP_S 60

/* The profile of a device-attest-01 order that names none. */
#define ACME_DEVICE_PROFILE "device-client"

/* Room for an ACME URL: "https://" host path. */
#define ACME_URL_MAX 512

/* What AUTH_ACME_JWS leaves for the handler in req->acme. The payload
 * itself replaces req->json (NULL for POST-as-GET), so handlers parse it
 * with spec_parse_body() like any JSON body. */
struct acme_auth {
	struct acme_jws jws;
	struct acme_jwk key;		   /* the signing key */
	struct store_acme_account account; /* with kid: the signer's account */
	bool has_account;
	bool post_as_get;
	/* ACME_LATE, not settled yet: the account id and the cached key text
	 * the signature verified with; the handler's first statement reads the
	 * account and takes the nonce, then calls acme_late_settle(). */
	const char *late_id;
	char *late_jwk;
};
void acme_auth_free(struct acme_auth *a);

/* server->acme_nonce: makes a nonce, records it, returns out (NULL when the
 * database cannot be reached). Purges expired nonces now and then. */
const char *acme_nonce_issue(struct server *srv, char out[ACME_NONCE_MAX]);

/* The authentication kind (server/authn.c): parses and verifies the JWS in
 * req->json under RFC 8555 section 6.2 with the route's allowed key kinds,
 * loads the account for a kid, uses the nonce up last. */
bool acme_authn_check(struct request *req, unsigned keys, enum err_code *err);

/* For an ACME_LATE route: the verdict once the handler's first statement
 * has read the signer's account into req->acme->account (qs as that
 * statement's STORE_ONE or STORE_NONE when there is no such account) and
 * tried the nonce (ns): the checks of a kid request, in its order (account,
 * key, status, nonce). False: the refusal is queued in *ret. True at once
 * when the authentication kind already settled it (no cached key). */
bool acme_late_settle(struct request *req, enum store_qs qs, enum store_nonce_state ns, int *ret);

/* For an ACME_LATE handler whose first statement does not take the nonce
 * (a path that reads nothing first): takes it now as a kid request
 * would; as acme_late_settle(). */
bool acme_late_settle_now(struct request *req, int *ret);

/* *buf set up for the handler's first statement (store_take_acme_nonce_*)
 * when req is ACME_LATE and not settled yet; else NULL (read as before). */
struct store_acme_late *acme_late(struct request *req, struct store_acme_late *buf);

/* Sets srv->acme_base from --acme-base-url or, when unset, from the first
 * listen address (listen_spec "host:port", bound to port). -1 when the
 * configured URL is not https://host[:port]. */
int acme_base_init(struct server *srv, const char *listen_spec, unsigned port);

/* srv->acme_base + path into out (the Host header only when the base is
 * empty; see acme.c); false when it does not fit or Host is unusable. */
bool acme_url(struct request *req, const char *path, char *out, size_t len);

/* An account as RFC 8555 section 7.1.2 renders it. */
json_t *acme_account_json(struct request *req, const struct store_acme_account *a);

/* Queues body (stolen) with status, a Location header when location is
 * not NULL, a Link <link_url>;rel="link_rel" ("up", "next") when link_url
 * is not NULL, and Retry-After when req->retry_after_s is set (a resource
 * still processing). acme_reply_text is the same with the body as JSON
 * text (malloc'ed, stolen: freed also on failure). */
int acme_reply_text(struct request *req, unsigned status, char *text, size_t len,
		    const char *location, const char *link_url, const char *link_rel);
int acme_reply_json(struct request *req, unsigned status, json_t *body, const char *location,
		    const char *link_url, const char *link_rel);

/* Room for a random resource id (base64url of 16 bytes) with its NUL. */
/* How long a challenge answer, or a read of an authorization whose
 * validation is under way, waits suspended for the outcome (h_acme_authz.c,
 * h_acme_chall.c) before it answers processing. */
#define ACME_AUTHZ_WAIT_MS 2000

#define ACME_ID_MAX 64

/* A fresh random id (128 bits, base64url) into out; false on failure. */
bool acme_random_id(char out[ACME_ID_MAX]);

/* Whether id looks like one of ours (base64url, shorter than ACME_ID_MAX):
 * anything else is a 404 without a query. */
bool acme_id_ok(const char *id);

/* The URL prefix id suffix ("/acme/order/", id, "/finalize") as a JSON
 * string; NULL when it cannot be built. */
json_t *acme_url_json(struct request *req, const char *prefix, const char *id, const char *suffix);

/* RFC 8555 objects from store rows (server/acme_objects.c); NULL when out
 * of memory. ch is one element of a store_acme_authz's challenges. */
json_t *acme_order_json(struct request *req, const struct store_acme_order *o);
/* The same order as JSON text (*len bytes, NUL-terminated, caller frees),
 * or NULL where only acme_order_json() renders it (non-ASCII text, an
 * order that replaces another, out of memory). */
char *acme_order_text(struct request *req, const struct store_acme_order *o, size_t *len);
json_t *acme_authz_json(struct request *req, const struct store_acme_authz *a);
/* As acme_authz_json, with a's challenges already parsed (chs, borrowed). */
json_t *acme_authz_json_with(struct request *req, const struct store_acme_authz *a,
			     const json_t *chs);
json_t *acme_challenge_json(struct request *req, const json_t *ch);

/* Loads the order of the path's first parameter into *row (free with
 * store_acme_order_free()) when it is the signer's; otherwise queues the
 * refusal (404, 403) into *ret and returns false. */
bool acme_order_load(struct request *req, struct store_acme_order *row, int *ret);

/* Queues an order with its Location. */
int acme_reply_order(struct request *req, unsigned status, const struct store_acme_order *o);

#endif
