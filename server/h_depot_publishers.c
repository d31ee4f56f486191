/* The depot's publishers (docs/depot.md): PUT /depot/publishers/{name}
 * registers a publisher's Ed25519 public key, or rotates it (the old keys
 * stay on record for the packages they signed); GET reads one or all.
 * Orchard never holds a publisher's private key. */
#include <stdlib.h>
#include <string.h>

#include "depot/depot.h"
#include "server/depot.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"

struct publisher_op {
	const char *name;
	char *pem;
	char key_id[DEPOT_KEY_ID_LEN + 1];
	bool created;
	struct store_depot_publisher row;
};

static enum store_qs put_cb(struct store_conn *c, void *cls)
{
	struct publisher_op *o = cls;
	enum store_qs qs = store_upsert_depot_publisher(c, o->name, o->pem, o->key_id, &o->created);

	if (qs < 0)
		return qs;
	store_depot_publisher_free(&o->row);
	return store_select_depot_publisher(c, o->name, &o->row);
}

static enum store_qs get_cb(struct store_conn *c, void *cls)
{
	struct publisher_op *o = cls;

	store_depot_publisher_free(&o->row);
	return store_select_depot_publisher(c, o->name, &o->row);
}

static int reply_publisher(struct request *req, unsigned status, struct publisher_op *o)
{
	json_t *j = depot_publisher_json(&o->row);

	store_depot_publisher_free(&o->row);
	if (j == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	return reply_json_steal(req, status, j);
}

int h_depot_publisher_put(struct request *req)
{
	struct publisher_op o = {.name = req->params[0]};
	const char *pem = json_string_value(json_object_get(req->json, "publicKey"));
	EVP_PKEY *key;
	enum store_qs qs;

	if (!depot_publisher_ok(o.name))
		return reply_problem(req, ERR_DEPOT_BAD_NAME, "publisher %s", o.name);
	if (!json_is_object(req->json) || json_object_size(req->json) != 1 || pem == NULL)
		return reply_problem(req, ERR_INVALID_FIELD,
				     "the body is {\"publicKey\": \"<PEM>\"}");
	if ((key = depot_key_parse(pem, strlen(pem), o.key_id)) == NULL)
		return reply_problem(req, ERR_DEPOT_BAD_KEY, NULL);
	o.pem = depot_key_pem(key); /* stored as OpenSSL writes it */
	EVP_PKEY_free(key);
	if (o.pem == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	qs = store_run_txn(req->srv->store, put_cb, &o);
	free(o.pem);
	if (qs <= 0) {
		store_depot_publisher_free(&o.row);
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	}
	return reply_publisher(req, o.created ? 201 : 200, &o);
}

int h_depot_publisher_get(struct request *req)
{
	struct publisher_op o = {.name = req->params[0]};
	enum store_qs qs = store_run(req->srv->store, get_cb, &o);

	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_DEPOT_PUBLISHER_NOT_FOUND, "no publisher %s", o.name);
	return reply_publisher(req, 200, &o);
}

struct list_op {
	struct store_depot_publisher *rows;
	size_t n;
};

static void list_free(struct list_op *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_depot_publisher_free(&l->rows[i]);
	free(l->rows);
	l->rows = NULL;
	l->n = 0;
}

static enum store_qs list_cb(struct store_conn *c, void *cls)
{
	struct list_op *l = cls;

	list_free(l);
	return store_select_depot_publishers(c, &l->rows, &l->n);
}

int h_depot_publisher_list(struct request *req)
{
	struct list_op l = {NULL, 0};
	enum store_qs qs = store_run(req->srv->store, list_cb, &l);
	json_t *arr = json_array(), *j;

	if (qs < 0 || arr == NULL) {
		list_free(&l);
		json_decref(arr);
		return reply_problem(req, qs < 0 ? ERR_DB_UNAVAILABLE : ERR_INTERNAL, NULL);
	}
	for (size_t i = 0; i < l.n; i++)
		if ((j = depot_publisher_json(&l.rows[i])) == NULL ||
		    json_array_append_new(arr, j)) {
			list_free(&l);
			json_decref(arr);
			return reply_problem(req, ERR_INTERNAL, "out of memory");
		}
	list_free(&l);
	return reply_json_steal(req, 200, json_pack("{s:o}", "publishers", arr));
}
