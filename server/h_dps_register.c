/* The DPS device API: register (PUT .../register), the operation poll
 * (GET .../operations/{operationId}) and the registration status query
 * (POST /{idScope}/registrations/{registrationId}), in Azure's shapes. The
 * device SAS was checked before the body was read (AUTH_DEVICE_SAS), so
 * req->dev names the enrollment whose key signed it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/timefmt.h"
#include "pki/pki.h"
#include "server/certs.h"
#include "server/dps.h"
#include "server/dps_alloc.h"
#include "server/dps_webhook.h"
#include "server/dps_sas.h"
#include "server/dps_tpm.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/wait.h"
#include "server/store/dps.h"
#include "server/store/events.h"
#include "server/store/twins.h"
#include "verifier/ek_cert.h"

/* Seconds a client waits before polling the operation: the C SDK takes
 * integers from 1 to 300. */
#define DPS_RETRY_AFTER "1"

/* Azure's registrationState for row r (the service API serves it too). */
json_t *dps_registration_state_json(const struct store_dps_registration *r)
{
	char created[TIMEFMT_RFC3339_LEN], updated[TIMEFMT_RFC3339_LEN];
	json_t *o = json_object();

	timefmt_rfc3339(r->created_at, created);
	timefmt_rfc3339(r->updated_at, updated);
	json_object_set_new(o, "registrationId", json_string(r->registration_id));
	json_object_set_new(o, "createdDateTimeUtc", json_string(created));
	if (r->assigned_hub != NULL)
		json_object_set_new(o, "assignedHub", json_string(r->assigned_hub));
	if (strcmp(r->status, "assigned") == 0)
		json_object_set_new(o, "deviceId", json_string(r->device_id));
	json_object_set_new(o, "status", json_string(r->status));
	if (r->substatus != NULL)
		json_object_set_new(o, "substatus", json_string(r->substatus));
	if (r->error_code != 0) {
		json_object_set_new(o, "errorCode", json_integer(r->error_code));
		json_object_set_new(o, "errorMessage",
				    json_string(r->error_message ? r->error_message : ""));
	}
	json_object_set_new(o, "lastUpdatedDateTimeUtc", json_string(updated));
	json_object_set_new(o, "etag", json_string(r->etag));
	if (r->payload_json != NULL)
		json_object_set_new(o, "payload", json_loads(r->payload_json, 0, NULL));
	if (r->issued_chain_json != NULL)
		json_object_set_new(o, "issuedCertificateChain",
				    json_loads(r->issued_chain_json, 0, NULL));
	if (r->tpm_authentication_key != NULL)
		json_object_set_new(
			o, "tpm",
			json_pack("{s:s}", "authenticationKey", r->tpm_authentication_key));
	return o;
}

/* The operation's state: 202 assigning with Retry-After while it runs,
 * else 200 with the registrationState. The register PUT answers with it
 * too, so a device assigned at once needs no poll (Azure's SDKs accept
 * "assigned" in the first reply). */
static int operation_reply(struct request *req, const struct store_dps_registration *r)
{
	if (strcmp(r->status, "assigning") == 0)
		return dps_reply(req, 202,
				 json_pack("{s:s, s:s}", "operationId", r->operation_id, "status",
					   r->status),
				 NULL, false, DPS_RETRY_AFTER);
	return dps_reply(req, 200,
			 json_pack("{s:s, s:s, s:o}", "operationId", r->operation_id, "status",
				   r->status, "registrationState", dps_registration_state_json(r)),
			 NULL, false, NULL);
}

struct reg {
	struct request *req;
	char hub[256];
	char operation_id[80], etag[33];
	struct store_dps_registration out;
	bool gone;		 /* the enrollment was deleted since the SAS was checked */
	json_t *payload;	 /* the device's payload (borrowed), for a webhook */
	struct dps_webhook *job; /* custom allocation: to submit after commit */
	const uint8_t *csr;	 /* 2025-07-01-preview: a PKCS#10 to issue for (DER) */
	size_t csr_len;
	char csr_why[256]; /* why the CA refused it ("" when it did not) */
};

