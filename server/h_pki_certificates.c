/* /pki/certificates: the CA's record for operators (pki:admin): list with
 * filters and keyset pages, one certificate with its PEM, revocation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "pki/pki.h"
#include "server/certs.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/store/pki.h"

#define LIST_MAX 500
#define LIST_DEFAULT 100

static const char *cert_status(const struct store_cert *c)
{
	return c->revoked_at			       ? "revoked"
	       : c->not_after <= (long long)time(NULL) ? "expired"
						       : "valid";
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Renders a row for the operator API; with its PEM when the row has DER. */
static json_t *cert_json(const struct store_cert *c)
{
	char nb[TIMEFMT_RFC3339_LEN], na[TIMEFMT_RFC3339_LEN], at[TIMEFMT_RFC3339_LEN],
		rev[TIMEFMT_RFC3339_LEN];
	json_t *o;

	timefmt_rfc3339(c->not_before, nb);
	timefmt_rfc3339(c->not_after, na);
	timefmt_rfc3339(c->issued_at, at);
	timefmt_rfc3339(c->revoked_at, rev);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "serial",
		      c->serial, "status", cert_status(c), "sans", c->sans, "key_type", c->key_type,
		      "profile", c->profile, "not_before", nb, "not_after", na, "issued_at", at,
		      "acme_account_id", str_or_null(c->acme_account_id), "acme_order_id",
		      str_or_null(c->acme_order_id), "dps_registration",
		      str_or_null(c->dps_registration), "revoked_at",
		      c->revoked_at ? json_string(rev) : json_null(), "revocation_reason",
		      c->revoked_at ? str_or_null(pki_reason_name(c->reason)) : json_null());
	if (o != NULL && c->der_b64 != NULL) {
		/* PEM: the base64 (PostgreSQL wraps it at 76) between the lines. */
		size_t n = strlen(c->der_b64);
		char *pem = malloc(n + 64);
		if (pem == NULL) {
			json_decref(o);
			return NULL;
		}
		snprintf(pem, n + 64,
			 "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n",
			 c->der_b64);
		json_object_set_new(o, "pem", json_string(pem));
		free(pem);
	}
	return o;
}

struct cert_list {
	struct store_cert_filter f;
	struct store_cert_page page;
};

static enum store_qs cert_list_cb(struct store_conn *c, void *cls)
{
	struct cert_list *l = cls;

	return store_select_certificates(c, &l->f, &l->page);
}

/* "after" is the previous page's next_after: a positive number. */
static int cursor_parse(const char *v, long long *after)
{
	char *end;

	errno = 0;
	*after = strtoll(v, &end, 10);
	return errno == 0 && end != v && *end == '\0' && *after > 0 ? 0 : -1;
}

