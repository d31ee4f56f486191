/* The DPS service API's individual enrollments (/enrollments/{id}) and
 * enrollment groups (/enrollmentGroups/{id}): create or replace (If-Match),
 * read, delete, and the attestation mechanism (the keys), in Azure's JSON
 * shapes. Keys are generated when a new enrollment gives none, kept when a
 * replacement gives none, and shown only by PUT and attestationmechanism. */
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/timefmt.h"
#include "common/utf8.h"
#include "server/client_cert.h"
#include "server/dps.h"
#include "server/dps_alloc.h"
#include "server/dps_sas.h"
#include "server/dps_tpm.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/store/dps.h"
#include "verifier/ek_cert.h"

/* What tells the two kinds apart on the wire. */
struct kind {
	const char *kind;     /* STORE_DPS_INDIVIDUAL or STORE_DPS_GROUP */
	const char *id_field; /* registrationId or enrollmentGroupId */
};
static const struct kind individual = {STORE_DPS_INDIVIDUAL, "registrationId"};
static const struct kind group = {STORE_DPS_GROUP, "enrollmentGroupId"};

/* Azure's enrollment JSON for row e; the keys only when show_keys. */
static json_t *enrollment_json(const struct kind *k, const struct store_dps_enrollment *e,
			       bool show_keys)
{
	char created[TIMEFMT_RFC3339_LEN], updated[TIMEFMT_RFC3339_LEN];
	json_t *o = json_object(), *att = json_object(), *sym = json_object();

	timefmt_rfc3339(e->created_at, created);
	timefmt_rfc3339(e->updated_at, updated);
	json_object_set_new(o, k->id_field, json_string(e->id));
	if (e->device_id != NULL)
		json_object_set_new(o, "deviceId", json_string(e->device_id));
	json_object_set_new(att, "type", json_string(e->attestation_type));
	if (strcmp(e->attestation_type, "symmetricKey") == 0) {
		json_object_set_new(sym, "primaryKey",
				    show_keys && e->primary_key ? json_string(e->primary_key)
								: json_null());
		json_object_set_new(sym, "secondaryKey",
				    show_keys && e->secondary_key ? json_string(e->secondary_key)
								  : json_null());
		json_object_set_new(att, "symmetricKey", sym);
	} else {
		json_decref(sym);
		/* tpm: {"endorsementKey"} or a group's {"rootCertificates"}. */
		json_object_set_new(att, e->attestation_type,
				    e->attestation_params_json
					    ? json_loads(e->attestation_params_json, 0, NULL)
					    : json_object());
	}
	json_object_set_new(o, "attestation", att);
	json_object_set_new(o, "capabilities",
			    e->capabilities_json ? json_loads(e->capabilities_json, 0, NULL)
						 : json_pack("{s:b}", "iotEdge", 0));
	if (e->iot_hub_host_name != NULL)
		json_object_set_new(o, "iotHubHostName", json_string(e->iot_hub_host_name));
	if (e->initial_twin_json != NULL)
		json_object_set_new(o, "initialTwin", json_loads(e->initial_twin_json, 0, NULL));
	dps_alloc_to_json(e->allocation_json, o);
	json_object_set_new(o, "provisioningStatus", json_string(e->provisioning_status));
	json_object_set_new(o, "createdDateTimeUtc", json_string(created));
	json_object_set_new(o, "lastUpdatedDateTimeUtc", json_string(updated));
	json_object_set_new(o, "etag", json_string(e->etag));
	return o;
}

json_t *dps_enrollment_public_json(const struct store_dps_enrollment *e)
{
	return enrollment_json(strcmp(e->kind, STORE_DPS_GROUP) == 0 ? &group : &individual, e,
			       false);
}

/* A symmetric key from the body: base64 of DPS_KEY_MIN..DPS_KEY_MAX bytes. */
static enum json_spec_rc parse_key(const struct json_spec *s, json_t *v, const char *ptr,
				   struct json_spec_error *err)
{
	uint8_t buf[DPS_KEY_B64_MAX];
	size_t n = 0;
	const char *t = json_string_value(v);

	if (t == NULL || strlen(t) >= DPS_KEY_B64_MAX ||
	    b64_decode_into(t, strlen(t), 0, buf, &n) != 0 || n < DPS_KEY_MIN || n > DPS_KEY_MAX)
		return json_spec_fail(err, ptr, "must be base64 of %d to %d bytes", DPS_KEY_MIN,
				      DPS_KEY_MAX);
	explicit_bzero(buf, sizeof buf);
	*(const char **)s->dest = t;
	return JSON_SPEC_OK;
}

