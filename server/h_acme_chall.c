/* ACME challenges (RFC 8555 section 7.5.1): POST /acme/chall/{id} with {}
 * starts the challenge's validation and answers with its outcome. The
 * validators are acme/chall_*.c. Those that wait on the network (http-01,
 * dns-01, tls-alpn-01) run as background jobs (no request thread waits on
 * the network) while the answer waits suspended (server/wait.h) up to
 * ACME_AUTHZ_WAIT_MS for the outcome. device-attest-01, CPU only (a chain,
 * two signatures) and one store query (the AK certificate's standing, a
 * quote gate), is checked on the answering request's thread. A client
 * that reads the outcome in the answer needs no poll (lego; certbot polls
 * anyway). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "acme/order.h"
#include "common/b64.h"
#include "common/hex.h"
#include "common/log.h"
#include "server/acme.h"
#include "server/acme_hints.h"
#include "server/acme_outcomes.h"
#include "server/attest_roots.h"
#include "server/handlers.h"
#include "server/jobs.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/spec.h"
#include "server/store/attest.h"
#include "server/store/events.h"
#include "server/wait.h"

#define ACME_AUTHZ_VALID_TTL_S (30 * 86400)
#define ACME_VALIDATION_TIMEOUT_S 5

/* One validation, owned by its job or (device-attest-01) by the answering
 * handler, which replies from its outcome. */
struct validation {
	struct server *srv;
	const struct acme_chall_type *type;
	struct acme_ident ident;
	char chall_id[ACME_ID_MAX];
	char authz_id[ACME_ID_MAX];
	char token[ACME_ID_MAX];
	char key_authz[2 * ACME_ID_MAX + 2];
	uint8_t *att_obj; /* device-attest-01's answer */
	size_t att_obj_len;
	bool recorded; /* the store took out */
	bool fast;     /* out is handed to the answer unrecorded (answer_fast()) */
	struct acme_outcome out;
};

struct finish {
	const char *id;
	bool ok;
	const char *error;
	const char *attested_key; /* device-attest-01: "\\x<hex>" of SPKI DER */
	const char *ak_serial;
	const char *verdict; /* the quote gate's, JSON text */
	long long validated;
};

static enum store_qs finish_cb(struct store_conn *c, void *cls)
{
	struct finish *f = cls;

	return store_finish_acme_challenge(c, f->id, f->ok, f->error, ACME_AUTHZ_VALID_TTL_S,
					   f->attested_key, f->ak_serial, f->verdict,
					   &f->validated);
}

struct standing {
	const char *serial;
	const char *registration_id; /* not NULL: an external AK certificate */
	bool known, enabled;
	long long revoked;
	char *policy_name, *policy;
};

static enum store_qs standing_cb(struct store_conn *c, void *cls)
{
	struct standing *s = cls;

	free(s->policy_name);
	free(s->policy);
	if (s->registration_id != NULL)
		return store_select_attest_ext_standing(c, s->registration_id, &s->known,
							&s->revoked, &s->enabled, &s->policy_name,
							&s->policy);
	return store_select_attest_ak_standing(c, s->serial, &s->known, &s->revoked, &s->enabled,
					       &s->policy_name, &s->policy);
}

/* What the store says of the AK certificate. */
static int standing_check(const struct standing *s, struct acme_err *e)
{
	if (!s->known && s->registration_id != NULL)
		return acme_fail(e, ERR_ACME_BAD_ATTESTATION_STATEMENT,
				 "no enrollment or registration has the AK certificate's "
				 "identifier as its registration ID");
	if (!s->known)
		return acme_fail(e, ERR_ACME_BAD_ATTESTATION_STATEMENT,
				 "the AK certificate is not one this attestation CA issued");
	if (s->revoked > 0)
		return acme_fail(e, ERR_ACME_BAD_ATTESTATION_STATEMENT,
				 "an AK certificate of this TPM is revoked");
	if (!s->enabled)
		return acme_fail(e, ERR_ACME_BAD_ATTESTATION_STATEMENT,
				 "the device's enrollment is disabled or gone");
	return 0;
}

/* After the evidence held: the AK certificate must be one Orchard issued,
 * its TPM's AK certificates unrevoked and its enrollment enabled; with a
 * policy on that enrollment, the quote gate (*verdict). */
