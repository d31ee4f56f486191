/* acme/ order parts: identifier checks (dns, ip, wildcards), the challenge
 * table, the dns-01 digest, and external account binding parsing and MAC
 * checks with HMAC computed here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "acme/eab.h"
#include "acme/order.h"
#include "common/b64.h"

static void ok_ident(const char *type, const char *value, const char *want, bool wild)
{
	struct acme_ident id;
	struct acme_err e = {0};

	assert_int_equal(acme_ident_check(type, value, &id, &e), 0);
	assert_string_equal(id.value, want);
	assert_int_equal(id.wildcard, wild);
}

static void bad_ident(const char *type, const char *value, enum err_code code)
{
	struct acme_ident id;
	struct acme_err e = {0};

	assert_int_equal(acme_ident_check(type, value, &id, &e), -1);
	assert_int_equal(e.code, code);
}

static void test_identifiers(void **state)
{
	char long_label[80], long_name[300];

	(void)state;
	ok_ident("dns", "www.example.com", "www.example.com", false);
	ok_ident("dns", "*.example.com", "example.com", true);
	ok_ident("dns", "xn--bcher-kva.example", "xn--bcher-kva.example", false);
	ok_ident("dns", "a-b.c0.example", "a-b.c0.example", false);
	ok_ident("ip", "192.0.2.1", "192.0.2.1", false);
	ok_ident("ip", "2001:db8::1", "2001:db8::1", false);
	ok_ident("ip", "::ffff:192.0.2.1", "::ffff:192.0.2.1", false);
	bad_ident("email", "a@example.com", ERR_ACME_UNSUPPORTED_IDENTIFIER);
	bad_ident("DNS", "example.com", ERR_ACME_UNSUPPORTED_IDENTIFIER);
	const char *bad_dns[] = {
		"Example.com",	"example.com.", ".example.com", "a..example",  "-a.example",
		"a-.example",	"a_b.example",	"*.*.example",	"a.*.example", "*example.com",
		"*.",		"localhost",	"example.123",	"10.0.0.1",    "",
		"ex ample.com", "exämple.com"};
	for (size_t i = 0; i < sizeof bad_dns / sizeof bad_dns[0]; i++)
		bad_ident("dns", bad_dns[i], ERR_ACME_REJECTED_IDENTIFIER);
	memset(long_label, 'a', 64);
	memcpy(long_label + 64, ".example", 9);
	bad_ident("dns", long_label, ERR_ACME_REJECTED_IDENTIFIER);
	memmove(long_label, long_label + 1, strlen(long_label)); /* 63 is fine */
	ok_ident("dns", long_label, long_label, false);
	memset(long_name, 'a', sizeof long_name);
	for (size_t i = 10; i < 260; i += 10)
		long_name[i] = '.';
	memcpy(long_name + 254, ".example", 9);
	bad_ident("dns", long_name, ERR_ACME_REJECTED_IDENTIFIER);
	const char *bad_ip[] = {"010.0.0.1",	 "1.2.3",	"1.2.3.4.5",
				"256.1.1.1",	 "2001:DB8::1", "2001:db8:0:0:0:0:0:1",
				"[2001:db8::1]", "example.com", ""};
	for (size_t i = 0; i < sizeof bad_ip / sizeof bad_ip[0]; i++)
		bad_ident("ip", bad_ip[i], ERR_ACME_REJECTED_IDENTIFIER);
	/* device-attest-01's identifiers: id["/"OID], serial"/"OID */
	ok_ident("permanent-identifier", "device-1", "device-1", false);
	ok_ident("permanent-identifier", "SN12345/1.3.6.1.4.1.99999.1",
		 "SN12345/1.3.6.1.4.1.99999.1", false);
	ok_ident("hardware-module", "0a1b2c/2.23.133.1.2", "0a1b2c/2.23.133.1.2", false);
	const char *bad_dev[] = {"",	  "a b",  "a/",	  "a/3.1",     "a/1", "a/1..2",
				 "a/1.x", "/1.2", "a\tb", "a/1.2/1.3", "é"};
	for (size_t i = 0; i < sizeof bad_dev / sizeof bad_dev[0]; i++)
		bad_ident("permanent-identifier", bad_dev[i], ERR_ACME_REJECTED_IDENTIFIER);
	bad_ident("hardware-module", "serial-without-oid", ERR_ACME_REJECTED_IDENTIFIER);
	memset(long_name, 'a', 129);
	long_name[129] = '\0';
	bad_ident("permanent-identifier", long_name, ERR_ACME_REJECTED_IDENTIFIER);
	long_name[128] = '\0';
	ok_ident("permanent-identifier", long_name, long_name, false);
}

