/* pki_issue() throughput on one thread: P-256 leaves from one CSR under the
 * shortlived profile for SECONDS, printed as certificates per second; with
 * "ak" as the third argument, pki_issue_ak() AK certificates instead. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki/pki.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char err[512];
	struct pki_ca_config cfg = {.dir = argc > 1 ? argv[1] : NULL};
	double secs = argc > 2 ? strtod(argv[2], NULL) : 3.0;
	struct pki_ca *ca = cfg.dir ? pki_ca_open(&cfg, err, sizeof err) : NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *r = X509_REQ_new();
	unsigned char *der = NULL;
	int len;
	long n = 0;

	if (ca == NULL || key == NULL || r == NULL || !X509_REQ_set_pubkey(r, key) ||
	    X509_REQ_sign(r, key, EVP_sha256()) <= 0 || (len = i2d_X509_REQ(r, &der)) <= 0) {
		fprintf(stderr, "usage: pki-bench DIR [SECONDS [ak]] (%s)\n", ca ? "csr" : err);
		return 1;
	}
	const struct pki_san san = {PKI_SAN_DNS, "bench.example", NULL};
	struct pki_issue_req req = {der, (size_t)len, &san, 1, "shortlived", NULL, 0, NULL};
	unsigned char *spki = NULL;
	int spki_len = i2d_PUBKEY(key, &spki);
	struct pki_ak_req ak = {
		.spki_der = spki,
		.spki_len = spki_len > 0 ? (size_t)spki_len : 0,
		.ek_uri = "urn:ek:sha256:D3o0aAfVdY07mwGtxupq/LD4C96w/jc24OP12JqZpQ8=",
		.permanent_id = "bench-device"};
	int ak_mode = argc > 3 && strcmp(argv[3], "ak") == 0;
	double t0 = now_s(), t;
	do {
		for (int i = 0; i < 100; i++, n++) {
			struct pki_cert c;
			if ((ak_mode ? pki_issue_ak(ca, &ak, &c, err, sizeof err)
				     : pki_issue(ca, &req, &c, err, sizeof err)) != PKI_OK) {
				fprintf(stderr, "pki_issue: %s\n", err);
				return 1;
			}
			pki_cert_free(&c);
		}
		t = now_s() - t0;
	} while (t < secs);
	printf("%.0f\n", (double)n / t);
	OPENSSL_free(der);
	OPENSSL_free(spki);
	X509_REQ_free(r);
	EVP_PKEY_free(key);
	pki_ca_free(ca);
	return 0;
}