static int ak_standing(struct server *srv, const struct acme_chall_target *t, char **verdict,
		       struct acme_err *e)
{
	struct standing s = {t->ak_serial, NULL, false, false, 0, NULL, NULL};
	char id[ACME_IDENT_MAX];
	json_t *v = NULL;
	int rc;

	/* An external root's AK certificate: the device is the identifier the
	 * certificate was checked to carry: a permanent-identifier's id
	 * (without an assigner) or a hardware-module's serial number (without
	 * its type), as the registration ID of an enrollment. */
	if (t->ak_external) {
		snprintf(id, sizeof id, "%s", t->ident->value);
		id[strcspn(id, "/")] = '\0';
		s.registration_id = id;
	}

	if (store_run(srv->store, standing_cb, &s) < 0)
		return acme_fail(e, ERR_ACME_SERVER_INTERNAL, "the store cannot be reached");
	rc = standing_check(&s, e);
	if (rc == 0 && s.policy != NULL) {
		rc = acme_device_attest_quote(t, s.policy_name, s.policy, &v, e);
		*verdict = v ? json_dumps(v, JSON_COMPACT) : NULL;
		json_decref(v);
	}
	free(s.policy_name);
	free(s.policy);
	return rc;
}

/* On a jobs worker (an offline type: on the request's thread): the
 * check, then its outcome in the store (which notifies EVENTS_ACME_AUTHZ)
 * and in v for the answer. A failed store write leaves the challenge
 * processing; a new answer may start it again after a minute. */
static void validation_run(void *cls)
{
	struct validation *v = cls;
	const struct config *cfg = &v->srv->cfg;
	struct acme_chall_target t = {
		.ident = &v->ident,
		.token = v->token,
		.key_authz = v->key_authz,
		.resolver = cfg->acme_resolver,
		.http_port = (unsigned)cfg->acme_http_port,
		.https_port = (unsigned)cfg->acme_tls_port,
		.tls_port = (unsigned)cfg->acme_tls_port,
		.timeout_s = ACME_VALIDATION_TIMEOUT_S,
		.att_obj = v->att_obj,
		.att_obj_len = v->att_obj_len,
	};
	struct acme_err e = {ERR_ACME_SERVER_INTERNAL, ""};
	struct finish f = {v->chall_id, false, NULL, NULL, NULL, NULL, 0};
	char *key = NULL, *verdict = NULL;
	bool attest = v->type == &acme_chall_device_attest;

	if (attest) {
		t.att_roots = attest_roots_get(v->srv);
		t.att_own = v->srv->att_own;
	}
	f.ok = v->type->validate(&t, &e) == 0;
	if (f.ok && attest)
		f.ok = ak_standing(v->srv, &t, &verdict, &e) == 0;
	f.verdict = verdict;
	if (f.ok && attest) {
		if ((key = malloc(2 * t.attested_spki_len + 3)) != NULL) {
			key[0] = '\\';
			key[1] = 'x';
			hex_encode(t.attested_spki, t.attested_spki_len, key + 2);
		}
		f.attested_key = key;
		f.ak_serial = t.ak_serial;
		f.ok = key != NULL;
	}
	if (!f.ok) {
		json_t *p = json_pack("{s:s, s:s, s:i}", "type", err_table[e.code].type, "detail",
				      e.detail, "status", (int)err_table[e.code].http_status);
		v->out.error = p ? json_dumps(p, JSON_COMPACT) : NULL;
		json_decref(p);
		f.error = v->out.error;
	}
	log_kv(LOG_INFO, "acme: validation", "challenge", v->chall_id, "type", v->type->name,
	       "result", f.ok ? "valid" : "invalid", "detail", f.ok ? "" : e.detail, NULL);
	v->out.ok = f.ok;
	if (v->fast) {
		enum acme_outcome_fate fate = acme_outcome_deliver(v->chall_id, &v->out);
		if (fate == ACME_OUTCOME_HANDED)
			events_post(v->srv->events, EVENTS_ACME_OUTCOME, v->chall_id);
		else if (fate == ACME_OUTCOME_RECORD && store_run(v->srv->store, finish_cb, &f) < 0)
			log_kv(LOG_WARN, "acme: could not record a validation", "challenge",
			       v->chall_id, NULL);
		goto out;
	}
	enum store_qs qs = store_run(v->srv->store, finish_cb, &f);
	if (qs < 0)
		log_kv(LOG_WARN, "acme: could not record a validation", "challenge", v->chall_id,
		       NULL);
	v->recorded = qs == STORE_ONE;
	v->out.validated = f.validated;
	/* The answer waiting on it wakes once the outcome is held (or known
	 * lost: it reads the store then). Not on the store's notify, which
	 * can come first. */
	if (!v->type->offline) {
		if (v->recorded)
			acme_outcome_put(v->chall_id, &v->out);
		events_post(v->srv->events, EVENTS_ACME_OUTCOME, v->chall_id);
	}
out:
	free(key);
	free(verdict);
	free(t.attested_spki);
	free(t.ak_spki);
	EVP_PKEY_free(t.ak_pkey);
	X509_STORE_free(t.att_roots);
}

