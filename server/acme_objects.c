/* ACME resources as RFC 8555 renders them: orders (section 7.1.3),
 * authorizations (7.1.4) and challenges (7.1.5, 8), from store rows, with
 * every URL built on the configured base (server/acme.c). */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/ari.h"
#include "acme/order.h"
#include "common/b64.h"
#include "common/buf.h"
#include "common/timefmt.h"
#include "pki/pki.h"
#include "server/acme.h"
#include "server/request.h"

bool acme_random_id(char out[ACME_ID_MAX])
{
	uint8_t raw[16];
	char *s;

	if (RAND_bytes(raw, sizeof raw) != 1 || (s = b64_encode(raw, sizeof raw, 1)) == NULL)
		return false;
	snprintf(out, ACME_ID_MAX, "%s", s);
	free(s);
	return true;
}

json_t *acme_url_json(struct request *req, const char *prefix, const char *id, const char *suffix)
{
	char path[160], url[ACME_URL_MAX];

	snprintf(path, sizeof path, "%s%s%s", prefix, id, suffix);
	if (!acme_url(req, path, url, sizeof url))
		return NULL;
	return json_string(url);
}

static void set_time(json_t *obj, const char *name, long long epoch)
{
	char when[TIMEFMT_RFC3339_LEN];

	timefmt_rfc3339(epoch, when);
	json_object_set_new(obj, name, json_string(when));
}

json_t *acme_order_json(struct request *req, const struct store_acme_order *o)
{
	json_t *body = json_object(), *ids = json_loads(o->authz_ids, 0, NULL),
	       *authzs = json_array(), *v;
	size_t i;

	if (body == NULL || ids == NULL || authzs == NULL)
		goto fail;
	json_object_set_new(body, "status", json_string(o->status));
	set_time(body, "expires", o->expires_at);
	json_object_set_new(body, "identifiers", json_loads(o->identifiers, 0, NULL));
	if (o->profile != NULL)
		json_object_set_new(body, "profile", json_string(o->profile));
	json_array_foreach (ids, i, v)
		json_array_append_new(authzs,
				      acme_url_json(req, "/acme/authz/", json_string_value(v), ""));
	json_object_set_new(body, "authorizations", authzs);
	authzs = NULL;
	json_object_set_new(body, "finalize",
			    acme_url_json(req, "/acme/order/", o->id, "/finalize"));
	if (o->error != NULL)
		json_object_set_new(body, "error", json_loads(o->error, 0, NULL));
	if (o->certificate != NULL)
		json_object_set_new(body, "certificate",
				    acme_url_json(req, "/acme/cert/", o->certificate, ""));
	if (o->replaces != NULL) { /* RFC 9773 section 5: the certificate's identifier */
		uint8_t aki[ACME_ARI_AKI_MAX];
		size_t aki_len = sizeof aki;
		char id[256];
		if (req->srv->ca != NULL && pki_ca_key_id(req->srv->ca, aki, &aki_len) == 0 &&
		    acme_ari_cert_id(aki, aki_len, o->replaces, id, sizeof id) == 0)
			json_object_set_new(body, "replaces", json_string(id));
	}
	json_decref(ids);
	return body;
fail:
	json_decref(body);
	json_decref(ids);
	json_decref(authzs);
	return NULL;
}

/* The order as text, written straight into one buffer (no jansson tree
 * built, loaded and dumped for each order poll). Plain ASCII only: any
 * other byte, or stored JSON of a shape not expected, returns NULL and
 * the caller renders with acme_order_json(). */
#define ORDER_TEXT_MAX (64 * 1024)

static bool put(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s)) == 0;
}

/* s as a JSON string: printable ASCII only, '"' and '\\' escaped. */
static bool put_str(struct buf *b, const char *s)
{
	const char *run = s;

	if (!put(b, "\""))
		return false;
	for (const char *p = s;; p++) {
		if (*p != '\0' && *p != '"' && *p != '\\') {
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				return false;
			continue;
		}
		/* the run before p as it is, then p escaped */
		if (buf_add(b, run, (size_t)(p - run)) != 0)
			return false;
		if (*p == '\0')
			break;
		if (!put(b, *p == '"' ? "\\\"" : "\\\\"))
			return false;
		run = p + 1;
	}
	return put(b, "\"");
}

/* Stored JSON text (PostgreSQL's rendering of our own jsonb) copied as it
 * is, when it is printable ASCII and opens with the bracket expected. */