/* A certificate for an assigned device that sent a CSR: the
 * device-client profile, its registration ID as subject CN and an
 * urn:orchard:dps:{registrationId} URI SAN, recorded with the
 * registration. *chain (malloc'd) receives issuedCertificateChain. A CSR
 * the CA refuses sets g->csr_why and returns STORE_NONE. */
static enum store_qs issue_cert(struct store_conn *c, struct reg *g, char **chain)
{
	const char *regid = g->req->dev.registration_id;
	char uri[DPS_ID_MAX + 32];
	struct pki_san san = {PKI_SAN_URI, uri, NULL};
	struct pki_issue_req ir = {.csr_der = g->csr,
				   .csr_len = g->csr_len,
				   .sans = &san,
				   .nsans = 1,
				   .profile = "device-client",
				   .subject = regid};
	struct certs_origin origin = {.dps_registration = regid};
	struct pki_cert cert;
	enum pki_status ps;
	enum store_qs qs;

	*chain = NULL;
	snprintf(uri, sizeof uri, "urn:orchard:dps:%s", regid);
	ps = pki_issue(g->req->srv->ca, &ir, &cert, g->csr_why, sizeof g->csr_why);
	if (ps == PKI_ERR_INTERNAL || ps == PKI_ERR_PROFILE)
		return STORE_HARD;
	if (ps != PKI_OK)
		return STORE_NONE;
	g->csr_why[0] = '\0';
	qs = certs_record(c, &cert, "device-client", &origin);
	if (qs >= 0 && (*chain = dps_chain_json(cert.chain_pem)) == NULL)
		qs = STORE_HARD;
	pki_cert_free(&cert);
	return qs < 0 ? qs : STORE_ONE;
}

/* Where an enabled device goes (Azure's allocation and reprovisioning):
 * registering again keeps the hub it has unless updateHubAssignment; else
 * the policy picks one (hashed, static), or a webhook will (custom: g->job
 * is prepared, the registration stays assigning). */
struct placement {
	const char *status, *substatus, *hub;
	bool reset_twin; /* reprovisioned elsewhere without migrateDeviceData */
	char picked[DPS_HUB_NAME_MAX + 1];
};

static enum store_qs place(struct store_conn *c, struct reg *g,
			   const struct store_dps_enrollment *e, struct store_dps_registration *old,
			   struct placement *pl)
{
	const struct server *srv = g->req->srv;
	const char *regid = g->req->dev.registration_id;
	const char *fallback = e->iot_hub_host_name ? e->iot_hub_host_name : g->hub;
	struct dps_alloc a;
	enum store_qs qs = STORE_ONE;
	bool had;

	*pl = (struct placement){.status = "assigned", .substatus = "initialAssignment"};
	if (dps_alloc_load(e->allocation_json, &a) != 0) {
		dps_alloc_free(&a);
		return STORE_HARD;
	}
	if ((qs = store_lock_dps_registration(c, regid, old)) < 0)
		goto out;
	had = qs == STORE_ONE && strcmp(old->status, "assigned") == 0 &&
	      old->assigned_hub != NULL && strcmp(old->enrollment_id, e->id) == 0 &&
	      strcmp(old->enrollment_kind, e->kind) == 0;
	qs = STORE_ONE;
	if (had && !a.update_hub) {
		pl->hub = old->assigned_hub;
		pl->substatus = old->substatus;
	} else if (strcmp(a.policy, "custom") == 0) {
		json_t *cands = dps_alloc_candidates(&a, srv->cfg.dps_linked_hubs, fallback);
		pl->status = "assigning";
		pl->substatus = NULL;
		dps_webhook_free(g->job);
		g->job = cands ? dps_webhook_new(e, &a, regid, g->operation_id,
						 e->device_id ? e->device_id : regid, g->payload,
						 cands, had ? old->assigned_hub : NULL)
			       : NULL;
		json_decref(cands);
		if (g->job == NULL)
			qs = STORE_HARD;
	} else if (dps_alloc_pick(&a, srv->cfg.dps_linked_hubs, fallback, regid, pl->picked,
				  sizeof pl->picked) != 0) {
		qs = STORE_HARD;
	} else {
		pl->hub = pl->picked;
		if (had && strcasecmp(pl->hub, old->assigned_hub) != 0) {
			pl->substatus = a.migrate_data ? "deviceDataMigrated" : "deviceDataReset";
			pl->reset_twin = !a.migrate_data;
		} else if (had) {
			pl->substatus = old->substatus;
		}
	}
out:
	dps_alloc_free(&a);
	return qs;
}

