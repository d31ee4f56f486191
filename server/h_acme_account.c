/* ACME accounts (RFC 8555 section 7.3): POST /acme/new-account creates one
 * for the JWS's key or finds the existing one; POST /acme/account/{id}
 * reads it (POST-as-GET), updates its contacts or deactivates it. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/eab.h"
#include "common/b64.h"
#include <openssl/crypto.h>
#include "server/acme.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/spec.h"

#define ACME_CONTACTS_MAX 10
#define ACME_CONTACT_LEN 300

/* The contacts as JSON array text, each checked; NULL with *e on a bad one
 * (or ERR_ACME_SERVER_INTERNAL when out of memory). */
static char *contacts_json(const char **contact, size_t n, struct acme_err *e)
{
	json_t *arr = json_array();
	char *text;

	for (size_t i = 0; i < n; i++) {
		if (acme_contact_check(contact[i], e) != 0) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, json_string(contact[i]));
	}
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (text == NULL)
		e->code = ERR_ACME_SERVER_INTERNAL,
		snprintf(e->detail, sizeof e->detail, "no memory");
	return text;
}

static int reply_account(struct request *req, unsigned status, const struct store_acme_account *a)
{
	char path[128], loc[ACME_URL_MAX];

	snprintf(path, sizeof path, "/acme/account/%s", a->id);
	if (!acme_url(req, path, loc, sizeof loc))
		return reply_problem(req, ERR_ACME_MALFORMED,
				     "the Host header is not a plain host");
	return acme_reply_json(req, status, acme_account_json(req, a), loc, NULL, NULL);
}

struct by_key {
	const char *thumbprint;
	struct store_acme_account row;
};

static enum store_qs by_key_cb(struct store_conn *c, void *cls)
{
	struct by_key *k = cls;

	return store_select_acme_account_by_key(c, k->thumbprint, &k->row);
}

struct insert {
	const struct store_acme_account *row;
	const char *eab_kid; /* NULL: no binding */
	bool eab_spent;	     /* the binding's key was spent meanwhile */
};

/* The account and, with a binding, the spending of its key: both or none. */
static enum store_qs insert_cb(struct store_conn *c, void *cls)
{
	struct insert *in = cls;
	enum store_qs qs = store_insert_acme_account(c, in->row);

	if (qs < 0 || in->eab_kid == NULL)
		return qs;
	qs = store_bind_acme_eab_key(c, in->eab_kid, in->row->id);
	if (qs == STORE_NONE) {
		in->eab_spent = true;
		return STORE_CONFLICT;
	}
	return qs;
}

struct eab_get {
	const char *kid;
	char *key;
};

static enum store_qs eab_get_cb(struct store_conn *c, void *cls)
{
	struct eab_get *g = cls;

	return store_select_acme_eab_key(c, g->kid, &g->key);
}

/* Section 7.3.4: checks the binding in obj against the operator's key;
 * 0, or -1 with the refusal queued in *ret. */
static int eab_check(struct request *req, const json_t *obj, struct acme_eab *eab, int *ret)
{
	struct eab_get g = {NULL, NULL};
	struct acme_err e;
	uint8_t *key = NULL;
	size_t key_len = 0;
	enum store_qs qs;
	int rc = -1;

	if (acme_eab_parse(obj, req->acme->jws.url, req->acme->key.thumbprint, eab, &e) != 0) {
		*ret = reply_problem(req, e.code, "%s", e.detail);
		return -1;
	}
	g.kid = eab->kid;
	qs = store_run(req->srv->store, eab_get_cb, &g);
	if (qs < 0) {
		*ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		goto out;
	}
	if (qs == STORE_NONE || (key = b64_decode(g.key, strlen(g.key), 1, &key_len)) == NULL ||
	    acme_eab_verify(eab, key, key_len) != 0) {
		*ret = reply_problem(req, ERR_ACME_UNAUTHORIZED,
				     "externalAccountBinding: unknown or spent kid, or a bad MAC");
		goto out;
	}
	rc = 0;
out:
	if (key != NULL)
		OPENSSL_cleanse(key, key_len);
	if (g.key != NULL)
		OPENSSL_cleanse(g.key, strlen(g.key));
	free(key);
	free(g.key);
	return rc;
}

/* Answers for the account that already holds the key (k->row). */
static int reply_existing(struct request *req, struct by_key *k)
{
	int ret;

	if (strcmp(k->row.status, "valid") != 0)
		ret = reply_problem(req, ERR_ACME_UNAUTHORIZED, "the account for this key is %s",
				    k->row.status);
	else
		ret = reply_account(req, 200, &k->row);
	store_acme_account_free(&k->row);
	return ret;
}

