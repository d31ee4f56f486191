/* The device's whole certificate flow as library calls (see attest.h,
 * "flow"): the AK certificate from Orchard's attestation CA, then a
 * device-attest-01 order, finalize and download. orchard-attest's main.c
 * and the device agent call these; neither repeats the ACME steps. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/attest/attest.h"
#include "common/b64.h"

void oa_outcome_free(struct oa_outcome *o)
{
	json_decref(o->problem);
	memset(o, 0, sizeof *o);
}

/* Orchard answered step with an unexpected status: OA_REFUSED, the
 * problem (stolen) kept in *res. */
static int refused(struct oa_outcome *res, const char *step, long status, json_t *problem)
{
	json_decref(res->problem);
	res->step = step;
	res->status = status;
	res->problem = problem;
	return OA_REFUSED;
}

/* A local failure at step: OA_FAILED, err already says why. */
static int failed(struct oa_outcome *res, const char *step)
{
	res->step = step;
	res->status = 0;
	return OA_FAILED;
}

/* A standard-base64 JSON member into *out. */
static int b64_member(json_t *j, const char *name, struct oa_buf *out)
{
	const char *s = json_string_value(json_object_get(j, name));

	out->b = s ? b64_decode(s, strlen(s), 0, &out->n) : NULL;
	return out->b ? 0 : -1;
}

static json_t *b64_json(const struct oa_buf *b)
{
	char *s = b64_encode(b->b, b->n, 0);
	json_t *j = s ? json_string(s) : NULL;

	free(s);
	return j;
}

static uint32_t ek_handle(bool ecc)
{
	return ecc ? 0x81010016 : 0x81010001;
}

/* POST JSON req (stolen) to the attestation CA; OA_OK when the answer
 * (*ans, the caller frees) has status want, else failed or refused. */
static int post(const struct oa_ak_opts *o, const char *url, json_t *req, long want, json_t **ans,
		struct oa_outcome *res, const char *step, char *err)
{
	long status = 0;

	if (oa_post_json(o->cacert, url, req, &status, ans, err) != 0)
		return failed(res, step);
	if (status != want) {
		refused(res, step, status, *ans);
		*ans = NULL;
		return OA_REFUSED;
	}
	return OA_OK;
}

int oa_flow_ak_chain(struct oa_tpm *t, const struct oa_ak_opts *o, struct oa_buf *chain,
		     size_t *nchain, struct oa_outcome *res, char *err)
{
	struct oa_buf ek = {0}, cert = {0}, ak = {0}, blob = {0}, enc = {0}, secret = {0};
	char url[1024];
	json_t *req, *ans = NULL, *list;
	int rc = OA_FAILED;

	*nchain = 0;
	if (oa_tpm_ek(t, ek_handle(o->ek_ecc), o->ek_ecc ? 0x01c00016 : 0x01c00002, &ek, &cert,
		      err) != 0 ||
	    oa_tpm_ak_create(t, !o->ak_rsa, &ak, err) != 0) {
		rc = failed(res, "tpm");
		goto out;
	}
	req = json_pack("{s:o, s:o}", "endorsementKey", b64_json(&ek), "attestationKey",
			b64_json(&ak));
	if (req != NULL && cert.n > 0 && !o->no_ek_cert)
		json_object_set_new(req, "endorsementKeyCertificate", b64_json(&cert));
	snprintf(url, sizeof url, "%s/attestation/ak/challenge", o->server);
	if ((rc = post(o, url, req, 201, &ans, res, "ak-challenge", err)) != OA_OK)
		goto out;
	rc = OA_FAILED;
	if (b64_member(ans, "credentialBlob", &blob) != 0 ||
	    b64_member(ans, "encryptedSecret", &enc) != 0 ||
	    oa_tpm_activate(t, &blob, &enc, &secret, err) != 0) {
		rc = failed(res, "ak-activate");
		goto out;
	}
	snprintf(url, sizeof url, "%s/attestation/ak/%s/activate", o->server,
		 json_string_value(json_object_get(ans, "id")) ?: "");
	json_decref(ans);
	ans = NULL;
	if ((rc = post(o, url, json_pack("{s:o}", "secret", b64_json(&secret)), 200, &ans, res,
		       "ak-activate", err)) != OA_OK)
		goto out;
	list = json_object_get(ans, "certificateChain");
	/* x5c: everything but the root, the verifier's trust anchor. */
	for (size_t i = 0; i + 1 < json_array_size(list) && i < OA_CHAIN_MAX; i++) {
		const char *s = json_string_value(json_array_get(list, i));
		chain[i].b = s ? b64_decode(s, strlen(s), 0, &chain[i].n) : NULL;
		if (chain[i].b == NULL)
			break;
		(*nchain)++;
	}
	if (*nchain == 0) {
		snprintf(err, OA_ERR_MAX, "no AK certificate in the answer");
		rc = failed(res, "ak-activate");
		goto out;
	}
	rc = OA_OK;
out:
	json_decref(ans);
	oa_buf_free(&ek);
	oa_buf_free(&cert);
	oa_buf_free(&ak);
	oa_buf_free(&blob);
	oa_buf_free(&enc);
	oa_buf_free(&secret);
	return rc;
}

