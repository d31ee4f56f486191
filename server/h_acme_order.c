/* ACME orders (RFC 8555 sections 7.4, 7.1.2.1, 7.1.3): POST /acme/new-order
 * creates one over an authorization per identifier (reusing the account's
 * valid ones), POST /acme/order/{id} reads it, POST
 * /acme/account/{id}/orders lists an account's orders. A new order may
 * name the certificate it renews (RFC 9773 replaces). Finalize:
 * h_acme_cert.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/ari.h"
#include "acme/order.h"
#include "pki/pki.h"
#include "server/acme.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/spec.h"

#define ACME_ORDER_IDENTS_MAX 100
#define ACME_ORDER_TTL_S (7 * 86400)
#define ACME_AUTHZ_PENDING_TTL_S (7 * 86400)
#define ACME_AUTHZ_REUSE_MIN_S 86400 /* a reused authorization outlives the order's day */
#define ACME_ORDERS_PAGE 100

/* What the order transaction needs and makes. */
struct new_order {
	const char *account;
	struct acme_ident idents[ACME_ORDER_IDENTS_MAX];
	size_t n;
	const char *identifiers; /* JSON array text */
	const char *profile;
	const char *replaces;  /* serial, or NULL */
	enum err_code refused; /* replaces refused: not 0 */
	char order_id[ACME_ID_MAX];
	char authz_ids[ACME_ORDER_IDENTS_MAX][ACME_ID_MAX];
	struct store_acme_order row;
	struct store_acme_late *late; /* ACME_LATE not settled: new_order_one takes the nonce */
};

/* Identifier i's would-be new authorization: its id (into o->authz_ids[i])
 * and a challenge per type that can prove it. false when out of
 * randomness. */
struct authz_draft {
	const char *chall_ids[8], *types[8], *tokens[8];
	char ids[8][ACME_ID_MAX], toks[8][ACME_ID_MAX];
	size_t n;
};

static bool authz_draft(struct new_order *o, size_t i, struct authz_draft *d)
{
	const struct acme_ident *id = &o->idents[i];

	d->n = 0;
	for (size_t k = 0; acme_chall_types[k] != NULL && d->n < 8; k++) {
		if (!acme_chall_fits(acme_chall_types[k], id))
			continue;
		if (!acme_random_id(d->ids[d->n]) || !acme_random_id(d->toks[d->n]))
			return false;
		d->chall_ids[d->n] = d->ids[d->n];
		d->types[d->n] = acme_chall_types[k]->name;
		d->tokens[d->n] = d->toks[d->n];
		d->n++;
	}
	return acme_random_id(o->authz_ids[i]);
}

/* A device's key is attested anew for every order (device-attest-01
 * binds the authorization to one key): no reuse. */
static bool reusable(const struct acme_ident *id)
{
	return !(id->type & (ACME_ID_PERMID | ACME_ID_HWMOD));
}

/* One identifier's authorization: a reusable valid one, or a new pending
 * one with a challenge per type that can prove it. */
static enum store_qs authz_for(struct store_conn *c, struct new_order *o, size_t i)
{
	const struct acme_ident *id = &o->idents[i];
	const char *type = acme_ident_type_name(id->type);
	struct authz_draft d;
	char *reuse = NULL;
	enum store_qs qs;

	qs = !reusable(id) ? STORE_NONE
			   : store_select_acme_authz_reusable(c, o->account, type, id->value,
							      id->wildcard, ACME_AUTHZ_REUSE_MIN_S,
							      &reuse);
	if (qs < 0)
		return qs;
	if (qs == STORE_ONE) {
		snprintf(o->authz_ids[i], ACME_ID_MAX, "%s", reuse);
		free(reuse);
		return STORE_ONE;
	}
	if (!authz_draft(o, i, &d))
		return STORE_HARD;
	return store_insert_acme_authz(c, o->authz_ids[i], o->account, type, id->value,
				       id->wildcard, ACME_AUTHZ_PENDING_TTL_S, d.n, d.chall_ids,
				       d.types, d.tokens);
}

/* The common newOrder, one identifier and no replaces, in one statement
 * (pg_insert_acme_order_one.c): one round trip where new_order_txn() takes
 * five. */
static enum store_qs new_order_one(struct store_conn *c, void *cls)
{
	struct new_order *o = cls;
	const struct acme_ident *id = &o->idents[0];
	struct authz_draft d;
	struct store_acme_authz_new a;

