/* Helpers shared by the pki/ unit tests (pki_test.h): scratch folders, CSRs,
 * issuance and verification with OpenSSL. Linked into every pki_test_*. */
#include "tests/unit/pki/pki_test.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct pki_san pki_test_one_dns[] = {{PKI_SAN_DNS, "device.example", NULL}};

static char root_dir[] = "/tmp/orchard-pki-test.XXXXXX";
static int dirs;

int pki_test_run(const char *group, const struct CMUnitTest *tests, size_t n)
{
	char cmd[512];
	int rc;

	if (mkdtemp(root_dir) == NULL)
		return 1;
	rc = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root_dir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}

void pki_test_dir_new(char *out, size_t len)
{
	snprintf(out, len, "%s/ca%d", root_dir, dirs++);
}

struct pki_ca *pki_test_ca_open(const char *dir, const char *type, const char *pass)
{
	struct pki_ca_config cfg = {.dir = dir, .key_type = type, .passphrase = pass};
	char err[512];
	struct pki_ca *ca = pki_ca_open(&cfg, err, sizeof err);

	if (ca == NULL)
		print_message("pki_ca_open: %s\n", err);
	return ca;
}

EVP_PKEY *pki_test_key_make(const char *type)
{
	if (strcmp(type, "p256") == 0)
		return EVP_EC_gen("P-256");
	if (strcmp(type, "p384") == 0)
		return EVP_EC_gen("P-384");
	if (strcmp(type, "p521") == 0)
		return EVP_EC_gen("P-521");
	if (strcmp(type, "rsa1024") == 0)
		return EVP_RSA_gen(1024);
	if (strcmp(type, "rsa2048") == 0)
		return EVP_RSA_gen(2048);
	if (strcmp(type, "ed25519") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return NULL;
}

uint8_t *pki_test_csr_make(const char *type, size_t *len)
{
	EVP_PKEY *key = pki_test_key_make(type);
	X509_REQ *r = X509_REQ_new();
	unsigned char *der = NULL;
	int ed = strcmp(type, "ed25519") == 0;
	int n;

	assert_non_null(key);
	assert_true(X509_REQ_set_pubkey(r, key));
	assert_true(X509_REQ_sign(r, key, ed ? NULL : EVP_sha256()) > 0);
	n = i2d_X509_REQ(r, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	X509_REQ_free(r);
	EVP_PKEY_free(key);
	uint8_t *out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	return out;
}

enum pki_status pki_test_issue(struct pki_ca *ca, const char *keytype, const char *profile,
			       struct pki_cert *out)
{
	size_t len;
	uint8_t *csr = pki_test_csr_make(keytype, &len);
	struct pki_issue_req req = {csr, len, pki_test_one_dns, 1, profile, NULL, 0, NULL};
	char why[256];
	enum pki_status st = pki_issue(ca, &req, out, why, sizeof why);

	free(csr);
	return st;
}

X509 *pki_test_der_cert(const struct pki_cert *c)
{
	const unsigned char *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->der_len);

	assert_non_null(x);
	return x;
}

int pki_test_verify(const char *dir, X509 *x, const struct pki_ca *ca, X509_CRL *crl, int purpose)
{
	char path[512];
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(pki_ca_chain_pem(ca), -1);
	X509 *inter = PEM_read_bio_X509(b, NULL, NULL, NULL);
	int err;

	snprintf(path, sizeof path, "%s/root.pem", dir);
	assert_int_equal(X509_STORE_load_file(st, path), 1);
	sk_X509_push(chain, inter);
	if (crl != NULL) {
		X509_STORE_add_crl(st, crl);
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	X509_STORE_CTX_init(ctx, st, x, chain);
	if (purpose)
		X509_STORE_CTX_set_purpose(ctx, purpose);
	err = X509_verify_cert(ctx) == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	sk_X509_pop_free(chain, X509_free);
	BIO_free(b);
	return err;
}

int pki_test_cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}