static enum json_spec_rc parse_id(const struct json_spec *s, json_t *v, const char *ptr,
				  struct json_spec_error *err)
{
	const char *t = json_string_value(v);

	if (t == NULL || strlen(t) != json_string_length(v) || !dps_id_valid(t))
		return json_spec_fail(
			err, ptr,
			"must be 1 to 128 of A-Z a-z 0-9 - . _ :, ending in a letter, "
			"digit or -");
	*(const char **)s->dest = t;
	return JSON_SPEC_OK;
}

/* attestation.tpm of a TPM enrollment: an individual one pins its
 * endorsementKey (base64 TPM2B_PUBLIC); a group (Orchard's, beyond Azure)
 * names 1 to 16 rootCertificates (PEM) an EK certificate must chain to.
 * NULL with *text (malloc'd) the parameters to store, or why not. */
static const char *tpm_params(json_t *tpm, bool is_group, char **text, char *why, size_t len)
{
	json_t *out = NULL, *v;
	size_t i;

	*text = NULL;
	if (!is_group) {
		const char *ek = json_string_value(json_object_get(tpm, "endorsementKey"));
		struct tpm_public pub;
		uint8_t raw[DPS_TPM_PUB_MAX];
		size_t n = 0;
		struct verr e = {0};
		if (ek == NULL)
			return "/attestation/tpm/endorsementKey: required for tpm attestation";
		if (dps_tpm_public(ek, &pub, raw, &n, &e) != 0) {
			snprintf(why, len, "/attestation/tpm/endorsementKey: %s", e.msg);
			return why;
		}
		out = json_pack("{s:s}", "endorsementKey", ek);
	} else {
		json_t *roots = json_object_get(tpm, "rootCertificates");
		if (!json_is_array(roots) || json_array_size(roots) == 0 ||
		    json_array_size(roots) > 16)
			return "/attestation/tpm/rootCertificates: 1 to 16 PEM certificates";
		json_array_foreach (roots, i, v) {
			struct verr e = {0};
			struct ek_roots *r = json_is_string(v)
						     ? ek_roots_load_pem(json_string_value(v),
									 json_string_length(v), &e)
						     : NULL;
			ek_roots_free(r);
			if (r == NULL) {
				snprintf(
					why, len,
					"/attestation/tpm/rootCertificates/%zu: not a PEM certificate",
					i);
				return why;
			}
		}
		out = json_pack("{s:O}", "rootCertificates", roots);
	}
	*text = out ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	return *text ? NULL : "out of memory";
}

/* attestation.x509 of an X.509 enrollment, Azure's shape: an individual
 * one pins clientCertificates.primary/secondary.certificate (PEM or base64
 * DER; the SHA-256 thumbprint is what a device's leaf must have), a group
 * names signingCertificates.primary/secondary.certificate (a root or
 * intermediate CA the device chain must reach). Each kept with Azure's
 * info (subject, thumbprints, validity). NULL with *text (malloc'd) the
 * parameters to store, or why not. */
static const char *x509_params(json_t *x509, bool is_group, char **text, char *why, size_t len)
{
	const char *member = is_group ? "signingCertificates" : "clientCertificates";
	const char *slots[] = {"primary", "secondary"};
	json_t *in = json_object_get(x509, member), *out = json_object(), *set = json_object();
	int n = 0;

	*text = NULL;
	if (json_object_get(x509, "caReferences") != NULL &&
	    !json_is_null(json_object_get(x509, "caReferences"))) {
		snprintf(why, len,
			 "/attestation/x509/caReferences: not supported; give signingCertificates");
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		json_t *slot = json_object_get(in, slots[i]);
		const char *pem = json_string_value(json_object_get(slot, "certificate"));
		X509 *c;
		if (slot == NULL || json_is_null(slot))
			continue;
		if ((c = client_cert_parse_text(pem)) == NULL) {
			snprintf(
				why, len,
				"/attestation/x509/%s/%s/certificate: not a PEM or base64 DER certificate",
				member, slots[i]);
			goto out;
		}
		json_object_set_new(set, slots[i],
				    is_group ? json_pack("{s:s, s:o}", "certificate", pem, "info",
							 client_cert_info(c))
					     : json_pack("{s:o}", "info", client_cert_info(c)));
		X509_free(c);
		n++;
	}
	if (n == 0) {
		snprintf(why, len, "/attestation/x509/%s/primary/certificate: required", member);
		goto out;
	}
	json_object_set(out, member, set);
	*text = json_dumps(out, JSON_COMPACT);
	if (*text == NULL)
		snprintf(why, len, "out of memory");
out:
	json_decref(set);
	json_decref(out);
	return *text ? NULL : why;
}