	store_acme_order_free(&o->row);
	if (!authz_draft(o, 0, &d) || !acme_random_id(o->order_id))
		return STORE_HARD;
	a = (struct store_acme_authz_new){.id = o->authz_ids[0],
					  .type = acme_ident_type_name(id->type),
					  .value = id->value,
					  .wildcard = id->wildcard,
					  .reuse = reusable(id),
					  .reuse_min_s = ACME_AUTHZ_REUSE_MIN_S,
					  .ttl_s = ACME_AUTHZ_PENDING_TTL_S,
					  .n = d.n,
					  .chall_ids = d.chall_ids,
					  .types = d.types,
					  .tokens = d.tokens};
	return store_insert_acme_order_one(c, o->order_id, o->account, o->identifiers, o->profile,
					   ACME_ORDER_TTL_S, &a, o->late, &o->row);
}

static enum store_qs new_order_txn(struct store_conn *c, void *cls)
{
	struct new_order *o = cls;
	const char *ids[ACME_ORDER_IDENTS_MAX];
	enum store_qs qs;

	store_acme_order_free(&o->row);
	if (o->replaces != NULL) {
		/* RFC 9773 section 5: the account's own certificate, not
		 * replaced yet by an order that has not failed. */
		char *holder = NULL;
		bool replaced = false;
		qs = store_select_acme_replaced(c, o->replaces, &holder, &replaced);
		if (qs < 0)
			return qs;
		o->refused = qs == STORE_NONE ? ERR_ACME_MALFORMED
			     : holder == NULL || strcmp(holder, o->account) != 0
				     ? ERR_ACME_UNAUTHORIZED
			     : replaced ? ERR_ACME_ALREADY_REPLACED
					: 0;
		free(holder);
		if (o->refused != 0)
			return STORE_CONFLICT; /* rolls back; the handler replies */
	}
	for (size_t i = 0; i < o->n; i++) {
		if ((qs = authz_for(c, o, i)) < 0)
			return qs;
		ids[i] = o->authz_ids[i];
	}
	if (!acme_random_id(o->order_id))
		return STORE_HARD;
	qs = store_insert_acme_order(c, o->order_id, o->account, o->identifiers, o->n, ids,
				     o->profile, o->replaces, ACME_ORDER_TTL_S, &o->row);
	return qs == STORE_NONE ? STORE_HARD : qs;
}

struct account_device {
	const char *account;
	char *device;
};

static enum store_qs account_device_cb(struct store_conn *c, void *cls)
{
	struct account_device *d = cls;

	free(d->device);
	return store_select_acme_account_device(c, d->account, &d->device);
}

/* An account a TPM already bound to a device orders for that device only:
 * another permanent-identifier is rejectedIdentifier here (for an account
 * not bound yet, the AK certificate decides at the challenge). False with
 * the refusal queued in *ret. */
static bool device_bound(struct request *req, const char *account, const struct new_order *o,
			 int *ret)
{
	struct account_device d = {account, NULL};
	bool any = false;
	enum store_qs qs;

	for (size_t i = 0; i < o->n; i++)
		any |= o->idents[i].type == ACME_ID_PERMID;
	if (!any)
		return true;
	qs = store_run(req->srv->store, account_device_cb, &d);
	if (qs < 0) {
		*ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		return false;
	}
	for (size_t i = 0; d.device != NULL && i < o->n; i++)
		if (o->idents[i].type == ACME_ID_PERMID &&
		    strcmp(o->idents[i].value, d.device) != 0) {
			*ret = reply_problem(req, ERR_ACME_REJECTED_IDENTIFIER,
					     "this account belongs to device %s, not %s", d.device,
					     o->idents[i].value);
			free(d.device);
			return false;
		}
	free(d.device);
	return true;
}

/* Checks the payload's identifiers into o; on a refusal, queues it and
 * returns false with *ret set. */
