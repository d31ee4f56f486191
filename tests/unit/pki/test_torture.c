/* pki_issue(), pki_issue_ak(), pki_csr_inspect() and pki_crl() when memory runs out: every
 * allocation, ours (--wrap) and OpenSSL's (CRYPTO_set_mem_functions), fails
 * in turn. Each call must fail cleanly (no crash, no leak under ASan) and
 * succeed again once memory is back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki.h"
#include "tests/unit/fail_alloc.h"

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return fail_now() ? NULL : __real_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return fail_now() ? NULL : __real_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static char dir[] = "/tmp/orchard-pki-torture.XXXXXX";
static struct pki_ca *ca;
static uint8_t *csr, *spki, *tpm_name;
static size_t csr_len, spki_len, tpm_name_len;

static void csr_make(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *r = X509_REQ_new();
	unsigned char *der = NULL;
	int n;

	assert_true(X509_REQ_set_pubkey(r, key) && X509_REQ_sign(r, key, EVP_sha256()) > 0);
	n = i2d_X509_REQ(r, &der);
	csr = malloc((size_t)n);
	memcpy(csr, der, (size_t)n);
	csr_len = (size_t)n;
	OPENSSL_free(der);
	X509_REQ_free(r);
	/* An AK's key and an EK certificate's TPM name, for pki_issue_ak(). */
	der = NULL;
	n = i2d_PUBKEY(key, &der);
	spki = malloc((size_t)n);
	memcpy(spki, der, (size_t)n);
	spki_len = (size_t)n;
	OPENSSL_free(der);
	X509_NAME *name = X509_NAME_new();
	assert_true(X509_NAME_add_entry_by_txt(name, "2.23.133.2.1", MBSTRING_UTF8,
					       (const unsigned char *)"id:00001014", -1, -1, 0));
	der = NULL;
	n = i2d_X509_NAME(name, &der);
	tpm_name = malloc((size_t)n);
	memcpy(tpm_name, der, (size_t)n);
	tpm_name_len = (size_t)n;
	OPENSSL_free(der);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
}

static int issue_once(void)
{
	const struct pki_san sans[] = {{PKI_SAN_DNS, "t.example", NULL},
				       {PKI_SAN_PERMANENT_ID, "EK-1", "2.23.133.1.2"}};
	struct pki_issue_req req = {csr, csr_len, sans, 2, "device-client", NULL, 0, NULL};
	struct pki_cert c;
	char why[128];
	enum pki_status st = pki_issue(ca, &req, &c, why, sizeof why);

	if (st != PKI_OK) {
		assert_null(c.der);
		assert_null(c.chain_pem);
		return -1;
	}
	assert_non_null(c.der);
	pki_cert_free(&c);
	return 0;
}

static int issue_ak_once(void)
{
	struct pki_ak_req req = {spki,	     spki_len, tpm_name, tpm_name_len, "urn:ek:sha256:AAAA",
				 "device-1", 0};
	struct pki_cert c;
	char why[128];

	if (pki_issue_ak(ca, &req, &c, why, sizeof why) != PKI_OK) {
		assert_null(c.der);
		assert_null(c.chain_pem);
		return -1;
	}
	assert_non_null(c.der);
	pki_cert_free(&c);
	return 0;
}

static int inspect_once(void)
{
	struct pki_csr_info info;
	enum pki_status st = pki_csr_inspect(csr, csr_len, &info, NULL, 0);

	if (st != PKI_OK) {
		assert_null(info.spki);
		return -1;
	}
	pki_csr_info_free(&info);
	return 0;
}

static int crl_once(void)
{
	struct pki_revoked r[] = {{"00112233445566778899aabbccddeeff", 1700000000, 1},
				  {"ffeeddccbbaa99887766554433221100", 1700000001, 0}};
	uint8_t *der = NULL;
	size_t len = 0;

	if (pki_crl(ca, r, 2, 1, 3600, &der, &len) != 0) {
		assert_null(der);
		return -1;
	}
	free(der);
	return 0;
}

/* Fails allocation 1, 2, ... of fn until it runs without failing one. */
static void torture(int (*fn)(void))
{
	long n;

	assert_int_equal(fn(), 0); /* warm: OpenSSL's lazy set-up happens here */
	for (n = 1;; n++) {
		fail_at = n;
		seen = 0;
		int rc = fn();
		fail_at = -1;
		if (seen < n) {
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(fn(), 0); /* and all is well again */
	}
	print_message("  %ld allocations, each failed once\n", n - 1);
}

static void test_issue(void **state)
{
	(void)state;
	torture(issue_once);
}

static void test_issue_ak(void **state)
{
	(void)state;
	torture(issue_ak_once);
}

static void test_inspect(void **state)
{
	(void)state;
	torture(inspect_once);
}

static void test_crl(void **state)
{
	(void)state;
	torture(crl_once);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue),
		cmocka_unit_test(test_issue_ak),
		cmocka_unit_test(test_inspect),
		cmocka_unit_test(test_crl),
	};
	char err[256], cmd[128];
	int rc;

	if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) || mkdtemp(dir) == NULL)
		return 1;
	struct pki_ca_config cfg = {.dir = dir};
	if ((ca = pki_ca_open(&cfg, err, sizeof err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	csr_make();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	pki_ca_free(ca);
	free(csr);
	free(spki);
	free(tpm_name);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0 && rc == 0)
		rc = 1;
	return rc;
}
