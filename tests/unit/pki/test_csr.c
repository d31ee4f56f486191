/* pki/: pki_csr_inspect() reads names and the key from a CSR and checks its
 * signature (EC, RSA, RSA-PSS, a point off its curve); pki_issue() then
 * takes the inspected request. */
#include "tests/unit/pki/pki_test.h"

#include "pki/pki_int.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* r signed with key, as DER (malloc'd, *len bytes); frees r. */
static uint8_t *csr_signed_der(X509_REQ *r, EVP_PKEY *key, size_t *len)
{
	unsigned char *der = NULL;
	int n;

	assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
	n = i2d_X509_REQ(r, &der);
	X509_REQ_free(r);
	assert_true(n > 0);
	uint8_t *out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return out;
}

/* A CSR with subject CN cn and the SAN extension sans (openssl's syntax). */
static uint8_t *csr_with_names(EVP_PKEY *key, const char *cn, const char *sans, size_t *len)
{
	X509_REQ *r = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();

	assert_true(X509_REQ_set_pubkey(r, key));
	if (cn != NULL)
		assert_true(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN",
						       MBSTRING_ASC, (const unsigned char *)cn, -1,
						       -1, 0));
	if (sans != NULL) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);
		assert_non_null(e);
		sk_X509_EXTENSION_push(exts, e);
		assert_true(X509_REQ_add_extensions(r, exts));
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return csr_signed_der(r, key, len);
}

/* A CSR whose subject CN is the len bytes of cn (NULs and all), and, when
 * dns is given, a SAN of one DNS name of dnslen bytes. */
static uint8_t *csr_with_bytes(EVP_PKEY *key, const char *cn, int len, const char *dns, int dnslen,
			       size_t *outlen)
{
	X509_REQ *r = X509_REQ_new();

	assert_true(X509_REQ_set_pubkey(r, key));
	assert_true(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", V_ASN1_IA5STRING,
					       (const unsigned char *)cn, len, -1, 0));
	if (dns != NULL) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		assert_true(ASN1_STRING_set(s, dns, dnslen));
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		sk_GENERAL_NAME_push(names, g);
		sk_X509_EXTENSION_push(exts, X509V3_EXT_i2d(NID_subject_alt_name, 0, names));
		assert_true(X509_REQ_add_extensions(r, exts));
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		GENERAL_NAMES_free(names);
	}
	return csr_signed_der(r, key, outlen);
}

/* Names a NUL would cut, or none at all: refused as names (PKI_ERR_SAN),
 * never read up to the NUL. */
static void test_csr_cut_names(void **state)
{
	static const struct {
		const char *cn;
		int len;
		const char *dns;
		int dnslen;
	} cases[] = {
		{"192.0.2.1\0.evil.test", 21, NULL, 0}, /* an IP parse stops at the NUL */
		{"a.example\0.evil.test", 21, NULL, 0},	       {"", 0, NULL, 0},
		{"a.example", 9, "b.example\0.evil.test", 21}, {"a.example", 9, "", 0},
	};
	EVP_PKEY *key = EVP_EC_gen("P-256");
	struct pki_csr_info info;
	char why[256];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t *csr = csr_with_bytes(key, cases[i].cn, cases[i].len, cases[i].dns,
					      cases[i].dnslen, &len);

		assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_ERR_SAN);
		assert_null(strstr(why, "internal"));
		assert_int_equal(info.ndns + info.nips, 0); /* *out zeroed */
		free(csr);
	}
	EVP_PKEY_free(key);
}

