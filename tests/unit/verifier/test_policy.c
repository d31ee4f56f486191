/* Unit tests for PCR policy documents, nonce stores, quote clock
 * comparison, KDFs and appraisal JWTs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "verifier/appraisal.h"
#include "verifier/kdf.h"
#include "verifier/nonce_store.h"
#include "verifier/pcr_policy.h"
#include "verifier/quote_clock.h"

static const char *A32 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *B32 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* The test documents are format strings with %s for 32-byte values; they
 * are constants of this file, so the non-literal format is safe here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static struct pcr_policy *parse(const char *fmt, struct verr *e)
{
	char doc[1024];
	snprintf(doc, sizeof(doc), fmt, A32, B32, A32);
	verr_clear(e);
	return pcr_policy_parse(doc, strlen(doc), e);
}
#pragma GCC diagnostic pop

static void test_policy_parse_errors(void **state)
{
	static const char *bad[] = {
		"[]",
		"{\"pcr\": {}}",				/* typo'd key */
		"{\"pcrs\": {\"sha999\": {\"0\": [\"%s\"]}}}",	/* unknown bank */
		"{\"pcrs\": {\"sha256\": {\"24\": [\"%s\"]}}}", /* PCR out of range */
		"{\"pcrs\": {\"sha256\": {\"07\": [\"%s\"]}}}", /* leading zero */
		"{\"pcrs\": {\"sha256\": {\"-1\": [\"%s\"]}}}",
		"{\"pcrs\": {\"sha256\": {\"7\": []}}}",	 /* no allowed value */
		"{\"pcrs\": {\"sha256\": {\"7\": [\"abcd\"]}}}", /* wrong length */
		"{\"pcrs\": {\"sha256\": {\"7\": [7]}}}",
		"{\"pcrs\": {\"sha256\": {\"7\": [\"%s\"], \"7\": [\"%s\"]}}}", /* duplicate key */
		"{\"pcrs\": {}}",						/* names nothing */
		"{\"pcrs\": ",
	};
	struct verr e;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pcr_policy *p = parse(bad[i], &e);
		if (p != NULL)
			fail_msg("policy %zu accepted: %s", i, bad[i]);
		assert_true(e.code[0] != '\0');
	}
	pcr_policy_free(NULL);
}

static void test_policy_evaluate(void **state)
{
	struct verr e;
	struct pcr_set q;
	struct pcr_policy_failure f[8];
	size_t nf = 0;
	struct pcr_policy *p =
		parse("{\"pcrs\": {\"sha256\": {\"0\": [\"%s\", \"%s\"], \"7\": [\"%s\"]}}}", &e);

	(void)state;
	assert_non_null(p);
	memset(&q, 0, sizeof(q));
	q.nbanks = 1;
	q.bank[0].alg = 0x000b;
	q.bank[0].mask = 0x81;
	memset(q.bank[0].v[0], 0xbb, 32); /* the second allowed value */
	memset(q.bank[0].v[7], 0xaa, 32);
	assert_int_equal(pcr_policy_evaluate(p, &q, NULL, &e), 0);
	/* PCR 7 wrong and PCR 0 not covered: one reason each */
	memset(q.bank[0].v[7], 0xcc, 32);
	q.bank[0].mask = 0x80;
	verr_clear(&e);
	assert_int_equal(pcr_policy_evaluate_report(p, &q, NULL, f, 8, &nf, &e), -1);
	assert_int_equal(nf, 2);
	assert_string_equal(f[0].code, "pcr-not-quoted");
	assert_int_equal(f[0].pcr, 0);
	assert_string_equal(f[1].code, "pcr-mismatch");
	assert_int_equal(f[1].pcr, 7);
	assert_string_equal(e.code, "pcr-not-quoted");
	/* a bank the quote does not cover at all */
	q.bank[0].alg = 0x000c;
	verr_clear(&e);
	assert_int_equal(pcr_policy_evaluate(p, &q, NULL, &e), -1);
	assert_string_equal(e.code, "pcr-not-quoted");
	pcr_policy_free(p);
}

static void test_nonce_mem(void **state)
{
	struct nonce_store *s = nonce_store_mem_new(2);
	uint8_t n1[16], n2[16], n3[16];
	struct verr e;

	(void)state;
	assert_non_null(s);
	assert_int_equal(nonce_store_issue(s, n1, sizeof(n1), 1000, 60, NULL), 0);
	assert_int_equal(nonce_store_issue(s, n2, sizeof(n2), 1000, 5, NULL), 0);
	assert_memory_not_equal(n1, n2, 16);
	/* full: the store refuses rather than dropping a live nonce */
	verr_clear(&e);
	assert_int_equal(nonce_store_issue(s, n3, sizeof(n3), 1000, 60, &e), -1);
	verr_clear(&e);
	assert_int_equal(nonce_store_consume(s, n1, 16, 1010, &e), 0);
	verr_clear(&e);
	assert_int_equal(nonce_store_consume(s, n1, 16, 1010, &e), -1);
	assert_string_equal(e.code, "nonce-unknown");
	verr_clear(&e);
	assert_int_equal(nonce_store_consume(s, n2, 16, 1005, &e), -1);
	assert_string_equal(e.code, "nonce-expired");
	verr_clear(&e);
	assert_int_equal(nonce_store_consume(s, n2, 16, 1000, &e), -1);
	assert_string_equal(e.code, "nonce-unknown");
	verr_clear(&e);
	assert_int_equal(nonce_store_issue(s, n3, 4, 1000, 60, &e), -1);
	assert_string_equal(e.code, "nonce-length");
	nonce_store_free(s);
	nonce_store_free(NULL);
}