static void test_challenge_table(void **state)
{
	struct acme_ident dns, wild, ip;
	struct acme_err e;

	(void)state;
	assert_int_equal(acme_ident_check("dns", "a.example", &dns, &e), 0);
	assert_int_equal(acme_ident_check("dns", "*.example.org", &wild, &e), 0);
	assert_int_equal(acme_ident_check("ip", "192.0.2.7", &ip, &e), 0);
	const struct acme_chall_type *h = acme_chall_find("http-01"),
				     *d = acme_chall_find("dns-01"),
				     *t = acme_chall_find("tls-alpn-01");
	assert_non_null(h);
	assert_non_null(d);
	assert_non_null(t);
	const struct acme_chall_type *da = acme_chall_find("device-attest-01");
	struct acme_ident dev;
	assert_non_null(da);
	assert_int_equal(acme_ident_check("permanent-identifier", "device-1", &dev, &e), 0);
	/* a device is proven by device-attest-01 alone, and only a device */
	assert_true(acme_chall_fits(da, &dev) && !acme_chall_fits(h, &dev) &&
		    !acme_chall_fits(d, &dev) && !acme_chall_fits(t, &dev));
	assert_true(!acme_chall_fits(da, &dns) && !acme_chall_fits(da, &ip));
	assert_null(acme_chall_find("device-attest-02"));
	assert_true(acme_chall_fits(h, &dns) && acme_chall_fits(d, &dns) &&
		    acme_chall_fits(t, &dns));
	assert_true(!acme_chall_fits(h, &wild) && acme_chall_fits(d, &wild) &&
		    !acme_chall_fits(t, &wild));
	assert_true(acme_chall_fits(h, &ip) && !acme_chall_fits(d, &ip) && acme_chall_fits(t, &ip));
}

/* device-attest-01 refuses whatever is not a well-formed tpm statement
 * before it looks at any certificate. */
static void attest_bad(const uint8_t *b, size_t n)
{
	struct acme_ident dev;
	struct acme_err e = {0};
	struct acme_chall_target t = {.ident = &dev, .key_authz = "tok.thumb"};

	assert_int_equal(acme_ident_check("permanent-identifier", "device-1", &dev, &e), 0);
	t.att_obj = b;
	t.att_obj_len = n;
	assert_int_equal(acme_chall_device_attest.validate(&t, &e), -1);
	assert_int_equal(e.code, ERR_ACME_BAD_ATTESTATION_STATEMENT);
	assert_null(t.attested_spki);
}

static void test_device_attest_malformed(void **state)
{
	(void)state;
	attest_bad((const uint8_t *)"not cbor", 8);
	attest_bad(NULL, 0);
	attest_bad((const uint8_t *)"\x01", 1); /* 1 */
	attest_bad((const uint8_t *)"\xa0", 1); /* {} */
	attest_bad((const uint8_t *)"\xa1\x63"
				    "fmt\x66packed",
		   12); /* packed */
	attest_bad((const uint8_t *)"\xa1\x63"
				    "fmt\x63tpm",
		   9); /* no attStmt */
	attest_bad((const uint8_t *)"\xa2\x63"
				    "fmt\x63tpm\x67"
				    "attStmt\xa0",
		   18); /* {} */
	attest_bad((const uint8_t *)"\xa2\x63"
				    "fmt\x63tpm\x67"
				    "attStmt\xa1\x63ver\x63"
				    "2.0",
		   26);				    /* no alg, x5c... */
	attest_bad((const uint8_t *)"\xa0\x00", 2); /* trailing bytes */
	attest_bad((const uint8_t *)"\xbf\x63"
				    "fmt\x63tpm",
		   9); /* indefinite, unfinished */
}

