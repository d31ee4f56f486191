/* pki/devcert.c: which certificates pki_device_cert() takes as device
 * certificates of this CA (the issuing intermediate's, clientAuth, with
 * the PermanentIdentifier or URI they name) and which it leaves to other
 * credentials (1: not ours) or refuses (-1). */
#include "tests/unit/pki/pki_test.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The chain of c (leaf, then what the PEM holds after it). */
static STACK_OF(X509) * chain_of(const char *pem)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x;

	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(chain, x);
	BIO_free(b);
	return chain;
}

struct got {
	int rc;
	char serial[33], pid[130], uri[160];
};

static struct got check(struct pki_ca *ca, const char *profile, const struct pki_san *sans,
			size_t n, char *serial_out)
{
	size_t len;
	uint8_t *csr = pki_test_csr_make("p256", &len);
	struct pki_issue_req req = {
		.csr_der = csr, .csr_len = len, .sans = sans, .nsans = n, .profile = profile};
	struct pki_cert c;
	char why[256];
	struct got g = {0};

	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_OK);
	STACK_OF(X509) *chain = chain_of(c.chain_pem);
	g.rc = pki_device_cert(ca, chain, g.serial, g.pid, sizeof g.pid, g.uri, sizeof g.uri);
	if (serial_out != NULL)
		memcpy(serial_out, c.serial, 33);
	sk_X509_pop_free(chain, X509_free);
	pki_cert_free(&c);
	free(csr);
	return g;
}

static void test_device_cert(void **state)
{
	(void)state;
	char dir[256], err[256], serial[33];

	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca *ca = pki_test_ca_open(dir, NULL, NULL);
	assert_non_null(ca);

	/* A device-client certificate with a PermanentIdentifier. */
	struct pki_san pid[] = {{PKI_SAN_PERMANENT_ID, "dev-1", NULL}};
	struct got g = check(ca, "device-client", pid, 1, serial);
	assert_int_equal(g.rc, 0);
	assert_string_equal(g.pid, "dev-1");
	assert_string_equal(g.serial, serial);
	assert_string_equal(g.uri, "");
	/* With an assigner (device-attest-01's value/assigner). */
	struct pki_san pida[] = {{PKI_SAN_PERMANENT_ID, "dev-1", "1.3.6.1.4.1.99999.1"}};
	g = check(ca, "device-client", pida, 1, NULL);
	assert_int_equal(g.rc, 0);
	assert_string_equal(g.pid, "dev-1");
	/* DPS's URI. */
	struct pki_san uri[] = {{PKI_SAN_URI, "urn:orchard:dps:dev-2", NULL}};
	g = check(ca, "device-client", uri, 1, NULL);
	assert_int_equal(g.rc, 0);
	assert_string_equal(g.pid, "");
	assert_string_equal(g.uri, "urn:orchard:dps:dev-2");
	/* DNS only: ours, naming no device (the caller refuses). */
	struct pki_san dns[] = {{PKI_SAN_DNS, "dev.example", NULL}};
	g = check(ca, "device-client", dns, 1, NULL);
	assert_int_equal(g.rc, 0);
	assert_string_equal(g.pid, "");
	assert_string_equal(g.uri, "");
	/* Two PermanentIdentifiers: refused. */
	struct pki_san two[] = {{PKI_SAN_PERMANENT_ID, "dev-1", NULL},
				{PKI_SAN_PERMANENT_ID, "dev-2", NULL}};
	g = check(ca, "device-client", two, 2, NULL);
	assert_int_equal(g.rc, -1);
	/* A server certificate (no clientAuth): refused. */
	struct pki_san srv[] = {{PKI_SAN_DNS, "dev.example", NULL},
				{PKI_SAN_PERMANENT_ID, "dev-1", NULL}};
	size_t len;
	uint8_t *csr = pki_test_csr_make("p256", &len);
	struct pki_issue_req req = {
		.csr_der = csr, .csr_len = len, .sans = srv, .nsans = 2, .profile = "tls-server"};
	struct pki_cert c;
	if (pki_issue(ca, &req, &c, err, sizeof err) == PKI_OK) {
		STACK_OF(X509) *chain = chain_of(c.chain_pem);
		assert_int_equal(pki_device_cert(ca, chain, g.serial, g.pid, sizeof g.pid, g.uri,
						 sizeof g.uri),
				 -1);
		sk_X509_pop_free(chain, X509_free);
		pki_cert_free(&c);
	}
	free(csr);

	/* An AK certificate of the attestation CA (same root): not ours. */
	EVP_PKEY *k = EVP_EC_gen("P-256");
	uint8_t *spki = NULL;
	int slen = i2d_PUBKEY(k, &spki);
	struct pki_ak_req ak = {.spki_der = spki,
				.spki_len = (size_t)slen,
				.ek_uri = "urn:ek:sha256:AAAA",
				.permanent_id = "dev-1"};
	assert_int_equal(pki_issue_ak(ca, &ak, &c, err, sizeof err), PKI_OK);
	STACK_OF(X509) *chain = chain_of(c.chain_pem);
	assert_int_equal(
		pki_device_cert(ca, chain, g.serial, g.pid, sizeof g.pid, g.uri, sizeof g.uri), 1);
	sk_X509_pop_free(chain, X509_free);
	pki_cert_free(&c);

	/* A self-signed certificate naming our intermediate as its issuer:
	 * the signature is not ours. */
	X509 *fake = X509_new();
	BIO *b = BIO_new_mem_buf(pki_ca_chain_pem(ca), -1);
	X509 *inter = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(inter);
	X509_set_version(fake, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(fake), 7);
	X509_set_issuer_name(fake, X509_get_subject_name(inter));
	X509_gmtime_adj(X509_getm_notBefore(fake), -60);
	X509_gmtime_adj(X509_getm_notAfter(fake), 3600);
	X509_set_pubkey(fake, k);
	assert_true(X509_sign(fake, k, EVP_sha256()) > 0);
	chain = sk_X509_new_null();
	sk_X509_push(chain, fake);
	assert_int_equal(
		pki_device_cert(ca, chain, g.serial, g.pid, sizeof g.pid, g.uri, sizeof g.uri), 1);
	sk_X509_pop_free(chain, X509_free);
	/* No certificate at all. */
	chain = sk_X509_new_null();
	assert_int_equal(
		pki_device_cert(ca, chain, g.serial, g.pid, sizeof g.pid, g.uri, sizeof g.uri), 1);
	sk_X509_free(chain);

	X509_free(inter);
	BIO_free(b);
	OPENSSL_free(spki);
	EVP_PKEY_free(k);
	pki_ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_cert),
	};

	return pki_test_run("test_devcert", tests, sizeof tests / sizeof tests[0]);
}
