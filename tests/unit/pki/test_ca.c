/* pki/: a CA created, reopened with its passphrase, its files' modes, an
 * RSA CA, and an intermediate imported from elsewhere (and the refusals). */
#include "tests/unit/pki/pki_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "pki/pki_int.h"

static void test_reopen_passphrase_and_modes(void **state)
{
	char dir[256], path[300], err[256];
	struct stat st;

	(void)state;
	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca *ca = pki_test_ca_open(dir, "p384", "correct horse");
	assert_non_null(ca);
	char *chain1 = strdup(pki_ca_chain_pem(ca));
	pki_ca_free(ca);
	const char *keys[] = {"root.key", "ca.key"};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, keys[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		char *text = file_read(path, 1 << 20, NULL);
		assert_non_null(strstr(text, "BEGIN ENCRYPTED PRIVATE KEY"));
		free(text);
	}
	snprintf(path, sizeof path, "%s", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* Reopened with the passphrase: the same CA; without or wrong: refused. */
	ca = pki_test_ca_open(dir, NULL, "correct horse");
	assert_non_null(ca);
	assert_string_equal(chain1, pki_ca_chain_pem(ca));
	struct pki_cert c;
	assert_int_equal(pki_test_issue(ca, "p256", "tls-server", &c), PKI_OK);
	X509 *x = pki_test_der_cert(&c);
	assert_int_equal(pki_test_verify(dir, x, ca, NULL, 0), 0);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA384);
	X509_free(x);
	pki_cert_free(&c);
	pki_ca_free(ca);
	struct pki_ca_config cfg = {.dir = dir};
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "ORCHARD_CA_PASSPHRASE"));
	assert_null(strstr(err, "correct horse"));
	cfg.passphrase = "wrong";
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	/* A key others may read is refused. */
	snprintf(path, sizeof path, "%s/ca.key", dir);
	chmod(path, 0644);
	cfg.passphrase = "correct horse";
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "0600"));
	chmod(path, 0600);
	free(chain1);
}

static void test_rsa_ca_and_import(void **state)
{
	char a[256], b[256], root[300], cert[300], key[300], other[300], err[256];

	(void)state;
	pki_test_dir_new(a, sizeof a);
	struct pki_ca *ca = pki_test_ca_open(a, "rsa2048", NULL);
	assert_non_null(ca);
	pki_ca_free(ca);
	snprintf(root, sizeof root, "%s/root.pem", a);
	snprintf(cert, sizeof cert, "%s/ca.pem", a);
	snprintf(key, sizeof key, "%s/ca.key", a);
	snprintf(other, sizeof other, "%s/root.key", a);
	pki_test_dir_new(b, sizeof b);
	struct pki_ca_config cfg = {
		.dir = b, .import_root = root, .import_cert = cert, .import_key = key};
	ca = pki_ca_open(&cfg, err, sizeof err);
	assert_non_null(ca);
	struct pki_cert c;
	assert_int_equal(pki_test_issue(ca, "p256", "device-client", &c), PKI_OK);
	X509 *x = pki_test_der_cert(&c);
	assert_int_equal(pki_test_verify(a, x, ca, NULL, 0), 0);
	assert_int_equal(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
	X509_free(x);
	pki_cert_free(&c);
	pki_ca_free(ca);
	/* The key of another certificate, a certificate alone: refused. */
	cfg.import_key = other;
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "does not match"));
	cfg.import_key = NULL;
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	/* An intermediate under another root: refused. */
	cfg.import_key = key;
	cfg.import_root = NULL; /* b/root.pem, made fresh for b */
	assert_null(pki_ca_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "issued by the root"));
}

/* A key is written to a fresh 0600 file and renamed into place: a file or
 * a symlink left at the temporary name is neither followed nor reused. */
static void test_key_write_fresh(void **state)
{
	char dir[256], path[300], tmp[340], bait[300];
	struct stat st;

	(void)state;
	pki_test_dir_new(dir, sizeof dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof path, "%s/k.key", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	snprintf(bait, sizeof bait, "%s/bait", dir);
	FILE *f = fopen(bait, "w");
	assert_non_null(f);
	fputs("bait\n", f);
	fclose(f);
	chmod(bait, 0644);
	assert_int_equal(symlink(bait, tmp), 0);
	EVP_PKEY *k = pki_test_key_make("p256");
	assert_int_equal(pki__pem_write(path, NULL, k, NULL), 0);
	char *text = file_read(bait, 1 << 20, NULL);
	assert_string_equal(text, "bait\n");
	free(text);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(lstat(tmp, &st), -1);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reopen_passphrase_and_modes),
		cmocka_unit_test(test_key_write_fresh),
		cmocka_unit_test(test_rsa_ca_and_import),
	};

	return pki_test_run("test_ca", tests, sizeof tests / sizeof tests[0]);
}
