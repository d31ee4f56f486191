/* Unit tests for server/client_cert.c's OpenSSL half: a root, an
 * intermediate and leaves made here with OpenSSL; the CN rule, pinning by
 * thumbprint, chains to a signing root or intermediate, validity, and the
 * certificate text forms Azure's service API takes. (The GnuTLS half needs
 * a TLS session: tests/integration/dps_x509.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "server/client_cert.h"

static EVP_PKEY *key_new(void)
{
	return EVP_EC_gen("P-256");
}

static void ext(X509 *c, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	X509_add_ext(c, e, -1);
	X509_EXTENSION_free(e);
}

/* A certificate for key with subject CN=cn, signed by issuer (NULL: self),
 * valid from now + from_s for days. */
static X509 *cert_new(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, bool ca,
		      long from_s, long days)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	static long serial = 1;

	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, n);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(c), from_s);
	X509_gmtime_adj(X509_getm_notAfter(c), from_s + days * 86400);
	X509_set_pubkey(c, key);
	ext(c, issuer ? issuer : c, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		ext(c, issuer ? issuer : c, NID_key_usage, "critical,keyCertSign");
	assert_true(X509_sign(c, ikey ? ikey : key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return c;
}

static char *pem_of(X509 *c)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	PEM_write_bio_X509(b, c);
	n = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)n);
	BIO_free(b);
	return out;
}

struct pki {
	EVP_PKEY *rk, *ik, *lk, *sk;
	X509 *root, *inter, *leaf, *expired, *stranger, *strange_leaf;
};

static int setup(void **state)
{
	struct pki *p = calloc(1, sizeof *p);

	p->rk = key_new();
	p->ik = key_new();
	p->lk = key_new();
	p->sk = key_new();
	p->root = cert_new("root", p->rk, NULL, NULL, true, -60, 30);
	p->inter = cert_new("inter", p->ik, p->root, p->rk, true, -60, 30);
	p->leaf = cert_new("dev-1", p->lk, p->inter, p->ik, false, -60, 30);
	p->expired = cert_new("dev-1", p->lk, p->inter, p->ik, false, -40L * 86400, 10);
	p->stranger = cert_new("stranger", p->sk, NULL, NULL, true, -60, 30);
	p->strange_leaf = cert_new("dev-1", p->lk, p->stranger, p->sk, false, -60, 30);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pki *p = *state;

	X509_free(p->root);
	X509_free(p->inter);
	X509_free(p->leaf);
	X509_free(p->expired);
	X509_free(p->stranger);
	X509_free(p->strange_leaf);
	EVP_PKEY_free(p->rk);
	EVP_PKEY_free(p->ik);
	EVP_PKEY_free(p->lk);
	EVP_PKEY_free(p->sk);
	free(p);
	return 0;
}

static STACK_OF(X509) * chain_of(X509 *leaf, X509 *inter)
{
	STACK_OF(X509) *s = sk_X509_new_null();

	X509_up_ref(leaf);
	sk_X509_push(s, leaf);
	if (inter != NULL) {
		X509_up_ref(inter);
		sk_X509_push(s, inter);
	}
	return s;
}

static json_t *signing(X509 *ca)
{
	char *pem = pem_of(ca);
	json_t *j = json_pack("{s:{s:s}}", "primary", "certificate", pem);

	free(pem);
	return j;
}

static void cn_is_read(void **state)
{
	struct pki *p = *state;
	char cn[CLIENT_CERT_CN_MAX + 1];
	EVP_PKEY *k = key_new();
	char longcn[80];
	X509 *c;

	assert_int_equal(client_cert_cn(p->leaf, cn, sizeof cn), 0);
	assert_string_equal(cn, "dev-1");
	memset(longcn, 'a', 70);
	longcn[70] = '\0';
	c = cert_new(longcn, k, NULL, NULL, false, -60, 1);
	assert_int_equal(client_cert_cn(c, cn, sizeof cn), -1);
	X509_free(c);
	EVP_PKEY_free(k);
}