static void test_csr_inspect(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-384");
	struct pki_csr_info info;
	char why[256];
	size_t len;
	unsigned char *spki = NULL;
	int slen = i2d_PUBKEY(key, &spki);

	(void)state;
	uint8_t *csr = csr_with_names(
		key, "Example.COM",
		"DNS:a.example,DNS:example.com,IP:192.0.2.1,IP:2001:db8:0:0:0:0:0:1", &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_OK);
	assert_int_equal(info.ndns, 2); /* the CN repeats a SAN, in another case */
	assert_string_equal(info.dns[0], "a.example");
	assert_string_equal(info.dns[1], "example.com");
	assert_int_equal(info.nips, 2);
	assert_string_equal(info.ips[0], "192.0.2.1");
	assert_string_equal(info.ips[1], "2001:db8::1");
	assert_string_equal(info.key_type, "p384");
	assert_int_equal(info.spki_len, slen);
	assert_memory_equal(info.spki, spki, (size_t)slen);
	pki_csr_info_free(&info);
	/* A bad signature, trailing bytes, an e-mail SAN. */
	csr[len - 3] ^= 1;
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_ERR_SIGNATURE);
	assert_null(info.dns);
	free(csr);
	csr = csr_with_names(key, "192.0.2.9", NULL, &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_OK);
	assert_int_equal(info.ndns, 0);
	assert_string_equal(info.ips[0], "192.0.2.9");
	/* The CSR's key against others: itself, another P-384 key, a P-256
	 * key, an RSA key, and none. */
	{
		EVP_PKEY *other = EVP_EC_gen("P-384"), *p256 = EVP_EC_gen("P-256"),
			 *rsa = EVP_RSA_gen(2048);
		assert_true(pki_csr_key_equals(&info, key));
		assert_false(pki_csr_key_equals(&info, other));
		assert_false(pki_csr_key_equals(&info, p256));
		assert_false(pki_csr_key_equals(&info, rsa));
		assert_false(pki_csr_key_equals(&info, NULL));
		assert_false(pki_csr_key_equals(NULL, key));
		/* The same by group and point, as finalize asks for an account key. */
		unsigned char pt[1 + 2 * 48], pt2[1 + 2 * 48];
		size_t pl = 0, pl2 = 0;
		assert_int_equal(EVP_PKEY_get_octet_string_param(key,
								 OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
								 pt, sizeof pt, &pl),
				 1);
		assert_int_equal(EVP_PKEY_get_octet_string_param(other,
								 OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
								 pt2, sizeof pt2, &pl2),
				 1);
		assert_int_equal(pl, 97);
		assert_int_equal(pki_csr_key_is_ec_point(&info, "secp384r1", pt, pl), 1);
		assert_int_equal(pki_csr_key_is_ec_point(&info, "prime256v1", pt, pl), 0);
		assert_int_equal(pki_csr_key_is_ec_point(&info, "secp384r1", pt2, pl2), 0);
		assert_int_equal(pki_csr_key_is_ec_point(&info, "secp384r1", pt, pl - 1), 0);
		assert_int_equal(pki_csr_key_is_ec_point(NULL, "secp384r1", pt, pl), -1);
		EVP_PKEY_free(other);
		EVP_PKEY_free(p256);
		EVP_PKEY_free(rsa);
	}
	pki_csr_info_free(&info);
	{ /* an EC point off its curve: no key, so no signature verifies */
		EVP_PKEY *k2 = EVP_EC_gen("P-256");
		unsigned char *pub = NULL;
		int pl = i2d_PUBKEY(k2, &pub);
		uint8_t *bad = csr_with_names(k2, NULL, "DNS:a.example", &len), *at;
		assert_non_null(at = memmem(bad, len, pub, (size_t)pl));
		at[pl - 1] ^= 1; /* the point's last byte */
		/* Refused as a key (a signature would fail with any wrong key). */
		struct pki_csr *parsed = pki__csr_parse(bad, len);
		assert_non_null(parsed);
		assert_null(parsed->key);
		pki__csr_free(parsed);
		assert_int_equal(pki_csr_inspect(bad, len, &info, why, sizeof why),
				 PKI_ERR_SIGNATURE);
		free(bad);
		OPENSSL_free(pub);
		EVP_PKEY_free(k2);
	}
	{ /* a compressed point: the long way, and the same key either way */
		EVP_PKEY *k3 = EVP_EC_gen("P-256");
		unsigned char pt[65];
		size_t pl = 0;
		assert_int_equal(EVP_PKEY_get_octet_string_param(k3,
								 OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
								 pt, sizeof pt, &pl),
				 1);
		assert_int_equal(
			EVP_PKEY_set_utf8_string_param(
				k3, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"),
			1);
		uint8_t *c = csr_with_names(k3, NULL, "DNS:c.example", &len);
		assert_int_equal(pki_csr_inspect(c, len, &info, why, sizeof why), PKI_OK);
		assert_int_equal(info.spki[info.spki_len - 33] & 0xfe, 0x02);
		assert_int_equal(pki_csr_key_is_ec_point(&info, "prime256v1", pt, pl), -1);
		assert_true(pki_csr_key_equals(&info, k3));
		pki_csr_info_free(&info);
		free(c);
		EVP_PKEY_free(k3);
	}
	{ /* an RSA key signing with RSA-PSS */
		EVP_PKEY *rk = EVP_RSA_gen(2048);
		X509_REQ *r = X509_REQ_new();
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		unsigned char *der = NULL;
		int n;
		assert_true(X509_REQ_set_pubkey(r, rk));
		assert_true(
			X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
						   (const unsigned char *)"a.example", -1, -1, 0));
		assert_int_equal(EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, rk), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_true(X509_REQ_sign_ctx(r, md) > 0);
		n = i2d_X509_REQ(r, &der);
		assert_int_equal(pki_csr_inspect(der, (size_t)n, &info, why, sizeof why), PKI_OK);
		assert_string_equal(info.key_type, "rsa2048");
		assert_true(pki_csr_key_equals(&info, rk));
		pki_csr_info_free(&info);
		der[n - 5] ^= 1;
		assert_int_equal(pki_csr_inspect(der, (size_t)n, &info, why, sizeof why),
				 PKI_ERR_SIGNATURE);
		OPENSSL_free(der);
		EVP_MD_CTX_free(md);
		X509_REQ_free(r);
		EVP_PKEY_free(rk);
	}
	{ /* an RSA CSR against its own key and another */
		EVP_PKEY *rk = EVP_RSA_gen(2048), *rk2 = EVP_RSA_gen(2048);
		uint8_t *rc = csr_with_names(rk, NULL, "DNS:a.example", &len);
		assert_int_equal(pki_csr_inspect(rc, len, &info, why, sizeof why), PKI_OK);
		assert_true(pki_csr_key_equals(&info, rk));
		assert_false(pki_csr_key_equals(&info, rk2));
		pki_csr_info_free(&info);
		free(rc);
		EVP_PKEY_free(rk);
		EVP_PKEY_free(rk2);
	}
	assert_int_equal(pki_csr_inspect(csr, len - 1, &info, why, sizeof why), PKI_ERR_CSR);
	free(csr);
	csr = csr_with_names(key, NULL, "DNS:a.example,email:x@a.example", &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_ERR_SAN);
	assert_non_null(strstr(why, "other than DNS"));
	free(csr);
	OPENSSL_free(spki);
	EVP_PKEY_free(key);
}

