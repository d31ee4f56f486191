/* depot/: manifests (every refusal the format names), the canonical form,
 * Ed25519 keys and signatures, the .opkg container (truncated at every
 * length, trailing bytes, digest mismatch, oversized), package references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/hex.h"
#include "depot/depot.h"

#define DIGEST "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int parse(const char *text, int need_module)
{
	struct depot_manifest m;
	const char *why = NULL;
	int rc = depot_manifest_parse(text, strlen(text), need_module, &m, &why);

	if (rc == 0)
		depot_manifest_free(&m);
	else
		assert_non_null(why);
	return rc;
}

static void test_manifest_good(void **state)
{
	(void)state;
	struct depot_manifest m;
	const char *why = NULL;
	const char *t = "{\"publisher\":\"acme\",\"name\":\"hello\",\"version\":\"1.0.0+b1\","
			"\"module\":\"" DIGEST "\",\"args\":[\"-v\"],\"env\":{\"MODE\":\"x\"},"
			"\"capabilities\":{\"listen\":[8080],\"connect\":[\"db.local:5432\"],"
			"\"dir\":true,\"cpuSeconds\":10}}";

	assert_int_equal(depot_manifest_parse(t, strlen(t), 1, &m, &why), 0);
	assert_string_equal(m.publisher, "acme");
	assert_string_equal(m.version, "1.0.0+b1");
	assert_true(m.has_module);
	assert_int_equal(m.memory_mib, DEPOT_MEMORY_MIB_DEFAULT);
	assert_int_equal(m.cpu_seconds, 10);
	assert_true(m.dir);
	assert_int_equal(m.module[0], 0xe3);
	depot_manifest_free(&m);
	depot_manifest_free(NULL);
	assert_int_equal(parse("{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\"}", 0), 0);
	assert_int_equal(parse("{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\"}", -1), 0);
}

static void test_manifest_bad(void **state)
{
	(void)state;
	static const char *bad[] = {
		"",
		"[]",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\"}", /* no module */
		"{\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST "\"}",
		"{\"publisher\":\"A\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST "\"}",
		"{\"publisher\":\"packages\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\"}",
		"{\"publisher\":\"a\",\"name\":\"-b\",\"version\":\"1\",\"module\":\"" DIGEST "\"}",
		"{\"publisher\":\"a\",\"name\":\"b/c\",\"version\":\"1\",\"module\":\"" DIGEST
		"\"}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"\",\"module\":\"" DIGEST "\"}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":1,\"module\":\"" DIGEST "\"}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"sha256:00\"}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"sha1:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"sha256:"
		"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"x\":1}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"args\":\"-v\"}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"args\":[1]}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"args\":[\"a\\nb\"]}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"env\":[]}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"env\":{\"A-B\":\"x\"}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"env\":{\"A\":1}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":[]}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"listen\":[0]}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"listen\":[65536]}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"listen\":[80.5]}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"connect\":[\"host\"]}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"connect\":[\"host:0\"]}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"connect\":[\"ho st:80\"]}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"dir\":1}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"memoryMiB\":0}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"memoryMiB\":4097}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"cpuSeconds\":0}}",
		"{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\",\"capabilities\":{\"gpu\":true}}",
		"{\"publisher\":\"a\",\"publisher\":\"b\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		"\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (parse(bad[i], 1) == 0)
			fail_msg("accepted bad manifest %zu: %s", i, bad[i]);
	/* module present where build fills it */
	assert_int_equal(
		parse("{\"publisher\":\"a\",\"name\":\"b\",\"version\":\"1\",\"module\":\"" DIGEST
		      "\"}",
		      0),
		-1);
}