/* One PUT's parsed body and the transaction's inputs and outputs. */
struct put {
	const struct kind *k;
	const char *id;
	const char *body_id, *type, *pk, *sk, *status, *device_id, *hub;
	json_t *twin, *caps, *tpm, *x509;
	const char *if_match; /* NULL: unconditional */
	char *twin_text, *caps_text, *params_text, *alloc_text;
	const char *linked;		 /* --dps-linked-hubs */
	const char *webhook_allow;	 /* --dps-webhook-allow */
	struct store_dps_enrollment row; /* as written */
	char etag[33], gen_pk[DPS_KEY_B64_MAX], gen_sk[DPS_KEY_B64_MAX];
	bool stale;
	bool create_only, exists; /* bulk "create": an existing one is left alone */
};

static enum store_qs put_cb(struct store_conn *c, void *cls)
{
	struct put *p = cls;
	struct store_dps_enrollment old;
	enum store_qs qs = store_lock_dps_enrollment(c, p->k->kind, p->id, &old);
	struct store_dps_enrollment *e = &p->row;

	p->stale = p->exists = false;
	if (qs < 0)
		return qs;
	if (p->create_only && qs == STORE_ONE) {
		p->exists = true;
		store_dps_enrollment_free(&old);
		return STORE_NONE;
	}
	if (p->if_match != NULL && (qs == STORE_NONE || (strcmp(p->if_match, "*") != 0 &&
							 strcmp(p->if_match, old.etag) != 0))) {
		p->stale = true;
		store_dps_enrollment_free(&old);
		return STORE_NONE;
	}
	/* Keys: the body's, else the current ones, else new ones; only
	 * symmetric-key attestation has any. */
	bool sym = strcmp(p->type, "symmetricKey") == 0;
	const char *pk = p->pk, *sk = p->sk;
	if (pk == NULL && qs == STORE_ONE && old.primary_key != NULL) {
		snprintf(p->gen_pk, sizeof p->gen_pk, "%s", old.primary_key);
		pk = p->gen_pk;
	}
	if (sk == NULL && qs == STORE_ONE && old.secondary_key != NULL) {
		snprintf(p->gen_sk, sizeof p->gen_sk, "%s", old.secondary_key);
		sk = p->gen_sk;
	}
	store_dps_enrollment_free(&old);
	if ((sym && pk == NULL && dps_key_generate(p->gen_pk) != 0) ||
	    (sym && sk == NULL && dps_key_generate(p->gen_sk) != 0) ||
	    dps_random_hex(p->etag, 16) != 0)
		return STORE_HARD;
	*e = (struct store_dps_enrollment){
		.kind = (char *)p->k->kind,
		.id = (char *)p->id,
		.attestation_type = (char *)p->type,
		.primary_key = !sym ? NULL : (char *)(pk ? pk : p->gen_pk),
		.secondary_key = !sym ? NULL : (char *)(sk ? sk : p->gen_sk),
		.provisioning_status = (char *)p->status,
		.device_id = (char *)p->device_id,
		.iot_hub_host_name = (char *)p->hub,
		.initial_twin_json = p->twin_text,
		.capabilities_json = p->caps_text,
		.etag = p->etag,
		.attestation_params_json = p->params_text,
		.allocation_json = p->alloc_text,
	};
	return store_upsert_dps_enrollment(c, e, &e->created_at, &e->updated_at);
}

/* initialTwin as Azure has it: {"tags": {...}, "properties": {"desired": {...}}}. */
static const char *twin_problem(json_t *twin)
{
	json_t *tags = json_object_get(twin, "tags"), *props = json_object_get(twin, "properties");

	if (tags != NULL && !json_is_object(tags) && !json_is_null(tags))
		return "/initialTwin/tags: must be an object";
	if (props != NULL && !json_is_null(props)) {
		json_t *d = json_object_get(props, "desired");
		if (!json_is_object(props))
			return "/initialTwin/properties: must be an object";
		if (d != NULL && !json_is_object(d) && !json_is_null(d))
			return "/initialTwin/properties/desired: must be an object";
	}
	return NULL;
}

