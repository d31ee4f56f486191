/* pki/: issuance for every leaf key type, verified by OpenSSL, and the
 * refusals: key types, profiles, CSRs, SANs, profile files. */
#include "tests/unit/pki/pki_test.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_every_key_type(void **state)
{
	char dir[256];
	const char *types[] = {"p256", "p384", "rsa2048", "ed25519"};

	(void)state;
	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca *ca = pki_test_ca_open(dir, NULL, NULL);
	assert_non_null(ca);
	for (size_t i = 0; i < 4; i++) {
		struct pki_cert c;
		assert_int_equal(pki_test_issue(ca, types[i], "tls-server", &c), PKI_OK);
		assert_string_equal(c.key_type, types[i]);
		X509 *x = pki_test_der_cert(&c);
		assert_int_equal(pki_test_verify(dir, x, ca, NULL, X509_PURPOSE_SSL_SERVER), 0);
		assert_non_null(strstr(c.chain_pem, "BEGIN CERTIFICATE"));
		{ /* the leaf's PEM as OpenSSL writes it, then the intermediate */
			BIO *b = BIO_new(BIO_s_mem());
			char *pem;
			assert_int_equal(PEM_write_bio_X509(b, x), 1);
			long n = BIO_get_mem_data(b, &pem);
			assert_true(n > 0 && strlen(c.chain_pem) > (size_t)n);
			assert_memory_equal(c.chain_pem, pem, (size_t)n);
			assert_non_null(strstr(c.chain_pem + n, "-----BEGIN CERTIFICATE-----\n"));
			assert_ptr_equal(strstr(c.chain_pem + n, "-----BEGIN"), c.chain_pem + n);
			BIO_free(b);
		}
		assert_string_equal(c.sans_text, "DNS:device.example");
		X509_free(x);
		pki_cert_free(&c);
	}
	pki_ca_free(ca);
}

static void test_refusals(void **state)
{
	char dir[256], why[256], prof[300];
	struct pki_cert c;
	size_t len;
	uint8_t *csr;

	(void)state;
	pki_test_dir_new(dir, sizeof dir);
	/* A profile that allows P-256 only. */
	snprintf(prof, sizeof prof, "%s.profiles", dir);
	FILE *f = fopen(prof, "w");
	fputs("# test\n\np256only 1h digitalSignature serverAuth p256\n", f);
	fclose(f);
	struct pki_ca_config cfg = {.dir = dir, .profiles = prof};
	struct pki_ca *ca = pki_ca_open(&cfg, why, sizeof why);
	assert_non_null(ca);
	assert_string_equal(pki_ca_profiles(ca)[0], "p256only");
	assert_null(pki_ca_profiles(ca)[1]);
	assert_int_equal(pki_test_issue(ca, "rsa2048", "p256only", &c), PKI_ERR_KEY_TYPE);
	assert_null(c.der);
	assert_int_equal(pki_test_issue(ca, "ed25519", "p256only", &c), PKI_ERR_KEY_TYPE);
	assert_int_equal(pki_test_issue(ca, "p256", "p256only", &c), PKI_OK);
	pki_cert_free(&c);
	assert_int_equal(pki_test_issue(ca, "p256", "tls-server", &c), PKI_ERR_PROFILE);
	pki_ca_free(ca);

	ca = pki_test_ca_open(dir, NULL, NULL); /* built-in profiles, same keys */
	assert_non_null(ca);
	assert_int_equal(pki_test_issue(ca, "p521", "tls-server", &c), PKI_ERR_KEY_TYPE);
	assert_int_equal(pki_test_issue(ca, "rsa1024", "tls-server", &c), PKI_ERR_KEY_TYPE);

	/* A signature that does not verify: flip a bit near the end. */
	csr = pki_test_csr_make("p256", &len);
	struct pki_issue_req req = {csr, len, pki_test_one_dns, 1, "tls-server", NULL, 0, NULL};
	csr[len - 3] ^= 0x01;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_SIGNATURE);
	assert_non_null(strstr(why, "signature"));
	csr[len - 3] ^= 0x01;
	/* Trailing bytes, truncation, garbage. */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, csr, len);
	longer[len] = 0;
	req.csr_der = longer;
	req.csr_len = len + 1;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_CSR);
	req.csr_len = len - 1;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_CSR);
	req.csr_der = (const uint8_t *)"garbage";
	req.csr_len = 7;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_CSR);
	free(longer);
	/* SANs: none, a bad DNS name, an IP that is not one. */
	req.csr_der = csr;
	req.csr_len = len;
	req.nsans = 0;
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_SAN);
	const struct pki_san bad[][1] = {{{PKI_SAN_DNS, "bad_name.example", NULL}},
					 {{PKI_SAN_DNS, "-a.example", NULL}},
					 {{PKI_SAN_IP, "300.1.1.1", NULL}},
					 {{PKI_SAN_URI, "no scheme", NULL}},
					 {{PKI_SAN_HW_MODULE, "serial", NULL}}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		req.sans = bad[i];
		req.nsans = 1;
		assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_SAN);
	}
	free(csr);
	pki_ca_free(ca);

	/* Bad profile files. */
	const char *bad_files[] = {
		"x 7d digitalSignature serverAuth p256 extra\n",
		"x 0d digitalSignature serverAuth p256\n", "x 7d digitalSignature serverAuth dsa\n",
		"x 7d notAUsage serverAuth p256\n",
		"x 7d digitalSignature serverAuth p256\nx 1h digitalSignature - p256\n"};
	for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
		f = fopen(prof, "w");
		fputs(bad_files[i], f);
		fclose(f);
		assert_null(pki_ca_open(&cfg, why, sizeof why));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key_type),
		cmocka_unit_test(test_refusals),
	};

	return pki_test_run("test_issue", tests, sizeof tests / sizeof tests[0]);
}