static bool parse_identifiers(struct request *req, struct new_order *o, json_t **canon, int *ret)
{
	json_t *list = json_object_get(req->json, "identifiers"), *it, *sub = NULL;
	enum err_code first = ERR_ACME_MALFORMED;
	char detail[200] = "";
	size_t i;

	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > ACME_ORDER_IDENTS_MAX) {
		*ret = reply_problem(req, ERR_ACME_MALFORMED,
				     "\"identifiers\" must be a list of 1 to %d identifiers",
				     ACME_ORDER_IDENTS_MAX);
		return false;
	}
	*canon = json_array();
	json_array_foreach (list, i, it) {
		const char *type = json_string_value(json_object_get(it, "type"));
		const char *value = json_string_value(json_object_get(it, "value"));
		struct acme_ident id;
		struct acme_err e;
		bool dup = false;

		if (!json_is_object(it) || type == NULL || value == NULL) {
			json_decref(sub);
			json_decref(*canon);
			*canon = NULL;
			*ret = reply_problem(req, ERR_ACME_MALFORMED,
					     "/identifiers/%zu: an object with string \"type\" and "
					     "\"value\"",
					     i);
			return false;
		}
		if (acme_ident_check(type, value, &id, &e) != 0) {
			/* Section 6.7.1: one subproblem per refused identifier. */
			if (sub == NULL) {
				sub = json_array();
				first = e.code;
				snprintf(detail, sizeof detail, "%s", e.detail);
			}
			json_array_append_new(
				sub, json_pack("{s:s, s:s, s:i, s:{s:s, s:s}}", "type",
					       err_table[e.code].type, "detail", e.detail, "status",
					       (int)err_table[e.code].http_status, "identifier",
					       "type", type, "value", value));
			continue;
		}
		for (size_t k = 0; k < o->n; k++)
			dup |= o->idents[k].type == id.type &&
			       o->idents[k].wildcard == id.wildcard &&
			       strcmp(o->idents[k].value, id.value) == 0;
		if (dup) /* the same identifier twice: one authorization */
			continue;
		o->idents[o->n++] = id;
		json_array_append_new(*canon,
				      json_pack("{s:s, s:s}", "type", type, "value", value));
	}
	if (sub != NULL) {
		json_decref(*canon);
		*canon = NULL;
		*ret = reply_problem_ext(__FILE__, __LINE__, req, first,
					 json_pack("{s:o}", "subproblems", sub), detail);
		return false;
	}
	return true;
}

struct limits {
	const char *account;
	long long orders, retry, pending;
	struct store_acme_late *late; /* ACME_LATE not settled: read the account, take the nonce */
};

static enum store_qs limits_cb(struct store_conn *c, void *cls)
{
	struct limits *l = cls;

	if (l->late != NULL)
		return store_take_acme_nonce_limits(c, l->late, &l->orders, &l->retry, &l->pending);
	return store_count_acme_limits(c, l->account, &l->orders, &l->retry, &l->pending);
}

/* Per-account rate limits: orders per hour and pending authorizations
 * (--acme-orders-per-hour, --acme-pending-authz-max). A new order counts
 * its identifiers as pending authorizations, reused ones included: the
 * limit errs on the side of refusing. */
static bool within_limits(struct request *req, size_t new_authzs, int *ret)
{
	struct limits l = {req->acme->account.id, 0, 0, 0, NULL};
	const struct config *cfg = &req->srv->cfg;
	struct store_acme_late late;
	long long orders, retry, pending;
	enum store_qs qs;

	if (cfg->acme_orders_per_hour == 0 && cfg->acme_pending_authz_max == 0)
		return acme_late_settle_now(req, ret);
	l.late = acme_late(req, &late);
	qs = store_run(req->srv->store, limits_cb, &l);
	if (l.late != NULL && !acme_late_settle(req, qs, late.nonce_state, ret))
		return false;
	if (qs < 0) {
		*ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		return false;
	}
	orders = l.orders;
	retry = l.retry;
	pending = l.pending;
	if (cfg->acme_orders_per_hour > 0 && orders >= cfg->acme_orders_per_hour) {
		req->retry_after_s = retry > 0 ? (long)retry : 1;
		*ret = reply_problem(req, ERR_ACME_RATE_LIMITED,
				     "at most %ld new orders per account and hour",
				     cfg->acme_orders_per_hour);
		return false;
	}
	if (cfg->acme_pending_authz_max > 0 &&
	    pending + (long long)new_authzs > cfg->acme_pending_authz_max) {
		req->retry_after_s = 3600;
		*ret = reply_problem(req, ERR_ACME_RATE_LIMITED,
				     "at most %ld pending authorizations per account: finish or "
				     "deactivate some",
				     cfg->acme_pending_authz_max);
		return false;
	}
	return true;
}

int acme_reply_order(struct request *req, unsigned status, const struct store_acme_order *o)
{
	char path[128], loc[ACME_URL_MAX];
	size_t len = 0;
	char *text = acme_order_text(req, o, &len);
	json_t *body = text == NULL ? acme_order_json(req, o) : NULL;

	snprintf(path, sizeof path, "/acme/order/%s", o->id);
	if ((text == NULL && body == NULL) || !acme_url(req, path, loc, sizeof loc)) {
		free(text);
		json_decref(body);
		return reply_problem(req, ERR_ACME_SERVER_INTERNAL, "cannot render the order");
	}
	if (text != NULL)
		return acme_reply_text(req, status, text, len, loc, NULL, NULL);
	return acme_reply_json(req, status, body, loc, NULL, NULL);
}

