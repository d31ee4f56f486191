/* ACME glue in orchardd: nonces shared through PostgreSQL, the JWS
 * authentication kind (RFC 8555 section 6.2-6.5), URLs and accounts. The
 * JOSE itself is acme/'s; SQL is server/store/'s. */
#include "server/acme.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/jsonb.h"
#include "common/log.h"
#include "server/acme_keycache.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/store/store.h"

struct nonce_cls {
	const char *nonce;
	bool fresh;
};

/* Nonces are issued in batches: each MHD thread records ACME_NONCE_BATCH
 * random nonces in one INSERT and hands them out one per reply, so a reply
 * costs no round trip for its Replay-Nonce (it cost one INSERT each). The
 * table stays the only truth: any orchardd takes any recorded nonce once.
 * A batch older than half the TTL is dropped (its rows expire and are
 * purged), so a nonce handed out has at least half its TTL left. */
#define ACME_NONCE_BATCH 32

struct nonce_pool {
	char nonce[ACME_NONCE_BATCH][ACME_NONCE_MAX];
	size_t next, n;
	long long filled;
};

static _Thread_local struct nonce_pool pool;

static enum store_qs insert_nonces_cb(struct store_conn *c, void *cls)
{
	struct nonce_pool *p = cls;
	const char *v[ACME_NONCE_BATCH];

	for (size_t i = 0; i < p->n; i++)
		v[i] = p->nonce[i];
	return store_insert_acme_nonces(c, v, p->n, ACME_NONCE_TTL_S);
}

static bool nonce_pool_fill(struct server *srv, struct nonce_pool *p, long long now)
{
	uint8_t raw[ACME_NONCE_BATCH][16];

	p->next = p->n = 0;
	if (RAND_bytes(&raw[0][0], sizeof raw) != 1)
		return false;
	for (size_t i = 0; i < ACME_NONCE_BATCH; i++) {
		char *s = b64_encode(raw[i], sizeof raw[i], 1);
		if (s == NULL)
			return false;
		snprintf(p->nonce[i], ACME_NONCE_MAX, "%s", s);
		free(s);
	}
	p->n = ACME_NONCE_BATCH;
	if (store_run(srv->store, insert_nonces_cb, p) < 0) {
		p->n = 0;
		return false;
	}
	p->filled = now;
	return true;
}

static enum store_qs purge_cb(struct store_conn *c, void *cls)
{
	(void)cls;
	return store_purge_acme_nonces(c);
}

static enum store_qs take_nonce_cb(struct store_conn *c, void *cls)
{
	struct nonce_cls *n = cls;

	return store_take_acme_nonce(c, n->nonce, &n->fresh);
}

const char *acme_nonce_issue(struct server *srv, char out[ACME_NONCE_MAX])
{
	long long now = (long long)time(NULL), last = atomic_load(&srv->acme_nonce_sweep);

	/* One request a minute per process pays for the sweep. */
	if (now - last >= ACME_NONCE_SWEEP_S &&
	    atomic_compare_exchange_strong(&srv->acme_nonce_sweep, &last, now) &&
	    store_run(srv->store, purge_cb, NULL) < 0)
		log_kv(LOG_WARN, "acme: could not purge expired nonces", NULL);
	if ((pool.next >= pool.n || now - pool.filled >= ACME_NONCE_TTL_S / 2) &&
	    !nonce_pool_fill(srv, &pool, now))
		return NULL;
	snprintf(out, ACME_NONCE_MAX, "%s", pool.nonce[pool.next]);
	/* Handed out once: forget it here. */
	OPENSSL_cleanse(pool.nonce[pool.next], ACME_NONCE_MAX);
	pool.next++;
	return out;
}

static bool host_plain(const char *host)
{
	size_t n = host ? strlen(host) : 0;

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)host[i]) && strchr(".-:[]", host[i]) == NULL)
			return false;
	return true;
}

/* Why the Host header is only a fallback: it is the client's to choose,
 * so URLs built from it (the account URL in Location, every URL a JWS
 * must sign) would follow whatever name a client sends. The base comes
 * from --acme-base-url or the first listen address; only a wildcard
 * listen address (0.0.0.0, ::), which names no host, leaves it empty, and
 * then the Host header, checked to be a plain host[:port], is all there
 * is (logged at start). */
