/* The DPS service API's shared access policies (/dps/policies/{name}):
 * create or set rights (PUT), read and list (GET: never the keys), rotate
 * the keys (POST .../rotate?key=primary|secondary, both without), delete.
 * Keys are shown once, in the reply that made them, with Cache-Control:
 * no-store; they are never logged. */
#include <jansson.h>
#include <microhttpd.h>
#include <string.h>

#include "common/timefmt.h"
#include "server/dps.h"
#include "server/dps_policy.h"
#include "server/dps_sas.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/store/dps_policies.h"

static json_t *policy_json(const struct store_dps_policy *p, bool keys)
{
	char created[TIMEFMT_RFC3339_LEN], updated[TIMEFMT_RFC3339_LEN];

	timefmt_rfc3339(p->created_at, created);
	timefmt_rfc3339(p->updated_at, updated);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "keyName", p->name, "rights", p->rights,
			      "createdDateTimeUtc", created, "lastUpdatedDateTimeUtc", updated);
	if (o != NULL && keys) {
		json_object_set_new(o, "primaryKey", json_string(p->primary_key));
		json_object_set_new(o, "secondaryKey", json_string(p->secondary_key));
	}
	return o;
}

struct pol_op {
	const char *name;
	struct store_dps_policy in, row;
	struct store_dps_policy_list list;
	bool created;
};

static enum store_qs put_cb(struct store_conn *c, void *cls)
{
	struct pol_op *o = cls;

	store_dps_policy_free(&o->row);
	return store_upsert_dps_policy(c, &o->in, &o->created, &o->row);
}

/* 400 unless the path names a valid policy. */
static bool name_ok(struct request *req, int *ret)
{
	if (dps_policy_name_valid(req->params[0]))
		return true;
	*ret = reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
			     "a policy name is 1-%d of A-Z a-z 0-9 . _ -", DPS_POLICY_NAME_MAX);
	return false;
}

int h_dps_policy_put(struct request *req)
{
	const char *rights_text = NULL;
	struct json_spec spec[] = {
		json_spec_string("rights", &rights_text, 256,
				 JSON_SPEC_NONEMPTY | JSON_SPEC_NO_CTRL),
		json_spec_end(),
	};
	char rights[160], pk[DPS_KEY_B64_MAX], sk[DPS_KEY_B64_MAX];
	struct pol_op o = {.name = req->params[0]};
	unsigned bad = 0, bits;
	enum spec_status st;
	enum store_qs qs;
	int ret;

	if (!name_ok(req, &ret))
		return ret;
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	bits = dps_rights_parse(rights_text, &bad);
	json_spec_free(spec);
	if (bad != 0 || bits == 0)
		return reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
				     "rights: one or more of ServiceConfig, EnrollmentRead, "
				     "EnrollmentWrite, RegistrationStatusRead, "
				     "RegistrationStatusWrite, separated by commas");
	dps_rights_format(bits, rights, sizeof rights);
	if (dps_key_generate(pk) != 0 || dps_key_generate(sk) != 0)
		return reply_problem(req, ERR_DPS_INTERNAL, NULL);
	o.in = (struct store_dps_policy){
		.name = (char *)o.name, .rights = rights, .primary_key = pk, .secondary_key = sk};
	qs = store_run_txn(req->srv->store, put_cb, &o);
	explicit_bzero(pk, sizeof pk);
	explicit_bzero(sk, sizeof sk);
	if (qs < 0) {
		store_dps_policy_free(&o.row);
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	}
	/* The keys only when this request made them. */
	ret = dps_reply(req, o.created ? 201 : 200, policy_json(&o.row, o.created), NULL, o.created,
			NULL);
	store_dps_policy_free(&o.row);
	return ret;
}

static enum store_qs get_cb(struct store_conn *c, void *cls)
{
	struct pol_op *o = cls;

	return store_select_dps_policy(c, o->name, &o->row);
}

int h_dps_policy_get(struct request *req)
{
	struct pol_op o = {.name = req->params[0]};
	enum store_qs qs;
	int ret;

	if (!name_ok(req, &ret))
		return ret;
	qs = store_run(req->srv->store, get_cb, &o);
	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_DPS_NOT_FOUND, "no policy %s", o.name);
	ret = dps_reply(req, 200, policy_json(&o.row, false), NULL, false, NULL);
	store_dps_policy_free(&o.row);
	return ret;
}

static enum store_qs list_cb(struct store_conn *c, void *cls)
{
	struct pol_op *o = cls;

	store_dps_policy_list_free(&o->list);
	return store_select_dps_policies(c, &o->list);
}

int h_dps_policy_list(struct request *req)
{
	struct pol_op o = {0};
	json_t *arr;
	enum store_qs qs = store_run(req->srv->store, list_cb, &o);
	int ret;

	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	arr = json_array();
	for (int i = 0; arr != NULL && i < o.list.n; i++)
		json_array_append_new(arr, policy_json(&o.list.items[i], false));
	store_dps_policy_list_free(&o.list);
	ret = dps_reply(req, 200, arr, NULL, false, NULL);
	return ret;
}

static enum store_qs delete_cb(struct store_conn *c, void *cls)
{
	struct pol_op *o = cls;

	return store_delete_dps_policy(c, o->name);
}

int h_dps_policy_delete(struct request *req)
{
	struct pol_op o = {.name = req->params[0]};
	enum store_qs qs;
	int ret;

	if (!name_ok(req, &ret))
		return ret;
	qs = store_run(req->srv->store, delete_cb, &o);
	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_DPS_NOT_FOUND, "no policy %s", o.name);
	return reply_empty(req, 204);
}

struct rotate_op {
	const char *name, *pk, *sk;
	struct store_dps_policy row;
};

static enum store_qs rotate_cb(struct store_conn *c, void *cls)
{
	struct rotate_op *o = cls;

	store_dps_policy_free(&o->row);
	return store_update_dps_policy_keys(c, o->name, o->pk, o->sk, &o->row);
}

int h_dps_policy_rotate(struct request *req)
{
	const char *which = request_arg(req, "key");
	char pk[DPS_KEY_B64_MAX], sk[DPS_KEY_B64_MAX];
	struct rotate_op o = {.name = req->params[0]};
	bool primary = which == NULL || strcmp(which, "primary") == 0;
	bool secondary = which == NULL || strcmp(which, "secondary") == 0;
	enum store_qs qs;
	int ret;

	if (!name_ok(req, &ret))
		return ret;
	if (!primary && !secondary)
		return reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
				     "key is primary or secondary (both when absent)");
	if (dps_key_generate(pk) != 0 || dps_key_generate(sk) != 0)
		return reply_problem(req, ERR_DPS_INTERNAL, NULL);
	o.pk = primary ? pk : NULL;
	o.sk = secondary ? sk : NULL;
	qs = store_run_txn(req->srv->store, rotate_cb, &o);
	explicit_bzero(pk, sizeof pk);
	explicit_bzero(sk, sizeof sk);
	if (qs < 0)
		return reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_DPS_NOT_FOUND, "no policy %s", o.name);
	ret = dps_reply(req, 200, policy_json(&o.row, true), NULL, true, NULL);
	store_dps_policy_free(&o.row);
	return ret;
}
