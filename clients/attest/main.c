/* orchard-attest: a device gets a short-lived certificate from Orchard with
 * its TPM, end to end (docs/acme.md, "device-attest-01"):
 *   1. the AK certificate: POST /attestation/ak/challenge with the EK and a
 *      new AK, TPM2_ActivateCredential, POST /attestation/ak/{id}/activate;
 *   2. ACME: account, newOrder for {"permanent-identifier": ID}, the
 *      device-attest-01 challenge answered with an attObj whose certInfo
 *      is TPM2_Certify of a new key under the SRK, qualified with
 *      SHA-256(key authorization);
 *   3. finalize with a CSR the TPM key signs; the certificate chain to --out.
 * The last line on stdout is JSON: {"ok": true, "certificate": PATH} or
 * {"ok": false, "step": ..., "status": HTTP, "problem": {...}}; exit 0, or
 * 2 when Orchard refused, 1 on any other failure. The --x5c0, --attobj-in,
 * --qualify, --pubarea-other, --csr-other and --order-id options send
 * wrong evidence on purpose (tests/integration/device_attest.sh).
 * --ak-chain-out FILE keeps the AK certificate chain (PEM) and
 * --ak-chain-in FILE uses it again instead of a new activation, as a
 * device renewing does: the AK is a primary key, the same every time it is
 * created from the same template in the same TPM. */
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/attest/attest.h"
#include "common/b64.h"
#include "common/file.h"
#include "common/hex.h"

struct opts {
	const char *server, *cacert, *tcti, *id, *order_id, *out;
	bool ek_ecc, ak_rsa, key_rsa, no_ek_cert;
	const char *attobj_text; /* sent verbatim as attObj */
	const char *x5c0, *attobj_in, *attobj_out, *qualify, *chain_in, *chain_out, *csr_out;
	bool pubarea_other, csr_other;
	const char *csr_cn;	/* the CSR's subject CN, or NULL for none */
	const char *then_order; /* a second order by the same account */
	uint32_t quote_mask;	/* --quote: SHA-256 PCRs to quote */
	const char *event_log;	/* --event-log: the TCG log sent with the quote */
};

static char err[OA_ERR_MAX];

static int refused(const char *step, long status, json_t *problem)
{
	json_t *j = json_pack("{s:b, s:s, s:i, s:O?}", "ok", 0, "step", step, "status", (int)status,
			      "problem", problem);
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;

	printf("%s\n", t ? t : "{\"ok\":false}");
	free(t);
	json_decref(j);
	json_decref(problem);
	return 2;
}