static void test_canonical(void **state)
{
	(void)state;
	struct depot_manifest m;
	const char *why;
	const char *t = "{ \"version\" : \"1\", \"name\":\"b\",\n \"publisher\":\"a\","
			"\"env\":{\"Z\":\"\xc3\xa9/\\\"\",\"A\":\"1\"}}";
	size_t n;
	char *c;

	assert_int_equal(depot_manifest_parse(t, strlen(t), 0, &m, &why), 0);
	c = depot_canonical(m.doc, &n);
	assert_non_null(c);
	assert_string_equal(c, "{\"env\":{\"A\":\"1\",\"Z\":\"\xc3\xa9/\\\"\"},\"name\":\"b\","
			       "\"publisher\":\"a\",\"version\":\"1\"}");
	assert_int_equal(n, strlen(c));
	free(c);
	depot_manifest_free(&m);
}

static void test_names(void **state)
{
	(void)state;
	char p[DEPOT_NAME_MAX + 1], n[DEPOT_NAME_MAX + 1], v[DEPOT_NAME_MAX + 1];
	char longname[80];

	assert_int_equal(depot_ref_parse("acme/pkg/hello/1.2.3", p, n, v), 0);
	assert_string_equal(p, "acme");
	assert_string_equal(n, "hello");
	assert_string_equal(v, "1.2.3");
	assert_int_equal(depot_ref_parse("acme/hello/1.2.3", p, n, v), -1);
	assert_int_equal(depot_ref_parse("acme/pkg/hello/1/x", p, n, v), -1);
	assert_int_equal(depot_ref_parse("acme/pkgs/hello/1", p, n, v), -1);
	assert_int_equal(depot_ref_parse("publishers/pkg/hello/1", p, n, v), -1);
	assert_int_equal(depot_ref_parse("acme/pkg//1", p, n, v), -1);
	assert_int_equal(depot_ref_parse(NULL, p, n, v), -1);
	memset(longname, 'a', 65);
	longname[65] = '\0';
	assert_false(depot_name_ok(longname));
	longname[64] = '\0';
	assert_true(depot_name_ok(longname));
	assert_false(depot_name_ok(".a"));
	assert_false(depot_version_ok("1 0"));
	assert_true(depot_version_ok("1.0.0-rc.1+B2"));
}

static EVP_PKEY *keygen(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	return k;
}

/* The twin's desired.app: shape (depot_app_check) and when it applies
 * (depot_app_named). */
static void test_desired_app(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"package\": 7}",
		"{\"package\": \"acme/hello/1\"}",
		"{\"package\": \"acme/pkg/hello/1\", \"extra\": 1}",
		"{\"package\": \"acme/pkg/hello/1\", \"grants\": []}",
		"{\"package\": \"acme/pkg/hello/1\", \"grants\": {\"listen\": [70000]}}",
		"{\"package\": \"acme/pkg/hello/1\", \"grants\": {\"memoryMiB\": 0}}",
		"{\"package\": \"acme/pkg/hello/1\", \"grants\": {\"root\": true}}",
		"{\"grants\": {}}",
		"\"acme/pkg/hello/1\"",
	};
	const char *ref, *why;
	json_t *a;

	(void)state;
	a = json_loads("{\"package\": \"acme/pkg/hello/1.0\", \"grants\": {\"listen\": [8080],"
		       " \"connect\": [\"db:5432\"], \"dir\": true, \"memoryMiB\": 16}}",
		       0, NULL);
	assert_int_equal(depot_app_check(a, &ref, &why), 0);
	assert_string_equal(ref, "acme/pkg/hello/1.0");
	json_decref(a);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		a = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(a);
		assert_int_equal(depot_app_check(a, &ref, &why), -1);
		assert_non_null(why);
		json_decref(a);
	}
	json_t *pkg = json_pack("{s:s}", "package", "acme/pkg/a/1");
	json_t *grants = json_pack("{s:{}}", "grants");
	json_t *free_form = json_pack("{s:s}", "name", "pump");
	json_t *merged = json_pack("{s:s, s:s}", "package", "acme/pkg/a/1", "name", "pump");
	assert_true(depot_app_named(pkg, pkg));
	assert_true(depot_app_named(grants, grants));
	assert_false(depot_app_named(free_form, free_form));
	assert_true(depot_app_named(free_form, merged)); /* changes a depot app */
	assert_false(depot_app_named(json_null(), NULL));
	assert_false(depot_app_named(NULL, merged));
	json_decref(pkg);
	json_decref(grants);
	json_decref(free_form);
	json_decref(merged);
}