/* pki_issue() takes the request pki_csr_inspect() parsed and verified:
 * csr_der is not read then, and the profile's key rules still apply. */
static void test_issue_inspected(void **state)
{
	char dir[256], why[256];
	size_t len;
	struct pki_cert c;
	struct pki_csr_info info;

	(void)state;
	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca *ca = pki_test_ca_open(dir, NULL, NULL);
	uint8_t *csr = pki_test_csr_make("p256", &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_OK);
	assert_non_null(info.parsed);
	memset(csr, 0, len); /* would not parse: the inspected request is used */
	struct pki_issue_req req = {csr, len, pki_test_one_dns, 1, "tls-server", NULL, 0, &info};
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_OK);
	assert_string_equal(c.key_type, "p256");
	X509 *x = pki_test_der_cert(&c);
	unsigned char *spki = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	assert_int_equal(n, info.spki_len);
	assert_memory_equal(spki, info.spki, info.spki_len);
	OPENSSL_free(spki);
	X509_free(x);
	pki_cert_free(&c);
	/* Twice from one inspection (a retried transaction): two certificates. */
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_OK);
	pki_cert_free(&c);
	pki_csr_info_free(&info);
	assert_null(info.parsed);
	free(csr);
	/* A key type the profile refuses is refused on this path too. */
	csr = pki_test_csr_make("p521", &len);
	assert_int_equal(pki_csr_inspect(csr, len, &info, why, sizeof why), PKI_OK);
	req = (struct pki_issue_req){NULL, 0, pki_test_one_dns, 1, "tls-server", NULL, 0, &info};
	assert_int_equal(pki_issue(ca, &req, &c, why, sizeof why), PKI_ERR_KEY_TYPE);
	assert_null(c.der);
	pki_csr_info_free(&info);
	free(csr);
	pki_ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_inspect),
		cmocka_unit_test(test_csr_cut_names),
		cmocka_unit_test(test_issue_inspected),
	};

	return pki_test_run("test_csr", tests, sizeof tests / sizeof tests[0]);
}