static void validation_done(void *cls)
{
	struct validation *v = cls;

	free(v->att_obj);
	free(v->out.error);
	free(v);
}

struct chall_get {
	const char *id;
	struct store_acme_chall row;
	struct store_acme_late *late; /* ACME_LATE not settled: read the account, take the nonce */
	enum store_chall_take how;    /* with late: start it in the same statement? */
	bool started;		      /* ... and it did */
};

static enum store_qs chall_get_cb(struct store_conn *c, void *cls)
{
	struct chall_get *g = cls;

	if (g->late != NULL)
		return store_take_acme_nonce_challenge(c, g->id, g->late, g->how, &g->row,
						       &g->started);
	return store_select_acme_challenge(c, g->id, &g->row);
}

static enum store_qs chall_start_cb(struct store_conn *c, void *cls)
{
	return store_start_acme_challenge(c, cls);
}

/* The validation of ch (it takes *att_obj); NULL when out of memory or
 * the stored identifier does not parse. validation_done() frees it. */
static struct validation *validation_new(struct request *req, const struct store_acme_chall *ch,
					 const struct acme_chall_type *type, uint8_t **att_obj,
					 size_t att_obj_len)
{
	struct validation *v = calloc(1, sizeof *v);
	struct acme_err e;

	if (v == NULL)
		return NULL;
	v->att_obj = *att_obj;
	v->att_obj_len = att_obj_len;
	*att_obj = NULL;
	v->srv = req->srv;
	v->type = type;
	if (acme_ident_check(ch->ident_type, ch->ident_value, &v->ident, &e) != 0) {
		validation_done(v);
		return NULL;
	}
	v->ident.wildcard = ch->wildcard;
	snprintf(v->chall_id, sizeof v->chall_id, "%s", ch->id);
	snprintf(v->authz_id, sizeof v->authz_id, "%s", ch->authz_id);
	snprintf(v->token, sizeof v->token, "%s", ch->token);
	snprintf(v->key_authz, sizeof v->key_authz, "%s.%s", ch->token, ch->thumbprint);
	return v;
}

/* Replies with the challenge ch (as acme_challenge_json() takes it) and a
 * Link rel="up" to its authorization (section 7.5.1). */
static int reply_challenge_json(struct request *req, const char *authz_id, const json_t *ch)
{
	json_t *body = ch ? acme_challenge_json(req, ch) : NULL;
	char path[128], up[ACME_URL_MAX];

	if (ch != NULL &&
	    strcmp(json_string_value(json_object_get(ch, "status")), "processing") == 0)
		req->retry_after_s = 1;
	snprintf(path, sizeof path, "/acme/authz/%s", authz_id);
	if (body == NULL || !acme_url(req, path, up, sizeof up)) {
		json_decref(body);
		return reply_problem(req, ERR_ACME_SERVER_INTERNAL, "cannot render the challenge");
	}
	return acme_reply_json(req, 200, body, NULL, up, "up");
}

struct authz_read {
	const char *id;
	struct store_acme_authz row;
};

static enum store_qs authz_read_cb(struct store_conn *c, void *cls)
{
	struct authz_read *g = cls;

	return store_select_acme_authz(c, g->id, &g->row);
}