static enum store_qs register_cb(struct store_conn *c, void *cls)
{
	struct reg *g = cls;
	const struct device *dev = &g->req->dev;
	struct store_dps_enrollment e;
	struct store_dps_registration old = {0};
	struct placement pl = {.status = "disabled"};
	enum store_qs qs;

	g->gone = false;
	store_dps_registration_free(&g->out);
	dps_webhook_free(g->job);
	g->job = NULL;
	qs = store_select_dps_enrollment(c, dev->enrollment_kind, dev->enrollment_id, &e);
	if (qs == STORE_NONE)
		g->gone = true;
	if (qs != STORE_ONE)
		return qs;
	bool enabled = strcmp(e.provisioning_status, "enabled") == 0;
	/* A TPM device gets its hub key encrypted to the TPM it proved. */
	struct store_dps_tpm_challenge ch = {0};
	char hub_key[DPS_KEY_B64_MAX] = "";
	char *hub_blob = NULL, *chain = NULL;
	if (enabled && (qs = place(c, g, &e, &old, &pl)) != STORE_ONE)
		goto out;
	if (enabled && g->csr != NULL && (qs = issue_cert(c, g, &chain)) != STORE_ONE)
		goto out;
	if (enabled && strcmp(e.attestation_type, "tpm") == 0) {
		struct verr ve = {0};
		qs = store_select_dps_tpm_challenge(c, dev->registration_id, &ch);
		if (qs == STORE_ONE && dps_tpm_authkey_new(ch.endorsement_key, ch.storage_root_key,
							   hub_key, &hub_blob, &ve) != 0)
			qs = STORE_HARD;
		store_dps_tpm_challenge_free(&ch);
		if (qs == STORE_NONE)
			g->gone = true; /* expired since the SAS was checked */
		if (qs != STORE_ONE)
			goto out;
	}
	struct store_dps_registration r = {
		.registration_id = (char *)dev->registration_id,
		.device_id = e.device_id ? e.device_id : (char *)dev->registration_id,
		.enrollment_kind = e.kind,
		.enrollment_id = e.id,
		.status = (char *)pl.status,
		.substatus = (char *)pl.substatus,
		.assigned_hub = (char *)pl.hub,
		.operation_id = g->operation_id,
		.etag = g->etag,
		.tpm_authentication_key = hub_blob,
		.device_key = hub_blob ? hub_key : NULL,
		.issued_chain_json = chain,
	};
	qs = store_upsert_dps_registration(c, &r, &g->out);
	/* An assigned device gets its twin, seeded with initialTwin, in the
	 * same transaction; a twin that exists (registering again) is kept
	 * unless reprovisioning resets it. */
	if (qs == STORE_ONE && strcmp(pl.status, "assigned") == 0)
		qs = dps_twin_place(c, r.device_id, e.initial_twin_json, pl.reset_twin,
				    dev->registration_id);
out:
	explicit_bzero(hub_key, sizeof hub_key);
	free(hub_blob);
	free(chain);
	store_dps_registration_free(&old);
	store_dps_enrollment_free(&e);
	return qs;
}

/* The TPM flow's first request: what the device sent and what it gets. */
struct challenge {
	const char *registration_id;
	const char *ek_b64, *srk_b64;
	struct tpm_public ek;
	uint8_t ek_raw[DPS_TPM_PUB_MAX];
	size_t ek_len;
	X509 *ek_cert; /* NULL unless sent */
	char key[DPS_KEY_B64_MAX];
	char group_id[DPS_ID_MAX + 1];
	const char *why; /* why not, when not enrolled */
	struct store_dps_tpm_challenge row;
};

/* The enrollment this TPM belongs to: the individual enrollment of its
 * registration ID pinning its EK, else a TPM group whose roots its EK
 * certificate chains to (registration ID derived from the EK). */