static void test_digest(void **state)
{
	char out[64];

	(void)state;
	/* RFC 8555 section 8.4's example key authorization is not given in
	 * full; this is SHA-256("abc") in base64url. */
	assert_int_equal(acme_key_authz_digest_b64("abc", out, sizeof out), 0);
	assert_string_equal(out, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
	assert_int_equal(acme_key_authz_digest_b64("abc", out, 10), -1);
}

static char *b64s(const char *s)
{
	return b64_encode((const uint8_t *)s, strlen(s), 1);
}

/* An EAB JWS over jwk_text, with header hdr_text, MACed with key. */
static json_t *eab_make(const char *hdr_text, const char *jwk_text, const uint8_t *key)
{
	char *p = b64s(hdr_text), *y = b64s(jwk_text), input[1024];
	unsigned char mac[32];
	unsigned int n = 0;
	char *sig;
	json_t *out;

	snprintf(input, sizeof input, "%s.%s", p, y);
	HMAC(EVP_sha256(), key, 32, (const unsigned char *)input, strlen(input), mac, &n);
	sig = b64_encode(mac, n, 1);
	out = json_pack("{s:s, s:s, s:s}", "protected", p, "payload", y, "signature", sig);
	free(p);
	free(y);
	free(sig);
	return out;
}

static void test_eab(void **state)
{
	/* RFC 7638's example key; its thumbprint is known. */
	const char *jwk =
		"{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXE"
		"ps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3o"
		"knjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvzq"
		"Y368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-b"
		"FTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJz"
		"KnqDKgw\"}";
	const char *tp = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
	const char *url = "https://ca.test/acme/new-account";
	uint8_t key[32], other[32];
	struct acme_eab eab;
	struct acme_err e;
	json_t *j;

	(void)state;
	memset(key, 7, sizeof key);
	memset(other, 8, sizeof other);
	j = eab_make(
		"{\"alg\":\"HS256\",\"kid\":\"k1\",\"url\":\"https://ca.test/acme/new-account\"}",
		jwk, key);
	assert_int_equal(acme_eab_parse(j, url, tp, &eab, &e), 0);
	assert_string_equal(eab.kid, "k1");
	assert_int_equal(acme_eab_verify(&eab, key, sizeof key), 0);
	assert_int_equal(acme_eab_verify(&eab, other, sizeof other), -1);
	acme_eab_free(&eab);
	acme_eab_free(&eab); /* idempotent */
	assert_int_equal(acme_eab_parse(j, "https://ca.test/acme/new-order", tp, &eab, &e), -1);
	assert_int_equal(acme_eab_parse(j, url, "someoneelse", &eab, &e), -1);
	json_decref(j);
	const char *bad_hdrs[] = {
		"{\"alg\":\"HS512\",\"kid\":\"k1\",\"url\":\"https://ca.test/acme/new-account\"}",
		"{\"alg\":\"HS256\",\"url\":\"https://ca.test/acme/new-account\"}",
		"{\"alg\":\"HS256\",\"kid\":\"k1\",\"url\":\"https://ca.test/acme/new-account\","
		"\"nonce\":\"x\"}",
		"{\"alg\":\"HS256\",\"kid\":\"\",\"url\":\"https://ca.test/acme/new-account\"}",
		"not json",
	};
	for (size_t i = 0; i < sizeof bad_hdrs / sizeof bad_hdrs[0]; i++) {
		j = eab_make(bad_hdrs[i], jwk, key);
		assert_int_equal(acme_eab_parse(j, url, tp, &eab, &e), -1);
		assert_int_equal(e.code, ERR_ACME_MALFORMED);
		json_decref(j);
	}
	j = json_pack("{s:s, s:s}", "protected", "e30", "payload", "e30");
	assert_int_equal(acme_eab_parse(j, url, tp, &eab, &e), -1);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identifiers), cmocka_unit_test(test_challenge_table),
		cmocka_unit_test(test_digest),	    cmocka_unit_test(test_device_attest_malformed),
		cmocka_unit_test(test_eab),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
