/* What the twin handlers share: rendering, If-Match, etags, faults. */
#include "server/twins.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "server/reply.h"
#include "server/request.h"

/* jsonb keeps keys in its own order; serve values first, then $metadata
 * and $version, as IoT Hub does. */
static void props_order(json_t *section)
{
	json_t *meta = json_incref(json_object_get(section, "$metadata"));
	json_t *ver = json_incref(json_object_get(section, "$version"));

	json_object_del(section, "$metadata");
	json_object_del(section, "$version");
	if (meta != NULL)
		json_object_set_new(section, "$metadata", meta);
	if (ver != NULL)
		json_object_set_new(section, "$version", ver);
}

json_t *twin_render(const struct store_twin *t)
{
	json_t *tags = json_loads(t->tags, 0, NULL);
	json_t *desired = json_loads(t->desired, 0, NULL);
	json_t *reported = json_loads(t->reported, 0, NULL);

	if (tags == NULL || desired == NULL || reported == NULL) {
		json_decref(tags);
		json_decref(desired);
		json_decref(reported);
		return NULL;
	}
	props_order(desired);
	props_order(reported);
	return json_pack("{s:s, s:s, s:I, s:s, s:o, s:{s:o, s:o}}", "deviceId", t->device_id,
			 "etag", t->etag, "version", (json_int_t)t->version, "status", t->status,
			 "tags", tags, "properties", "desired", desired, "reported", reported);
}

json_t *twin_render_view(const struct store_twin *t, enum twin_view view)
{
	json_t *doc = twin_render(t), *d;

	if (doc == NULL || view == TWIN_VIEW_FULL)
		return doc;
	if (view == TWIN_VIEW_DEVICE) {
		json_object_del(doc, "tags");
		return doc;
	}
	d = json_incref(json_object_get(json_object_get(doc, "properties"),
					view == TWIN_VIEW_DESIRED ? "desired" : "reported"));
	json_decref(doc);
	return d;
}

int twin_reply_view(struct request *req, const struct store_twin *t, enum twin_view view)
{
	return twin_reply_with(req, t, view, NULL);
}

