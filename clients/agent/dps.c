/* dps.c: provisioning with Orchard's DPS (docs/dps.md). Symmetric-key
 * flow: PUT register with a registration SAS, poll the operation while it
 * is assigning. TPM flow (tcti, no symmetric_key): a first PUT with the EK
 * and SRK gets 401 and an authenticationKey only this TPM opens; the TPM
 * imports it and signs the registration SAS (TPM2_HMAC); the assignment's
 * tpm.authenticationKey, the hub key, is imported the same way. The
 * assignment (and for a TPM the hub key's public and SRK-wrapped private
 * blobs) is kept in state_dir/registration.json (0600), so a restart does
 * not register again. Orchard unreachable or refusing: backoff with
 * jitter, capped at 30 s. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients/agent/agent.h"
#include "clients/attest/dps_tpm.h"
#include "common/b64.h"
#include "common/log.h"

#define API "api-version=2021-06-01"

/* Sleeps up to s seconds, waking early on a stop. */
static void nap(double s)
{
	for (double t = 0; t < s && !agent_stopping; t += 0.1)
		usleep(100000);
}

static double backoff(int attempt)
{
	double b = 1 << (attempt < 5 ? attempt : 5);
	if (b > 30)
		b = 30;
	return b / 2 + (b / 2) * ((double)(rand() % 1000) / 1000.0);
}

/* A base64 blob of the state file into buf (at most max bytes). */
static int load_blob(const json_t *j, const char *name, uint8_t *buf, size_t max, size_t *len)
{
	const char *v = json_string_value(json_object_get(j, name));
	size_t n = 0;
	uint8_t *b = v ? b64_decode(v, strlen(v), 0, &n) : NULL;
	int rc = b && n > 0 && n <= max ? 0 : -1;
	if (rc == 0) {
		memcpy(buf, b, n);
		*len = n;
	}
	free(b);
	return rc;
}

static int load_state(const struct agent_config *c, const char *path, struct agent_identity *id)
{
	json_t *j = json_load_file(path, 0, NULL);
	const char *dev = json_string_value(json_object_get(j, "deviceId"));
	const char *hub = json_string_value(json_object_get(j, "assignedHub"));
	json_t *tpm = json_object_get(j, "tpm");
	int rc = -1;
	if (dev && hub && strlen(dev) < sizeof(id->device_id) && strlen(hub) < sizeof(id->hub)) {
		snprintf(id->device_id, sizeof(id->device_id), "%s", dev);
		snprintf(id->hub, sizeof(id->hub), "%s", hub);
		rc = 0;
	}
	if (rc == 0 && !c->symmetric_key &&
	    (load_blob(tpm, "keyPublic", id->key_pub, sizeof(id->key_pub), &id->key_pub_len) != 0 ||
	     load_blob(tpm, "keyPrivate", id->key_priv, sizeof(id->key_priv), &id->key_priv_len) !=
		     0))
		rc = -1; /* a TPM device without its hub key registers again */
	json_decref(j);
	return rc;
}

/* Writes the assignment (and the TPM's hub key blobs, hub may be NULL)
 * into path, 0600, atomically. */
static int save_state(const char *path, const json_t *rs, const struct oa_buf *hub_pub,
		      const struct oa_buf *hub_priv)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	json_t *j = json_pack("{s:O?, s:O?}", "deviceId", json_object_get(rs, "deviceId"),
			      "assignedHub", json_object_get(rs, "assignedHub"));
	if (j && hub_pub) {
		char *p = b64_encode(hub_pub->b, hub_pub->n, 0);
		char *q = b64_encode(hub_priv->b, hub_priv->n, 0);
		if (!p || !q ||
		    json_object_set_new(j, "tpm",
					json_pack("{s:s, s:s}", "keyPublic", p, "keyPrivate", q)) !=
			    0) {
			json_decref(j);
			j = NULL;
		}
		free(p);
		free(q);
	}
	int fd = j ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	int rc = fd >= 0 && json_dumpfd(j, fd, JSON_COMPACT) == 0 && fsync(fd) == 0 ? 0 : -1;
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	json_decref(j);
	return rc;
}

void dps_forget(const struct agent_config *c)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/registration.json", c->state_dir);
	unlink(path);
}

/* The TPM's EK and SRK, read once per provisioning, and the registration ID. */
struct tpm_dev {
	struct oa_buf ek, srk, ek_cert; /* ek_cert empty when the TPM has none */
	char regid[64];
	const char *registration_id; /* the config's, else regid */
};