static bool put_raw(struct buf *b, const char *json, char open)
{
	if (json[0] != open)
		return false;
	for (const char *p = json; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return put(b, json);
}

static bool put_url(struct buf *b, struct request *req, const char *prefix, const char *id,
		    size_t idlen, const char *suffix)
{
	char path[160], url[ACME_URL_MAX];

	if (snprintf(path, sizeof path, "%s%.*s%s", prefix, (int)idlen, id, suffix) >=
	    (int)sizeof path)
		return false;
	return acme_url(req, path, url, sizeof url) && put_str(b, url);
}

/* ["id", "id", ...] of base64url ids as authorization URLs. */
static bool put_authz_urls(struct buf *b, struct request *req, const char *ids)
{
	const char *p = ids;
	bool first = true;

	while (*p == ' ')
		p++;
	if (*p++ != '[' || !put(b, "["))
		return false;
	for (;;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == ']')
			return p[1] == '\0' && put(b, "]");
		if (*p++ != '"')
			return false;
		size_t n = strspn(
			p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
		if (n == 0 || n >= ACME_ID_MAX || p[n] != '"')
			return false;
		if ((!first && !put(b, ",")) || !put_url(b, req, "/acme/authz/", p, n, ""))
			return false;
		first = false;
		p += n + 1;
	}
}

char *acme_order_text(struct request *req, const struct store_acme_order *o, size_t *len)
{
	char when[TIMEFMT_RFC3339_LEN];
	struct buf b;
	bool ok;

	buf_init(&b, ORDER_TEXT_MAX);
	timefmt_rfc3339(o->expires_at, when);
	ok = put(&b, "{\"status\":") && put_str(&b, o->status) && put(&b, ",\"expires\":") &&
	     put_str(&b, when) && put(&b, ",\"identifiers\":") && put_raw(&b, o->identifiers, '[');
	if (ok && o->profile != NULL)
		ok = put(&b, ",\"profile\":") && put_str(&b, o->profile);
	ok = ok && put(&b, ",\"authorizations\":") && put_authz_urls(&b, req, o->authz_ids) &&
	     put(&b, ",\"finalize\":") &&
	     put_url(&b, req, "/acme/order/", o->id, strlen(o->id), "/finalize");
	if (ok && o->error != NULL)
		ok = put(&b, ",\"error\":") && put_raw(&b, o->error, '{');
	if (ok && o->certificate != NULL)
		ok = put(&b, ",\"certificate\":") &&
		     put_url(&b, req, "/acme/cert/", o->certificate, strlen(o->certificate), "");
	/* RFC 9773's replaces needs the CA's key id: the jansson path has it. */
	ok = ok && o->replaces == NULL && put(&b, "}");
	if (!ok) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return (char *)b.data;
}

json_t *acme_challenge_json(struct request *req, const json_t *ch)
{
	json_t *out = json_object(), *err = json_object_get(ch, "error");
	json_int_t validated = json_integer_value(json_object_get(ch, "validated"));

	if (out == NULL)
		return NULL;
	json_object_set(out, "type", json_object_get(ch, "type"));
	json_object_set_new(out, "url",
			    acme_url_json(req, "/acme/chall/",
					  json_string_value(json_object_get(ch, "id")), ""));
	json_object_set(out, "status", json_object_get(ch, "status"));
	json_object_set(out, "token", json_object_get(ch, "token"));
	if (json_is_integer(json_object_get(ch, "validated")))
		set_time(out, "validated", validated);
	if (json_is_object(err))
		json_object_set(out, "error", err);
	return out;
}

json_t *acme_authz_json_with(struct request *req, const struct store_acme_authz *a,
			     const json_t *chs)
{
	json_t *body = json_object(), *list = json_array(), *ch;
	size_t i;

	if (body == NULL || !json_is_array(chs) || list == NULL) {
		json_decref(body);
		json_decref(list);
		return NULL;
	}
	json_object_set_new(body, "identifier",
			    json_pack("{s:s, s:s}", "type", a->type, "value", a->value));
	json_object_set_new(body, "status", json_string(a->status));
	set_time(body, "expires", a->expires_at);
	/* Section 7.1.4: a valid authorization lists the challenge that
	 * validated it; the others add nothing. */
	json_array_foreach ((json_t *)chs, i, ch) {
		const char *st = json_string_value(json_object_get(ch, "status"));
		if (strcmp(a->status, "valid") == 0 && (st == NULL || strcmp(st, "valid") != 0))
			continue;
		json_array_append_new(list, acme_challenge_json(req, ch));
	}
	json_object_set_new(body, "challenges", list);
	if (a->wildcard)
		json_object_set_new(body, "wildcard", json_true());
	return body;
}

json_t *acme_authz_json(struct request *req, const struct store_acme_authz *a)
{
	json_t *chs = json_loads(a->challenges, 0, NULL), *body = acme_authz_json_with(req, a, chs);

	json_decref(chs);
	return body;
}

/* An id segment we could have made: base64url, at most 64. */
bool acme_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= ACME_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}