int twin_reply_with(struct request *req, const struct store_twin *t, enum twin_view view,
		    json_t *configurations)
{
	json_t *doc = twin_render_view(t, view);
	char *text;

	if (doc != NULL && configurations != NULL &&
	    json_object_set(doc, "configurations", configurations) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	char etag[24];
	int ret;

	json_decref(doc);
	if (text == NULL)
		return reply_problem(req, ERR_INTERNAL, "cannot render the twin");
	snprintf(etag, sizeof etag, "\"%s\"", t->etag);
	ret = reply_bytes(req, 200, "application/json", text, strlen(text), etag);
	free(text);
	return ret;
}

int twin_reply(struct request *req, const struct store_twin *t)
{
	return twin_reply_view(req, t, TWIN_VIEW_FULL);
}

int twin_write_refused(struct request *req, enum store_qs qs, enum err_code err,
		       const struct twin_err *te, struct store_twin *row)
{
	if (qs >= 0 && err == 0)
		return -1;
	store_twin_free(row);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (err == ERR_TWIN_TOO_LARGE)
		return reply_problem(req, err, "%s: %s", te->where, te->msg);
	if (err == ERR_TWIN_NOT_FOUND)
		return reply_problem(req, err, "no twin for %s", req->params[0]);
	return reply_problem(req, err, NULL);
}

int twin_change_describe(struct request *req, const struct store_twin *t, const char *sections,
			 const json_t *patch, struct store_twin_change *h)
{
	*h = (struct store_twin_change){
		.device_id = t->device_id,
		.version = t->version,
		.sections = (char *)sections,
		.actor_kind = (char *)(req->dev.authenticated ? "device" : "operator"),
		.actor = req->dev.authenticated ? req->dev.device_id : req->op.jti,
		.patch = json_dumps(patch ? patch : req->json, JSON_COMPACT | JSON_PRESERVE_ORDER),
	};
	return h->patch ? 0 : -1;
}

enum store_qs twin_store_change(struct store_conn *c, struct request *req,
				const struct store_twin *t, bool insert, const char *sections,
				const json_t *patch)
{
	struct store_twin_change h;
	enum store_qs qs;

	if (twin_change_describe(req, t, sections, patch, &h) != 0)
		return STORE_HARD;
	if (!insert) {
		qs = store_update_twin(c, t, &h);
	} else if ((qs = store_insert_twin(c, t)) == STORE_ONE) {
		enum store_qs hq = store_insert_twin_history(c, &h);
		if (hq < 0)
			qs = hq;
	}
	free(h.patch);
	return qs;
}

/* Merges u->patch into u->row.reported in memory; sets u->err when a
 * limit refuses it. */
static int reported_apply(struct twin_reported *u)
{
	json_t *rep = json_loads(u->row.reported, 0, NULL);
	char etag[16], *text = NULL;
	enum twin_fault f = TWIN_NOMEM;

	if (rep == NULL)
		goto out;
	if ((f = twin_merge_props(rep, u->patch, u->now, false, false)) != TWIN_OK ||
	    (f = twin_check_size(rep, TWIN_PROPS_MAX, "/properties/reported", &u->te)) != TWIN_OK)
		goto out;
	f = TWIN_NOMEM;
	if ((text = json_dumps(rep, JSON_COMPACT)) == NULL || twin_etag_new(etag) != 0)
		goto out;
	free(u->row.reported);
	free(u->row.etag);
	u->row.reported = text;
	text = NULL;
	u->row.etag = strdup(etag);
	u->row.version++;
	f = u->row.etag ? TWIN_OK : TWIN_NOMEM;
out:
	free(text);
	json_decref(rep);
	if (f != TWIN_OK)
		u->err = twin_fault_err(f);
	return f == TWIN_OK ? 0 : -1;
}

static enum store_qs reported_cb(struct store_conn *c, void *cls)
{
	struct twin_reported *u = cls;
	struct store_twin_change h;
	enum store_qs qs;

	store_twin_free(&u->row);
	u->err = 0;
	qs = store_lock_twin(c, u->device_id, &u->row);
	if (qs <= 0) {
		if (qs == STORE_NONE)
			u->err = ERR_TWIN_NOT_FOUND;
		return qs;
	}
	if (!twin_if_match(u->if_match, u->row.etag)) {
		u->err = ERR_TWIN_ETAG_MISMATCH;
		return STORE_NONE;
	}
	if (reported_apply(u) != 0)
		return STORE_NONE;
	h = (struct store_twin_change){
		.device_id = u->row.device_id,
		.version = u->row.version,
		.sections = "reported",
		.actor_kind = "device",
		.actor = (char *)u->device_id,
		.patch = json_dumps(u->patch, JSON_COMPACT | JSON_PRESERVE_ORDER),
	};
	if (h.patch == NULL)
		return STORE_HARD;
	qs = store_update_twin(c, &u->row, &h);
	free(h.patch);
	return qs;
}

enum store_qs twin_reported_update(struct store *s, struct twin_reported *u)
{
	u->err = 0;
	if (!json_is_object(u->patch)) {
		u->err = ERR_TWIN_BAD_REPORTED;
		return STORE_NONE;
	}
	if (twin_check_patch(u->patch, "/properties/reported", &u->te) != TWIN_OK) {
		u->err = twin_fault_err(u->te.fault);
		return STORE_NONE;
	}
	twin_now(u->now);
	return store_run_txn(s, reported_cb, u);
}

struct twin_select {
	const char *id;
	struct store_twin *out;
};

static enum store_qs select_cb(struct store_conn *c, void *cls)
{
	struct twin_select *q = cls;

	store_twin_free(q->out);
	return store_select_twin(c, q->id, q->out);
}

enum store_qs twin_select(struct store *s, const char *device_id, struct store_twin *out)
{
	struct twin_select q = {device_id, out};

	store_twin_free(out);
	return store_run(s, select_cb, &q);
}

/* One entity tag of a list, trimmed: strong ones compare, weak never
 * (If-Match uses the strong comparison, RFC 9110 13.1.1). Unquoted tags
 * are accepted too, as some IoT Hub clients send them. */
static bool tag_matches(const char *p, size_t n, const char *etag)
{
	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= 2 && p[0] == 'W' && p[1] == '/')
		return false;
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"')
		p++, n -= 2;
	return n == strlen(etag) && memcmp(p, etag, n) == 0;
}

bool twin_if_match(const char *header, const char *etag)
{
	const char *p = header;

	if (header == NULL)
		return true;
	if (etag == NULL)
		return false;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *q = p;
		size_t m = n;

		while (m > 0 && (*q == ' ' || *q == '\t'))
			q++, m--;
		if ((m == 1 && *q == '*') || tag_matches(p, n, etag))
			return true;
		if (comma == NULL)
			return false;
		p = comma + 1;
	}
}

int twin_etag_new(char out[16])
{
	unsigned char raw[9];
	char *s;

	if (RAND_bytes(raw, sizeof raw) != 1 || (s = b64_encode(raw, sizeof raw, 0)) == NULL)
		return -1;
	snprintf(out, 16, "%s", s);
	free(s);
	return 0;
}

enum err_code twin_fault_err(enum twin_fault f)
{
	switch (f) {
	case TWIN_BAD_KEY: return ERR_TWIN_BAD_KEY;
	case TWIN_TOO_DEEP: return ERR_TWIN_TOO_DEEP;
	case TWIN_STRING_TOO_LONG: return ERR_TWIN_STRING_TOO_LONG;
	case TWIN_NUMBER_RANGE: return ERR_TWIN_NUMBER_RANGE;
	case TWIN_TOO_LARGE: return ERR_TWIN_TOO_LARGE;
	case TWIN_NOT_OBJECT: return ERR_TWIN_BAD_PATCH;
	default: return ERR_INTERNAL;
	}
}