/* Parses one enrollment (a PUT's body, a bulk item) into *p, whose k, id
 * and default status are set. Strings are borrowed from body; twin_text,
 * caps_text and params_text are allocated: put_free() in any case. NULL,
 * or why not (in why, len bytes, or static). */
static const char *put_parse(json_t *body, struct put *p, char *why, size_t len)
{
	const struct kind *k = p->k;
	struct json_spec sym[] = {
		{.field = "primaryKey",
		 .parse = parse_key,
		 .dest = &p->pk,
		 .flags = JSON_SPEC_OPTIONAL},
		{.field = "secondaryKey",
		 .parse = parse_key,
		 .dest = &p->sk,
		 .flags = JSON_SPEC_OPTIONAL},
		json_spec_end(),
	};
	struct json_spec att[] = {
		json_spec_string("type", &p->type, 32, JSON_SPEC_NONEMPTY),
		json_spec_fields("symmetricKey", sym, JSON_SPEC_OPTIONAL),
		json_spec_object("tpm", &p->tpm, JSON_SPEC_OPTIONAL),
		json_spec_object("x509", &p->x509, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct json_spec spec[] = {
		{.field = k->id_field,
		 .parse = parse_id,
		 .dest = &p->body_id,
		 .flags = JSON_SPEC_OPTIONAL},
		json_spec_fields("attestation", att, 0),
		json_spec_string("provisioningStatus", &p->status, 16, JSON_SPEC_OPTIONAL),
		{.field = "deviceId",
		 .parse = parse_id,
		 .dest = &p->device_id,
		 .flags = JSON_SPEC_OPTIONAL},
		json_spec_string("iotHubHostName", &p->hub, 253,
				 JSON_SPEC_OPTIONAL | JSON_SPEC_NO_CTRL | JSON_SPEC_NONEMPTY),
		json_spec_object("initialTwin", &p->twin, JSON_SPEC_OPTIONAL),
		json_spec_object("capabilities", &p->caps, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct json_spec_error err;
	const char *w;

	switch (json_spec_parse(body, spec, &err)) {
	case JSON_SPEC_OK: break;
	case JSON_SPEC_NOMEM: return "out of memory";
	default:
		snprintf(why, len, "%s: %s", err.pointer[0] ? err.pointer : "body", err.reason);
		utf8_scrub(why);
		return why;
	}
	/* Nothing in these specs allocates: no json_spec_free() is owed. */
	if (p->body_id != NULL && strcmp(p->body_id, p->id) != 0) {
		snprintf(why, len, "/%s: differs from the path's", k->id_field);
		return why;
	}
	if (strcmp(p->type, "symmetricKey") != 0 && strcmp(p->type, "tpm") != 0 &&
	    strcmp(p->type, "x509") != 0)
		return "/attestation/type: must be symmetricKey, x509 or tpm";
	if (strcmp(p->status, "enabled") != 0 && strcmp(p->status, "disabled") != 0)
		return "/provisioningStatus: must be enabled or disabled";
	if (k == &group && p->device_id != NULL)
		return "/deviceId: an enrollment group has none";
	if (p->twin != NULL && ((w = twin_problem(p->twin)) != NULL ||
				(w = dps_initial_twin_problem(p->twin, why, len)) != NULL))
		return w;
	if (p->caps != NULL) {
		json_t *edge = json_object_get(p->caps, "iotEdge");
		if (edge != NULL && !json_is_boolean(edge))
			return "/capabilities/iotEdge: must be true or false";
	}
	/* Last: the parameters are allocated. */
	if ((w = dps_alloc_parse(body, p->linked, &p->alloc_text, why, len)) != NULL)
		return w;
	if (json_is_string(json_object_get(body, "allocationPolicy")) &&
	    strcmp(json_string_value(json_object_get(body, "allocationPolicy")), "custom") == 0 &&
	    !dps_webhook_allowed(
		    json_string_value(json_object_get(
			    json_object_get(body, "customAllocationDefinition"), "webhookUrl")),
		    p->webhook_allow))
		return "/customAllocationDefinition/webhookUrl: not allowed by this server's"
		       " --dps-webhook-allow (by default https:// URLs only)";
	if (strcmp(p->type, "tpm") == 0 &&
	    (w = tpm_params(p->tpm, k == &group, &p->params_text, why, len)) != NULL)
		return w;
	if (strcmp(p->type, "x509") == 0 &&
	    (w = x509_params(p->x509, k == &group, &p->params_text, why, len)) != NULL)
		return w;
	p->twin_text = p->twin ? json_dumps(p->twin, JSON_COMPACT) : NULL;
	p->caps_text = p->caps ? json_dumps(p->caps, JSON_COMPACT) : NULL;
	if ((p->twin && !p->twin_text) || (p->caps && !p->caps_text))
		return "out of memory";
	return NULL;
}

static void put_free(struct put *p)
{
	free(p->twin_text);
	free(p->caps_text);
	free(p->params_text);
	free(p->alloc_text);
	p->twin_text = p->caps_text = p->params_text = p->alloc_text = NULL;
	explicit_bzero(p->gen_pk, sizeof p->gen_pk);
	explicit_bzero(p->gen_sk, sizeof p->gen_sk);
}

static int enrollment_put(struct request *req, const struct kind *k)
{
	struct put p = {.k = k,
			.id = req->params[0],
			.status = "enabled",
			.linked = req->srv->cfg.dps_linked_hubs,
			.webhook_allow = req->srv->cfg.dps_webhook_allow};
	char if_match[80], why[400];
	const char *w;
	enum store_qs qs;
	int ret;

	if (!dps_api_version_ok(req, &ret))
		return ret;
	if (!dps_id_valid(p.id))
		return reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
				     "%s: must be 1 to 128 of A-Z a-z 0-9 - . _ :", k->id_field);
	if ((w = put_parse(req->json, &p, why, sizeof why)) != NULL) {
		ret = reply_problem(req, ERR_DPS_ARGUMENT_INVALID, "%s", w);
		put_free(&p);
		return ret;
	}
	p.if_match = dps_if_match(req, if_match, sizeof if_match);
	qs = store_run_txn(req->srv->store, put_cb, &p);
	if (qs < 0)
		ret = reply_problem(req, ERR_DPS_UNAVAILABLE, "could not record the enrollment");
	else if (p.stale)
		ret = reply_problem(req, ERR_DPS_PRECONDITION_FAILED,
				    "If-Match does not match the enrollment's etag");
	else
		ret = dps_reply(req, 200, enrollment_json(k, &p.row, true), p.etag, true, NULL);
	put_free(&p);
	return ret;
}

struct get {
	const char *kind, *id;
	struct store_dps_enrollment row;
};

static enum store_qs get_cb(struct store_conn *c, void *cls)
{
	struct get *g = cls;

	return store_select_dps_enrollment(c, g->kind, g->id, &g->row);
}

/* GET, or with keys, POST .../attestationmechanism. */
static int enrollment_get(struct request *req, const struct kind *k, bool mechanism)
{
	struct get g = {.kind = k->kind, .id = req->params[0]};
	enum store_qs qs;
	int ret;

	if (!dps_api_version_ok(req, &ret))
		return ret;
	qs = store_run(req->srv->store, get_cb, &g);
	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_DPS_NOT_FOUND, "no %s enrollment %s", k->kind, g.id);
	if (mechanism) {
		json_t *full = enrollment_json(k, &g.row, true);
		json_t *att = json_incref(json_object_get(full, "attestation"));
		json_decref(full);
		ret = att ? dps_reply(req, 200, att, NULL, true, NULL) : MHD_NO;
	} else {
		ret = dps_reply(req, 200, enrollment_json(k, &g.row, false), g.row.etag, false,
				NULL);
	}
	store_dps_enrollment_free(&g.row);
	return ret;
}

struct del {
	const char *kind, *id, *if_match;
	bool missing, stale;
};

static enum store_qs del_cb(struct store_conn *c, void *cls)
{
	struct del *d = cls;
	struct store_dps_enrollment e;
	enum store_qs qs = store_delete_dps_enrollment(c, d->kind, d->id, d->if_match);

	d->missing = d->stale = false;
	if (qs != STORE_NONE)
		return qs;
	qs = store_select_dps_enrollment(c, d->kind, d->id, &e);
	if (qs == STORE_NONE)
		d->missing = true;
	else if (qs == STORE_ONE)
		d->stale = true;
	store_dps_enrollment_free(&e);
	return qs < 0 ? qs : STORE_NONE;
}

static int enrollment_delete(struct request *req, const struct kind *k)
{
	char if_match[80];
	struct del d = {.kind = k->kind, .id = req->params[0]};
	enum store_qs qs;
	int ret;

	if (!dps_api_version_ok(req, &ret))
		return ret;
	d.if_match = dps_if_match(req, if_match, sizeof if_match);
	qs = store_run_txn(req->srv->store, del_cb, &d);
	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	if (d.missing)
		return reply_problem(req, ERR_DPS_NOT_FOUND, "no %s enrollment %s", k->kind, d.id);
	if (d.stale)
		return reply_problem(req, ERR_DPS_PRECONDITION_FAILED,
				     "If-Match does not match the enrollment's etag");
	return reply_empty(req, 204);
}

int h_dps_enrollment_put(struct request *req)
{
	return enrollment_put(req, &individual);
}
int h_dps_enrollment_get(struct request *req)
{
	return enrollment_get(req, &individual, false);
}
int h_dps_enrollment_delete(struct request *req)
{
	return enrollment_delete(req, &individual);
}
int h_dps_enrollment_keys(struct request *req)
{
	return enrollment_get(req, &individual, true);
}
int h_dps_group_put(struct request *req)
{
	return enrollment_put(req, &group);
}
int h_dps_group_get(struct request *req)
{
	return enrollment_get(req, &group, false);
}
int h_dps_group_delete(struct request *req)
{
	return enrollment_delete(req, &group);
}
int h_dps_group_keys(struct request *req)
{
	return enrollment_get(req, &group, true);
}

struct page {
	const char *kind;
	struct dps_page pg;
	struct store_dps_enrollment_list rows;
};

static enum store_qs page_cb(struct store_conn *c, void *cls)
{
	struct page *p = cls;

	store_dps_enrollment_list_free(&p->rows);
	/* One more than asked: whether there is a next page. */
	return store_select_dps_enrollment_page(c, p->kind, p->pg.after, p->pg.limit + 1, &p->rows);
}

static json_t *individual_item(const void *rows, int i)
{
	return enrollment_json(&individual, &((const struct store_dps_enrollment *)rows)[i], false);
}
static json_t *group_item(const void *rows, int i)
{
	return enrollment_json(&group, &((const struct store_dps_enrollment *)rows)[i], false);
}
static const char *enrollment_id(const void *rows, int i)
{
	return ((const struct store_dps_enrollment *)rows)[i].id;
}

/* POST /enrollments/query, /enrollmentGroups/query: pages in id order. */
static int enrollment_query(struct request *req, const struct kind *k)
{
	struct page p = {.kind = k->kind};
	enum store_qs qs;
	int ret;

	if (!dps_api_version_ok(req, &ret) || !dps_page_args(req, &p.pg, &ret))
		return ret;
	qs = store_run(req->srv->store, page_cb, &p);
	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	ret = dps_reply_rows(req, &p.pg, p.rows.items, p.rows.n,
			     k == &group ? group_item : individual_item, enrollment_id);
	store_dps_enrollment_list_free(&p.rows);
	return ret;
}

int h_dps_enrollment_query(struct request *req)
{
	return enrollment_query(req, &individual);
}
int h_dps_group_query(struct request *req)
{
	return enrollment_query(req, &group);
}

/* The bulk operation (POST /enrollments): Azure's {mode, enrollments[]},
 * at most DPS_BULK_MAX individual enrollments. Every item is parsed before
 * anything is written (a malformed one refuses the whole request); then
 * all are applied in one transaction, each with its own outcome, as Azure
 * reports them: {isSuccessful, errors: [{registrationId, errorCode,
 * errorStatus}]}. */
#define DPS_BULK_MAX 10

enum bulk_mode { BULK_CREATE, BULK_UPDATE, BULK_UPDATE_IF_MATCH, BULK_DELETE };

struct bulk {
	enum bulk_mode mode;
	size_t n;
	const char *linked;	   /* --dps-linked-hubs */
	const char *webhook_allow; /* --dps-webhook-allow */
	struct put puts[DPS_BULK_MAX];
	struct del dels[DPS_BULK_MAX];
};

static enum store_qs bulk_cb(struct store_conn *c, void *cls)
{
	struct bulk *b = cls;

	for (size_t i = 0; i < b->n; i++) {
		enum store_qs qs =
			b->mode == BULK_DELETE ? del_cb(c, &b->dels[i]) : put_cb(c, &b->puts[i]);
		if (qs < 0)
			return qs;
	}
	return STORE_ONE;
}

static const char *bulk_parse(json_t *body, struct bulk *b, char *why, size_t len)
{
	static const char *const modes[] = {"create", "update", "updateIfMatchETag", "delete"};
	const char *mode = json_string_value(json_object_get(body, "mode"));
	json_t *list = json_object_get(body, "enrollments"), *item;
	size_t i;
	const char *w;

	for (i = 0; mode != NULL && i < 4; i++)
		if (strcmp(mode, modes[i]) == 0)
			break;
	if (mode == NULL || i == 4)
		return "/mode: must be create, update, updateIfMatchETag or delete";
	b->mode = (enum bulk_mode)i;
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > DPS_BULK_MAX)
		return "/enrollments: 1 to 10 individual enrollments";
	json_array_foreach (list, i, item) {
		const char *id = json_string_value(json_object_get(item, "registrationId"));
		const char *etag = json_string_value(json_object_get(item, "etag"));
		if (id == NULL || !dps_id_valid(id)) {
			snprintf(why, len,
				 "/enrollments/%zu/registrationId: a valid ID is required", i);
			return why;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(b->puts[j].id, id) == 0) {
				snprintf(why, len, "/enrollments/%zu: %s appears twice", i, id);
				return why;
			}
		b->n = i + 1;
		b->puts[i] = (struct put){.k = &individual,
					  .id = id,
					  .status = "enabled",
					  .linked = b->linked,
					  .webhook_allow = b->webhook_allow};
		b->dels[i] = (struct del){.kind = STORE_DPS_INDIVIDUAL, .id = id, .if_match = etag};
		if (b->mode == BULK_DELETE)
			continue;
		b->puts[i].create_only = b->mode == BULK_CREATE;
		if (b->mode == BULK_UPDATE_IF_MATCH) {
			if (etag == NULL) {
				snprintf(why, len, "/enrollments/%zu/etag: required", i);
				return why;
			}
			b->puts[i].if_match = etag;
		}
		if ((w = put_parse(item, &b->puts[i], why, len)) != NULL) {
			char inner[300];
			snprintf(inner, sizeof inner, "%s", w);
			snprintf(why, len, "/enrollments/%zu%.300s", i, inner);
			return why;
		}
	}
	return NULL;
}

int h_dps_enrollment_bulk(struct request *req)
{
	struct bulk *b = calloc(1, sizeof *b);
	char why[400];
	const char *w;
	json_t *errors = json_array();
	enum store_qs qs;
	int ret;

	if (b == NULL || errors == NULL) {
		free(b);
		json_decref(errors);
		return MHD_NO;
	}
	if (!dps_api_version_ok(req, &ret))
		goto out;
	b->linked = req->srv->cfg.dps_linked_hubs;
	b->webhook_allow = req->srv->cfg.dps_webhook_allow;
	if ((w = bulk_parse(req->json, b, why, sizeof why)) != NULL) {
		ret = reply_problem(req, ERR_DPS_ARGUMENT_INVALID, "%s", w);
		goto out;
	}
	qs = store_run_txn(req->srv->store, bulk_cb, b);
	if (qs < 0) {
		ret = reply_problem(req, ERR_DPS_UNAVAILABLE, "could not apply the bulk operation");
		goto out;
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct put *p = &b->puts[i];
		const struct del *d = &b->dels[i];
		bool del = b->mode == BULK_DELETE, failed = true;
		enum err_code e = ERR_DPS_CONFLICT;
		if (del && d->missing)
			e = ERR_DPS_NOT_FOUND;
		else if ((del && d->stale) || (!del && p->stale))
			e = ERR_DPS_PRECONDITION_FAILED;
		else if (del || !p->exists)
			failed = false;
		if (failed)
			json_array_append_new(errors, json_pack("{s:s, s:I, s:s}", "registrationId",
								p->id, "errorCode",
								(json_int_t)err_table[e].azure_code,
								"errorStatus", err_table[e].title));
	}
	ret = dps_reply(req, 200,
			json_pack("{s:b, s:O}", "isSuccessful", json_array_size(errors) == 0,
				  "errors", errors),
			NULL, false, NULL);
out:
	for (size_t i = 0; i < b->n; i++)
		put_free(&b->puts[i]);
	free(b);
	json_decref(errors);
	return ret;
}