int acme_base_init(struct server *srv, const char *listen_spec, unsigned port)
{
	const char *base = srv->cfg.acme_base_url;
	char host[256];
	const char *colon;
	size_t n;

	if (base != NULL) {
		/* https://host[:port], nothing more: a path, user info or query would
		 * break every URL we build on it. */
		if (strncmp(base, "https://", 8) != 0 || !host_plain(base + 8) ||
		    strlen(base) >= sizeof srv->acme_base) {
			log_kv(LOG_ERROR, "--acme-base-url wants https://host[:port]", "url", base,
			       NULL);
			return -1;
		}
		snprintf(srv->acme_base, sizeof srv->acme_base, "%s", base);
		return 0;
	}
	colon = strrchr(listen_spec, ':');
	n = colon ? (size_t)(colon - listen_spec) : strlen(listen_spec);
	if (n >= sizeof host)
		return -1;
	memcpy(host, listen_spec, n);
	host[n] = '\0';
	if (n == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0 ||
	    strcmp(host, "::") == 0) {
		srv->acme_base[0] = '\0';
		log_kv(LOG_WARN,
		       "acme: listening on a wildcard address and no --acme-base-url: ACME URLs "
		       "follow the Host header",
		       NULL);
		return 0;
	}
	if (snprintf(srv->acme_base, sizeof srv->acme_base, "https://%.200s:%u", host, port) >=
	    (int)sizeof srv->acme_base)
		return -1;
	return 0;
}

bool acme_url(struct request *req, const char *path, char *out, size_t len)
{
	const char *host;

	if (req->srv->acme_base[0] != '\0')
		return snprintf(out, len, "%s%s", req->srv->acme_base, path) < (int)len;
	host = request_header(req, MHD_HTTP_HEADER_HOST);
	if (!host_plain(host))
		return false;
	return snprintf(out, len, "https://%s%s", host, path) < (int)len;
}

void acme_auth_free(struct acme_auth *a)
{
	if (a == NULL)
		return;
	acme_jws_free(&a->jws);
	acme_jwk_free(&a->key);
	store_acme_account_free(&a->account);
	free(a->late_jwk);
	free(a);
}

struct account_cls {
	const char *id;
	struct store_acme_account *out;
};

static enum store_qs account_cb(struct store_conn *c, void *cls)
{
	struct account_cls *a = cls;

	return store_select_acme_account(c, a->id, a->out);
}

/* The account id a kid names: our own account URL, then a plain id. */
static const char *kid_account_id(struct request *req, const char *kid)
{
	char prefix[ACME_URL_MAX];
	size_t n;
	const char *id;

	if (!acme_url(req, "/acme/account/", prefix, sizeof prefix))
		return NULL;
	n = strlen(prefix);
	if (strncmp(kid, prefix, n) != 0)
		return NULL;
	id = kid + n;
	if (*id == '\0' || strlen(id) > 64)
		return NULL;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return NULL;
	return id;
}

static bool refuse(struct request *req, enum err_code *err, enum err_code code, const char *detail)
{
	*err = code;
	/* Section 6.2: badSignatureAlgorithm lists the algorithms we take. */
	if (code == ERR_ACME_BAD_SIGNATURE_ALGORITHM && req->refusal_ext == NULL)
		req->refusal_ext = json_pack("{s:[s,s,s,s]}", "algorithms", "ES256", "ES384",
					     "RS256", "EdDSA");
	snprintf(req->refusal_detail, sizeof req->refusal_detail, "%s", detail);
	return false;
}

static bool payload_take(struct request *req, struct acme_auth *a, enum err_code *err);

struct fast_cls {
	const char *id, *nonce, *jwk;
	struct store_acme_account *out;
	enum store_nonce_state nonce_state;
};

static enum store_qs fast_cb(struct store_conn *c, void *cls)
{
	struct fast_cls *f = cls;

	return store_take_acme_nonce_account(c, f->id, f->nonce, f->jwk, f->out, &f->nonce_state);
}