int h_pki_cert_list(struct request *req)
{
	struct cert_list l = {.f = {.limit = LIST_DEFAULT}};
	const char *status = request_arg(req, "status"), *limit = request_arg(req, "limit"),
		   *after = request_arg(req, "after");
	char next[24];
	json_t *items;
	int ret;

	l.f.profile = request_arg(req, "profile");
	l.f.san = request_arg(req, "san");
	if (status != NULL) {
		l.f.status = strcmp(status, "valid") == 0     ? 1
			     : strcmp(status, "revoked") == 0 ? 2
			     : strcmp(status, "expired") == 0 ? 3
							      : -1;
		if (l.f.status < 0)
			return reply_problem(req, ERR_INVALID_PARAMETER,
					     "status is valid, revoked or expired");
	}
	if (limit != NULL) {
		char *end;
		errno = 0;
		long v = strtol(limit, &end, 10);
		if (errno != 0 || end == limit || *end != '\0' || v < 1 || v > LIST_MAX)
			return reply_problem(req, ERR_INVALID_PARAMETER, "limit must be 1..%d",
					     LIST_MAX);
		l.f.limit = (int)v;
	}
	if (after != NULL) {
		if (cursor_parse(after, &l.f.after) != 0)
			return reply_problem(req, ERR_INVALID_PARAMETER,
					     "after is the next_after of a previous page");
	}
	if (store_run(req->srv->store, cert_list_cb, &l) < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	items = json_array();
	for (size_t i = 0; items != NULL && i < l.page.n; i++)
		if (json_array_append_new(items, cert_json(&l.page.rows[i])) != 0) {
			json_decref(items);
			items = NULL;
		}
	json_t *body = items ? json_pack("{s:o}", "items", items) : NULL;
	if (body != NULL && l.page.n == (size_t)l.f.limit) {
		const struct store_cert *last = &l.page.rows[l.page.n - 1];
		/* The same filters with after=next_after give the next page. */
		snprintf(next, sizeof next, "%lld", last->seq);
		json_object_set_new(body, "next_after", json_string(next));
	}
	ret = body ? reply_json_steal(req, 200, body)
		   : reply_problem(req, ERR_INTERNAL, "out of memory");
	store_cert_page_free(&l.page);
	return ret;
}

int h_pki_cert_get(struct request *req)
{
	char serial[33];
	struct store_cert row = {0};
	enum store_qs qs;
	int ret;

	if (pki_serial_canonical(req->params[0], serial) != 0)
		return reply_problem(req, ERR_PKI_BAD_SERIAL, NULL);
	qs = certs_select(req->srv, serial, &row);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_PKI_CERT_NOT_FOUND, NULL);
	ret = reply_json_steal(req, 200, cert_json(&row));
	store_cert_free(&row);
	return ret;
}

/* A reason by RFC 5280 name ("keyCompromise") or code; -1 for anything
 * else, which the handler answers with its own problem type. */
static enum json_spec_rc parse_reason(const struct json_spec *s, json_t *v, const char *ptr,
				      struct json_spec_error *err)
{
	(void)ptr;
	(void)err;
	int *reason = s->dest;

	*reason = json_is_string(v)    ? pki_reason_parse(json_string_value(v))
		  : json_is_integer(v) ? (pki_reason_name((int)json_integer_value(v)) &&
							  json_integer_value(v) <= 10
						  ? (int)json_integer_value(v)
						  : -1)
				       : -1;
	return JSON_SPEC_OK;
}

struct cert_revoke {
	const char *serial;
	int reason;
	int already; /* the serial exists, revoked before */
	struct store_cert row;
};

/* Revokes, or tells "unknown" from "already revoked" in the same snapshot. */
static enum store_qs cert_revoke_cb(struct store_conn *c, void *cls)
{
	struct cert_revoke *r = cls;
	enum store_qs qs = store_revoke_certificate(c, r->serial, r->reason);

	if (qs != STORE_NONE)
		return qs;
	store_cert_free(&r->row);
	qs = store_select_certificate(c, r->serial, &r->row);
	r->already = qs == STORE_ONE;
	return qs < 0 ? qs : STORE_NONE;
}

int h_pki_cert_revoke(struct request *req)
{
	char serial[33];
	struct cert_revoke r = {.serial = serial, .reason = 0};
	struct json_spec spec[] = {
		{.field = "reason",
		 .parse = parse_reason,
		 .dest = &r.reason,
		 .flags = JSON_SPEC_OPTIONAL},
		json_spec_end(),
	};
	enum spec_status st;
	enum store_qs qs;

	if (pki_serial_canonical(req->params[0], serial) != 0)
		return reply_problem(req, ERR_PKI_BAD_SERIAL, NULL);
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	if (r.reason < 0)
		return reply_problem(req, ERR_PKI_BAD_REASON, NULL);
	qs = store_run_txn(req->srv->store, cert_revoke_cb, &r);
	store_cert_free(&r.row);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(
			req, r.already ? ERR_PKI_ALREADY_REVOKED : ERR_PKI_CERT_NOT_FOUND, NULL);
	return reply_empty(req, 204);
}
