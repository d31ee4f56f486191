/* Unit tests for DPS device SAS tokens against vectors computed with
 * Python's hmac (the formula Microsoft's SDKs use): parsing, the sr variants
 * clients send, signatures, group-derived keys, registration IDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/dps_sas.h"

#define KEY "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=" /* bytes 1..32 */
#define SIG "8L8v3jQRrNod5iIBWaDdbNTeon%2BjN4S3lzCv1WwutUE%3D"
#define SIG_LOWER_ENCODED "meqzN27HZHbP1aaoIbL2EF3qkpVbjMZFvcscpRLwzwM%3D"

static void parses_and_verifies(void **state)
{
	struct dps_sas t;
	const char *why;

	(void)state;
	assert_int_equal(dps_sas_parse("SharedAccessSignature sr=0ne0000ABCD/registrations/dev-01"
				       "&sig=" SIG "&se=1900000000&skn=registration",
				       &t, &why),
			 0);
	assert_int_equal(t.expiry, 1900000000LL);
	assert_string_equal(t.skn, "registration");
	assert_true(dps_sas_signed_with(&t, KEY));
	assert_false(dps_sas_signed_with(&t, "AAAAAAAAAAAAAAAAAAAAAA=="));
	assert_false(dps_sas_signed_with(&t, "not base64"));
	assert_false(dps_sas_signed_with(&t, NULL));
	assert_true(dps_sas_audience_ok(&t, "0ne0000ABCD", "dev-01"));
	assert_true(dps_sas_audience_ok(&t, "0NE0000abcd", "DEV-01"));
	assert_false(dps_sas_audience_ok(&t, "0ne0000ABCD", "dev-02"));
	assert_false(dps_sas_audience_ok(&t, "0ne0000ABCE", "dev-01"));
}

static void sr_as_received(void **state)
{
	struct dps_sas t;
	const char *why;

	(void)state;
	/* The C SDK encodes '/' as %2f and signs the encoded text; no skn. */
	assert_int_equal(
		dps_sas_parse("SharedAccessSignature sr=0ne0000ABCD%2fregistrations%2fdev-01"
			      "&sig=" SIG_LOWER_ENCODED "&se=1900000000",
			      &t, &why),
		0);
	assert_string_equal(t.skn, "");
	assert_true(dps_sas_signed_with(&t, KEY));
	assert_true(dps_sas_audience_ok(&t, "0ne0000ABCD", "dev-01"));
	/* The same signature over the decoded sr does not match. */
	assert_int_equal(dps_sas_parse("SharedAccessSignature sr=0ne0000ABCD/registrations/dev-01"
				       "&sig=" SIG_LOWER_ENCODED "&se=1900000000&skn=",
				       &t, &why),
			 0);
	assert_false(dps_sas_signed_with(&t, KEY));
}

static void refuses_malformed(void **state)
{
	static const char *const bad[] = {
		NULL,
		"",
		"Bearer x",
		"SharedAccessSignature ",
		"SharedAccessSignature sr=a&sig=" SIG,		     /* no se */
		"SharedAccessSignature sig=" SIG "&se=1",	     /* no sr */
		"SharedAccessSignature sr=a&se=1",		     /* no sig */
		"SharedAccessSignature sr=a&sig=" SIG "&se=1x",	     /* se not digits */
		"SharedAccessSignature sr=a&sig=" SIG "&se=",	     /* se empty */
		"SharedAccessSignature sr=a&sig=AAAA&se=1",	     /* sig not 32 bytes */
		"SharedAccessSignature sr=a&sig=%ZZ&se=1",	     /* bad escape */
		"SharedAccessSignature sr=a&sig=" SIG "&se=1&se=2",  /* repeated */
		"SharedAccessSignature sr=a&sig=" SIG "&se=1&foo=2", /* unknown */
		"SharedAccessSignature sr=a&sig=" SIG "&se=1&skn",   /* no '=' */
		"SharedAccessSignature sr=a&sig=" SIG "&se=12345678901234567890", /* too long */
	};
	struct dps_sas t;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		assert_int_equal(dps_sas_parse(bad[i], &t, &why), -1);
		assert_non_null(why);
	}
	/* A decoded sr with a NUL (%00) names no path. */
	assert_int_equal(dps_sas_parse("SharedAccessSignature sr=a%00b&sig=" SIG "&se=1", &t, &why),
			 0);
	assert_false(dps_sas_audience_ok(&t, "a", "b"));
}

static void derives_group_keys(void **state)
{
	char out[DPS_KEY_B64_MAX];

	(void)state;
	assert_int_equal(dps_derive_device_key(KEY, "sensor-7", out), 0);
	assert_string_equal(out, "J7txQ6ZgiMDJW5hBn89v23tE0/pCf08G9uG+TszE75w=");
	assert_int_equal(dps_derive_device_key("!!", "sensor-7", out), -1);
	assert_int_equal(dps_key_generate(out), 0);
	assert_int_equal(strlen(out), 88);
}

