/* DPS-compatible provisioning: ID scope, assigned hub, api-versions, and
 * device SAS matching against enrollments. */
#include "server/dps.h"

#include <ctype.h>
#include <microhttpd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/b64.h"
#include "common/hex.h"
#include "common/log.h"
#include "server/client_cert.h"
#include "server/dps_sas.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/routes.h"
#include "server/server.h"
#include "server/store/dps.h"
#include "server/store/twins.h"
#include "server/twin_doc.h"
#include "server/twins.h"

bool dps_id_scope_valid(const char *s)
{
	if (s == NULL || strlen(s) < 4 || strlen(s) > 15)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p))
			return false;
	return true;
}

struct scope_init {
	const char *value;
	bool overwrite;
	char *out;
};

static enum store_qs scope_cb(struct store_conn *c, void *cls)
{
	struct scope_init *si = cls;

	free(si->out);
	si->out = NULL;
	return store_upsert_dps_setting(c, "id_scope", si->value, si->overwrite, &si->out);
}

int dps_id_scope_init(struct server *srv)
{
	char gen[16];
	unsigned char r[4];
	struct scope_init si = {.value = srv->cfg.id_scope, .overwrite = true};

	if (si.value != NULL && !dps_id_scope_valid(si.value)) {
		log_kv(LOG_ERROR, "--id-scope must be 4 to 15 letters and digits", NULL);
		return -1;
	}
	if (si.value == NULL) {
		if (RAND_bytes(r, sizeof r) != 1)
			return -1;
		snprintf(gen, sizeof gen, "0ne%02X%02X%02X%02X", r[0], r[1], r[2], r[3]);
		si.value = gen;
		si.overwrite = false;
	}
	if (store_run(srv->store, scope_cb, &si) != STORE_ONE || si.out == NULL ||
	    strlen(si.out) >= sizeof srv->id_scope) {
		free(si.out);
		log_kv(LOG_ERROR, "cannot read or store the DPS ID scope", NULL);
		return -1;
	}
	snprintf(srv->id_scope, sizeof srv->id_scope, "%s", si.out);
	free(si.out);
	log_kv(LOG_INFO, "DPS ID scope", "id_scope", srv->id_scope, NULL);
	return 0;
}

void dps_hub_host(const struct server *srv, char *out, size_t len)
{
	const char *l = srv->cfg.dps_hub ? srv->cfg.dps_hub : srv->cfg.listen;
	size_t n;

	if (srv->cfg.dps_hub != NULL) {
		snprintf(out, len, "%s", l);
		return;
	}
	/* The first listen address without its port ("[::1]:443" too). */
	n = strcspn(l, ",");
	if (l[0] == '[') {
		const char *rb = memchr(l, ']', n);
		if (rb != NULL) {
			snprintf(out, len, "%.*s", (int)(rb - l - 1), l + 1);
			return;
		}
	}
	for (size_t i = n; i > 0; i--)
		if (l[i - 1] == ':') {
			n = i - 1;
			break;
		}
	snprintf(out, len, "%.*s", (int)n, l);
}

static const char *const api_versions[] = {
	"2018-09-01-preview", "2018-11-01", "2019-03-31",	  "2020-09-01-preview",
	"2021-06-01",	      "2021-10-01", "2021-11-01-preview", "2025-07-01-preview",
};

bool dps_api_version_ok(struct request *req, int *ret)
{
	const char *v = request_arg(req, "api-version");

	if (v != NULL)
		for (size_t i = 0; i < sizeof api_versions / sizeof api_versions[0]; i++)
			if (strcmp(v, api_versions[i]) == 0)
				return true;
	*ret = reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
			     v ? "api-version %s is not supported" : "api-version is required",
			     v ? v : "");
	return false;
}

struct match {
	const char *registration_id;
	const struct dps_sas *tok;
	struct device *dev;
	bool found;
};

bool dps_sas_enrollment_signed(const struct store_dps_enrollment *e, const char *registration_id,
			       const struct dps_sas *tok)
{
	char derived[DPS_KEY_B64_MAX];
	bool ok = false;

	if (strcmp(e->attestation_type, "symmetricKey") != 0)
		return false;
	if (strcmp(e->kind, STORE_DPS_INDIVIDUAL) == 0)
		return dps_sas_signed_with(tok, e->primary_key) |
		       dps_sas_signed_with(tok, e->secondary_key);
	const char *keys[] = {e->primary_key, e->secondary_key};
	for (int k = 0; k < 2 && !ok; k++)
		if (keys[k] != NULL &&
		    dps_derive_device_key(keys[k], registration_id, derived) == 0)
			ok = dps_sas_signed_with(tok, derived);
	explicit_bzero(derived, sizeof derived);
	return ok;
}