/* The verdict on a kid request whose signature verified with the cached
 * key text, once a statement has read the account (qs, a->account) and
 * tried the nonce (ns) on the condition that the account is valid and
 * still holds that key. 1: accepted; 0: refused (*err); -1: the stored key
 * is another one (another orchardd changed it): nothing was used up, the
 * request must be checked again with the stored key. */
static int kid_verdict(struct request *req, struct acme_auth *a, enum store_qs qs,
		       enum store_nonce_state ns, const char *text, enum err_code *err)
{
	if (qs < 0)
		return refuse(req, err, ERR_DB_UNAVAILABLE, "");
	if (qs == STORE_NONE)
		return refuse(req, err, ERR_ACME_ACCOUNT_DOES_NOT_EXIST, "no such account");
	if (strcmp(a->account.jwk, text) != 0)
		return -1;
	if (strcmp(a->account.status, "valid") != 0)
		return refuse(req, err, ERR_ACME_UNAUTHORIZED, "the account is not valid");
	if (ns == STORE_NONCE_UNKNOWN)
		return refuse(req, err, ERR_ACME_BAD_NONCE, "the nonce is unknown or used");
	if (ns == STORE_NONCE_EXPIRED)
		return refuse(req, err, ERR_ACME_BAD_NONCE, "the nonce has expired");
	return 1;
}

/* A kid request whose account key is cached: verify with it first, then
 * read the account and use the nonce up in one round trip (two before).
 * Returns 1 when that decided the request (*ok the outcome), 0 when the
 * caller must go the long way (no cached key, the signature does not
 * verify with it, or the stored key changed: nothing was used up then).
 * With late (the route's ACME_LATE) the statement is the handler's:
 * the request is accepted here as far as its signature goes, and
 * acme_late_settle() decides the rest. */
static int kid_fast(struct request *req, struct acme_auth *a, const char *id, bool late, bool *ok,
		    enum err_code *err)
{
	struct acme_jwk key = {0};
	struct acme_err e;
	char *text = NULL;
	struct fast_cls f = {id, a->jws.nonce, NULL, &a->account, STORE_NONCE_UNKNOWN};
	enum store_qs qs;
	int decided = 0, v;

	if (strlen(a->jws.nonce) >= ACME_NONCE_MAX || acme_keycache_get(id, &key, &text) != 0)
		return 0;
	if (acme_jwk_verify(&a->jws, &key, &e) != 0)
		goto out;
	if (late) {
		a->late_id = id;
		a->late_jwk = text;
		text = NULL;
		*ok = true;
		decided = 1;
		goto keep;
	}
	f.jwk = text;
	qs = store_run(req->srv->store, fast_cb, &f);
	v = kid_verdict(req, a, qs, f.nonce_state, text, err);
	if (v < 0) {
		/* Another orchardd changed the key: the long way, with the row read. */
		store_acme_account_free(&a->account);
		goto out;
	}
	decided = 1;
	*ok = v == 1;
	a->has_account = qs == STORE_ONE;
keep:
	a->key = key;
	memset(&key, 0, sizeof key);
out:
	acme_jwk_free(&key);
	free(text);
	return decided;
}

bool acme_late_settle_now(struct request *req, int *ret)
{
	struct acme_auth *a = req->acme;
	struct fast_cls f;
	enum store_qs qs;

	if (a == NULL || a->late_jwk == NULL)
		return true;
	f = (struct fast_cls){a->late_id, a->jws.nonce, a->late_jwk, &a->account,
			      STORE_NONCE_UNKNOWN};
	qs = store_run(req->srv->store, fast_cb, &f);
	return acme_late_settle(req, qs, f.nonce_state, ret);
}

struct store_acme_late *acme_late(struct request *req, struct store_acme_late *buf)
{
	struct acme_auth *a = req->acme;

	if (a == NULL || a->late_jwk == NULL)
		return NULL;
	*buf = (struct store_acme_late){a->late_id, a->jws.nonce, a->late_jwk, &a->account,
					STORE_NONCE_UNKNOWN};
	return buf;
}

