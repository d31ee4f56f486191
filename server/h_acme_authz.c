/* ACME authorizations (RFC 8555 sections 7.5, 7.5.2): POST
 * /acme/authz/{id} reads one (POST-as-GET) or deactivates it. A read of an
 * authorization whose validation is under way (an answer that gave up
 * waiting, or another client's) waits suspended (server/wait.h) up to
 * ACME_AUTHZ_WAIT_MS for the outcome; a read of a pending one leaves hints
 * for the answers to come (server/acme_hints.h, h_acme_chall.c). */
#include <stdio.h>
#include <string.h>

#include "acme/order.h"
#include "server/acme.h"
#include "server/acme_hints.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/spec.h"
#include "server/store/events.h"
#include "server/wait.h"

struct authz_get {
	const char *id;
	struct store_acme_authz row;
	struct store_acme_late *late; /* ACME_LATE not settled: read the account, take the nonce */
};

static enum store_qs authz_get_cb(struct store_conn *c, void *cls)
{
	struct authz_get *g = cls;

	if (g->late != NULL)
		return store_take_acme_nonce_authz(c, g->id, g->late, &g->row);
	return store_select_acme_authz(c, g->id, &g->row);
}

static enum store_qs deactivate_cb(struct store_conn *c, void *cls)
{
	return store_deactivate_acme_authz(c, cls);
}

/* Loads authorization id into g->row; queues a refusal and returns false
 * when it is missing or another account's. */
static bool load_authz(struct request *req, const char *id, struct authz_get *g, int *ret)
{
	enum store_qs qs;

	g->id = id;
	if (!acme_id_ok(id)) {
		*ret = reply_problem(req, ERR_ACME_NOT_FOUND, "no such authorization");
		return false;
	}
	struct store_acme_late late;

	g->late = acme_late(req, &late);
	qs = store_run(req->srv->store, authz_get_cb, g);
	if (g->late != NULL) {
		g->late = NULL;
		if (!acme_late_settle(req, qs, late.nonce_state, ret)) {
			store_acme_authz_free(&g->row);
			return false;
		}
		qs = g->row.id != NULL ? STORE_ONE : STORE_NONE;
	}
	if (qs < 0) {
		*ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		return false;
	}
	if (qs == STORE_NONE) {
		*ret = reply_problem(req, ERR_ACME_NOT_FOUND, "no such authorization");
		return false;
	}
	if (strcmp(g->row.account_id, req->acme->account.id) != 0) {
		store_acme_authz_free(&g->row);
		*ret = reply_problem(req, ERR_ACME_UNAUTHORIZED,
				     "the authorization is another account's");
		return false;
	}
	return true;
}

/* Whether a challenge in chs (the authorization's challenges, parsed once
 * for this look and the reply) is processing. */
static bool any_processing(const json_t *chs)
{
	const json_t *ch;
	bool found = false;
	size_t i;

	json_array_foreach ((json_t *)chs, i, ch) {
		const char *st = json_string_value(json_object_get(ch, "status"));
		found |= st != NULL && strcmp(st, "processing") == 0;
	}
	return found;
}

/* Hints for the answers to come (server/acme_hints.h): the pending
 * challenges, validated over the network, of pending authorization a. */
static void authz_hint(const struct store_acme_authz *a, const json_t *chs)
{
	struct acme_hint h = {0};
	const json_t *ch;
	size_t i;

	if (strcmp(a->status, "pending") != 0)
		return;
	snprintf(h.authz_id, sizeof h.authz_id, "%s", a->id);
	snprintf(h.account_id, sizeof h.account_id, "%s", a->account_id);
	snprintf(h.ident_type, sizeof h.ident_type, "%s", a->type);
	snprintf(h.ident_value, sizeof h.ident_value, "%s", a->value);
	h.wildcard = a->wildcard;
	h.expires_at = a->expires_at;
	json_array_foreach ((json_t *)chs, i, ch) {
		const char *id = json_string_value(json_object_get(ch, "id"));
		const char *type = json_string_value(json_object_get(ch, "type"));
		const char *token = json_string_value(json_object_get(ch, "token"));
		const char *st = json_string_value(json_object_get(ch, "status"));
		const struct acme_chall_type *t = type ? acme_chall_find(type) : NULL;
		if (id == NULL || token == NULL || st == NULL || strcmp(st, "pending") != 0 ||
		    t == NULL || t->offline)
			continue;
		snprintf(h.chall_id, sizeof h.chall_id, "%s", id);
		snprintf(h.type, sizeof h.type, "%s", type);
		snprintf(h.token, sizeof h.token, "%s", token);
		acme_hint_put(&h);
	}
}

int h_acme_authz(struct request *req)
{
	const char *status = NULL;
	struct json_spec spec[] = {
		json_spec_string("status", &status, 32, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct authz_get g = {0};
	json_t *chs = NULL;
	enum spec_status st;
	enum store_qs qs;
	int ret;

	if (req->acme->post_as_get) {
		struct waiter *w = req->state;
		for (;;) {
			if (!load_authz(req, req->params[0], &g, &ret))
				return ret;
			chs = json_loads(g.row.challenges, 0, NULL);
			if (!any_processing(chs) || (w != NULL && wait_expired(w)))
				goto render;
			json_decref(chs);
			chs = NULL;
			if (w == NULL) {
				/* Subscribed, then looked at again: an outcome that came
				 * between the first look and now is not missed. */
				w = wait_new(req->srv, req->conn, EVENTS_ACME_AUTHZ, g.id,
					     ACME_AUTHZ_WAIT_MS);
				if (w == NULL)
					goto render;
				request_set_state(req, w, wait_free_cb);
			} else if (wait_sleep(w)) {
				store_acme_authz_free(&g.row);
				return MHD_YES; /* resumed by the outcome or the deadline */
			}
			store_acme_authz_free(&g.row);
		}
	}
	if (!load_authz(req, req->params[0], &g, &ret))
		return ret;
	if ((st = spec_parse_body(req, spec)) != SPEC_OK) {
		store_acme_authz_free(&g.row);
		return SPEC_HANDLER_RESULT(st);
	}
	if (status == NULL || strcmp(status, "deactivated") != 0) {
		json_spec_free(spec);
		store_acme_authz_free(&g.row);
		return reply_problem(req, ERR_ACME_MALFORMED,
				     "an authorization can only become \"deactivated\"");
	}
	json_spec_free(spec);
	/* Section 7.5.2: from pending or valid only. */
	qs = store_run(req->srv->store, deactivate_cb, (void *)g.id);
	if (qs < 0) {
		store_acme_authz_free(&g.row);
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	}
	if (qs == STORE_NONE) {
		ret = reply_problem(req, ERR_ACME_MALFORMED, "the authorization is %s",
				    g.row.status);
		store_acme_authz_free(&g.row);
		return ret;
	}
	store_acme_authz_free(&g.row);
	if (store_run(req->srv->store, authz_get_cb, &g) != STORE_ONE)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
render:
	if (chs == NULL)
		chs = json_loads(g.row.challenges, 0, NULL);
	if (req->acme->post_as_get)
		authz_hint(&g.row, chs);
	/* Section 8.2: a validation under way: poll again in a second. */
	if (any_processing(chs))
		req->retry_after_s = 1;
	ret = acme_reply_json(req, 200, acme_authz_json_with(req, &g.row, chs), NULL, NULL, NULL);
	json_decref(chs);
	store_acme_authz_free(&g.row);
	return ret;
}