int h_acme_new_order(struct request *req)
{
	struct acme_auth *a = req->acme;
	const char *profile = NULL, *nb = NULL, *na = NULL, *replaces = NULL;
	char serial[33];
	uint8_t aki[ACME_ARI_AKI_MAX];
	size_t aki_len;
	struct json_spec spec[] = {
		json_spec_string("profile", &profile, 64, JSON_SPEC_OPTIONAL),
		json_spec_string("replaces", &replaces, 256, JSON_SPEC_OPTIONAL),
		json_spec_string("notBefore", &nb, 64, JSON_SPEC_OPTIONAL),
		json_spec_string("notAfter", &na, 64, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct new_order *o = NULL;
	struct store_acme_late late;
	bool fold;
	json_t *canon = NULL;
	char *canon_text = NULL;
	enum spec_status st;
	enum store_qs qs;
	int ret = MHD_NO;

	if (a->post_as_get)
		return reply_problem(req, ERR_ACME_MALFORMED, "newOrder needs a JSON payload");
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	/* Section 7.4: a server that will not honour the dates says so. The
	 * lifetime is the profile's. */
	if (nb != NULL || na != NULL) {
		ret = reply_problem(req, ERR_ACME_MALFORMED,
				    "notBefore and notAfter are not supported: a certificate's "
				    "lifetime is its profile's");
		goto out;
	}
	if (profile != NULL &&
	    (req->srv->ca == NULL || pki_profile_lifetime(req->srv->ca, profile) < 0)) {
		ret = reply_problem(req, ERR_ACME_INVALID_PROFILE,
				    "no profile \"%.64s\" (see the directory's meta.profiles)",
				    profile);
		goto out;
	}
	if (replaces != NULL && acme_ari_parse(replaces, aki, &aki_len, serial) != 0) {
		ret = reply_problem(req, ERR_ACME_MALFORMED,
				    "\"replaces\" is not a certificate identifier (RFC 9773: "
				    "base64url(AKI) \".\" base64url(serial))");
		goto out;
	}
	if ((o = calloc(1, sizeof *o)) == NULL) {
		ret = reply_problem(req, ERR_ACME_SERVER_INTERNAL, "no memory");
		goto out;
	}
	if (!parse_identifiers(req, o, &canon, &ret))
		goto out;
	/* ACME_LATE: the limits' read takes the account and the nonce; with
	 * the limits off, a one-identifier order's own statement does (no
	 * permanent-identifier: device_bound() reads the store first). */
	fold = req->srv->cfg.acme_orders_per_hour == 0 &&
	       req->srv->cfg.acme_pending_authz_max == 0 && o->n == 1 && replaces == NULL &&
	       o->idents[0].type != ACME_ID_PERMID && acme_late(req, &late) != NULL;
	if (!fold && !within_limits(req, o->n, &ret))
		goto out;
	if (!device_bound(req, a->account.id, o, &ret))
		goto out;
	if ((canon_text = json_dumps(canon, JSON_COMPACT)) == NULL) {
		ret = reply_problem(req, ERR_ACME_SERVER_INTERNAL, "no memory");
		goto out;
	}
	/* Not read yet when fold: the kid the signature verified for. */
	o->account = fold ? late.account_id : a->account.id;
	o->identifiers = canon_text;
	o->profile = profile;
	/* A device-attest-01 order that names no profile gets device-client. */
	for (size_t i = 0; o->profile == NULL && i < o->n; i++)
		if (o->idents[i].type & (ACME_ID_PERMID | ACME_ID_HWMOD))
			o->profile = ACME_DEVICE_PROFILE;
	o->replaces = replaces ? serial : NULL;
	o->late = fold ? &late : NULL;
	qs = o->n == 1 && o->replaces == NULL ? store_run(req->srv->store, new_order_one, o)
					      : store_run_txn(req->srv->store, new_order_txn, o);
	if (fold) {
		o->late = NULL;
		if (!acme_late_settle(req, qs, late.nonce_state, &ret))
			goto out;
		/* Settled the long way (another orchardd changed the account's
		 * key): the nonce is taken, nothing was written yet. */
		if (qs == STORE_ONE && o->row.id == NULL)
			qs = store_run(req->srv->store, new_order_one, o);
	}
	if (o->refused != 0)
		ret = reply_problem(req, o->refused,
				    o->refused == ERR_ACME_ALREADY_REPLACED
					    ? "an order already replaces that certificate"
				    : o->refused == ERR_ACME_UNAUTHORIZED
					    ? "\"replaces\" names another account's certificate"
					    : "\"replaces\" names no certificate of this CA");
	else if (qs < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else
		ret = acme_reply_order(req, 201, &o->row);
out:
	if (o != NULL)
		store_acme_order_free(&o->row);
	free(o);
	free(canon_text);
	json_decref(canon);
	json_spec_free(spec);
	return ret;
}

struct order_get {
	const char *id;
	struct store_acme_order row;
	struct store_acme_late *late; /* ACME_LATE not settled: read the account, take the nonce */
};

static enum store_qs order_get_cb(struct store_conn *c, void *cls)
{
	struct order_get *g = cls;

	if (g->late != NULL)
		return store_take_acme_nonce_order(c, g->id, g->late, &g->row);
	return store_select_acme_order(c, g->id, &g->row);
}

bool acme_order_load(struct request *req, struct store_acme_order *row, int *ret)
{
	struct order_get gg = {0}, *g = &gg;
	enum store_qs qs;

	g->id = req->params[0];
	if (!acme_id_ok(g->id)) {
		*ret = reply_problem(req, ERR_ACME_NOT_FOUND, "no such order");
		return false;
	}
	struct store_acme_late late;

	g->late = acme_late(req, &late);
	qs = store_run(req->srv->store, order_get_cb, g);
	if (g->late != NULL) {
		if (!acme_late_settle(req, qs, late.nonce_state, ret)) {
			store_acme_order_free(&g->row);
			return false;
		}
		qs = g->row.id != NULL ? STORE_ONE : STORE_NONE;
	}
	if (qs < 0) {
		*ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		return false;
	}
	if (qs == STORE_NONE) {
		*ret = reply_problem(req, ERR_ACME_NOT_FOUND, "no such order");
		return false;
	}
	if (strcmp(g->row.account_id, req->acme->account.id) != 0) {
		store_acme_order_free(&g->row);
		*ret = reply_problem(req, ERR_ACME_UNAUTHORIZED, "the order is another account's");
		return false;
	}
	*row = g->row;
	return true;
}

int h_acme_order(struct request *req)
{
	struct order_get g = {0};
	int ret;

	if (!req->acme->post_as_get)
		return reply_problem(req, ERR_ACME_MALFORMED,
				     "an order is read with POST-as-GET (an empty payload)");
	if (!acme_order_load(req, &g.row, &ret))
		return ret;
	ret = acme_reply_order(req, 200, &g.row);
	store_acme_order_free(&g.row);
	return ret;
}

struct orders_list {
	const char *account, *after;
	char *ids;
};

static enum store_qs orders_list_cb(struct store_conn *c, void *cls)
{
	struct orders_list *l = cls;

	return store_select_acme_orders(c, l->account, l->after, ACME_ORDERS_PAGE, &l->ids);
}

/* POST-as-GET /acme/account/{id}/orders[/{after}]: a page of the
 * account's order URLs, newest first, with Link rel="next" to the page
 * after its last order (section 7.1.2.1). */
int h_acme_orders(struct request *req)
{
	struct orders_list l = {req->acme->account.id, req->nparams > 1 ? req->params[1] : NULL,
				NULL};
	json_t *ids, *urls, *v;
	char next[ACME_URL_MAX] = "", path[160];
	enum store_qs qs;
	size_t i;
	int ret;

	/* Section 7.1.2.1: only the account itself. */
	if (strcmp(req->params[0], req->acme->account.id) != 0)
		return reply_problem(req, ERR_ACME_UNAUTHORIZED,
				     "the JWS \"kid\" is another account");
	if (!req->acme->post_as_get)
		return reply_problem(req, ERR_ACME_MALFORMED,
				     "the orders list is read with POST-as-GET");
	if (l.after != NULL && !acme_id_ok(l.after))
		return reply_problem(req, ERR_ACME_NOT_FOUND, "no such page");
	qs = store_run(req->srv->store, orders_list_cb, &l);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	ids = json_loads(l.ids, 0, NULL);
	free(l.ids);
	urls = json_array();
	json_array_foreach (ids, i, v) {
		if (i == ACME_ORDERS_PAGE) { /* one more: the next page starts after the last */
			snprintf(path, sizeof path, "/acme/account/%s/orders/%s", l.account,
				 json_string_value(json_array_get(ids, i - 1)));
			if (!acme_url(req, path, next, sizeof next))
				next[0] = '\0';
			break;
		}
		json_array_append_new(urls,
				      acme_url_json(req, "/acme/order/", json_string_value(v), ""));
	}
	json_decref(ids);
	ret = acme_reply_json(req, 200, json_pack("{s:o}", "orders", urls), NULL,
			      next[0] ? next : NULL, "next");
	return ret;
}
