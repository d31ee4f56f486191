/* DPS-compatible provisioning: ID scope, assigned hub, api-versions, and
 * device SAS matching against enrollments. */
#include "server/dps.h"

#include <ctype.h>
#include <microhttpd.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/hex.h"
#include "common/log.h"
#include "server/dps_sas.h"
#include "server/reply.h"
#include "server/request.h"
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

static void match_found(struct match *m, const struct store_dps_enrollment *e)
{
	m->found = true;
	snprintf(m->dev->enrollment_kind, sizeof m->dev->enrollment_kind, "%s", e->kind);
	snprintf(m->dev->enrollment_id, sizeof m->dev->enrollment_id, "%s", e->id);
}

static enum store_qs match_cb(struct store_conn *c, void *cls)
{
	struct match *m = cls;
	struct store_dps_enrollment e;
	struct store_dps_enrollment_list groups;
	enum store_qs qs;

	m->found = false;
	qs = store_select_dps_enrollment(c, STORE_DPS_INDIVIDUAL, m->registration_id, &e);
	if (qs < 0)
		return qs;
	if (qs == STORE_ONE) {
		/* The most specific enrollment governs this registration ID: a
		 * group's key does not open it. */
		if (dps_sas_enrollment_signed(&e, m->registration_id, m->tok))
			match_found(m, &e);
		store_dps_enrollment_free(&e);
		return STORE_ONE;
	}
	qs = store_select_dps_groups_sym(c, &groups);
	if (qs < 0)
		return qs;
	for (int i = 0; i < groups.n && !m->found; i++)
		if (dps_sas_enrollment_signed(&groups.items[i], m->registration_id, m->tok))
			match_found(m, &groups.items[i]);
	store_dps_enrollment_list_free(&groups);
	return STORE_ONE;
}

bool dps_device_check(struct request *req, enum err_code *err)
{
	const char *authz = request_header(req, "Authorization");
	const char *scope = req->params[0], *regid = req->params[1];
	struct dps_sas tok;
	const char *why = NULL;
	long long now = (long long)time(NULL);

	*err = ERR_DPS_UNAUTHORIZED;
	memset(&req->dev, 0, sizeof req->dev);
	if (req->nparams < 2 || dps_sas_parse(authz, &tok, &why) != 0)
		return false;
	if (strcasecmp(scope, req->srv->id_scope) != 0 || !dps_id_valid(regid) ||
	    !dps_sas_audience_ok(&tok, scope, regid))
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
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
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