static int failed(const char *step)
{
	fprintf(stderr, "orchard-attest: %s: %s\n", step, err);
	printf("{\"ok\":false,\"step\":\"%s\",\"status\":0}\n", step);
	return 1;
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

/* Reads to the end (sysfs files such as the kernel's event log tell no
 * size), at most 1 MiB. */
static int read_file(const char *path, struct oa_buf *out)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 0, r = 1;

	out->b = NULL;
	out->n = 0;
	while (f != NULL && r > 0 && cap <= (1u << 20)) {
		uint8_t *nb = realloc(out->b, cap + 8192);
		if (nb == NULL)
			break;
		out->b = nb;
		cap += 8192;
		r = fread(out->b + out->n, 1, cap - out->n, f);
		out->n += r;
	}
	if (f == NULL || ferror(f) || r > 0) {
		if (f)
			fclose(f);
		free(out->b);
		out->b = NULL;
		out->n = 0;
		snprintf(err, OA_ERR_MAX, "cannot read %s", path);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Writes b to path; -1 with err set. */
static int write_file(const char *path, const struct oa_buf *b)
{
	FILE *f = fopen(path, "wb");
	bool ok = f != NULL && fwrite(b->b, 1, b->n, f) == b->n;

	if (f != NULL && fclose(f) != 0)
		ok = false;
	if (!ok)
		snprintf(err, OA_ERR_MAX, "cannot write %s", path);
	return ok ? 0 : -1;
}

/* One ACME step: POST payload (stolen) to url, *out the answer. 0 when
 * the status is want; else the exit code (1 failed, 2 refused), reported. */
static int step(struct oa_acme *a, const char *name, const char *url, json_t *payload, long want,
		json_t **out, char **location)
{
	long status = 0;

	if (oa_acme_post_json(a, url ? url : "", payload, &status, out, location, err) != 0)
		return failed(name);
	if (status != want) {
		int rc = refused(name, status, *out);
		*out = NULL;
		return rc;
	}
	return 0;
}

/* --order-type: "permanent-identifier" unless told otherwise. */
static const char *order_type = "permanent-identifier";

/* A newOrder payload for one identifier of order_type. */
static json_t *new_order(const char *id)
{
	return json_pack("{s:[{s:s, s:s}]}", "identifiers", "type", order_type, "value", id);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Step 1: the AK certificate chain (DER, AK certificate first). */
static int ak_certificate(const struct opts *o, struct oa_tpm *tpm, struct oa_buf *chain,
			  size_t *nchain)
{
	struct oa_buf ek = {0}, cert = {0}, ak = {0}, blob = {0}, enc = {0}, secret = {0};
	char url[1024];
	json_t *req, *ans = NULL, *list;
	long status = 0;
	int rc = 1;

	if (oa_tpm_ek(tpm, o->ek_ecc ? 0x81010016 : 0x81010001, o->ek_ecc ? 0x01c00016 : 0x01c00002,
		      &ek, &cert, err) != 0 ||
	    oa_tpm_ak_create(tpm, !o->ak_rsa, &ak, err) != 0) {
		rc = failed("tpm");
		goto out;
	}
	req = json_pack("{s:o, s:o}", "endorsementKey", b64_json(&ek), "attestationKey",
			b64_json(&ak));
	if (cert.n > 0 && !o->no_ek_cert)
		json_object_set_new(req, "endorsementKeyCertificate", b64_json(&cert));
	snprintf(url, sizeof url, "%s/attestation/ak/challenge", o->server);
	if (oa_post_json(o->cacert, url, req, &status, &ans, err) != 0) {
		rc = failed("ak-challenge");
		goto out;
	}
	if (status != 201) {
		rc = refused("ak-challenge", status, ans);
		ans = NULL;
		goto out;
	}
	if (b64_member(ans, "credentialBlob", &blob) != 0 ||
	    b64_member(ans, "encryptedSecret", &enc) != 0 ||
	    oa_tpm_activate(tpm, &blob, &enc, &secret, err) != 0) {
		rc = failed("ak-activate");
		goto out;
	}
	snprintf(url, sizeof url, "%s/attestation/ak/%s/activate", o->server,
		 json_string_value(json_object_get(ans, "id")) ?: "");
	json_decref(ans);
	ans = NULL;
	if (oa_post_json(o->cacert, url, json_pack("{s:o}", "secret", b64_json(&secret)), &status,
			 &ans, err) != 0) {
		rc = failed("ak-activate");
		goto out;
	}
	if (status != 200) {
		rc = refused("ak-activate", status, ans);
		ans = NULL;
		goto out;
	}
	list = json_object_get(ans, "certificateChain");
	*nchain = 0;
	/* x5c: everything but the root, the verifier's trust anchor. */
	for (size_t i = 0; i + 1 < json_array_size(list) && i < 4; i++) {
		const char *s = json_string_value(json_array_get(list, i));
		chain[i].b = s ? b64_decode(s, strlen(s), 0, &chain[i].n) : NULL;
		if (chain[i].b == NULL)
			break;
		(*nchain)++;
	}
	if (*nchain == 0) {
		snprintf(err, OA_ERR_MAX, "no AK certificate in the answer");
		rc = failed("ak-activate");
		goto out;
	}
	rc = 0;
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

/* POST-as-GET url until its status is none of pending/processing/ready
 * when want is NULL, or is want; *out the last object. */
static int poll(struct oa_acme *a, const char *url, const char *want, json_t **out)
{
	long status = 0;

	for (int i = 0; i < 100; i++) {
		const char *st;
		*out = NULL;
		if (oa_acme_post_json(a, url, NULL, &status, out, NULL, err) != 0)
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
	snprintf(err, OA_ERR_MAX, "%s: no outcome in 10 s", url);
	return -1;
}

static int run(const struct opts *o)
{
	struct oa_tpm *tpm = NULL;
	struct oa_acme a = {0};
	struct oa_quote quote = {0};
	struct oa_buf chain[4] = {{0}}, info = {0}, sig = {0}, area = {0}, obj = {0}, csr = {0};
	size_t nchain = 0;
	char url[1024], *order_url = NULL, *ka = NULL, *s64 = NULL;
	json_t *order = NULL, *authz = NULL, *ans = NULL, *chall = NULL, *it;
	const char *token = NULL, *chall_url = NULL;
	uint8_t qd[32];
	size_t qdlen = 32, i;
	long status = 0, alg = 0;
	int rc = 1;

	if ((tpm = oa_tpm_open(o->tcti, err)) == NULL)
		return failed("tpm");
	if (o->chain_in != NULL) {
		struct oa_buf ek = {0}, cert = {0}, ak = {0};
		rc = oa_tpm_ek(tpm, o->ek_ecc ? 0x81010016 : 0x81010001, 0, &ek, &cert, err) != 0 ||
		     oa_tpm_ak_create(tpm, !o->ak_rsa, &ak, err) != 0;
		oa_buf_free(&ek);
		oa_buf_free(&cert);
		oa_buf_free(&ak);
		if (rc != 0) {
			rc = failed("tpm");
			goto out;
		}
		if (oa_chain_load(o->chain_in, chain, &nchain, err) != 0) {
			rc = failed("ak-chain-in");
			goto out;
		}
	} else if ((rc = ak_certificate(o, tpm, chain, &nchain)) != 0) {
		goto out;
	}
	rc = 1;
	if (o->chain_out != NULL && oa_chain_save(o->chain_out, chain, nchain, err) != 0) {
		rc = failed("ak-chain-out");
		goto out;
	}
	if (o->x5c0 != NULL) {
		oa_buf_free(&chain[0]);
		if (read_file(o->x5c0, &chain[0]) != 0) {
			rc = failed("x5c0");
			goto out;
		}
	}
	snprintf(url, sizeof url, "%s/acme/directory", o->server);
	if (oa_acme_account(&a, o->cacert, url, err) != 0) {
		rc = failed("account");
		goto out;
	}
	if ((rc = step(&a, "order", a.new_order, new_order(o->order_id), 201, &order,
		       &order_url)) != 0)
		goto out;
	rc = 1;
	if (oa_acme_post_json(
		    &a,
		    json_string_value(json_array_get(json_object_get(order, "authorizations"), 0))
			    ?: "",
		    NULL, &status, &authz, NULL, err) != 0 ||
	    status != 200) {
		rc = failed("authz");
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
		rc = failed("authz");
		goto out;
	}
	/* The key authorization, its SHA-256 the qualifying data. */
	if ((ka = malloc(strlen(token) + strlen(a.thumbprint) + 2)) == NULL)
		goto out;
	snprintf(ka, strlen(token) + strlen(a.thumbprint) + 2, "%s.%s", token, a.thumbprint);
	EVP_Digest(ka, strlen(ka), qd, NULL, EVP_sha256(), NULL);
	if (o->qualify != NULL) {
		qdlen = strlen(o->qualify) / 2;
		if (hex_decode(o->qualify, qd, sizeof qd) != (long)qdlen || qdlen == 0) {
			snprintf(err, OA_ERR_MAX, "--qualify: hex of at most 32 bytes");
			rc = failed("certify");
			goto out;
		}
	}
	if (o->attobj_text != NULL) {
		/* sent as it is */
	} else if (o->attobj_in != NULL) {
		if (read_file(o->attobj_in, &obj) != 0) {
			rc = failed("attobj");
			goto out;
		}
	} else {
		if (oa_tpm_key_create(tpm, !o->key_rsa, err) != 0 ||
		    oa_tpm_certify(tpm, qd, qdlen, &info, &sig, &area, &alg, err) != 0) {
			rc = failed("certify");
			goto out;
		}
		if (o->pubarea_other) { /* another key's public area */
			oa_buf_free(&area);
			struct oa_buf i2 = {0}, s2 = {0};
			long a2;
			if (oa_tpm_key_create(tpm, !o->key_rsa, err) != 0 ||
			    oa_tpm_certify(tpm, qd, qdlen, &i2, &s2, &area, &a2, err) != 0) {
				rc = failed("certify");
				goto out;
			}
			oa_buf_free(&i2);
			oa_buf_free(&s2);
		}
		if (o->quote_mask != 0 &&
		    oa_tpm_quote(tpm, qd, qdlen, o->quote_mask, &quote, err) != 0) {
			rc = failed("quote");
			goto out;
		}
		if (o->quote_mask != 0 && o->event_log != NULL &&
		    read_file(o->event_log, &quote.event_log) != 0) {
			rc = failed("event-log");
			goto out;
		}
		if (oa_attobj(alg, chain, nchain, &sig, &info, &area, o->quote_mask ? &quote : NULL,
			      &obj, err) != 0) {
			rc = failed("attobj");
			goto out;
		}
	}
	if (o->attobj_out != NULL && obj.b != NULL && write_file(o->attobj_out, &obj) != 0) {
		rc = failed("attobj");
		goto out;
	}
	s64 = o->attobj_text ? strdup(o->attobj_text) : b64_encode(obj.b, obj.n, 1);
	if ((rc = step(&a, "challenge", chall_url, json_pack("{s:s}", "attObj", s64), 200, &chall,
		       NULL)) != 0)
		goto out;
	rc = 1;
	json_decref(authz);
	authz = NULL;
	if (poll(&a, json_string_value(json_array_get(json_object_get(order, "authorizations"), 0)),
		 NULL, &authz) != 0) {
		rc = failed("challenge");
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(authz, "status")) ?: "", "valid") != 0) {
		json_t *p = NULL;
		json_array_foreach (json_object_get(authz, "challenges"), i, it)
			if (json_object_get(it, "error") != NULL)
				p = json_incref(json_object_get(it, "error"));
		rc = refused("challenge", 200, p);
		goto out;
	}
	/* Finalize with a CSR the TPM key signs (or another key's). */
	if (o->csr_other && oa_tpm_key_create(tpm, !o->key_rsa, err) != 0) {
		rc = failed("csr");
		goto out;
	}
	if (oa_csr(tpm, o->csr_cn, &csr, err) != 0) {
		rc = failed("csr");
		goto out;
	}
	if (o->csr_out != NULL && write_file(o->csr_out, &csr) != 0) {
		rc = failed("csr");
		goto out;
	}
	free(s64);
	s64 = b64_encode(csr.b, csr.n, 1);
	if ((rc = step(&a, "finalize", json_string_value(json_object_get(order, "finalize")),
		       json_pack("{s:s}", "csr", s64), 200, &ans, NULL)) != 0)
		goto out;
	rc = 1;
	json_decref(ans);
	ans = NULL;
	if (poll(&a, order_url, "valid", &ans) != 0 ||
	    json_string_value(json_object_get(ans, "certificate")) == NULL) {
		rc = failed("order");
		goto out;
	}
	{
		struct oa_resp r = {0};
		bool ok = oa_acme_post(&a, json_string_value(json_object_get(ans, "certificate")),
				       NULL, &r, err) == 0 &&
			  r.status == 200 && write_file(o->out, &r.body) == 0;
		oa_resp_free(&r);
		if (!ok) {
			rc = failed("certificate");
			goto out;
		}
	}
	/* --then-order: the same account orders again (an account a TPM bound
	 * to a device orders for that device only). */
	if (o->then_order != NULL) {
		json_t *o2 = NULL;
		if ((rc = step(&a, "then-order", a.new_order, new_order(o->then_order), 201, &o2,
			       NULL)) != 0)
			goto out;
		json_decref(o2);
	}
	printf("{\"ok\":true,\"certificate\":\"%s\"}\n", o->out);
	rc = 0;
out:
	for (i = 0; i < 4; i++)
		oa_buf_free(&chain[i]);
	oa_quote_free(&quote);
	oa_buf_free(&info);
	oa_buf_free(&sig);
	oa_buf_free(&area);
	oa_buf_free(&obj);
	oa_buf_free(&csr);
	json_decref(order);
	json_decref(authz);
	json_decref(ans);
	json_decref(chall);
	free(order_url);
	free(ka);
	free(s64);
	oa_acme_free(&a);
	oa_tpm_close(tpm);
	return rc;
}

/* "0,1,2,7" into a mask of PCRs 0-23. */
static int pcr_list(const char *s, uint32_t *mask)
{
	char *end;

	*mask = 0;
	while (*s) {
		long v = strtol(s, &end, 10);
		if (end == s || v < 0 || v > 23 || (*end != ',' && *end != '\0'))
			return -1;
		*mask |= 1u << v;
		s = *end ? end + 1 : end;
	}
	return *mask ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: orchard-attest --server URL --cacert ROOT.pem --id REGISTRATION-ID --out CERT.pem\n"
		"	[--tcti TCTI] [--ek-ecc] [--ak-rsa] [--key-rsa] [--no-ek-cert]\n"
		"	(tests: --order-id ID --order-type TYPE --x5c0 DER --attobj-in F --attobj-out F --attobj-text S --qualify HEX\n"
		"	 --pubarea-other --csr-other --csr-out F)\n"
		"	[--ak-chain-out PEM] [--ak-chain-in PEM] [--quote PCRS (SHA-256, \"0,1,7\")]\n"
		"	[--event-log FILE (with --quote: the TCG crypto-agile log, e.g.\n"
		"	 /sys/kernel/security/tpm0/binary_bios_measurements)]\n"
		"	[--csr-cn CN (the CSR's subject; step-ca's clients send the identifier)]\n"
		"	[--then-order ID (a second order by the same account)]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", 1, NULL, 's'},	 {"cacert", 1, NULL, 'c'},
		{"tcti", 1, NULL, 't'},		 {"id", 1, NULL, 'i'},
		{"order-id", 1, NULL, 'I'},	 {"out", 1, NULL, 'o'},
		{"ek-ecc", 0, NULL, 'E'},	 {"ak-rsa", 0, NULL, 'A'},
		{"key-rsa", 0, NULL, 'K'},	 {"no-ek-cert", 0, NULL, 'N'},
		{"x5c0", 1, NULL, 'x'},		 {"attobj-in", 1, NULL, 'a'},
		{"attobj-out", 1, NULL, 'b'},	 {"qualify", 1, NULL, 'q'},
		{"pubarea-other", 0, NULL, 'P'}, {"csr-other", 0, NULL, 'C'},
		{"ak-chain-in", 1, NULL, 'g'},	 {"attobj-text", 1, NULL, 'T'},
		{"quote", 1, NULL, 'Q'},	 {"csr-cn", 1, NULL, 'n'},
		{"then-order", 1, NULL, 'h'},	 {"ak-chain-out", 1, NULL, 'G'},
		{"csr-out", 1, NULL, 'r'},	 {"event-log", 1, NULL, 'L'},
		{"order-type", 1, NULL, 'Y'},	 {NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	int c;

	o.tcti = getenv("TPM2TOOLS_TCTI");
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.server = optarg; break;
		case 'c': o.cacert = optarg; break;
		case 't': o.tcti = optarg; break;
		case 'i': o.id = optarg; break;
		case 'I': o.order_id = optarg; break;
		case 'o': o.out = optarg; break;
		case 'E': o.ek_ecc = true; break;
		case 'A': o.ak_rsa = true; break;
		case 'K': o.key_rsa = true; break;
		case 'N': o.no_ek_cert = true; break;
		case 'x': o.x5c0 = optarg; break;
		case 'a': o.attobj_in = optarg; break;
		case 'b': o.attobj_out = optarg; break;
		case 'q': o.qualify = optarg; break;
		case 'P': o.pubarea_other = true; break;
		case 'C': o.csr_other = true; break;
		case 'g': o.chain_in = optarg; break;
		case 'G': o.chain_out = optarg; break;
		case 'r': o.csr_out = optarg; break;
		case 'T': o.attobj_text = optarg; break;
		case 'n': o.csr_cn = optarg; break;
		case 'h': o.then_order = optarg; break;
		case 'L': o.event_log = optarg; break;
		case 'Y': order_type = optarg; break;
		case 'Q':
			if (pcr_list(optarg, &o.quote_mask) != 0) {
				usage();
				return 1;
			}
			break;
		default: usage(); return 1;
		}
	}
	if (o.server == NULL || o.id == NULL || o.out == NULL) {
		usage();
		return 1;
	}
	if (o.order_id == NULL)
		o.order_id = o.id;
	c = run(&o);
	oa_http_done();
	return c;
}