static enum store_qs enrollment_for_tpm(struct store_conn *c, struct challenge *ch)
{
	struct store_dps_enrollment e;
	struct store_dps_enrollment_list groups;
	enum store_qs qs =
		store_select_dps_enrollment(c, STORE_DPS_INDIVIDUAL, ch->registration_id, &e);
	char derived[64];
	struct verr ve = {0};

	if (qs < 0)
		return qs;
	if (qs == STORE_ONE) {
		json_t *params = dps_attestation_params(&e);
		const char *pinned = json_string_value(json_object_get(params, "endorsementKey"));
		struct tpm_public ek;
		uint8_t raw[DPS_TPM_PUB_MAX];
		size_t n = 0;

		ch->why = "the endorsement key does not match the enrollment's";
		if (strcmp(e.attestation_type, "tpm") == 0 && pinned != NULL &&
		    dps_tpm_public(pinned, &ek, raw, &n, &ve) == 0 &&
		    dps_tpm_same_key(&ek.pub, &ch->ek.pub))
			ch->why = NULL;
		json_decref(params);
		store_dps_enrollment_free(&e);
		ch->row.enrollment_kind = STORE_DPS_INDIVIDUAL;
		ch->row.enrollment_id = (char *)ch->registration_id;
		return STORE_ONE;
	}
	ch->why = "no enrollment for this endorsement key";
	if (ch->ek_cert == NULL)
		return STORE_ONE;
	if (ek_registration_id(ch->ek_raw, ch->ek_len, derived, sizeof derived) != 0 ||
	    strcmp(derived, ch->registration_id) != 0) {
		ch->why = "a TPM group device's registration ID is its EK's (base32 SHA-256)";
		return STORE_ONE;
	}
	if ((qs = store_select_dps_groups(c, "tpm", &groups)) < 0)
		return qs;
	ch->why = "the endorsement key certificate chains to no TPM group's roots";
	for (int i = 0; i < groups.n; i++)
		if (dps_tpm_group_accepts(groups.items[i].attestation_params_json, ch->ek_cert,
					  &ch->ek.pub, &ve)) {
			ch->why = NULL;
			ch->row.enrollment_kind = STORE_DPS_GROUP;
			snprintf(ch->group_id, sizeof ch->group_id, "%s", groups.items[i].id);
			ch->row.enrollment_id = ch->group_id;
			break;
		}
	store_dps_enrollment_list_free(&groups);
	return STORE_ONE;
}

static enum store_qs challenge_cb(struct store_conn *c, void *cls)
{
	struct challenge *ch = cls;
	enum store_qs qs;

	ch->why = NULL;
	if ((qs = enrollment_for_tpm(c, ch)) < 0 || ch->why != NULL)
		return qs;
	return store_upsert_dps_tpm_challenge(c, &ch->row, DPS_TPM_CHALLENGE_TTL);
}

/* PUT .../register without Authorization: a TPM device's first request.
 * Answers 401 with an authenticationKey only its TPM can open, recorded
 * for its next, signed request; refuses anything else. */