int h_acme_new_account(struct request *req)
{
	struct acme_auth *a = req->acme;
	const char **contact = NULL;
	size_t ncontact = 0;
	bool tos = false, only_existing = false;
	json_t *eab_obj = NULL;
	struct acme_eab eab = {0};
	struct insert in = {0};
	struct json_spec spec[] = {
		json_spec_object("externalAccountBinding", &eab_obj, JSON_SPEC_OPTIONAL),
		json_spec_string_array("contact", &contact, &ncontact, ACME_CONTACTS_MAX,
				       ACME_CONTACT_LEN, JSON_SPEC_OPTIONAL),
		json_spec_bool("termsOfServiceAgreed", &tos, JSON_SPEC_OPTIONAL),
		json_spec_bool("onlyReturnExisting", &only_existing, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct by_key k = {.thumbprint = a->key.thumbprint};
	struct store_acme_account row = {0};
	struct acme_err e;
	uint8_t raw[16];
	char *id = NULL, *contacts;
	enum spec_status st;
	enum store_qs qs;
	int ret;

	if (a->post_as_get)
		return reply_problem(req, ERR_ACME_MALFORMED, "newAccount needs a JSON payload");
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	qs = store_run(req->srv->store, by_key_cb, &k);
	if (qs < 0) {
		json_spec_free(spec);
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	}
	if (qs == STORE_ONE) { /* section 7.3.1: the key has an account */
		json_spec_free(spec);
		return reply_existing(req, &k);
	}
	if (only_existing) {
		json_spec_free(spec);
		return reply_problem(req, ERR_ACME_ACCOUNT_DOES_NOT_EXIST,
				     "no account has this key");
	}
	if (eab_obj == NULL && req->srv->cfg.acme_eab_required) {
		json_spec_free(spec);
		return reply_problem(req, ERR_ACME_EXTERNAL_ACCOUNT_REQUIRED,
				     "this server needs an externalAccountBinding");
	}
	if (eab_obj != NULL && eab_check(req, eab_obj, &eab, &ret) != 0) {
		json_spec_free(spec);
		acme_eab_free(&eab);
		return ret;
	}
	contacts = contacts_json(contact, ncontact, &e);
	json_spec_free(spec);
	if (contacts == NULL) {
		acme_eab_free(&eab);
		return reply_problem(req, e.code, "%s", e.detail);
	}
	if (RAND_bytes(raw, sizeof raw) != 1 || (id = b64_encode(raw, sizeof raw, 1)) == NULL) {
		free(contacts);
		acme_eab_free(&eab);
		return reply_problem(req, ERR_ACME_SERVER_INTERNAL, "no randomness");
	}
	row = (struct store_acme_account){.id = id,
					  .thumbprint = a->key.thumbprint,
					  .jwk = a->key.canonical,
					  .contact = contacts,
					  .status = "valid",
					  .tos_agreed = tos};
	in = (struct insert){&row, eab_obj ? eab.kid : NULL, false};
	qs = store_run_txn(req->srv->store, insert_cb, &in);
	if (qs == STORE_CONFLICT && !in.eab_spent) /* the same key, registered meanwhile */
		qs = store_run(req->srv->store, by_key_cb, &k);
	else if (qs >= 0)
		qs = STORE_NONE;
	if (in.eab_spent)
		ret = reply_problem(req, ERR_ACME_UNAUTHORIZED,
				    "externalAccountBinding: the key was spent meanwhile");
	else if (qs < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else if (k.row.id != NULL)
		ret = reply_existing(req, &k);
	else
		ret = reply_account(req, 201, &row);
	free(id);
	free(contacts);
	acme_eab_free(&eab);
	return ret;
}

struct update {
	const char *id, *contact, *status;
	struct store_acme_account row;
};

static enum store_qs update_cb(struct store_conn *c, void *cls)
{
	struct update *u = cls;

	return store_update_acme_account(c, u->id, u->contact, u->status, &u->row);
}

int h_acme_account(struct request *req)
{
	struct acme_auth *a = req->acme;
	const char **contact = NULL, *status = NULL;
	size_t ncontact = 0;
	bool tos = false, has_contact = false;
	struct json_spec spec[] = {
		json_spec_string_array("contact", &contact, &ncontact, ACME_CONTACTS_MAX,
				       ACME_CONTACT_LEN, JSON_SPEC_OPTIONAL),
		json_spec_string("status", &status, 32, JSON_SPEC_OPTIONAL),
		json_spec_bool("termsOfServiceAgreed", &tos, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct update u = {.id = a->account.id};
	struct acme_err e;
	enum spec_status st;
	enum store_qs qs;
	char *contacts = NULL;
	int ret;

	spec[0].present = &has_contact;
	/* Section 7.3.2: only the account itself, whatever the URL says. */
	if (strcmp(req->params[0], a->account.id) != 0)
		return reply_problem(req, ERR_ACME_UNAUTHORIZED,
				     "the JWS \"kid\" is another account");
	if (a->post_as_get)
		return reply_account(req, 200, &a->account);
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	if (status != NULL && strcmp(status, "deactivated") != 0) {
		json_spec_free(spec);
		return reply_problem(req, ERR_ACME_MALFORMED,
				     "an account's status can only become \"deactivated\"");
	}
	if (has_contact && (contacts = contacts_json(contact, ncontact, &e)) == NULL) {
		json_spec_free(spec);
		return reply_problem(req, e.code, "%s", e.detail);
	}
	json_spec_free(spec);
	if (contacts == NULL && status == NULL)
		return reply_account(req, 200, &a->account);
	u.contact = contacts;
	u.status = status ? "deactivated" : NULL;
	qs = store_run(req->srv->store, update_cb, &u);
	free(contacts);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE)
		return reply_problem(req, ERR_ACME_UNAUTHORIZED, "the account is no longer valid");
	ret = reply_account(req, 200, &u.row);
	store_acme_account_free(&u.row);
	return ret;
}

struct key_change {
	const char *id, *old_thumbprint, *thumbprint, *jwk;
	struct store_acme_account row;
};

static enum store_qs key_change_cb(struct store_conn *c, void *cls)
{
	struct key_change *k = cls;

	return store_update_acme_account_key(c, k->id, k->old_thumbprint, k->thumbprint, k->jwk,
					     &k->row);
}

/* 409 with the Location of the account that holds the key (section 7.3.5). */
static int reply_key_in_use(struct request *req, const char *thumbprint)
{
	struct by_key k = {.thumbprint = thumbprint};
	char path[128], loc[ACME_URL_MAX];
	enum store_qs qs = store_run(req->srv->store, by_key_cb, &k);
	int ret;

	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	if (qs == STORE_NONE) /* gone meanwhile: let the client try again */
		return reply_problem(req, ERR_ACME_MALFORMED, "the key changed meanwhile: retry");
	snprintf(path, sizeof path, "/acme/account/%s", k.row.id);
	store_acme_account_free(&k.row);
	if (!acme_url(req, path, loc, sizeof loc))
		return reply_problem(req, ERR_ACME_SERVER_INTERNAL, "cannot build a URL");
	req->problem_location = loc;
	ret = reply_problem(req, ERR_ACME_KEY_IN_USE, "another account holds this key");
	req->problem_location = NULL;
	return ret;
}

/* Section 7.3.5: the outer JWS (kid, the old key) carries an inner JWS
 * signed by the new key, with the same url, whose payload names the
 * account and its old key. */
int h_acme_key_change(struct request *req)
{
	struct acme_auth *a = req->acme;
	struct acme_jws inner = {0};
	struct acme_jwk newk = {0}, oldk = {0};
	struct key_change k = {0};
	json_t *payload = NULL;
	const char *account;
	struct acme_err e;
	enum store_qs qs;
	int ret;

	if (a->post_as_get)
		return reply_problem(req, ERR_ACME_MALFORMED, "keyChange needs an inner JWS");
	if (acme_jws_parse_inner(req->json, &inner, &e) != 0)
		return reply_problem(req, e.code, "inner %s", e.detail);
	if (inner.jwk == NULL) {
		ret = reply_problem(req, ERR_ACME_MALFORMED,
				    "the inner JWS must carry the new key as \"jwk\"");
		goto out;
	}
	if (strcmp(inner.url, a->jws.url) != 0) {
		ret = reply_problem(req, ERR_ACME_MALFORMED,
				    "the inner JWS \"url\" differs from the outer one");
		goto out;
	}
	if (acme_jwk_parse(inner.jwk, &newk, &e) != 0 ||
	    acme_jws_verify(&inner, newk.pkey, &e) != 0) {
		ret = reply_problem(req, e.code, "inner JWS: %s", e.detail);
		goto out;
	}
	payload = json_loadb((const char *)inner.payload, inner.payload_len, JSON_REJECT_DUPLICATES,
			     NULL);
	account = json_string_value(json_object_get(payload, "account"));
	if (account == NULL || !json_is_object(json_object_get(payload, "oldKey"))) {
		ret = reply_problem(req, ERR_ACME_MALFORMED,
				    "the inner payload needs \"account\" and \"oldKey\"");
		goto out;
	}
	if (strcmp(account, a->jws.kid) != 0) {
		ret = reply_problem(req, ERR_ACME_UNAUTHORIZED,
				    "the inner \"account\" is not the outer \"kid\"");
		goto out;
	}
	if (acme_jwk_parse(json_object_get(payload, "oldKey"), &oldk, &e) != 0 ||
	    strcmp(oldk.thumbprint, a->key.thumbprint) != 0) {
		ret = reply_problem(req, ERR_ACME_UNAUTHORIZED,
				    "\"oldKey\" is not the account's current key");
		goto out;
	}
	if (strcmp(newk.thumbprint, a->key.thumbprint) == 0) {
		ret = reply_problem(req, ERR_ACME_MALFORMED, "the new key is the current one");
		goto out;
	}
	k = (struct key_change){
		a->account.id, a->key.thumbprint, newk.thumbprint, newk.canonical, {0}};
	qs = store_run(req->srv->store, key_change_cb, &k);
	if (qs == STORE_CONFLICT)
		ret = reply_key_in_use(req, newk.thumbprint);
	else if (qs < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else if (qs == STORE_NONE)
		ret = reply_problem(req, ERR_ACME_UNAUTHORIZED,
				    "the account's key changed meanwhile");
	else
		ret = reply_account(req, 200, &k.row);
	store_acme_account_free(&k.row);
out:
	json_decref(payload);
	acme_jwk_free(&oldk);
	acme_jwk_free(&newk);
	acme_jws_free(&inner);
	return ret;
}