static void registration_ids(void **state)
{
	char long_id[DPS_ID_MAX + 2];

	(void)state;
	assert_true(dps_id_valid("dev-01"));
	assert_true(dps_id_valid("a.b_c:d-"));
	assert_false(dps_id_valid(""));
	assert_false(dps_id_valid("dev 01"));
	assert_false(dps_id_valid("dev/01"));
	assert_false(dps_id_valid("dev."));
	memset(long_id, 'a', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = '\0';
	assert_false(dps_id_valid(long_id));
	long_id[DPS_ID_MAX] = '\0';
	assert_true(dps_id_valid(long_id));
}

/* IoT Hub's device audience and the expiry window both protocols share. */
/* The service SAS names the host: as the Host header has it, with or
 * without its port, in any case; nothing more. */
static void service_host_audience(void **state)
{
	struct dps_sas t;
	const char *why;

	(void)state;
	assert_int_equal(
		dps_sas_parse("SharedAccessSignature sr=Dps.Example.NET&sig=" SIG_LOWER_ENCODED
			      "&se=1900000000&skn=owner",
			      &t, &why),
		0);
	assert_true(dps_sas_host_ok(&t, "dps.example.net"));
	assert_true(dps_sas_host_ok(&t, "dps.example.net:8443"));
	assert_false(dps_sas_host_ok(&t, "dps.example.ne"));
	assert_false(dps_sas_host_ok(&t, "other.example.net:8443"));
	assert_false(dps_sas_host_ok(&t, ""));
	assert_false(dps_sas_host_ok(&t, NULL));
	assert_int_equal(
		dps_sas_parse(
			"SharedAccessSignature sr=dps.example.net%3A8443&sig=" SIG_LOWER_ENCODED
			"&se=1900000000&skn=owner",
			&t, &why),
		0);
	assert_true(dps_sas_host_ok(&t, "dps.example.net:8443"));
	assert_false(dps_sas_host_ok(&t, "dps.example.net"));
	assert_int_equal(
		dps_sas_parse(
			"SharedAccessSignature sr=dps.example.net%2Fenrollments&sig=" SIG_LOWER_ENCODED
			"&se=1900000000&skn=owner",
			&t, &why),
		0);
	assert_false(dps_sas_host_ok(&t, "dps.example.net"));
	assert_int_equal(
		dps_sas_parse("SharedAccessSignature sr=%5B%3A%3A1%5D&sig=" SIG_LOWER_ENCODED
			      "&se=1900000000&skn=owner",
			      &t, &why),
		0);
	assert_true(dps_sas_host_ok(&t, "[::1]:8443"));
	assert_false(dps_sas_host_ok(&t, "[::2]:8443"));
}

static void hub_audience_and_expiry(void **state)
{
	static const struct {
		const char *sr, *id; /* id NULL: refused */
	} cases[] = {
		{"hub.example/devices/dev-01", "dev-01"},
		{"hub.example%2Fdevices%2Fdev-01", "dev-01"},
		{"devices/dev-01", "dev-01"},
		{"hub.example%2FDEVICES%2Fa%2520b", "a b"}, /* the ID encoded twice (Node SDK) */
		{"hub.example/devices/", NULL},
		{"hub.example/devices/a/b", NULL},
		{"hub.example%2Fdevices%2Fa%252Fb", "a%2Fb"}, /* no slash smuggled in */
		{"hub.example/registrations/dev-01", NULL},
		{"/devices/dev-01", NULL},
		{"hub.example/devices/bad%zz", NULL},
	};
	struct dps_sas t;
	char id[64], small[4];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&t, 0, sizeof t);
		snprintf(t.sr, sizeof t.sr, "%s", cases[i].sr);
		if (cases[i].id == NULL) {
			assert_int_equal(hub_sas_device_id(&t, id, sizeof id), -1);
		} else {
			assert_int_equal(hub_sas_device_id(&t, id, sizeof id), 0);
			assert_string_equal(id, cases[i].id);
		}
	}
	snprintf(t.sr, sizeof t.sr, "%s", "devices/dev-01");
	assert_int_equal(hub_sas_device_id(&t, small, sizeof small), -1);
	t.expiry = 1000000;
	assert_true(sas_expiry_ok(&t, 1000000));
	assert_true(sas_expiry_ok(&t, 1000000 + DPS_SAS_SKEW));
	assert_false(sas_expiry_ok(&t, 1000000 + DPS_SAS_SKEW + 1));
	assert_false(sas_expiry_ok(&t, 1000000 - DPS_SAS_MAX_TTL - DPS_SAS_SKEW - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_and_verifies),	 cmocka_unit_test(sr_as_received),
		cmocka_unit_test(refuses_malformed),	 cmocka_unit_test(derives_group_keys),
		cmocka_unit_test(registration_ids),	 cmocka_unit_test(hub_audience_and_expiry),
		cmocka_unit_test(service_host_audience),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