static void test_keys(void **state)
{
	(void)state;
	EVP_PKEY *k = keygen(), *other = keygen(), *pub, *ec;
	char id[DEPOT_KEY_ID_LEN + 1], id2[DEPOT_KEY_ID_LEN + 1];
	uint8_t sig[DEPOT_SIG_LEN];
	char *pem = depot_key_pem(k), *pem2;
	const uint8_t msg[] = "{\"a\":1}";

	assert_non_null(pem);
	pub = depot_key_parse(pem, strlen(pem), id);
	assert_non_null(pub);
	assert_int_equal(strlen(id), 64);
	assert_int_equal(depot_sign(k, msg, sizeof msg - 1, sig), 0);
	assert_int_equal(depot_verify(pub, msg, sizeof msg - 1, sig, sizeof sig), 0);
	assert_int_equal(depot_verify(pub, msg, sizeof msg - 2, sig, sizeof sig), -1);
	assert_int_equal(depot_verify(pub, msg, sizeof msg - 1, sig, sizeof sig - 1), -1);
	sig[5] ^= 1;
	assert_int_equal(depot_verify(pub, msg, sizeof msg - 1, sig, sizeof sig), -1);
	pem2 = depot_key_pem(other);
	EVP_PKEY_free(other);
	other = depot_key_parse(pem2, strlen(pem2), id2);
	assert_string_not_equal(id, id2);
	sig[5] ^= 1;
	assert_int_equal(depot_verify(other, msg, sizeof msg - 1, sig, sizeof sig), -1);
	/* not a key, not Ed25519 */
	assert_null(depot_key_parse("hello", 5, id));
	assert_null(depot_key_parse(pem, 20, id));
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	free(pem2);
	pem2 = depot_key_pem(ec);
	assert_non_null(pem2);
	assert_null(depot_key_parse(pem2, strlen(pem2), id));
	assert_int_equal(depot_sign(ec, msg, 1, sig), -1);
	free(pem2);
	free(pem);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
}

/* A container of module "hello" signed by k, in *out (malloc'd). */
static size_t make_opkg(EVP_PKEY *k, const char *module, uint8_t **out)
{
	uint8_t digest[32], sig[DEPOT_SIG_LEN];
	char hex[65], text[256], *canon;
	struct depot_manifest m;
	const char *why;
	size_t n, len;
	FILE *f;

	SHA256((const uint8_t *)module, strlen(module), digest);
	hex_encode(digest, 32, hex);
	snprintf(text, sizeof text,
		 "{\"version\":\"1\",\"publisher\":\"a\",\"name\":\"b\",\"module\":\"sha256:%s\"}",
		 hex);
	assert_int_equal(depot_manifest_parse(text, strlen(text), 1, &m, &why), 0);
	canon = depot_canonical(m.doc, &n);
	assert_int_equal(depot_sign(k, (uint8_t *)canon, n, sig), 0);
	f = open_memstream((char **)out, &len);
	assert_int_equal(
		depot_opkg_write(f, canon, n, sig, (const uint8_t *)module, strlen(module)), 0);
	fclose(f);
	free(canon);
	depot_manifest_free(&m);
	return len;
}