static int tpm_challenge(struct request *req, const char *ek_b64, const char *srk_b64,
			 const char *cert_b64)
{
	struct challenge ch = {.registration_id = req->dev.registration_id};
	struct tpm_public srk;
	uint8_t raw[DPS_TPM_PUB_MAX], *der = NULL;
	size_t n = 0;
	char *blob = NULL;
	struct verr ve = {0};
	enum store_qs qs;
	int ret;

	if (ek_b64 == NULL || srk_b64 == NULL)
		return reply_problem(req, ERR_DPS_UNAUTHORIZED, NULL);
	if (dps_tpm_public(ek_b64, &ch.ek, ch.ek_raw, &ch.ek_len, &ve) != 0)
		return reply_problem(req, ERR_DPS_ARGUMENT_INVALID, "/tpm/endorsementKey: %s",
				     ve.msg);
	if (dps_tpm_public(srk_b64, &srk, raw, &n, &ve) != 0)
		return reply_problem(req, ERR_DPS_ARGUMENT_INVALID, "/tpm/storageRootKey: %s",
				     ve.msg);
	if (cert_b64 != NULL) {
		der = b64_decode(cert_b64, strlen(cert_b64), 0, &n);
		if (der == NULL || n > DPS_TPM_CERT_MAX ||
		    (ch.ek_cert = ek_cert_parse(der, n, &ve)) == NULL) {
			free(der);
			return reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
					     "/tpm/endorsementKeyCertificate: must be base64 DER");
		}
		free(der);
	}
	if (dps_tpm_authkey_new(ek_b64, srk_b64, ch.key, &blob, &ve) != 0) {
		X509_free(ch.ek_cert);
		return reply_problem(req, ERR_DPS_ARGUMENT_INVALID, "/tpm: %s", ve.msg);
	}
	ch.row = (struct store_dps_tpm_challenge){
		.registration_id = (char *)ch.registration_id,
		.auth_key = ch.key,
		.endorsement_key = (char *)ek_b64,
		.storage_root_key = (char *)srk_b64,
	};
	qs = store_run_txn(req->srv->store, challenge_cb, &ch);
	if (qs < 0)
		ret = reply_problem(req, ERR_DPS_UNAVAILABLE, "could not record the challenge");
	else if (ch.why != NULL)
		ret = reply_problem(req, ERR_DPS_UNAUTHORIZED, "%s", ch.why);
	else
		ret = dps_reply(req, 401,
				json_pack("{s:s, s:s, s:s}", "message",
					  "sign the next request with this authenticationKey",
					  "authenticationKey", blob, "keyName", "registration"),
				NULL, true, NULL);
	explicit_bzero(ch.key, sizeof ch.key);
	X509_free(ch.ek_cert);
	free(blob);
	return ret;
}

int h_dps_register(struct request *req)
{
	const char *body_id = NULL, *ek = NULL, *srk = NULL, *ekcert = NULL, *csr = NULL;
	uint8_t *csr_der = NULL;
	json_t *payload = NULL;
	struct json_spec tpm[] = {
		json_spec_string("endorsementKey", &ek, 4096, JSON_SPEC_OPTIONAL),
		json_spec_string("storageRootKey", &srk, 4096, JSON_SPEC_OPTIONAL),
		json_spec_string("endorsementKeyCertificate", &ekcert, 8192, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct json_spec spec[] = {
		json_spec_string("registrationId", &body_id, DPS_ID_MAX, JSON_SPEC_OPTIONAL),
		json_spec_object("payload", &payload, JSON_SPEC_OPTIONAL),
		json_spec_fields("tpm", tpm, JSON_SPEC_OPTIONAL),
		json_spec_string("csr", &csr, 16384, JSON_SPEC_OPTIONAL),
		json_spec_end(),
	};
	struct reg g = {.req = req};
	char opid[33];
	enum spec_status st;
	enum store_qs qs;
	int ret;

	if (!dps_api_version_ok(req, &ret))
		return ret;
	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	if (body_id != NULL && strcmp(body_id, req->dev.registration_id) != 0)
		return reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
				     "/registrationId: differs from the path's");
	if (!req->dev.authenticated)
		return tpm_challenge(req, ek, srk, ekcert);
	dps_hub_host(req->srv, g.hub, sizeof g.hub);
	if (dps_random_hex(opid, 16) != 0 || dps_random_hex(g.etag, 16) != 0)
		return reply_problem(req, ERR_DPS_INTERNAL, "no randomness");
	snprintf(g.operation_id, sizeof g.operation_id, "4.%s", opid);
	if (csr != NULL) {
		if (req->srv->ca == NULL)
			return reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
					     "/csr: this service issues no certificates");
		if ((csr_der = b64_decode(csr, strlen(csr), 0, &g.csr_len)) == NULL)
			return reply_problem(req, ERR_DPS_ARGUMENT_INVALID,
					     "/csr: must be a base64 DER PKCS#10 request");
		g.csr = csr_der;
	}
	g.payload = payload;
	qs = store_run_txn(req->srv->store, register_cb, &g);
	free(csr_der);
	if (qs == STORE_ONE && !g.gone && g.job != NULL) {
		dps_webhook_submit(req->srv, g.job); /* takes it */
		g.job = NULL;
	}
	dps_webhook_free(g.job);
	if (g.csr_why[0] != '\0' && qs == STORE_NONE)
		ret = reply_problem(req, ERR_DPS_ARGUMENT_INVALID, "/csr: %s", g.csr_why);
	else if (qs == STORE_CONFLICT)
		ret = reply_problem(req, ERR_DPS_CONFLICT,
				    "the enrollment's deviceId belongs to another registration");
	else if (qs < 0)
		ret = reply_problem(req, ERR_DPS_UNAVAILABLE, "could not record the registration");
	else if (g.gone)
		ret = reply_problem(req, ERR_DPS_UNAUTHORIZED, NULL);
	else
		ret = operation_reply(req, &g.out);
	store_dps_registration_free(&g.out);
	return ret;
}