/* Records which enrollment authenticated the device. */
static void dev_enrollment(struct device *dev, const char *kind, const char *id)
{
	snprintf(dev->enrollment_kind, sizeof dev->enrollment_kind, "%s", kind);
	snprintf(dev->enrollment_id, sizeof dev->enrollment_id, "%s", id);
}

static void match_found(struct match *m, const char *kind, const char *id)
{
	m->found = true;
	dev_enrollment(m->dev, kind, id);
}

/* A TPM device signs with the authenticationKey of its last 401, kept for
 * this registration ID and the enrollment it was made for, until it expires. */
static enum store_qs match_tpm(struct store_conn *c, struct match *m, const char *kind,
			       const char *id)
{
	struct store_dps_tpm_challenge ch;
	enum store_qs qs = store_select_dps_tpm_challenge(c, m->registration_id, &ch);

	if (qs == STORE_ONE && strcmp(ch.enrollment_kind, kind) == 0 &&
	    (id == NULL || strcmp(ch.enrollment_id, id) == 0) &&
	    dps_sas_signed_with(m->tok, ch.auth_key))
		match_found(m, ch.enrollment_kind, ch.enrollment_id);
	store_dps_tpm_challenge_free(&ch);
	return qs < 0 ? qs : STORE_ONE;
}

static enum store_qs match_cb(struct store_conn *c, void *cls)
{
	struct match *m = cls;
	struct store_dps_enrollment_list l;
	enum store_qs qs;

	m->found = false;
	qs = store_select_dps_sas_candidates(c, m->registration_id, &l);
	if (qs < 0)
		return qs;
	if (l.n > 0 && strcmp(l.items[0].kind, STORE_DPS_INDIVIDUAL) == 0) {
		/* The most specific enrollment governs this registration ID: a
		 * group's key does not open it. */
		const struct store_dps_enrollment *e = &l.items[0];
		qs = STORE_ONE;
		if (dps_sas_enrollment_signed(e, m->registration_id, m->tok))
			match_found(m, STORE_DPS_INDIVIDUAL, e->id);
		else if (strcmp(e->attestation_type, "tpm") == 0)
			qs = match_tpm(c, m, STORE_DPS_INDIVIDUAL, e->id);
		store_dps_enrollment_list_free(&l);
		return qs;
	}
	for (int i = 0; i < l.n && !m->found; i++)
		if (dps_sas_enrollment_signed(&l.items[i], m->registration_id, m->tok))
			match_found(m, STORE_DPS_GROUP, l.items[i].id);
	store_dps_enrollment_list_free(&l);
	return m->found ? STORE_ONE : match_tpm(c, m, STORE_DPS_GROUP, NULL);
}

json_t *dps_attestation_params(const struct store_dps_enrollment *e)
{
	return e->attestation_params_json ? json_loads(e->attestation_params_json, 0, NULL) : NULL;
}

/* X.509: the individual enrollment of the registration ID pins the leaf,
 * else an X.509 group's signing certificate is what the chain reaches. */
struct match_x509 {
	const char *registration_id;
	STACK_OF(X509) * chain;
	struct device *dev;
	bool found;
};

static enum store_qs match_x509_cb(struct store_conn *c, void *cls)
{
	struct match_x509 *m = cls;
	struct store_dps_enrollment e;
	struct store_dps_enrollment_list groups;
	enum store_qs qs =
		store_select_dps_enrollment(c, STORE_DPS_INDIVIDUAL, m->registration_id, &e);
	const char *why = NULL;

	m->found = false;
	if (qs < 0)
		return qs;
	if (qs == STORE_ONE) {
		json_t *params = dps_attestation_params(&e);
		m->found = strcmp(e.attestation_type, "x509") == 0 &&
			   client_cert_pinned(sk_X509_value(m->chain, 0),
					      json_object_get(params, "clientCertificates"));
		json_decref(params);
		store_dps_enrollment_free(&e);
		if (m->found)
			dev_enrollment(m->dev, STORE_DPS_INDIVIDUAL, m->registration_id);
		return STORE_ONE;
	}
	if ((qs = store_select_dps_groups(c, "x509", &groups)) < 0)
		return qs;
	for (int i = 0; i < groups.n && !m->found; i++) {
		json_t *params = dps_attestation_params(&groups.items[i]);
		if (client_cert_chains(m->chain, json_object_get(params, "signingCertificates"),
				       &why)) {
			m->found = true;
			dev_enrollment(m->dev, STORE_DPS_GROUP, groups.items[i].id);
		}
		json_decref(params);
	}
	store_dps_enrollment_list_free(&groups);
	return STORE_ONE;
}