/* Replies with challenge id as its authorization lists it now. */
static int reply_challenge(struct request *req, const char *authz_id, const char *id)
{
	struct authz_read g = {authz_id, {0}};
	json_t *chs, *ch, *found = NULL;
	size_t i;
	int ret;

	if (store_run(req->srv->store, authz_read_cb, &g) != STORE_ONE)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	chs = json_loads(g.row.challenges, 0, NULL);
	json_array_foreach (chs, i, ch)
		if (strcmp(json_string_value(json_object_get(ch, "id")), id) == 0)
			found = ch;
	ret = reply_challenge_json(req, authz_id, found);
	json_decref(chs);
	store_acme_authz_free(&g.row);
	return ret;
}

/* Replies with challenge id (of authz_id, with type and token) as its
 * validation's outcome o left it. */
static int reply_outcome(struct request *req, const char *authz_id, const char *id,
			 const char *type, const char *token, const struct acme_outcome *o)
{
	json_t *ch = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "type", type, "token", token,
			       "status", o->ok ? "valid" : "invalid");
	int ret;

	if (ch != NULL && o->ok)
		json_object_set_new(ch, "validated", json_integer(o->validated));
	if (ch != NULL && !o->ok && o->error != NULL)
		json_object_set_new(ch, "error", json_loads(o->error, 0, NULL));
	ret = reply_challenge_json(req, authz_id, ch);
	json_decref(ch);
	return ret;
}

/* An answer waiting for its validation's outcome (the request's state). */
struct answer_wait {
	struct waiter *w;
	bool fast; /* answer_fast()'s: the outcome comes unrecorded */
	char authz_id[ACME_ID_MAX];
	char token[ACME_ID_MAX];
	const char *type;
};

static void answer_wait_free(void *p)
{
	struct answer_wait *aw = p;

	wait_free(aw->w);
	free(aw);
}

/* Validates ch, which this request just started, and answers with the
 * outcome: an offline type (device-attest-01) here and now; the others,
 * which wait on the network, as a job, while the answer waits suspended
 * (server/wait.h: no thread held) up to ACME_AUTHZ_WAIT_MS for the job
 * to post EVENTS_ACME_OUTCOME, else answers processing. A client then
 * mostly finds nothing left to poll for (lego and our clients skip the
 * poll of a valid answer). A full queue leaves the challenge processing,
 * to be taken back in a minute. */
static int answer_validation(struct request *req, const struct store_acme_chall *ch,
			     const struct acme_chall_type *type, uint8_t **att_obj,
			     size_t att_obj_len)
{
	struct validation *v = validation_new(req, ch, type, att_obj, att_obj_len);
	struct answer_wait *aw = NULL;
	int ret;

	if (v == NULL)
		return reply_problem(req, ERR_ACME_SERVER_INTERNAL, "cannot start the validation");
	if (type->offline) {
		validation_run(v);
		ret = v->recorded ? reply_outcome(req, v->authz_id, v->chall_id, type->name,
						  v->token, &v->out)
				  : reply_challenge(req, v->authz_id, v->chall_id);
		validation_done(v);
		return ret;
	}
	/* Subscribed before the job starts: its outcome cannot slip by. */
	if ((aw = calloc(1, sizeof *aw)) != NULL &&
	    (aw->w = wait_new(req->srv, req->conn, EVENTS_ACME_OUTCOME, ch->id,
			      ACME_AUTHZ_WAIT_MS)) == NULL) {
		free(aw);
		aw = NULL;
	}
	if (jobs_submit(req->srv->acme_jobs, validation_run, validation_done, v) != 0) {
		validation_done(v);
		if (aw != NULL)
			answer_wait_free(aw);
		return reply_problem(req, ERR_NOT_READY, "validation queue full");
	}
	if (aw != NULL) {
		snprintf(aw->authz_id, sizeof aw->authz_id, "%s", ch->authz_id);
		snprintf(aw->token, sizeof aw->token, "%s", ch->token);
		aw->type = type->name;
		request_set_state(req, aw, answer_wait_free);
		if (wait_sleep(aw->w))
			return MHD_YES; /* resumed by the outcome or the deadline */
	}
	return reply_challenge(req, ch->authz_id, ch->id);
}