static void chains_to_root_or_intermediate(void **state)
{
	struct pki *p = *state;
	const char *why;
	json_t *root = signing(p->root), *inter = signing(p->inter),
	       *stranger = signing(p->stranger);
	STACK_OF(X509) *full = chain_of(p->leaf, p->inter), *alone = chain_of(p->leaf, NULL);
	STACK_OF(X509) *old = chain_of(p->expired, p->inter),
		       *odd = chain_of(p->strange_leaf, NULL);

	assert_true(client_cert_chains(full, root, &why));
	assert_false(client_cert_chains(alone, root, &why)); /* the intermediate is missing */
	assert_true(client_cert_chains(alone, inter, &why)); /* an intermediate anchors */
	assert_false(client_cert_chains(full, stranger, &why));
	assert_false(client_cert_chains(old, root, &why));
	assert_non_null(strstr(why, "expired"));
	assert_false(client_cert_chains(odd, root, &why));
	json_t *none = json_object();
	assert_false(client_cert_chains(full, none, &why) || client_cert_chains(full, NULL, &why));
	json_decref(none);
	client_cert_chain_free(full);
	client_cert_chain_free(alone);
	client_cert_chain_free(old);
	client_cert_chain_free(odd);
	json_decref(root);
	json_decref(inter);
	json_decref(stranger);
}

static void pinned_by_thumbprint(void **state)
{
	struct pki *p = *state;
	json_t *info = client_cert_info(p->leaf);
	json_t *pins = json_pack("{s:{s:O}}", "secondary", "info", info);
	json_t *other =
		json_pack("{s:{s:o}}", "primary", "info", client_cert_info(p->strange_leaf));

	assert_int_equal(strlen(json_string_value(json_object_get(info, "sha256Thumbprint"))), 64);
	assert_string_equal(json_string_value(json_object_get(info, "subjectName")), "/CN=dev-1");
	assert_true(client_cert_pinned(p->leaf, pins));
	assert_false(client_cert_pinned(p->strange_leaf, pins));
	assert_false(client_cert_pinned(p->leaf, other));
	assert_false(client_cert_pinned(p->leaf, NULL));
	json_decref(info);
	json_decref(pins);
	json_decref(other);
}

static void expired_pin_refused(void **state)
{
	struct pki *p = *state;
	json_t *pins = json_pack("{s:{s:o}}", "primary", "info", client_cert_info(p->expired));

	assert_false(client_cert_pinned(p->expired, pins));
	json_decref(pins);
}

static void text_forms(void **state)
{
	struct pki *p = *state;
	char *pem = pem_of(p->leaf), *b64;
	unsigned char *der = NULL;
	int n = i2d_X509(p->leaf, &der);
	X509 *c;

	b64 = b64_encode(der, (size_t)n, 0);
	c = client_cert_parse_text(pem);
	assert_non_null(c);
	assert_int_equal(X509_cmp(c, p->leaf), 0);
	X509_free(c);
	c = client_cert_parse_text(b64);
	assert_non_null(c);
	assert_int_equal(X509_cmp(c, p->leaf), 0);
	X509_free(c);
	assert_null(client_cert_parse_text("not a certificate"));
	assert_null(client_cert_parse_text(
		"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
	assert_null(client_cert_parse_text("AAAA"));
	assert_null(client_cert_parse_text(NULL));
	b64[strlen(b64) / 2] = '\0'; /* truncated DER */
	assert_null(client_cert_parse_text(b64));
	OPENSSL_free(der);
	free(pem);
	free(b64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cn_is_read),
		cmocka_unit_test(chains_to_root_or_intermediate),
		cmocka_unit_test(pinned_by_thumbprint),
		cmocka_unit_test(expired_pin_refused),
		cmocka_unit_test(text_forms),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