bool acme_late_settle(struct request *req, enum store_qs qs, enum store_nonce_state ns, int *ret)
{
	struct acme_auth *a = req->acme;
	struct acme_err e;
	enum err_code err = ERR_ACME_SERVER_INTERNAL;
	struct nonce_cls n = {a->jws.nonce, false};
	int v;

	if (a->late_jwk == NULL) /* settled by the authentication kind */
		return true;
	v = kid_verdict(req, a, qs, ns, a->late_jwk, &err);
	if (v < 0) {
		/* The stored key is another one: check the signature with it, as
		 * the long way would, then take the nonce on its own. */
		struct acme_jwk key = {0};
		a->has_account = true;
		v = 0;
		if (acme_keycache_parse(a->late_id, a->account.jwk, &key, &e) != 0)
			refuse(req, &err, ERR_ACME_SERVER_INTERNAL,
			       "the account's stored key is unusable");
		else if (acme_jwk_verify(&a->jws, &key, &e) != 0)
			refuse(req, &err, e.code, e.detail);
		else if (strcmp(a->account.status, "valid") != 0)
			refuse(req, &err, ERR_ACME_UNAUTHORIZED, "the account is not valid");
		else if ((qs = store_run(req->srv->store, take_nonce_cb, &n)) < 0)
			refuse(req, &err, ERR_DB_UNAVAILABLE, "");
		else if (qs == STORE_NONE)
			refuse(req, &err, ERR_ACME_BAD_NONCE, "the nonce is unknown or used");
		else if (!n.fresh)
			refuse(req, &err, ERR_ACME_BAD_NONCE, "the nonce has expired");
		else
			v = 1;
		acme_jwk_free(&a->key);
		a->key = key;
	}
	free(a->late_jwk);
	a->late_jwk = NULL;
	if (v == 1) {
		a->has_account = true;
		return true;
	}
	json_t *ext = req->refusal_ext;
	req->refusal_ext = NULL;
	*ret = reply_problem_ext(__FILE__, __LINE__, req, err, ext, req->refusal_detail);
	return false;
}

bool acme_authn_check(struct request *req, unsigned keys, enum err_code *err)
{
	struct acme_auth *a = calloc(1, sizeof *a);
	struct acme_err e;
	char url[ACME_URL_MAX];
	struct nonce_cls n;
	enum store_qs qs;

	if (a == NULL)
		return refuse(req, err, ERR_ACME_SERVER_INTERNAL, "out of memory");
	req->acme = a;
	if (acme_jws_parse(req->json, &a->jws, &e) != 0)
		return refuse(req, err, e.code, e.detail);
	/* Section 6.4: the url the client signed is the one it sent to. */
	if (!acme_url(req, req->path, url, sizeof url))
		return refuse(req, err, ERR_ACME_MALFORMED, "the Host header is not a plain host");
	if (strcmp(url, a->jws.url) != 0)
		return refuse(req, err, ERR_ACME_UNAUTHORIZED,
			      "the JWS \"url\" is not the URL of this request");
	if (a->jws.jwk != NULL && !(keys & ACME_JWK))
		return refuse(req, err, ERR_ACME_MALFORMED,
			      "this resource takes an account's \"kid\", not a \"jwk\"");
	if (a->jws.kid != NULL && !(keys & ACME_KID))
		return refuse(req, err, ERR_ACME_MALFORMED,
			      "this resource takes a \"jwk\", not a \"kid\"");
	if (a->jws.jwk != NULL) {
		if (acme_jwk_parse(a->jws.jwk, &a->key, &e) != 0)
			return refuse(req, err, e.code, e.detail);
	} else {
		struct account_cls ac = {kid_account_id(req, a->jws.kid), &a->account};
		bool ok = false;
		if (ac.id == NULL)
			return refuse(req, err, ERR_ACME_ACCOUNT_DOES_NOT_EXIST,
				      "\"kid\" is not an account URL of this server");
		if (kid_fast(req, a, ac.id, (keys & ACME_LATE) != 0, &ok, err))
			return ok ? payload_take(req, a, err) : false;
		qs = store_run(req->srv->store, account_cb, &ac);
		if (qs < 0)
			return refuse(req, err, ERR_DB_UNAVAILABLE, "");
		if (qs == STORE_NONE)
			return refuse(req, err, ERR_ACME_ACCOUNT_DOES_NOT_EXIST, "no such account");
		a->has_account = true;
		if (acme_keycache_parse(ac.id, a->account.jwk, &a->key, &e) != 0)
			return refuse(req, err, ERR_ACME_SERVER_INTERNAL,
				      "the account's stored key is unusable");
	}
	if (acme_jwk_verify(&a->jws, &a->key, &e) != 0)
		return refuse(req, err, e.code, e.detail);
	/* Section 7.3.6: a deactivated account's key authorizes nothing. */
	if (a->has_account && strcmp(a->account.status, "valid") != 0)
		return refuse(req, err, ERR_ACME_UNAUTHORIZED, "the account is not valid");
	/* The nonce is used up last: a request refused above leaves it. */
	n.nonce = a->jws.nonce;
	if (strlen(n.nonce) >= ACME_NONCE_MAX)
		return refuse(req, err, ERR_ACME_BAD_NONCE, "unknown nonce");
	qs = store_run(req->srv->store, take_nonce_cb, &n);
	if (qs < 0)
		return refuse(req, err, ERR_DB_UNAVAILABLE, "");
	if (qs == STORE_NONE)
		return refuse(req, err, ERR_ACME_BAD_NONCE, "the nonce is unknown or used");
	if (!n.fresh)
		return refuse(req, err, ERR_ACME_BAD_NONCE, "the nonce has expired");
	return payload_take(req, a, err);
}

