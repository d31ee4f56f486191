/* pki/ak.c: the attestation CA made beside the issuing intermediate and
 * reused, AK certificates from a bare public key read back with OpenSSL
 * field by field, the refusals (key type, TPM name, no attestation CA), and
 * the CRL Distribution Points an operator configures. */
#include "tests/unit/pki/pki_test.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct pki_ca *ca_open(const char *dir, const char *import_root)
{
	struct pki_ca_config cfg = {.dir = dir, .import_root = import_root};
	char err[512];
	struct pki_ca *ca = pki_ca_open(&cfg, err, sizeof err);

	if (ca == NULL)
		print_message("pki_ca_open: %s\n", err);
	return ca;
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	return x;
}

/* SubjectPublicKeyInfo DER of a new key (OPENSSL_free). */
static int spki_new(EVP_PKEY *k, uint8_t **der)
{
	*der = NULL;
	return i2d_PUBKEY(k, der);
}

/* A TPM directoryName as an EK certificate has it, DER (OPENSSL_free);
 * with bad set, one attribute is a CN instead. */
static int tpm_name_new(uint8_t **der, int bad)
{
	X509_NAME *n = X509_NAME_new();
	int len;

	assert_true(X509_NAME_add_entry_by_txt(n, "2.23.133.2.1", MBSTRING_UTF8,
					       (const unsigned char *)"id:00001014", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, bad ? "CN" : "2.23.133.2.2", MBSTRING_UTF8,
					       (const unsigned char *)"swtpm", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "2.23.133.2.3", MBSTRING_UTF8,
					       (const unsigned char *)"id:20191023", -1, -1, 0));
	*der = NULL;
	len = i2d_X509_NAME(n, der);
	X509_NAME_free(n);
	return len;
}

static void test_att_ca_and_profile(void **state)
{
	(void)state;
	char dir[128], path[160];
	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca *ca = ca_open(dir, NULL);
	assert_non_null(ca);
	assert_non_null(pki_ca_att_pem(ca));
	snprintf(path, sizeof path, "%s/att.key", dir);
	assert_int_equal(access(path, F_OK), 0);

	X509 *root = pem_cert(pki_ca_root_pem(ca)), *att = pem_cert(pki_ca_att_pem(ca));
	X509 *tls = pem_cert(pki_ca_chain_pem(ca));
	assert_int_equal(X509_check_issued(root, att), X509_V_OK);
	assert_int_equal(X509_verify(att, X509_get0_pubkey(root)), 1);
	assert_int_equal(X509_check_ca(att), 1);
	assert_int_not_equal(X509_cmp(att, tls), 0);

	EVP_PKEY *k = EVP_EC_gen("P-256");
	uint8_t *spki = NULL, *name = NULL;
	int slen = spki_new(k, &spki), nlen = tpm_name_new(&name, 0);
	struct pki_ak_req r = {
		.spki_der = spki,
		.spki_len = (size_t)slen,
		.tpm_name_der = name,
		.tpm_name_len = (size_t)nlen,
		.ek_uri = "urn:ek:sha256:AAAA",
		.permanent_id = "device-1",
	};
	struct pki_cert c;
	char why[256];
	assert_int_equal(pki_issue_ak(ca, &r, &c, why, sizeof why), PKI_OK);
	assert_string_equal(c.key_type, "p256");
	assert_non_null(
		strstr(c.sans_text, "DirName:/2.23.133.2.1=id:00001014/2.23.133.2.2=swtpm"));
	assert_non_null(strstr(c.sans_text, "URI:urn:ek:sha256:AAAA"));
	assert_non_null(strstr(c.sans_text, "permanentIdentifier:device-1"));

	const unsigned char *p = c.der;
	X509 *x = d2i_X509(NULL, &p, (long)c.der_len);
	assert_non_null(x);
	assert_int_equal(X509_get_version(x), 2);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(att)), 0);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(att)), 1);
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
	assert_true(X509_get_key_usage(x) == KU_DIGITAL_SIGNATURE);
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	char oid[32];
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku, 0), 1);
	assert_string_equal(oid, "2.23.133.8.3");
	int crit = 0;
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_int_equal(crit, 1);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 0)->type, GEN_DIRNAME);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 1)->type, GEN_URI);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 2)->type, GEN_OTHERNAME);
	/* The chain: the leaf, then the attestation CA. */
	assert_non_null(strstr(c.chain_pem, pki_ca_att_pem(ca)));
	assert_int_equal(X509_get_ext_by_NID(x, NID_crl_distribution_points, -1), -1);
	GENERAL_NAMES_free(gens);
	EXTENDED_KEY_USAGE_free(eku);
	X509_free(x);
	pki_cert_free(&c);

	/* Refusals: leave *out zeroed and say why. */
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	uint8_t *edspki = NULL, *badname = NULL;
	int edlen = spki_new(ed, &edspki), badlen = tpm_name_new(&badname, 1);
	struct pki_ak_req bad = r;
	bad.spki_der = edspki;
	bad.spki_len = (size_t)edlen;
	assert_int_equal(pki_issue_ak(ca, &bad, &c, why, sizeof why), PKI_ERR_KEY_TYPE);
	assert_null(c.der);
	bad = r;
	bad.spki_len = (size_t)slen - 1;
	assert_int_equal(pki_issue_ak(ca, &bad, &c, why, sizeof why), PKI_ERR_KEY_TYPE);
	bad = r;
	bad.tpm_name_der = badname;
	bad.tpm_name_len = (size_t)badlen;
	assert_int_equal(pki_issue_ak(ca, &bad, &c, why, sizeof why), PKI_ERR_SAN);
	bad = r;
	bad.ek_uri = "no uri";
	assert_int_equal(pki_issue_ak(ca, &bad, &c, why, sizeof why), PKI_ERR_SAN);
	bad = r;
	bad.tpm_name_der = NULL;
	assert_int_equal(pki_issue_ak(ca, &bad, &c, why, sizeof why), PKI_OK);
	assert_null(strstr(c.sans_text, "DirName"));
	pki_cert_free(&c);

	/* Reopened: the same attestation CA. */
	pki_ca_free(ca);
	ca = ca_open(dir, NULL);
	assert_non_null(ca);
	X509 *again = pem_cert(pki_ca_att_pem(ca));
	assert_int_equal(X509_cmp(att, again), 0);
	pki_ca_free(ca);

	/* An imported root without its key in the folder: no attestation CA. */
	char dir2[128], rootpem[200];
	pki_test_dir_new(dir2, sizeof dir2);
	snprintf(rootpem, sizeof rootpem, "%s/root.pem", dir);
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	struct pki_ca_config cfg = {.dir = dir2, .import_root = rootpem, .import_cert = path};
	snprintf(why, sizeof why, "%s/ca.key", dir);
	cfg.import_key = why;
	char err[256];
	ca = pki_ca_open(&cfg, err, sizeof err);
	assert_non_null(ca);
	assert_null(pki_ca_att_pem(ca));
	assert_int_equal(pki_issue_ak(ca, &r, &c, err, sizeof err), PKI_ERR_PROFILE);
	pki_ca_free(ca);

	X509_free(again);
	X509_free(root);
	X509_free(att);
	X509_free(tls);
	OPENSSL_free(spki);
	OPENSSL_free(name);
	OPENSSL_free(edspki);
	OPENSSL_free(badname);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ed);
}

