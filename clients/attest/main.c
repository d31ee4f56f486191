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

#include "clients/attest/attest.h"
#include "common/hex.h"

struct opts {
	const char *server, *cacert, *tcti, *id, *order_id, *out;
	bool ek_ecc, ak_rsa, key_rsa, no_ek_cert;
	const char *attobj_text; /* sent verbatim as attObj */
	const char *x5c0, *attobj_in, *attobj_out, *qualify, *chain_in, *chain_out, *csr_out;
	bool pubarea_other, csr_other;
	const char *csr_cn;	 /* the CSR's subject CN, or NULL for none */
	const char *then_order;	 /* a second order by the same account */
	uint32_t quote_mask;	 /* --quote: SHA-256 PCRs to quote */
	const char *event_log;	 /* --event-log: the TCG log sent with the quote */
	const char *order_type;	 /* --order-type: NULL is permanent-identifier */
	const char *key_dir;	 /* --key-dir: the TPM key's blobs kept there */
	const char *account_key; /* --account-key: the ACME account key (PEM) */
	const char *renew;	 /* --renew CERT: a new order replacing CERT */
	const char *twin;	 /* --twin DEVICE: read its twin over mutual TLS */
	bool use;		 /* --use: no issuance; --out and --key-dir as saved */
	bool tls12;		 /* --tls12: the twin read over TLS 1.2 */
	bool recover;		 /* --recover: flush transient objects first */
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

/* The flow's outcome as the CLI reports it (see the top comment). */
static int report(struct oa_outcome *res, int rc)
{
	if (rc == OA_REFUSED) {
		rc = refused(res->step, res->status, res->problem);
		res->problem = NULL;
	} else if (rc != OA_OK) {
		rc = failed(res->step ? res->step : "flow");
	}
	oa_outcome_free(res);
	return rc;
}

/* The AK certificate (or the saved chain), then a device certificate by
 * device-attest-01 into *pem and o->out; with --renew, replacing that
 * certificate, and the new one's renewal window into result. */
static int issue(const struct opts *o, struct oa_tpm *tpm, struct oa_buf *pem, json_t *result)
{
	struct oa_acme a = {0};
	struct oa_outcome res = {0};
	struct oa_buf chain[OA_CHAIN_MAX] = {{0}}, attobj_in = {0}, attobj_out = {0}, csr_out = {0},
		      log = {0}, old = {0};
	struct oa_renewal w;
	char *old_id = NULL, *new_id = NULL;
	struct oa_ak_opts ak = {.server = o->server,
				.cacert = o->cacert,
				.ek_ecc = o->ek_ecc,
				.ak_rsa = o->ak_rsa,
				.no_ek_cert = o->no_ek_cert};
	struct oa_cert_opts co = {.id = o->order_id,
				  .id_type = o->order_type,
				  .key_rsa = o->key_rsa,
				  .key_dir = o->key_dir,
				  .quote_mask = o->quote_mask,
				  .csr_cn = o->csr_cn,
				  .attobj_text = o->attobj_text,
				  .pubarea_other = o->pubarea_other,
				  .csr_other = o->csr_other,
				  .attobj_out = o->attobj_out ? &attobj_out : NULL,
				  .csr_out = o->csr_out ? &csr_out : NULL,
				  .then_order = o->then_order};
	uint8_t qd[32];
	size_t nchain = 0, i;
	char url[1024];
	int rc = 1;

	if (o->chain_in != NULL)
		rc = oa_flow_ak_load(tpm, &ak, o->chain_in, chain, &nchain, &res, err);
	else
		rc = oa_flow_ak_chain(tpm, &ak, chain, &nchain, &res, err);
	if (rc != OA_OK) {
		rc = report(&res, rc);
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
	if (o->qualify != NULL) {
		long n = hex_decode(o->qualify, qd, sizeof qd);
		if (n <= 0 || (size_t)n != strlen(o->qualify) / 2) {
			snprintf(err, OA_ERR_MAX, "--qualify: hex of at most 32 bytes");
			rc = failed("certify");
			goto out;
		}
		co.qualify = qd;
		co.qualify_len = (size_t)n;
	}
	if (o->attobj_in != NULL) {
		if (read_file(o->attobj_in, &attobj_in) != 0) {
			rc = failed("attobj");
			goto out;
		}
		co.attobj_in = &attobj_in;
	}
	if (o->quote_mask != 0 && o->event_log != NULL) {
		if (read_file(o->event_log, &log) != 0) {
			rc = failed("event-log");
			goto out;
		}
		co.event_log = &log;
	}
	snprintf(url, sizeof url, "%s/acme/directory", o->server);
	if (oa_acme_account_at(&a, o->cacert, url, o->account_key, err) != 0) {
		rc = failed("account");
		goto out;
	}
	if (o->renew != NULL) {
		if (read_file(o->renew, &old) != 0 ||
		    (old_id = oa_acme_cert_id(&old, err)) == NULL) {
			rc = failed("renew");
			goto out;
		}
		co.replaces = old_id;
		json_object_set_new(result, "replaces", json_string(old_id));
	}
	rc = oa_flow_device_cert(tpm, &a, &co, chain, nchain, pem, &res, err);
	if (o->attobj_out != NULL && attobj_out.b != NULL &&
	    write_file(o->attobj_out, &attobj_out) != 0) {
		oa_outcome_free(&res);
		rc = failed("attobj");
		goto out;
	}
	if (o->csr_out != NULL && csr_out.b != NULL && write_file(o->csr_out, &csr_out) != 0) {
		oa_outcome_free(&res);
		rc = failed("csr");
		goto out;
	}
	if (rc != OA_OK) {
		rc = report(&res, rc);
		goto out;
	}
	if (write_file(o->out, pem) != 0) {
		rc = failed("certificate");
		goto out;
	}
	if (o->renew != NULL) {
		if ((new_id = oa_acme_cert_id(pem, err)) == NULL ||
		    oa_acme_renewal_info(&a, new_id, &w, err) != 0) {
			rc = failed("renewal-info");
			goto out;
		}
		json_object_set_new(result, "window",
				    json_pack("{s:I, s:I, s:I}", "start", (json_int_t)w.start,
					      "end", (json_int_t)w.end, "retryAfter",
					      (json_int_t)w.retry_after));
	}
	rc = 0;
out:
	free(old_id);
	free(new_id);
	oa_buf_free(&old);
	for (i = 0; i < OA_CHAIN_MAX; i++)
		oa_buf_free(&chain[i]);
	oa_buf_free(&attobj_in);
	oa_buf_free(&attobj_out);
	oa_buf_free(&csr_out);
	oa_buf_free(&log);
	oa_outcome_free(&res);
	oa_acme_free(&a);
	return rc;
}

/* --twin: GET /devices/{id}/twin over mutual TLS, the certificate in pem
 * and the TPM's signing key; the twin into result. */
static int twin(const struct opts *o, struct oa_tpm *tpm, const struct oa_buf *pem, json_t *result)
{
	EVP_PKEY *key = oa_tpm_pkey(tpm, err);
	struct oa_resp r = {0};
	json_error_t je;
	json_t *body;
	char url[1024];
	int rc;

	if (key == NULL)
		return failed("tls-key");
	rc = oa_http_client(pem, key, err);
	EVP_PKEY_free(key);
	oa_http_tls12(o->tls12);
	if (rc != 0)
		return failed("tls-key");
	snprintf(url, sizeof url, "%s/devices/%s/twin", o->server, o->twin);
	if (oa_http(o->cacert, "GET", url, NULL, NULL, 0, &r, err) != 0) {
		oa_http_client(NULL, NULL, err);
		return failed("twin");
	}
	oa_http_client(NULL, NULL, err);
	oa_http_tls12(false);
	body = r.body.n ? json_loadb((const char *)r.body.b, r.body.n, 0, &je) : NULL;
	rc = r.status == 200 ? 0 : refused("twin", r.status, body);
	if (rc == 0)
		json_object_set_new(result, "twin", body ? body : json_null());
	oa_resp_free(&r);
	return rc;
}

static int run(const struct opts *o)
{
	struct oa_tpm *tpm = NULL;
	struct oa_buf pem = {0};
	json_t *result = json_pack("{s:b, s:s}", "ok", 1, "certificate", o->out);
	char *text;
	int rc = 1;

	if (result == NULL || (tpm = oa_tpm_open(o->tcti, err)) == NULL) {
		json_decref(result);
		return failed("tpm");
	}
	if (o->recover) { /* what a crashed run left in the TPM */
		int n = oa_tpm_flush_transient(tpm, err);
		if (n < 0) {
			rc = failed("tpm");
			goto out;
		}
		json_object_set_new(result, "flushed", json_integer(n));
	}
	if (o->use) { /* the certificate and the key saved by an earlier run */
		if (read_file(o->out, &pem) != 0) {
			rc = failed("use");
			goto out;
		}
		if (oa_tpm_key_load(tpm, o->key_dir, err) != 0) {
			rc = failed("key-load");
			goto out;
		}
	} else if ((rc = issue(o, tpm, &pem, result)) != 0) {
		goto out;
	}
	if (o->twin != NULL && (rc = twin(o, tpm, &pem, result)) != 0)
		goto out;
	text = json_dumps(result, JSON_COMPACT);
	printf("%s\n", text ? text : "{\"ok\":true}");
	free(text);
	rc = 0;
out:
	json_decref(result);
	oa_buf_free(&pem);
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
		"	[--then-order ID (a second order by the same account)]\n"
		"	[--key-dir DIR (the TPM-held TLS key kept there: tls.pub, tls.priv)]\n"
		"	[--account-key PEM (the ACME account key, created when missing)]\n"
		"	[--renew CERT (a new order replacing CERT, RFC 9773; needs its --account-key)]\n"
		"	[--twin DEVICE (then GET /devices/DEVICE/twin over mutual TLS with the TPM key)]\n"
		"	[--use (no issuance: --out CERT and --key-dir DIR from an earlier run, with --twin)]\n"
		"	[--tls12 (the twin over TLS 1.2, not 1.3)]\n"
		"	[--recover (first flush the transient objects a crashed run left in the TPM)]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", 1, NULL, 's'},
		{"cacert", 1, NULL, 'c'},
		{"tcti", 1, NULL, 't'},
		{"id", 1, NULL, 'i'},
		{"order-id", 1, NULL, 'I'},
		{"out", 1, NULL, 'o'},
		{"ek-ecc", 0, NULL, 'E'},
		{"ak-rsa", 0, NULL, 'A'},
		{"key-rsa", 0, NULL, 'K'},
		{"no-ek-cert", 0, NULL, 'N'},
		{"x5c0", 1, NULL, 'x'},
		{"attobj-in", 1, NULL, 'a'},
		{"attobj-out", 1, NULL, 'b'},
		{"qualify", 1, NULL, 'q'},
		{"pubarea-other", 0, NULL, 'P'},
		{"csr-other", 0, NULL, 'C'},
		{"ak-chain-in", 1, NULL, 'g'},
		{"attobj-text", 1, NULL, 'T'},
		{"quote", 1, NULL, 'Q'},
		{"csr-cn", 1, NULL, 'n'},
		{"then-order", 1, NULL, 'h'},
		{"ak-chain-out", 1, NULL, 'G'},
		{"csr-out", 1, NULL, 'r'},
		{"event-log", 1, NULL, 'L'},
		{"order-type", 1, NULL, 'Y'},
		{"key-dir", 1, NULL, 'k'},
		{"account-key", 1, NULL, 'U'},
		{"renew", 1, NULL, 'R'},
		{"twin", 1, NULL, 'W'},
		{"use", 0, NULL, 'u'},
		{"tls12", 0, NULL, '2'},
		{"recover", 0, NULL, 'F'},
		{NULL, 0, NULL, 0},
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
		case 'Y': o.order_type = optarg; break;
		case 'k': o.key_dir = optarg; break;
		case 'U': o.account_key = optarg; break;
		case 'R': o.renew = optarg; break;
		case 'W': o.twin = optarg; break;
		case 'u': o.use = true; break;
		case '2': o.tls12 = true; break;
		case 'F': o.recover = true; break;
		case 'Q':
			if (pcr_list(optarg, &o.quote_mask) != 0) {
				usage();
				return 1;
			}
			break;
		default: usage(); return 1;
		}
	}
	if (o.server == NULL || o.out == NULL || (o.id == NULL && !o.use) ||
	    (o.use && (o.key_dir == NULL || o.twin == NULL))) {
		usage();
		return 1;
	}
	if (o.order_id == NULL)
		o.order_id = o.id;
	c = run(&o);
	oa_http_done();
	return c;
}