static void test_clock(void **state)
{
	TPMS_ATTEST a, b;
	enum quote_epoch ep;
	struct verr e;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.clockInfo.clock = 5000;
	a.clockInfo.resetCount = 3;
	a.clockInfo.restartCount = 1;
	b = a;
	b.clockInfo.clock = 6000;
	assert_int_equal(quote_clock_compare(&a, &b, &ep, NULL), 0);
	assert_int_equal(ep, QUOTE_SAME_BOOT);
	b.clockInfo.restartCount = 2;
	assert_int_equal(quote_clock_compare(&a, &b, &ep, NULL), 0);
	assert_int_equal(ep, QUOTE_RESUMED);
	/* a reboot: clock restarts (swtpm) and is not compared */
	b.clockInfo.resetCount = 4;
	b.clockInfo.restartCount = 0;
	b.clockInfo.clock = 10;
	assert_int_equal(quote_clock_compare(&a, &b, &ep, NULL), 0);
	assert_int_equal(ep, QUOTE_REBOOTED);
	/* rollbacks */
	verr_clear(&e);
	assert_int_equal(quote_clock_compare(&b, &a, &ep, &e), -1);
	assert_string_equal(e.code, "clock-rollback");
	b = a;
	b.clockInfo.clock = 4999;
	verr_clear(&e);
	assert_int_equal(quote_clock_compare(&a, &b, &ep, &e), -1);
	b = a;
	b.clockInfo.restartCount = 0;
	b.clockInfo.clock = 9999;
	verr_clear(&e);
	assert_int_equal(quote_clock_compare(&a, &b, &ep, &e), -1);
}

static void test_kdfa_properties(void **state)
{
	uint8_t k[32] = {1}, a[64], b[64], c[16];

	(void)state;
	/* longer output extends shorter output (counter mode) */
	assert_int_equal(kdf_a(0x000b, k, 32, "STORAGE", (const uint8_t *)"n", 1, NULL, 0, 512, a),
			 0);
	assert_int_equal(kdf_a(0x000b, k, 32, "STORAGE", (const uint8_t *)"n", 1, NULL, 0, 512, b),
			 0);
	assert_memory_equal(a, b, 64);
	assert_int_equal(kdf_a(0x000b, k, 32, "STORAGE", (const uint8_t *)"n", 1, NULL, 0, 128, c),
			 0);
	/* the bit count is an input, so 128 bits are not a prefix of 512 */
	assert_memory_not_equal(a, c, 16);
	assert_int_equal(kdf_a(0x000b, k, 32, "INTEGRITY", NULL, 0, NULL, 0, 128, b), 0);
	assert_memory_not_equal(b, c, 16);
	/* odd bit counts clear the excess high bits */
	assert_int_equal(kdf_a(0x000b, k, 32, "X", NULL, 0, NULL, 0, 12, c), 0);
	assert_int_equal(c[0] & 0xf0, 0);
	assert_int_equal(kdf_a(0x0099, k, 32, "X", NULL, 0, NULL, 0, 128, c), -1);
	assert_int_equal(kdf_e(0x000c, k, 32, "IDENTITY", k, 4, k, 4, 384, a), 0);
}

static void test_appraisal_jwt(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
	char *pem_priv, *pem_pub, *tok = NULL;
	long lpriv, lpub;
	struct appraisal ap;
	struct verr e = {0};
	jwt_t *j = NULL;

	(void)state;
	assert_int_equal(PEM_write_bio_PrivateKey(priv, key, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(PEM_write_bio_PUBKEY(pub, key), 1);
	lpriv = BIO_get_mem_data(priv, &pem_priv);
	lpub = BIO_get_mem_data(pub, &pem_pub);
	appraisal_init(&ap);
	appraisal_pass(&ap, "quote-signature");
	appraisal_pass(&ap, "pcr-policy");
	ap.verdict = "pass";
	ap.evidence_time = 1700000000;
	assert_int_equal(appraisal_sign(&ap, "dev-\"1", (uint8_t *)pem_priv, (size_t)lpriv,
					1700000001, 600, &tok, &e),
			 0);
	/* the relying party's view: verify with the public key only */
	assert_int_equal(jwt_decode(&j, tok, (unsigned char *)pem_pub, (int)lpub), 0);
	assert_string_equal(jwt_get_grant(j, "sub"), "dev-\"1");
	assert_string_equal(jwt_get_grant(j, "verdict"), "pass");
	assert_int_equal(jwt_get_grant_int(j, "exp"), 1700000601);
	assert_int_equal(jwt_get_grant_int(j, "evidence_time"), 1700000000);
	char *checks = jwt_get_grants_json(j, "checks");
	assert_non_null(checks);
	assert_non_null(strstr(checks, "pcr-policy"));
	free(checks);
	jwt_free(j);
	j = NULL;
	/* a flipped payload character breaks the signature */
	char *dot = strchr(tok, '.');
	dot[3] = dot[3] == 'A' ? 'B' : 'A';
	assert_int_not_equal(jwt_decode(&j, tok, (unsigned char *)pem_pub, (int)lpub), 0);
	jwt_free(j);
	free(tok);
	/* a key that is not ES256-capable */
	tok = NULL;
	assert_int_equal(appraisal_sign(&ap, "d", (const uint8_t *)"nonsense", 8, 1, 1, &tok, &e),
			 -1);
	assert_null(tok);
	appraisal_free(&ap);
	BIO_free(priv);
	BIO_free(pub);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_parse_errors), cmocka_unit_test(test_policy_evaluate),
		cmocka_unit_test(test_nonce_mem),	    cmocka_unit_test(test_clock),
		cmocka_unit_test(test_kdfa_properties),	    cmocka_unit_test(test_appraisal_jwt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
