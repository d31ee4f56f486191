/* acme/ari.c: RFC 9773 certificate identifiers (parse, build, round trip,
 * the leading zero byte of a high serial, refusals) and the suggested
 * renewal window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acme/ari.h"

static const uint8_t AKI[] = {0x69, 0x88, 0x5b, 0x6b, 0x87, 0x46, 0x40, 0x41, 0xe1, 0xb3,
			      0x7b, 0x84, 0x7b, 0xa0, 0xae, 0x2c, 0xde, 0x01, 0xc8, 0xd4};

static void test_rfc_example(void **state)
{
	(void)state;
	uint8_t aki[ACME_ARI_AKI_MAX];
	size_t n;
	char serial[33];

	/* RFC 9773 section 4.1's example: serial 0x0087654321 (a leading
	 * zero byte before the high bit). */
	assert_int_equal(acme_ari_parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", aki, &n, serial), 0);
	assert_int_equal(n, sizeof AKI);
	assert_memory_equal(aki, AKI, sizeof AKI);
	assert_string_equal(serial, "00000000000000000000000087654321");
}

static void test_round_trip(void **state)
{
	(void)state;
	const char *serials[] = {
		"ff000000000000000000000000000001", "7f000000000000000000000000000001",
		"00000000000000000000000000000080", "0000000000000000000000000000007f"};
	char id[256], back[33];
	uint8_t aki[ACME_ARI_AKI_MAX];
	size_t n;

	for (size_t i = 0; i < sizeof serials / sizeof serials[0]; i++) {
		assert_int_equal(acme_ari_cert_id(AKI, sizeof AKI, serials[i], id, sizeof id), 0);
		assert_int_equal(acme_ari_parse(id, aki, &n, back), 0);
		assert_string_equal(back, serials[i]);
	}
	/* DER: a high first byte gets a zero byte; a low one none. */
	assert_int_equal(acme_ari_cert_id(AKI, sizeof AKI, serials[0], id, sizeof id), 0);
	assert_string_equal(strchr(id, '.'), ".AP8AAAAAAAAAAAAAAAAAAAE");
	assert_int_equal(acme_ari_cert_id(AKI, sizeof AKI, serials[3], id, sizeof id), 0);
	assert_string_equal(strchr(id, '.'), ".fw");
	/* A serial without its leading zero byte is accepted too. */
	assert_int_equal(acme_ari_parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.fw", aki, &n, back), 0);
	assert_int_equal(acme_ari_cert_id(AKI, sizeof AKI, "nothex", id, sizeof id), -1);
	assert_int_equal(acme_ari_cert_id(AKI, sizeof AKI, serials[0], id, 10), -1);
}

static void test_refused(void **state)
{
	(void)state;
	const char *bad[] = {
		"",
		".",
		"aYhba4dGQEHhs3uEe6CuLN4ByNQ",			       /* no serial */
		"aYhba4dGQEHhs3uEe6CuLN4ByNQ.",			       /* empty serial */
		".AIdlQyE",					       /* empty AKI */
		"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE.AA",	       /* three parts */
		"aYhba4dGQEHhs3uEe6CuLN4ByNQ=.AIdlQyE",		       /* padding */
		"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdl+yE",		       /* base64, not base64url */
		"aYhba4dGQEHhs3uEe6CuLN4ByNQ.gA",		       /* negative */
		"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AAAA",		       /* zero */
		"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AQEBAQEBAQEBAQEBAQEBAQE", /* 17 bytes */
	};
	uint8_t aki[ACME_ARI_AKI_MAX];
	size_t n;
	char serial[33];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(acme_ari_parse(bad[i], aki, &n, serial), -1);
}

static void test_window(void **state)
{
	(void)state;
	long long start, end;
	long retry;

	acme_ari_window(1000, 1000 + 7 * 86400, 0, 2000, &start, &end, &retry);
	assert_int_equal(start, 1000 + 7 * 86400 * 2 / 3);
	assert_int_equal(end, 1000 + 7 * 86400 * 5 / 6);
	assert_int_equal(retry, 21600); /* capped at 6 h */
	acme_ari_window(0, 6 * 3600, 0, 10, &start, &end, &retry);
	assert_int_equal(start, 4 * 3600);
	assert_int_equal(retry, 6 * 3600 / 20);
	acme_ari_window(0, 600, 0, 10, &start, &end, &retry);
	assert_int_equal(retry, 60); /* at least a minute */
	acme_ari_window(0, 7 * 86400, 1, 5000, &start, &end, &retry);
	assert_true(start < end && end < 5000); /* revoked: renew now */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