/* With CRL URLs configured an AK certificate names the attestation CA's
 * CRL (one distribution point, a URI); a URL that is not http(s) or not
 * printable ASCII keeps the CA from opening. */
static void test_crl_points(void **state)
{
	(void)state;
	char dir[128], err[256], why[256];
	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca_config cfg = {.dir = dir,
				    .crl_url = "http://crl.example/pki/crl",
				    .att_crl_url = "http://crl.example/attestation/crl"};
	struct pki_ca *ca = pki_ca_open(&cfg, err, sizeof err);
	assert_non_null(ca);

	EVP_PKEY *k = EVP_EC_gen("P-256");
	uint8_t *spki = NULL;
	int slen = spki_new(k, &spki);
	struct pki_ak_req r = {.spki_der = spki,
			       .spki_len = (size_t)slen,
			       .ek_uri = "urn:ek:sha256:AAAA",
			       .permanent_id = "d"};
	struct pki_cert c;
	assert_int_equal(pki_issue_ak(ca, &r, &c, why, sizeof why), PKI_OK);
	const unsigned char *p = c.der;
	X509 *x = d2i_X509(NULL, &p, (long)c.der_len);
	assert_non_null(x);
	CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	assert_int_equal(sk_DIST_POINT_num(dps), 1);
	DIST_POINT *dp = sk_DIST_POINT_value(dps, 0);
	assert_int_equal(dp->distpoint->type, 0);
	assert_int_equal(sk_GENERAL_NAME_num(dp->distpoint->name.fullname), 1);
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
	assert_int_equal(gn->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
			    "http://crl.example/attestation/crl");
	CRL_DIST_POINTS_free(dps);
	X509_free(x);
	pki_cert_free(&c);
	pki_ca_free(ca);

	const char *bad[] = {"ftp://crl.example/x",
			     "http://",
			     "https:///crl",
			     "http://a b/crl",
			     "http://crl.example/\x7f",
			     "crl.example/pki/crl"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct pki_ca_config b = {.dir = dir, .crl_url = bad[i]};
		err[0] = '\0';
		assert_null(pki_ca_open(&b, err, sizeof err));
		assert_non_null(strstr(err, "CRL URL"));
	}
	OPENSSL_free(spki);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_att_ca_and_profile),
		cmocka_unit_test(test_crl_points),
	};

	return pki_test_run("test_ak", tests, sizeof tests / sizeof tests[0]);
}