int oa_flow_ak_load(struct oa_tpm *t, const struct oa_ak_opts *o, const char *path,
		    struct oa_buf *chain, size_t *nchain, struct oa_outcome *res, char *err)
{
	struct oa_buf ek = {0}, cert = {0}, ak = {0};
	int bad = oa_tpm_ek(t, ek_handle(o->ek_ecc), 0, &ek, &cert, err) != 0 ||
		  oa_tpm_ak_create(t, !o->ak_rsa, &ak, err) != 0;

	*nchain = 0;
	oa_buf_free(&ek);
	oa_buf_free(&cert);
	oa_buf_free(&ak);
	if (bad)
		return failed(res, "tpm");
	if (oa_chain_load(path, chain, nchain, err) != 0)
		return failed(res, "ak-chain-in");
	return OA_OK;
}

/* One ACME step: POST payload (stolen) to url, *out the answer. OA_OK when
 * the status is want. */
static int step(struct oa_acme *a, struct oa_outcome *res, const char *name, const char *url,
		json_t *payload, long want, json_t **out, char **location, char *err)
{
	long status = 0;

	if (oa_acme_post_json(a, url ? url : "", payload, &status, out, location, err) != 0)
		return failed(res, name);
	if (status != want) {
		int rc = refused(res, name, status, *out);
		*out = NULL;
		if (location != NULL) {
			free(*location);
			*location = NULL;
		}
		return rc;
	}
	return OA_OK;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* POST-as-GET url until its status is none of pending/processing/ready
 * when want is NULL, or is want (or invalid); *out the last object. */
static int poll(struct oa_acme *a, const char *url, const char *want, json_t **out, char *err)
{
	long status = 0;

	for (int i = 0; i < 100; i++) {
		const char *st;
		*out = NULL;
		if (oa_acme_post_json(a, url ? url : "", NULL, &status, out, NULL, err) != 0)
			return -1;
		st = json_string_value(json_object_get(*out, "status"));
		if (status != 200 || st == NULL)
			return 0;
		if (want ? strcmp(st, want) == 0
			 : strcmp(st, "pending") != 0 && strcmp(st, "processing") != 0)
			return 0;
		if (strcmp(st, "invalid") == 0)
			return 0;
		json_decref(*out);
		sleep_ms(100);
	}
	*out = NULL;
	snprintf(err, OA_ERR_MAX, "%s: no outcome in 10 s", url);
	return -1;
}

/* A newOrder payload for one identifier, replacing the certificate
 * replaces names (an RFC 9773 certID) when not NULL. */
static json_t *new_order(const struct oa_cert_opts *o, const char *id, const char *replaces)
{
	json_t *j = json_pack("{s:[{s:s, s:s}]}", "identifiers", "type",
			      o->id_type ? o->id_type : "permanent-identifier", "value", id);

	if (j != NULL && replaces != NULL)
		json_object_set_new(j, "replaces", json_string(replaces));
	return j;
}

/* The attObj for the challenge: a new TPM key (saved under key_dir when
 * asked), TPM2_Certify qualified with qd, the quote when asked. */
static int evidence(struct oa_tpm *t, const struct oa_cert_opts *o, const struct oa_buf *chain,
		    size_t nchain, const uint8_t *qd, size_t qdlen, struct oa_buf *obj,
		    struct oa_outcome *res, char *err)
{
	struct oa_quote quote = {0};
	struct oa_buf info = {0}, sig = {0}, area = {0};
	long alg = 0;
	int rc = OA_FAILED;

	if (oa_tpm_key_create(t, !o->key_rsa, err) != 0 ||
	    oa_tpm_certify(t, qd, qdlen, &info, &sig, &area, &alg, err) != 0) {
		rc = failed(res, "certify");
		goto out;
	}
	if (o->pubarea_other) { /* another key's public area */
		struct oa_buf i2 = {0}, s2 = {0};
		long a2;
		oa_buf_free(&area);
		if (oa_tpm_key_create(t, !o->key_rsa, err) != 0 ||
		    oa_tpm_certify(t, qd, qdlen, &i2, &s2, &area, &a2, err) != 0) {
			rc = failed(res, "certify");
			goto out;
		}
		oa_buf_free(&i2);
		oa_buf_free(&s2);
	}
	if (o->quote_mask != 0 && oa_tpm_quote(t, qd, qdlen, o->quote_mask, &quote, err) != 0) {
		rc = failed(res, "quote");
		goto out;
	}
	if (o->quote_mask != 0 && o->event_log != NULL && o->event_log->n > 0) {
		if ((quote.event_log.b = malloc(o->event_log->n)) == NULL) {
			snprintf(err, OA_ERR_MAX, "out of memory");
			rc = failed(res, "event-log");
			goto out;
		}
		memcpy(quote.event_log.b, o->event_log->b, o->event_log->n);
		quote.event_log.n = o->event_log->n;
	}
	if (oa_attobj(alg, chain, nchain, &sig, &info, &area, o->quote_mask ? &quote : NULL, obj,
		      err) != 0) {
		rc = failed(res, "attobj");
		goto out;
	}
	rc = OA_OK;
out:
	oa_quote_free(&quote);
	oa_buf_free(&info);
	oa_buf_free(&sig);
	oa_buf_free(&area);
	return rc;
}

static int copy_buf(struct oa_buf *dst, const struct oa_buf *src)
{
	if (dst == NULL || src->b == NULL)
		return 0;
	oa_buf_free(dst);
	if ((dst->b = malloc(src->n ? src->n : 1)) == NULL)
		return -1;
	memcpy(dst->b, src->b, src->n);
	dst->n = src->n;
	return 0;
}

int oa_flow_device_cert(struct oa_tpm *t, struct oa_acme *a, const struct oa_cert_opts *o,
			const struct oa_buf *chain, size_t nchain, struct oa_buf *pem,
			struct oa_outcome *res, char *err)
{
	struct oa_buf obj = {0}, csr = {0};
	char *order_url = NULL, *ka = NULL, *s64 = NULL;
	json_t *order = NULL, *authz = NULL, *ans = NULL, *chall = NULL, *it;
	const char *token = NULL, *chall_url = NULL, *authz_url;
	uint8_t qd[32];
	size_t qdlen = 32, i;
	long status = 0;
	int rc;

	pem->b = NULL;
	pem->n = 0;
	if ((rc = step(a, res, "order", a->new_order, new_order(o, o->id, o->replaces), 201, &order,
		       &order_url, err)) != OA_OK)
		goto out;
	rc = OA_FAILED;
	authz_url = json_string_value(json_array_get(json_object_get(order, "authorizations"), 0));
	if (oa_acme_post_json(a, authz_url ?: "", NULL, &status, &authz, NULL, err) != 0 ||
	    status != 200) {
		if (status != 0 && status != 200)
			snprintf(err, OA_ERR_MAX, "authorization: HTTP %ld", status);
		rc = failed(res, "authz");
		goto out;
	}
	json_array_foreach (json_object_get(authz, "challenges"), i, it)
		if (strcmp(json_string_value(json_object_get(it, "type")) ?: "",
			   "device-attest-01") == 0) {
			token = json_string_value(json_object_get(it, "token"));
			chall_url = json_string_value(json_object_get(it, "url"));
		}
	if (token == NULL || chall_url == NULL) {
		snprintf(err, OA_ERR_MAX, "no device-attest-01 challenge offered");
		rc = failed(res, "authz");
		goto out;
	}
	/* The key authorization, its SHA-256 the qualifying data. */
	if ((ka = malloc(strlen(token) + strlen(a->thumbprint) + 2)) == NULL) {
		snprintf(err, OA_ERR_MAX, "out of memory");
		rc = failed(res, "certify");
		goto out;
	}
	snprintf(ka, strlen(token) + strlen(a->thumbprint) + 2, "%s.%s", token, a->thumbprint);
	EVP_Digest(ka, strlen(ka), qd, NULL, EVP_sha256(), NULL);
	if (o->qualify != NULL) {
		qdlen = o->qualify_len > sizeof qd ? sizeof qd : o->qualify_len;
		memcpy(qd, o->qualify, qdlen);
	}
	if (o->attobj_text != NULL) {
		s64 = strdup(o->attobj_text);
	} else {
		if (o->attobj_in != NULL) {
			if (copy_buf(&obj, o->attobj_in) != 0) {
				snprintf(err, OA_ERR_MAX, "out of memory");
				rc = failed(res, "attobj");
				goto out;
			}
		} else if ((rc = evidence(t, o, chain, nchain, qd, qdlen, &obj, res, err)) !=
			   OA_OK) {
			goto out;
		}
		rc = OA_FAILED;
		if (copy_buf(o->attobj_out, &obj) != 0) {
			snprintf(err, OA_ERR_MAX, "out of memory");
			rc = failed(res, "attobj");
			goto out;
		}
		s64 = b64_encode(obj.b, obj.n, 1);
	}
	if ((rc = step(a, res, "challenge", chall_url, json_pack("{s:s?}", "attObj", s64), 200,
		       &chall, NULL, err)) != OA_OK)
		goto out;
	rc = OA_FAILED;
	/* orchardd answers with the outcome (it checks device-attest-01
	 * before answering); poll the authorization only for one that did
	 * not. */
	const char *cst = json_string_value(json_object_get(chall, "status")) ?: "";
	if (strcmp(cst, "invalid") == 0) {
		rc = refused(res, "challenge", 200, json_incref(json_object_get(chall, "error")));
		goto out;
	}
	if (strcmp(cst, "valid") != 0) {
		json_decref(authz);
		authz = NULL;
		if (poll(a, authz_url, NULL, &authz, err) != 0) {
			rc = failed(res, "challenge");
			goto out;
		}
		if (strcmp(json_string_value(json_object_get(authz, "status")) ?: "", "valid") !=
		    0) {
			json_t *p = NULL;
			json_array_foreach (json_object_get(authz, "challenges"), i, it)
				if (json_object_get(it, "error") != NULL)
					p = json_incref(json_object_get(it, "error"));
			rc = refused(res, "challenge", 200, p);
			goto out;
		}
	}
	/* Finalize with a CSR the TPM key signs (or another key's). */
	if (o->csr_other && oa_tpm_key_create(t, !o->key_rsa, err) != 0) {
		rc = failed(res, "csr");
		goto out;
	}
	if (oa_csr(t, o->csr_cn, &csr, err) != 0 || copy_buf(o->csr_out, &csr) != 0) {
		rc = failed(res, "csr");
		goto out;
	}
	free(s64);
	s64 = b64_encode(csr.b, csr.n, 1);
	if ((rc = step(a, res, "finalize", json_string_value(json_object_get(order, "finalize")),
		       json_pack("{s:s?}", "csr", s64), 200, &ans, NULL, err)) != OA_OK)
		goto out;
	rc = OA_FAILED;
	/* orchardd finalizes before answering: poll only an order that is
	 * still processing. */
	if (strcmp(json_string_value(json_object_get(ans, "status")) ?: "", "valid") != 0) {
		json_decref(ans);
		ans = NULL;
		if (poll(a, order_url, "valid", &ans, err) != 0)
			ans = NULL;
	}
	if (ans == NULL || json_string_value(json_object_get(ans, "certificate")) == NULL) {
		if (ans != NULL)
			snprintf(err, OA_ERR_MAX, "the order ended %s",
				 json_string_value(json_object_get(ans, "status")) ?: "unknown");
		rc = failed(res, "order");
		goto out;
	}
	{
		struct oa_resp r = {0};
		if (oa_acme_post(a, json_string_value(json_object_get(ans, "certificate")), NULL,
				 &r, err) != 0 ||
		    r.status != 200) {
			if (r.status != 0)
				snprintf(err, OA_ERR_MAX, "certificate download: HTTP %ld",
					 r.status);
			oa_resp_free(&r);
			rc = failed(res, "certificate");
			goto out;
		}
		*pem = r.body;
		r.body.b = NULL;
		r.body.n = 0;
		oa_resp_free(&r);
	}
	/* The key is kept only once its certificate exists: a failed renewal
	 * leaves the saved key that matches the certificate in use. */
	if (o->key_dir != NULL && oa_tpm_key_save(t, o->key_dir, err) != 0) {
		oa_buf_free(pem);
		rc = failed(res, "key-save");
		goto out;
	}
	/* then_order: the same account orders again (an account a TPM bound
	 * to a device orders for that device only). */
	if (o->then_order != NULL) {
		json_t *o2 = NULL;
		if ((rc = step(a, res, "then-order", a->new_order,
			       new_order(o, o->then_order, NULL), 201, &o2, NULL, err)) != OA_OK) {
			oa_buf_free(pem);
			goto out;
		}
		json_decref(o2);
	}
	rc = OA_OK;
out:
	oa_buf_free(&obj);
	oa_buf_free(&csr);
	json_decref(order);
	json_decref(authz);
	json_decref(ans);
	json_decref(chall);
	free(order_url);
	free(ka);
	free(s64);
	return rc;
}