/* Opens an authenticationKey (base64) in the TPM: its key's blobs. */
static int tpm_import(const struct agent_config *c, const char *b64, struct oa_buf *pub,
		      struct oa_buf *priv)
{
	char err[OA_ERR_MAX] = "";
	size_t n = 0;
	uint8_t *blob = b64 ? b64_decode(b64, strlen(b64), 0, &n) : NULL;
	struct oa_tpm *t = blob ? oa_tpm_open_clean(c->tcti, NULL, err) : NULL;
	int rc = t ? oa_tpm_dps_import(t, blob, n, pub, priv, err) : -1;
	oa_tpm_close(t);
	free(blob);
	if (rc != 0)
		log_kv(LOG_WARN, "the TPM cannot open the authenticationKey", "error",
		       blob ? err : "not base64", NULL);
	return rc;
}

static void log_refusal(const struct http_reply *r, const json_t *j, const char *status)
{
	char st[16], code[24] = "";
	snprintf(st, sizeof(st), "%ld", r->status);
	if (json_is_integer(json_object_get(j, "errorCode")))
		snprintf(code, sizeof(code), "%lld",
			 (long long)json_integer_value(json_object_get(j, "errorCode")));
	const char *msg = json_string_value(json_object_get(j, "message"));
	log_kv(LOG_WARN, "registration refused", "status", st, "registrationStatus",
	       status ? status : "", "errorCode", code, "message", msg ? msg : "", NULL);
}

/* The register PUT (sas may be NULL: the TPM flow's first request) and its
 * polls while assigning: 1 assigned (saved into id), 0 retry, -1 give up;
 * *auth_key gets a 401's authenticationKey (malloc'd) when asked for. */
static int register_poll(const struct agent_config *c, const char *statefile, const char *regid,
			 const char *sas, const char *body, struct agent_identity *id,
			 char **auth_key)
{
	char url[2048];
	snprintf(url, sizeof(url), "%s/%s/registrations/%s/register?" API, c->url, c->id_scope,
		 regid);
	struct http_reply r;
	int rc = http_json(c, "PUT", url, sas, body, 30, &r);
	int ret = 0;
	for (int polls = 0; rc == 0 && polls < 60; polls++) {
		json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
		const char *status = json_string_value(json_object_get(j, "status"));
		const char *op = json_string_value(json_object_get(j, "operationId"));
		const char *ak = json_string_value(json_object_get(j, "authenticationKey"));
		if (r.status == 401 && auth_key && ak) {
			*auth_key = strdup(ak);
			ret = *auth_key ? 1 : 0;
		} else if ((r.status == 200 || r.status == 202) && status &&
			   !strcmp(status, "assigned")) {
			json_t *rs = json_object_get(j, "registrationState");
			struct oa_buf hp = {0}, hk = {0};
			const char *hub_ak = json_string_value(
				json_object_get(json_object_get(rs, "tpm"), "authenticationKey"));
			if (!c->symmetric_key && !hub_ak) {
				log_kv(LOG_WARN, "the assignment carries no hub key for the TPM",
				       NULL);
			} else if (!c->symmetric_key && tpm_import(c, hub_ak, &hp, &hk) != 0) {
				/* logged */
			} else if (save_state(statefile, rs, c->symmetric_key ? NULL : &hp, &hk) ==
					   0 &&
				   load_state(c, statefile, id) == 0) {
				if (!c->symmetric_key)
					log_kv(LOG_INFO, "the TPM imported the hub key", NULL);
				ret = 1;
			} else {
				log_kv(LOG_ERROR, "cannot save the registration", "file", statefile,
				       NULL);
				ret = -1;
			}
			oa_buf_free(&hp);
			oa_buf_free(&hk);
		} else if ((r.status == 200 || r.status == 202) && status &&
			   !strcmp(status, "assigning") && op) {
			nap(r.retry_after > 0 ? (double)r.retry_after : 1);
			snprintf(url, sizeof(url), "%s/%s/registrations/%s/operations/%s?" API,
				 c->url, c->id_scope, regid, op);
			json_decref(j);
			http_reply_free(&r);
			if (agent_stopping)
				return -1;
			rc = http_json(c, "GET", url, sas, NULL, 30, &r);
			continue;
		} else {
			log_refusal(&r, j, status);
		}
		json_decref(j);
		break;
	}
	http_reply_free(&r);
	return ret;
}

/* One symmetric-key attempt: 1 assigned, 0 retry, -1 give up. */
static int attempt(const struct agent_config *c, const char *statefile, struct agent_identity *id)
{
	char sr[512];
	snprintf(sr, sizeof(sr), "%s/registrations/%s", c->id_scope, c->registration_id);
	char *sas = sas_token(sr, c->symmetric_key, 3600, "registration");
	if (!sas) {
		log_kv(LOG_ERROR, "symmetric_key is not base64", NULL);
		return -1;
	}
	json_t *body = json_pack("{s:s}", "registrationId", c->registration_id);
	char *b = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	int ret = register_poll(c, statefile, c->registration_id, sas, b, id, NULL);
	free(b);
	free(sas);
	return ret;
}