/* device-attest-01's answer: {"attObj": base64url(CBOR)} into *out (the
 * caller frees). Otherwise false: with ret, a malformed problem queued
 * into *ret (nothing is started then); without, quietly (the answer is
 * read before its challenge's type is known). */
static bool att_obj_parse(struct request *req, uint8_t **out, size_t *len, int *ret)
{
	const char *s = NULL;
	struct json_spec spec[] = {
		json_spec_string("attObj", &s, 175000, 0), /* 128 KiB of CBOR */
		json_spec_end(),
	};
	struct json_spec_error err;
	enum spec_status st;

	if (ret == NULL && json_spec_parse(req->json, spec, &err) != JSON_SPEC_OK)
		return false;
	if (ret != NULL && (st = spec_parse_body(req, spec)) != SPEC_OK) {
		*ret = SPEC_HANDLER_RESULT(st);
		return false;
	}
	*out = b64_decode(s, strlen(s), 1, len);
	json_spec_free(spec);
	if (*out == NULL || *len == 0) {
		free(*out);
		*out = NULL;
		if (ret != NULL)
			*ret = reply_problem(req, ERR_ACME_MALFORMED,
					     "\"attObj\" is not base64url");
		return false;
	}
	return true;
}

/* The answer (or POST-as-GET) on challenge row g->row, read with the
 * request's nonce now settled; tried: the read already tried the start
 * (g->started its result). Section 7.5.1: POST-as-GET reads; any JSON
 * object answers (clients send {}). A processing challenge is started
 * again only when its validator died (the store decides: over a minute
 * without an outcome). */
static int chall_answer_row(struct request *req, struct chall_get *g, bool tried, uint8_t **att_obj,
			    size_t att_obj_len)
{
	const struct acme_chall_type *type;
	enum store_qs qs;
	int ret;

	if (strcmp(g->row.account_id, req->acme->account.id) != 0)
		return reply_problem(req, ERR_ACME_UNAUTHORIZED,
				     "the challenge belongs to another account's authorization");
	if (req->acme->post_as_get ||
	    (strcmp(g->row.status, "pending") != 0 && strcmp(g->row.status, "processing") != 0))
		return reply_challenge(req, g->row.authz_id, g->row.id);
	if (strcmp(g->row.authz_status, "pending") != 0)
		return reply_problem(req, ERR_ACME_MALFORMED,
				     "the authorization is %s: nothing to validate",
				     g->row.authz_status);
	type = acme_chall_find(g->row.type);
	if (type == &acme_chall_device_attest && *att_obj == NULL) {
		if (!att_obj_parse(req, att_obj, &att_obj_len, &ret))
			return ret;
		tried = false; /* the first statement left it (out of memory) */
	}
	if (type == NULL)
		qs = STORE_HARD;
	else if (tried)
		qs = g->started ? STORE_ONE : STORE_NONE;
	else
		qs = store_run(req->srv->store, chall_start_cb, g->row.id);
	if (qs < 0)
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	/* The one that moved it to processing validates it. */
	if (qs == STORE_ONE)
		return answer_validation(req, &g->row, type, att_obj, att_obj_len);
	return reply_challenge(req, g->row.authz_id, g->row.id);
}

/* g's first statement (g->late set) run and its nonce settled: false with
 * *ret queued when that refused the request or found no challenge.
 * *tried: whether the statement tried the start (see chall_answer_row()):
 * it did when it took the nonce (else the nonce was taken the long way, see
 * acme_late_settle(), and the start is still to try). */
static bool chall_read_settled(struct request *req, struct chall_get *g, bool *tried, int *ret)
{
	struct store_acme_late *late = g->late;
	enum store_qs qs = store_run(req->srv->store, chall_get_cb, g);

	*tried = g->how != STORE_CHALL_READ && qs == STORE_ONE &&
		 late->nonce_state == STORE_NONCE_FRESH;
	g->late = NULL;
	if (!acme_late_settle(req, qs, late->nonce_state, ret))
		return false;
	if (g->row.id == NULL) {
		*ret = reply_problem(req, ERR_ACME_NOT_FOUND, "no such challenge");
		return false;
	}
	return true;
}

struct fast_finish {
	const char *id;
	struct store_acme_late *late;
	const struct acme_outcome *o;
	bool finished;
	long long validated;
};