/* A device without Authorization but with a TLS client certificate whose
 * CN is the registration ID. */
static bool device_x509(struct request *req, STACK_OF(X509) * chain, enum err_code *err)
{
	char cn[CLIENT_CERT_CN_MAX + 1];
	struct match_x509 m = {.registration_id = req->params[1], .chain = chain, .dev = &req->dev};
	enum store_qs qs;

	if (client_cert_cn(sk_X509_value(chain, 0), cn, sizeof cn) != 0 ||
	    strcmp(cn, m.registration_id) != 0)
		return false;
	qs = store_run(req->srv->store, match_x509_cb, &m);
	if (qs < 0) {
		*err = ERR_DPS_UNAVAILABLE;
		return false;
	}
	if (!m.found)
		return false;
	snprintf(req->dev.registration_id, sizeof req->dev.registration_id, "%s",
		 m.registration_id);
	req->dev.authenticated = true;
	return true;
}

bool dps_device_check(struct request *req, unsigned arg, enum err_code *err)
{
	const char *authz = request_header(req, "Authorization");
	const char *scope = req->params[0], *regid = req->params[1];
	struct dps_sas tok;
	const char *why = NULL;
	long long now = (long long)time(NULL);

	*err = ERR_DPS_UNAUTHORIZED;
	memset(&req->dev, 0, sizeof req->dev);
	if (req->nparams < 2 || strcasecmp(scope, req->srv->id_scope) != 0 || !dps_id_valid(regid))
		return false;
	if (authz == NULL) {
		STACK_OF(X509) *chain = client_cert_chain(req->conn);
		if (chain == NULL)
			chain = client_cert_chain_proxied(req->conn, req->srv->cfg.dps_cert_proxy);
		if (chain != NULL) {
			bool ok = device_x509(req, chain, err);
			client_cert_chain_free(chain);
			return ok;
		}
	}
	if (authz == NULL && (arg & DEVICE_CHALLENGE)) {
		/* The handler decides: a TPM's first request. */
		snprintf(req->dev.registration_id, sizeof req->dev.registration_id, "%s", regid);
		return true;
	}
	if (dps_sas_parse(authz, &tok, &why) != 0 || !dps_sas_audience_ok(&tok, scope, regid))
		return false;
	if (!sas_expiry_ok(&tok, now))
		return false;
	struct match m = {.registration_id = regid, .tok = &tok, .dev = &req->dev};
	if (store_run(req->srv->store, match_cb, &m) < 0) {
		*err = ERR_DPS_UNAVAILABLE;
		return false;
	}
	if (!m.found)
		return false;
	snprintf(req->dev.registration_id, sizeof req->dev.registration_id, "%s", regid);
	req->dev.authenticated = true;
	return true;
}