/* One TPM attempt: the EK and SRK, the challenge, the TPM's answer. */
static int attempt_tpm(const struct agent_config *c, const char *statefile, const struct tpm_dev *d,
		       struct agent_identity *id)
{
	char sr[512], *ak = NULL, *sas = NULL, *b = NULL;
	char *ek = b64_encode(d->ek.b, d->ek.n, 0), *srk = b64_encode(d->srk.b, d->srk.n, 0);
	char *cert = d->ek_cert.n ? b64_encode(d->ek_cert.b, d->ek_cert.n, 0) : NULL;
	struct oa_buf kp = {0}, kk = {0};
	int ret = 0;
	/* The EK certificate lets a TPM enrollment group admit the device. */
	json_t *body = ek && srk
			       ? json_pack("{s:s, s:{s:s, s:s, s:s*}}", "registrationId",
					   d->registration_id, "tpm", "endorsementKey", ek,
					   "storageRootKey", srk, "endorsementKeyCertificate", cert)
			       : NULL;
	b = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	log_kv(LOG_INFO, "registering with the TPM's EK", "registrationId", d->registration_id,
	       NULL);
	if (!b || register_poll(c, statefile, d->registration_id, NULL, b, id, &ak) != 1 || !ak)
		goto out; /* refused (logged) or an old-style answer */
	log_kv(LOG_INFO, "DPS challenged the TPM (authenticationKey)", NULL);
	if (tpm_import(c, ak, &kp, &kk) != 0)
		goto out;
	snprintf(sr, sizeof(sr), "%s/registrations/%s", c->id_scope, d->registration_id);
	if ((sas = tpm_sas(c, kp.b, kp.n, kk.b, kk.n, sr, 3600, "registration")) == NULL)
		goto out;
	log_kv(LOG_INFO, "the TPM signed the registration SAS", NULL);
	free(b);
	body = json_pack("{s:s}", "registrationId", d->registration_id);
	b = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	ret = b ? register_poll(c, statefile, d->registration_id, sas, b, id, NULL) : 0;
out:
	oa_buf_free(&kp);
	oa_buf_free(&kk);
	free(ak);
	free(sas);
	free(b);
	free(ek);
	free(srk);
	free(cert);
	return ret;
}

/* Reads the EK and SRK (the TPM released after) and the registration ID. */
static int tpm_dev_read(const struct agent_config *c, struct tpm_dev *d)
{
	char err[OA_ERR_MAX] = "";
	int flushed = 0;
	struct oa_tpm *t = oa_tpm_open_clean(c->tcti, &flushed, err);
	int rc = t ? oa_tpm_dps_keys(t, &d->ek, &d->srk, &d->ek_cert, err) : -1;
	oa_tpm_close(t);
	if (flushed > 0) {
		char nb[16];
		snprintf(nb, sizeof(nb), "%d", flushed);
		log_kv(LOG_WARN, "flushed objects a crash left in the TPM", "count", nb, NULL);
	}
	if (rc != 0) {
		log_kv(LOG_WARN, "cannot read the TPM's EK and SRK", "tcti", c->tcti, "error", err,
		       NULL);
		return -1;
	}
	oa_dps_registration_id(&d->ek, d->regid);
	d->registration_id = c->registration_id ? c->registration_id : d->regid;
	log_kv(LOG_INFO, "read the TPM's EK and SRK", "registrationId", d->registration_id, "from",
	       c->registration_id ? "config" : "EK", "ekCertificate", d->ek_cert.n ? "yes" : "no",
	       NULL);
	return 0;
}

int dps_provision(const struct agent_config *c, struct agent_identity *id)
{
	char statefile[4096];
	struct tpm_dev d = {0};
	int ret = -1;
	snprintf(statefile, sizeof(statefile), "%s/registration.json", c->state_dir);
	if (load_state(c, statefile, id) == 0) {
		log_kv(LOG_INFO, "registered before", "deviceId", id->device_id, "hub", id->hub,
		       NULL);
		return 0;
	}
	for (int n = 0; !agent_stopping; n++) {
		int rc;
		if (c->symmetric_key)
			rc = attempt(c, statefile, id);
		else if (d.ek.b || tpm_dev_read(c, &d) == 0)
			rc = attempt_tpm(c, statefile, &d, id);
		else
			rc = 0; /* the TPM busy or away: try again */
		if (rc == 1) {
			log_kv(LOG_INFO, "registered", "deviceId", id->device_id, "hub", id->hub,
			       NULL);
			ret = 0;
			break;
		}
		if (rc < 0)
			break;
		nap(backoff(n));
	}
	oa_buf_free(&d.ek);
	oa_buf_free(&d.srk);
	oa_buf_free(&d.ek_cert);
	return ret;
}