static void test_opkg(void **state)
{
	(void)state;
	EVP_PKEY *k = keygen();
	struct depot_opkg o;
	struct depot_manifest m;
	const char *why;
	uint8_t *p = NULL, *q;
	size_t len = make_opkg(k, "hello", &p);

	assert_int_equal(depot_opkg_read(p, len, 1024, &o, &m, &why), DEPOT_OK);
	assert_int_equal(o.module_len, 5);
	assert_memory_equal(o.module, "hello", 5);
	assert_int_equal(depot_verify(k, o.manifest, o.manifest_len, o.sig, DEPOT_SIG_LEN), 0);
	depot_manifest_free(&m);
	/* every truncation is refused as such, and reads nothing past the end */
	for (size_t i = 0; i < len; i++) {
		q = malloc(i ? i : 1);
		memcpy(q, p, i);
		enum depot_status st = depot_opkg_read(q, i, 1024, &o, &m, &why);
		if (st != DEPOT_TRUNCATED)
			fail_msg("cut at %zu: status %d", i, st);
		free(q);
	}
	/* one byte more */
	q = malloc(len + 1);
	memcpy(q, p, len);
	q[len] = 0;
	assert_int_equal(depot_opkg_read(q, len + 1, 1024, &o, &m, &why), DEPOT_BAD_FORMAT);
	free(q);
	/* over the limit */
	assert_int_equal(depot_opkg_read(p, len, 4, &o, &m, &why), DEPOT_TOO_LARGE);
	/* a module byte changed: digest mismatch */
	p[len - 1] ^= 1;
	assert_int_equal(depot_opkg_read(p, len, 1024, &o, &m, &why), DEPOT_DIGEST_MISMATCH);
	p[len - 1] ^= 1;
	/* a short body that is not even the magic's start */
	assert_int_equal(depot_opkg_read((const uint8_t *)"hello\n", 6, 1024, &o, &m, &why),
			 DEPOT_BAD_FORMAT);
	/* a bad magic, format version */
	p[0] = 'X';
	assert_int_equal(depot_opkg_read(p, len, 1024, &o, &m, &why), DEPOT_BAD_FORMAT);
	p[0] = 'O';
	p[7] = 2;
	assert_int_equal(depot_opkg_read(p, len, 1024, &o, &m, &why), DEPOT_BAD_FORMAT);
	p[7] = 1;
	/* a manifest in non-canonical form (a space) is refused */
	p[12] = ' ';
	assert_int_equal(depot_opkg_read(p, len, 1024, &o, &m, &why), DEPOT_BAD_MANIFEST);
	free(p);
	EVP_PKEY_free(k);
}

static void test_range(void **state)
{
	(void)state;
	uint64_t a, n;
	static const char *bad[] = {NULL,	 "bytes=",     "bytes=-",
				    "bytes=5-4", "bytes=100-", "bytes=0-1,3-4",
				    "items=0-1", "bytes= 0-1", "bytes=-0",
				    "bytes=a-b", "bytes=1-2x", "bytes=99999999999999999999-"};

	assert_int_equal(depot_range_parse("bytes=0-9", 100, &a, &n), 0);
	assert_true(a == 0 && n == 10);
	assert_int_equal(depot_range_parse("bytes=90-", 100, &a, &n), 0);
	assert_true(a == 90 && n == 10);
	assert_int_equal(depot_range_parse("bytes=90-1000", 100, &a, &n), 0);
	assert_true(a == 90 && n == 10);
	assert_int_equal(depot_range_parse("bytes=-10", 100, &a, &n), 0);
	assert_true(a == 90 && n == 10);
	assert_int_equal(depot_range_parse("bytes=-1000", 100, &a, &n), 0);
	assert_true(a == 0 && n == 100);
	assert_int_equal(depot_range_parse("bytes=99-99", 100, &a, &n), 0);
	assert_true(a == 99 && n == 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (depot_range_parse(bad[i], 100, &a, &n) == 0)
			fail_msg("accepted range %s", bad[i]);
	assert_int_equal(depot_range_parse("bytes=0-", 0, &a, &n), -1);

	assert_true(depot_etag_match("\"x\"", "\"x\""));
	assert_true(depot_etag_match("\"a\", W/\"x\"", "\"x\""));
	assert_true(depot_etag_match("*", "\"x\""));
	assert_false(depot_etag_match("\"xy\"", "\"x\""));
	assert_false(depot_etag_match("\"a\",\"b\"", "\"x\""));
	assert_false(depot_etag_match(NULL, "\"x\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_good), cmocka_unit_test(test_manifest_bad),
		cmocka_unit_test(test_canonical),     cmocka_unit_test(test_names),
		cmocka_unit_test(test_keys),	      cmocka_unit_test(test_opkg),
		cmocka_unit_test(test_range),	      cmocka_unit_test(test_desired_app),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