/* Handlers parse the payload as their JSON body. */
static bool payload_take(struct request *req, struct acme_auth *a, enum err_code *err)
{
	json_decref(req->json);
	req->json = NULL;
	a->post_as_get = a->jws.payload_len == 0;
	if (!a->post_as_get) {
		json_error_t jerr;
		req->json = jsonb_flat((const char *)a->jws.payload, a->jws.payload_len);
		if (req->json == NULL)
			req->json = json_loadb((const char *)a->jws.payload, a->jws.payload_len,
					       JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(req->json))
			return refuse(req, err, ERR_ACME_MALFORMED,
				      "the JWS payload must be a JSON object or empty");
	}
	return true;
}

json_t *acme_account_json(struct request *req, const struct store_acme_account *a)
{
	char orders[ACME_URL_MAX], path[128];
	json_t *contact = json_loads(a->contact, 0, NULL);

	snprintf(path, sizeof path, "/acme/account/%s/orders", a->id);
	if (!acme_url(req, path, orders, sizeof orders))
		orders[0] = '\0';
	return json_pack("{s:s, s:o, s:b, s:s}", "status", a->status, "contact",
			 contact ? contact : json_array(), "termsOfServiceAgreed", a->tos_agreed,
			 "orders", orders);
}

int acme_reply_json(struct request *req, unsigned status, json_t *body, const char *location,
		    const char *link_url, const char *link_rel)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	return acme_reply_text(req, status, text, text ? strlen(text) : 0, location, link_url,
			       link_rel);
}

int acme_reply_text(struct request *req, unsigned status, char *text, size_t len,
		    const char *location, const char *link_url, const char *link_rel)
{
	struct MHD_Response *resp;
	int ret;

	if (req->acme != NULL && req->acme->late_jwk != NULL) {
		/* An ACME_LATE handler answering before its nonce was taken: a
		 * bug, and never a success with a replayable nonce. */
		free(text);
		log_kv(LOG_ERROR, "acme: a reply before acme_late_settle()", "path", req->path,
		       NULL);
		return reply_problem(req, ERR_ACME_SERVER_INTERNAL, NULL);
	}
	if (text == NULL)
		return MHD_NO;
	if ((resp = reply_response_owning(text, len)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (location != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	if (req->retry_after_s > 0) { /* section 8.2: when to poll again */
		char after[24];
		snprintf(after, sizeof after, "%ld", req->retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, after);
	}
	if (link_url != NULL) {
		char link[ACME_URL_MAX + 32];
		snprintf(link, sizeof link, "<%s>;rel=\"%s\"", link_url, link_rel);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LINK, link);
	}
	ret = reply_queue(req, status, resp);
	MHD_destroy_response(resp);
	return ret;
}