struct look {
	const char *registration_id;
	struct store_dps_registration row;
};

static enum store_qs look_cb(struct store_conn *c, void *cls)
{
	struct look *l = cls;

	return store_select_dps_registration(c, l->registration_id, &l->row);
}

/* Reads the caller's registration; replies and returns false when none. */
static bool look_up(struct request *req, struct look *l, int *ret)
{
	enum store_qs qs;

	l->registration_id = req->dev.registration_id;
	qs = store_run(req->srv->store, look_cb, l);
	if (qs < 0)
		*ret = reply_problem(req, ERR_DPS_UNAVAILABLE, NULL);
	else if (qs == STORE_NONE)
		*ret = reply_problem(req, ERR_DPS_REGISTRATION_NOT_FOUND, "%s has not registered",
				     l->registration_id);
	return qs == STORE_ONE;
}

/* An allocation that should have ended long ago (the orchardd running its
 * webhook stopped): shown as failed, so the device registers again. */
static void stale_assigning(const struct server *srv, struct store_dps_registration *r)
{
	long long limit =
		2 * (srv->cfg.dps_webhook_timeout > 0 ? srv->cfg.dps_webhook_timeout : 10) + 5;

	char *failed;

	if (strcmp(r->status, "assigning") != 0 || (long long)time(NULL) - r->updated_at <= limit ||
	    (failed = strdup("failed")) == NULL)
		return;
	free(r->status);
	free(r->error_message);
	r->status = failed;
	r->error_message = strdup("the custom allocation did not finish; register again");
	r->error_code = (int)err_table[ERR_DPS_ALLOCATION_FAILED].azure_code;
}

/* A poll of an assigning operation (a custom allocation webhook running)
 * waits this long for its end, without a thread: the connection is
 * suspended until the registration's EVENTS_DPS_REGISTRATION (sent when
 * the job ends it) or the deadline, then answered 200 or 202. */
#define DPS_OPERATION_WAIT_MS 2000

int h_dps_operation(struct request *req)
{
	struct waiter *w = req->state;
	struct look l;
	int ret;

	if (!dps_api_version_ok(req, &ret))
		return ret;
	for (;;) {
		if (!look_up(req, &l, &ret))
			return ret;
		stale_assigning(req->srv, &l.row);
		if (strcmp(l.row.operation_id, req->params[2]) != 0 ||
		    strcmp(l.row.status, "assigning") != 0)
			break;
		/* Subscribed before the next look, so an end between the two
		 * is not missed. */
		if (w == NULL) {
			w = wait_new(req->srv, req->conn, EVENTS_DPS_REGISTRATION,
				     l.registration_id, DPS_OPERATION_WAIT_MS);
			if (w == NULL)
				break; /* answer 202 now */
			request_set_state(req, w, wait_free_cb);
			store_dps_registration_free(&l.row);
			continue;
		}
		if (wait_expired(w))
			break;
		store_dps_registration_free(&l.row);
		if (wait_sleep(w))
			return MHD_YES; /* resumed by the event or the deadline */
	}
	if (strcmp(l.row.operation_id, req->params[2]) != 0)
		ret = reply_problem(req, ERR_DPS_NOT_FOUND, "no operation %s for %s",
				    req->params[2], l.registration_id);
	else
		ret = operation_reply(req, &l.row);
	store_dps_registration_free(&l.row);
	return ret;
}

int h_dps_registration_status(struct request *req)
{
	struct look l;
	int ret;

	if (!dps_api_version_ok(req, &ret) || !look_up(req, &l, &ret))
		return ret;
	ret = dps_reply(req, 200, dps_registration_state_json(&l.row), l.row.etag, false, NULL);
	store_dps_registration_free(&l.row);
	return ret;
}
