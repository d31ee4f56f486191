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
#include "verifier/eventlog.h"
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
		"{\"secureBoot\": \"yes\"}",
		"{\"secureBoot\": false}", /* names nothing */
		"{\"forbiddenEvents\": {\"sha256\": {\"8\": [\"abcd\"]}}}",
		"{\"requiredEvents\": {\"sha257\": {\"8\": [\"%s\"]}}}",
		"{\"requiredEvents\": {\"sha256\": {\"8\": []}}}",
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

/* A crypto-agile log (SHA-256 only) of n events: PCR, type, data, and the
 * digest (SHA-256 of the data unless dig is given). */
struct ev {
	uint32_t pcr, type;
	const uint8_t *data;
	uint32_t len;
	const uint8_t *dig;
};

static size_t put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return 4;
}

static size_t mklog(uint8_t *b, const struct ev *ev, size_t n)
{
	static const uint8_t spec[] = "Spec ID Event03\0\0\0\0\0\0\2\0\2\1\0\0\0\x0b\0\x20\0\0";
	size_t o = 0;

	o += put32(b + o, 0);
	o += put32(b + o, 3);
	memset(b + o, 0, 20);
	o += 20;
	o += put32(b + o, sizeof spec - 1);
	memcpy(b + o, spec, sizeof spec - 1);
	o += sizeof spec - 1;
	for (size_t i = 0; i < n; i++) {
		o += put32(b + o, ev[i].pcr);
		o += put32(b + o, ev[i].type);
		o += put32(b + o, 1);
		b[o++] = 0x0b;
		b[o++] = 0;
		if (ev[i].dig)
			memcpy(b + o, ev[i].dig, 32);
		else
			EVP_Digest(ev[i].data, ev[i].len, b + o, NULL, EVP_sha256(), NULL);
		o += 32;
		o += put32(b + o, ev[i].len);
		memcpy(b + o, ev[i].data, ev[i].len);
		o += ev[i].len;
	}
	return o;
}

/* UEFI_VARIABLE_DATA for EFI_GLOBAL_VARIABLE "SecureBoot" = v (name as
 * given, so a look-alike can be made). */
static uint32_t sb_data(uint8_t *d, const char *name, uint8_t v)
{
	static const uint8_t guid[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
					 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
	size_t n = strlen(name), o = 0;

	memcpy(d, guid, 16);
	o = 16;
	memset(d + o, 0, 16);
	d[o] = (uint8_t)n;
	d[o + 8] = 1;
	o += 16;
	for (size_t i = 0; i < n; i++) {
		d[o++] = (uint8_t)name[i];
		d[o++] = 0;
	}
	d[o++] = v;
	return (uint32_t)o;
}

/* Evaluates policy fmt over log (replayed, so every PCR it extends is
 * quoted as replayed); returns the first failure's code or "". */
static const char *judge(const char *fmt, const uint8_t *log, size_t len, uint32_t mask)
{
	static char code[24];
	struct pcr_policy_failure f[4];
	struct verr e;
	struct pcr_set q;
	size_t nf = 0;
	struct pcr_policy *p = parse(fmt, &e);
	struct eventlog *l = eventlog_parse(log, len, &e);

	assert_non_null(p);
	assert_non_null(l);
	memcpy(&q, &l->replay, sizeof q);
	q.bank[0].mask = mask;
	code[0] = '\0';
	if (pcr_policy_evaluate_report(p, &q, l, f, 4, &nf, &e) != 0)
		snprintf(code, sizeof code, "%s", f[0].code);
	eventlog_free(l);
	pcr_policy_free(p);
	return code;
}

static void test_policy_event_rules(void **state)
{
	static uint8_t log[2048], on[64], off[64], fake[64], k[] = "vmlinuz", g[] = "grub";
	uint8_t dk[32], doff[32];
	uint32_t lon = sb_data(on, "SecureBoot", 1), loff = sb_data(off, "SecureBoot", 0);
	uint32_t lfake = sb_data(fake, "SecureBooT", 1);
	struct ev boot[] = {
		{7, 0x80000001u, on, lon, NULL}, {8, 0x0d, g, 4, NULL}, {8, 0x0d, k, 7, NULL}};
	char hex[65], pol[512];
	size_t n;

	(void)state;
	EVP_Digest(k, 7, dk, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", dk[i]);
	n = mklog(log, boot, 3);
	snprintf(pol, sizeof pol,
		 "{\"requiredEvents\": {\"sha256\": {\"8\": [\"%s\"]}}, \"secureBoot\": true}",
		 hex);
	assert_string_equal(judge(pol, log, n, 0x180), "");
	assert_string_equal(judge(pol, log, n, 0x080), "pcr-not-quoted");
	snprintf(pol, sizeof pol, "{\"forbiddenEvents\": {\"sha256\": {\"8\": [\"%s\"]}}}", hex);
	assert_string_equal(judge(pol, log, n, 0x180), "event-forbidden");
	assert_string_equal(
		judge("{\"requiredEvents\": {\"sha256\": {\"8\": [\"%s\"]}}}", log, n, 0x180),
		"event-missing");
	assert_string_equal(
		judge("{\"forbiddenEvents\": {\"sha256\": {\"8\": [\"%s\"]}}}", log, n, 0x180), "");
	/* secure boot: off last, a look-alike name, data that lies about its digest */
	struct ev turned_off[] = {{7, 0x80000001u, on, lon, NULL},
				  {7, 0x80000001u, off, loff, NULL}};
	n = mklog(log, turned_off, 2);
	assert_string_equal(judge("{\"secureBoot\": true}", log, n, 0x80), "secureboot-off");
	struct ev lookalike[] = {{7, 0x80000001u, fake, lfake, NULL}};
	n = mklog(log, lookalike, 1);
	assert_string_equal(judge("{\"secureBoot\": true}", log, n, 0x80), "secureboot-off");
	EVP_Digest(off, loff, doff, NULL, EVP_sha256(), NULL);
	struct ev lying[] = {{7, 0x80000001u, on, lon, doff}};
	n = mklog(log, lying, 1);
	assert_string_equal(judge("{\"secureBoot\": true}", log, n, 0x80), "secureboot-off");
	struct ev other_type[] = {{7, 0x0d, on, lon, NULL}};
	n = mklog(log, other_type, 1);
	assert_string_equal(judge("{\"secureBoot\": true}", log, n, 0x80), "secureboot-off");
	/* no log at all */
	{
		struct verr e;
		struct pcr_set q;
		struct pcr_policy_failure f[2];
		size_t nf = 0;
		struct pcr_policy *p = parse("{\"secureBoot\": true}", &e);
		memset(&q, 0, sizeof q);
		q.nbanks = 1;
		q.bank[0].alg = 0x000b;
		q.bank[0].mask = 0x80;
		assert_int_equal(pcr_policy_evaluate_report(p, &q, NULL, f, 2, &nf, &e), -1);
		assert_string_equal(f[0].code, "eventlog-required");
		pcr_policy_free(p);
	}
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
		cmocka_unit_test(test_policy_parse_errors),
		cmocka_unit_test(test_policy_evaluate),
		cmocka_unit_test(test_policy_event_rules),
		cmocka_unit_test(test_nonce_mem),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_kdfa_properties),
		cmocka_unit_test(test_appraisal_jwt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