int dps_reply(struct request *req, unsigned status, json_t *body, const char *etag, bool secret,
	      const char *retry_after)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char quoted[80];

	json_decref(body);
	if (text == NULL)
		return MHD_NO;
	if ((resp = reply_response_owning(text, strlen(text))) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json; charset=utf-8");
	if (etag != NULL) {
		snprintf(quoted, sizeof quoted, "\"%s\"", etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, quoted);
	}
	if (secret)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (retry_after != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
	ret = reply_queue(req, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

const char *dps_if_match(struct request *req, char *out, size_t len)
{
	const char *h = request_header(req, MHD_HTTP_HEADER_IF_MATCH);
	size_t n;

	if (h == NULL)
		return NULL;
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	n = strlen(h);
	if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
		h++;
		n -= 2;
	}
	snprintf(out, len, "%.*s", (int)n, h);
	return out;
}

int dps_random_hex(char *out, size_t n)
{
	unsigned char r[32];

	if (n > sizeof r || RAND_bytes(r, (int)n) != 1)
		return -1;
	hex_encode(r, n, out);
	return 0;
}

/* The initialTwin's tags and properties.desired (borrowed; NULL when absent). */
static void initial_parts(const json_t *twin, json_t **tags, json_t **desired)
{
	json_t *props = json_object_get(twin, "properties");

	*tags = json_object_get(twin, "tags");
	*desired = json_object_get(props, "desired");
	if (!json_is_object(*tags))
		*tags = NULL;
	if (!json_is_object(*desired))
		*desired = NULL;
}

const char *dps_initial_twin_problem(const json_t *twin, char *why, size_t len)
{
	json_t *tags, *desired;
	struct twin_err e = {0};

	initial_parts(twin, &tags, &desired);
	if ((tags != NULL && twin_check_patch(tags, "/initialTwin/tags", &e) != TWIN_OK) ||
	    (desired != NULL &&
	     twin_check_patch(desired, "/initialTwin/properties/desired", &e) != TWIN_OK) ||
	    (tags != NULL &&
	     twin_check_size(tags, TWIN_TAGS_MAX, "/initialTwin/tags", &e) != TWIN_OK) ||
	    (desired != NULL &&
	     twin_check_size(desired, TWIN_PROPS_MAX, "/initialTwin/properties/desired", &e) !=
		     TWIN_OK)) {
		snprintf(why, len, "%s: %s", e.where, e.msg);
		return why;
	}
	return NULL;
}

int dps_twin_seed(const char *device_id, const char *initial_twin_json, struct store_twin *row)
{
	char now[40], etag[16];
	json_t *twin = initial_twin_json ? json_loads(initial_twin_json, 0, NULL) : NULL;
	json_t *tags = json_object(), *itags = NULL, *idesired = NULL;
	json_t *d, *r;
	int ok;

	memset(row, 0, sizeof *row);
	twin_now(now);
	d = twin_props_new(now, true);
	r = twin_props_new(now, false);
	initial_parts(twin, &itags, &idesired);
	ok = tags && d && r && twin_etag_new(etag) == 0 &&
	     (itags == NULL || twin_merge_tags(tags, itags) == TWIN_OK) &&
	     (idesired == NULL || twin_merge_props(d, idesired, now, true, false) == TWIN_OK);
	if (ok) {
		row->device_id = strdup(device_id);
		row->etag = strdup(etag);
		row->status = strdup("enabled");
		row->tags = json_dumps(tags, JSON_COMPACT);
		row->desired = json_dumps(d, JSON_COMPACT);
		row->reported = json_dumps(r, JSON_COMPACT);
		row->version = 1;
		row->desired_version = twin_props_version(d);
		ok = row->device_id && row->etag && row->status && row->tags && row->desired &&
		     row->reported;
		if (!ok)
			store_twin_free(row);
	}
	json_decref(twin);
	json_decref(tags);
	json_decref(d);
	json_decref(r);
	return ok ? 0 : -1;
}

/* Resets an existing twin to row (the seed) keeping its versions
 * increasing, so followers see the change. */
static enum store_qs twin_reset(struct store_conn *c, struct store_twin *row,
				const struct store_twin *old, const struct store_twin_change *h)
{
	json_t *d = json_loads(row->desired, 0, NULL);
	char *text;

	if (d == NULL)
		return STORE_HARD;
	json_object_set_new(d, "$version", json_integer(old->desired_version + 1));
	text = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	if (text == NULL)
		return STORE_HARD;
	free(row->desired);
	row->desired = text;
	row->version = old->version + 1;
	return store_update_twin(c, row, h);
}

enum store_qs dps_twin_place(struct store_conn *c, const char *device_id,
			     const char *initial_twin_json, bool reset, const char *registration_id)
{
	struct store_twin t, old = {0};
	/* Its history records what DPS seeded (or reset it to). */
	struct store_twin_change h = {
		.device_id = (char *)device_id,
		.sections = (char *)"tags,desired",
		.actor_kind = (char *)"dps",
		.actor = (char *)registration_id,
		.patch = initial_twin_json ? (char *)initial_twin_json : (char *)"{}",
	};
	enum store_qs qs = STORE_NONE;

	if (dps_twin_seed(device_id, initial_twin_json, &t) != 0)
		return STORE_HARD;
	if (reset)
		qs = store_lock_twin(c, device_id, &old);
	if (qs == STORE_ONE) {
		qs = twin_reset(c, &t, &old, &h);
	} else if (qs == STORE_NONE) {
		/* A new twin's first history entry; none when it existed. */
		qs = store_insert_twin(c, &t);
		h.version = t.version;
		if (qs == STORE_ONE)
			qs = store_insert_twin_history(c, &h);
	}
	store_twin_free(&old);
	store_twin_free(&t);
	return qs < 0 ? qs : STORE_ONE;
}

bool dps_page_args(struct request *req, struct dps_page *pg, int *ret)
{
	const char *max = request_header(req, "x-ms-max-item-count");
	const char *cont = request_header(req, "x-ms-continuation");
	json_t *q = json_object_get(req->json, "query");
	const char *qs = json_string_value(q);
	char *end = NULL;
	uint8_t id[DPS_ID_MAX + 3];
	size_t n = 0;

	pg->limit = DPS_PAGE_DEFAULT;
	pg->after[0] = '\0';
	if (req->json != NULL && (!json_is_object(req->json) || (q != NULL && qs == NULL))) {
		*ret = reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
				     "/query: a query specification {\"query\": \"*\"}");
		return false;
	}
	/* Only "*" and "SELECT * FROM <collection>": no filters yet. */
	if (qs != NULL && strcmp(qs, "*") != 0 &&
	    (strncasecmp(qs, "select * from ", 14) != 0 || strchr(qs + 14, ' ') != NULL)) {
		*ret = reply_problem(
			req, ERR_DPS_ARGUMENT_INVALID,
			"/query: only \"*\" or SELECT * FROM a collection is supported");
		return false;
	}
	if (max != NULL) {
		long v = strtol(max, &end, 10);
		if (end == max || *end != '\0' || v < 1 || v > DPS_PAGE_MAX) {
			*ret = reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
					     "x-ms-max-item-count: 1 to %d", DPS_PAGE_MAX);
			return false;
		}
		pg->limit = (int)v;
	}
	if (cont != NULL) {
		/* b64_decode_into may write up to b64_decoded_max() bytes. */
		if (b64_decoded_max(strlen(cont)) > sizeof id ||
		    b64_decode_into(cont, strlen(cont), 1, id, &n) != 0 || n == 0 ||
		    n > DPS_ID_MAX) {
			*ret = reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
					     "x-ms-continuation: not a token this service gave");
			return false;
		}
		memcpy(pg->after, id, n);
		pg->after[n] = '\0';
		if (!dps_id_valid(pg->after)) {
			*ret = reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
					     "x-ms-continuation: not a token this service gave");
			return false;
		}
	}
	return true;
}