static enum store_qs fast_finish_cb(struct store_conn *c, void *cls)
{
	struct fast_finish *f = cls;

	return store_take_acme_nonce_finish_challenge(c, f->id, f->late, f->o->ok, f->o->error,
						      ACME_AUTHZ_VALID_TTL_S, &f->finished,
						      &f->validated);
}

/* answer_fast()'s answer at its deadline, its job not done: it takes its
 * nonce and starts the challenge the usual way, then leaves the outcome to
 * the job to record, or records it here when it came meanwhile. */
static int answer_fast_late(struct request *req, struct answer_wait *aw)
{
	struct store_acme_late late;
	struct chall_get g = {req->params[0], {0}, acme_late(req, &late), STORE_CHALL_START, false};
	struct acme_outcome o = {0};
	uint8_t *none = NULL;
	bool tried;
	int ret;

	if (!chall_read_settled(req, &g, &tried, &ret)) {
		acme_outcome_cancel(g.id);
		goto out;
	}
	if (!tried || !g.started || strcmp(g.row.account_id, req->acme->account.id) != 0) {
		acme_outcome_cancel(g.id);
		ret = chall_answer_row(req, &g, tried, &none, 0);
		goto out;
	}
	if (!acme_outcome_abandon(g.id, &o)) {
		ret = reply_challenge(req, aw->authz_id, g.id); /* processing */
		goto out;
	}
	struct finish f = {g.id, o.ok, o.error, NULL, NULL, NULL, 0};
	if (store_run(req->srv->store, finish_cb, &f) != STORE_ONE) {
		ret = reply_challenge(req, aw->authz_id, g.id);
		goto out;
	}
	o.validated = f.validated;
	ret = reply_outcome(req, aw->authz_id, g.id, aw->type, aw->token, &o);
out:
	free(o.error);
	store_acme_chall_free(&g.row);
	return ret;
}

/* answer_fast()'s answer, woken: with its outcome, which it records with
 * its nonce in one statement, or at its deadline (answer_fast_late()). */
static int answer_fast_resume(struct request *req, struct answer_wait *aw)
{
	struct store_acme_late late;
	struct acme_outcome o = {0};
	struct fast_finish f = {req->params[0], acme_late(req, &late), &o, false, 0};
	struct chall_get g = {req->params[0], {0}, NULL, STORE_CHALL_READ, false};
	uint8_t *none = NULL;
	enum store_qs qs;
	int ret;

	while (!acme_outcome_claim(f.id, &o)) {
		if (wait_expired(aw->w))
			return answer_fast_late(req, aw);
		if (wait_sleep(aw->w))
			return MHD_YES;
	}
	qs = store_run(req->srv->store, fast_finish_cb, &f);
	if (!acme_late_settle(req, qs, late.nonce_state, &ret))
		goto out;
	if (f.finished) {
		o.validated = f.validated;
		ret = reply_outcome(req, aw->authz_id, f.id, aw->type, aw->token, &o);
		goto out;
	}
	/* Not recorded: the challenge or its authorization moved on meanwhile,
	 * or is another account's, or the account's key changed (the nonce
	 * was then taken the long way): the usual answer, on its row. */
	qs = store_run(req->srv->store, chall_get_cb, &g);
	if (qs < 0)
		ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	else if (qs == STORE_NONE)
		ret = reply_problem(req, ERR_ACME_NOT_FOUND, "no such challenge");
	else
		ret = chall_answer_row(req, &g, false, &none, 0);
out:
	free(o.error);
	store_acme_chall_free(&g.row);
	return ret;
}

/* An answer the usual way costs two statements: one takes its nonce and
 * starts the challenge, the job's records the outcome. With a hint from
 * the authorization's read (server/acme_hints.h) the answer starts the job
 * at once and the job hands it the outcome unrecorded
 * (server/acme_outcomes.h): the answer records it and takes its nonce in
 * one statement (answer_fast_resume()). False when that cannot be done
 * here (no hint, or not one for this account; the hand-over's slot busy;
 * the queue full): the usual way then, nothing used up. */