/* Queues the JSON array items (stolen) with x-ms-continuation naming last
 * when there is more (NULL on the last page). */
static int reply_page(struct request *req, json_t *items, const char *last)
{
	char *text = json_dumps(items, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *token = last ? b64_encode((const uint8_t *)last, strlen(last), 1) : NULL;
	struct MHD_Response *resp;
	enum MHD_Result ret = MHD_NO;

	json_decref(items);
	if (text == NULL || (last != NULL && token == NULL))
		goto out;
	resp = reply_response_owning(text, strlen(text));
	text = NULL;
	if (resp == NULL)
		goto out;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json; charset=utf-8");
	/* Absent on the last page: Node's Query stops there. */
	if (token != NULL)
		MHD_add_response_header(resp, "x-ms-continuation", token);
	ret = reply_queue(req, 200, resp);
	MHD_destroy_response(resp);
out:
	free(text);
	free(token);
	return ret;
}

int dps_reply_rows(struct request *req, const struct dps_page *pg, const void *rows, int n,
		   json_t *(*item)(const void *rows, int i),
		   const char *(*id)(const void *rows, int i))
{
	int shown = n > pg->limit ? pg->limit : n;
	json_t *items = json_array();

	for (int i = 0; items != NULL && i < shown; i++)
		if (json_array_append_new(items, item(rows, i)) != 0) {
			json_decref(items);
			items = NULL;
		}
	if (items == NULL)
		return MHD_NO;
	return reply_page(req, items, n > shown ? id(rows, shown - 1) : NULL);
}

char *dps_chain_json(const char *chain_pem)
{
	BIO *bio = chain_pem ? BIO_new_mem_buf(chain_pem, -1) : NULL;
	json_t *arr = json_array();
	char *text = NULL;
	X509 *c;

	while (bio != NULL && arr != NULL &&
	       (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int n = i2d_X509(c, &der);
		char *b64 = n > 0 ? b64_encode(der, (size_t)n, 0) : NULL;
		if (b64 == NULL || json_array_append_new(arr, json_string(b64)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
		free(b64);
		OPENSSL_free(der);
		X509_free(c);
	}
	ERR_clear_error();
	if (arr != NULL && json_array_size(arr) > 0)
		text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	BIO_free(bio);
	return text;
}