static bool answer_fast(struct request *req, const char *id, int *ret)
{
	struct acme_hint h;
	const struct acme_chall_type *type;
	struct validation *v = NULL;
	struct answer_wait *aw = NULL;
	uint8_t *none = NULL;

	/* Expected first: of racing answers, only the one holding the
	 * expectation may take the hint. The others go the usual way: one of
	 * them starts the challenge (a second validation, the first recorded
	 * wins): one that started nothing would leave the challenge pending
	 * for good if the hint's holder were then refused (a client re-sending
	 * one JWS: the same nonce twice). */
	if (!acme_outcome_expect(id))
		return false;
	if (!acme_hint_take(id, &h) || strcmp(h.account_id, req->acme->late_id) != 0 ||
	    h.expires_at <= (long long)time(NULL) || (type = acme_chall_find(h.type)) == NULL ||
	    type->offline) {
		acme_outcome_cancel(id);
		return false;
	}
	struct store_acme_chall ch = {.id = h.chall_id,
				      .authz_id = h.authz_id,
				      .token = h.token,
				      .ident_type = h.ident_type,
				      .ident_value = h.ident_value,
				      .wildcard = h.wildcard,
				      .thumbprint = req->acme->key.thumbprint};
	if ((v = validation_new(req, &ch, type, &none, 0)) == NULL ||
	    (aw = calloc(1, sizeof *aw)) == NULL ||
	    (aw->w = wait_new(req->srv, req->conn, EVENTS_ACME_OUTCOME, id, ACME_AUTHZ_WAIT_MS)) ==
		    NULL)
		goto fail;
	v->fast = true;
	if (jobs_submit(req->srv->acme_jobs, validation_run, validation_done, v) != 0)
		goto fail;
	aw->fast = true;
	snprintf(aw->authz_id, sizeof aw->authz_id, "%s", h.authz_id);
	snprintf(aw->token, sizeof aw->token, "%s", h.token);
	aw->type = type->name;
	request_set_state(req, aw, answer_wait_free);
	*ret = wait_sleep(aw->w) ? MHD_YES : answer_fast_resume(req, aw);
	return true;
fail:
	acme_outcome_cancel(id);
	if (v != NULL)
		validation_done(v);
	if (aw != NULL)
		answer_wait_free(aw);
	return false;
}

int h_acme_challenge(struct request *req)
{
	struct chall_get g = {req->params[0], {0}, NULL, STORE_CHALL_READ, false};
	struct store_acme_late late;
	bool tried = false;
	uint8_t *att_obj = NULL;
	size_t att_obj_len = 0;
	enum store_qs qs;
	int ret;

	if (req->state != NULL) { /* resumed: an outcome came, or the deadline */
		struct answer_wait *aw = req->state;
		struct acme_outcome o;
		if (aw->fast)
			return answer_fast_resume(req, aw);
		if (!acme_outcome_take(g.id, &o))
			return reply_challenge(req, aw->authz_id, g.id);
		ret = reply_outcome(req, aw->authz_id, g.id, aw->type, aw->token, &o);
		free(o.error);
		return ret;
	}
	if (!acme_id_ok(g.id))
		return reply_problem(req, ERR_ACME_NOT_FOUND, "no such challenge");
	g.late = acme_late(req, &late);
	if (g.late != NULL && !req->acme->post_as_get && answer_fast(req, g.id, &ret))
		return ret;
	/* An answer starts the challenge in its first statement, with the
	 * nonce (one transaction per answer where there were two); a
	 * device-attest-01 challenge only when the answer carries an attObj,
	 * so that a malformed one is refused with nothing changed. */
	if (g.late != NULL && !req->acme->post_as_get)
		g.how = att_obj_parse(req, &att_obj, &att_obj_len, NULL) ? STORE_CHALL_START_ANY
									 : STORE_CHALL_START;
	if (g.late != NULL) {
		if (!chall_read_settled(req, &g, &tried, &ret))
			goto out;
	} else if ((qs = store_run(req->srv->store, chall_get_cb, &g)) != STORE_ONE) {
		ret = qs < 0 ? reply_problem(req, ERR_DB_UNAVAILABLE, NULL)
			     : reply_problem(req, ERR_ACME_NOT_FOUND, "no such challenge");
		goto out;
	}
	ret = chall_answer_row(req, &g, tried, &att_obj, att_obj_len);
out:
	free(att_obj);
	store_acme_chall_free(&g.row);
	return ret;
}
