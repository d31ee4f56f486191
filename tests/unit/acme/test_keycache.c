/* server/acme_keycache.c: two accounts whose ids fall in one set both stay
 * cached (direct-mapped, they evicted each other on every request), a third
 * replaces the one used less recently, and a changed key replaces the
 * account's own slot. Includes the .c for set_of(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/acme_keycache.c"

static const char *K1 =
	"{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"Zc5M2ZA3k__6kxZfPLrb7hBMklSoHXvyGNFoB"
	"L5xF0I\",\"y\":\"5EPUiRsUPyYgsfEOzB2sgAVTFv26oqMl_UhlNrzKkvQ\"}";
static const char *K2 =
	"{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"fk6Ai4UQsG6tR9modErIgDGe_2OuVZeYANCf0"
	"r-cLOI\",\"y\":\"xwF8WVSxE_W37Xr8EFPkfUWHxjT_MJUStMrlec0ev2o\"}";

/* Fills ids[0..n) with account ids of one set. */
static void same_set(char ids[][16], int n)
{
	int found = 1;

	snprintf(ids[0], 16, "acct0");
	for (int i = 1; found < n && i < 1000000; i++) {
		char id[16];
		snprintf(id, sizeof id, "acct%d", i);
		if (set_of(id) == set_of(ids[0]))
			snprintf(ids[found++], 16, "%s", id);
	}
	assert_int_equal(found, n);
}

static void cache(const char *id, const char *text)
{
	struct acme_jwk k = {0};
	struct acme_err e;

	assert_int_equal(acme_keycache_parse(id, text, &k, &e), 0);
	acme_jwk_free(&k);
}

/* The text cached for id, or NULL (free()). */
static char *cached(const char *id)
{
	struct acme_jwk k = {0};
	char *text = NULL;

	if (acme_keycache_get(id, &k, &text) != 0)
		return NULL;
	assert_non_null(k.pkey);
	acme_jwk_free(&k);
	return text;
}

static void expect_cached(const char *id, const char *text)
{
	char *t = cached(id);

	assert_non_null(t);
	assert_string_equal(t, text);
	free(t);
}

static void test_two_in_one_set(void **state)
{
	char ids[3][16];

	(void)state;
	same_set(ids, 3);
	cache(ids[0], K1);
	cache(ids[1], K2);
	expect_cached(ids[0], K1);
	expect_cached(ids[1], K2);
	/* ids[1] used last: a third account of the set replaces ids[0]. */
	cache(ids[2], K1);
	assert_null(cached(ids[0]));
	expect_cached(ids[1], K2);
	expect_cached(ids[2], K1);
	acme_keycache_clear();
}

static void test_changed_key_keeps_its_slot(void **state)
{
	char ids[2][16];

	(void)state;
	same_set(ids, 2);
	cache(ids[0], K1);
	cache(ids[1], K1);
	expect_cached(ids[0], K1); /* ids[1] is now the one used less recently */
	cache(ids[0], K2);	   /* keyChange: its own slot, not ids[1]'s */
	expect_cached(ids[0], K2);
	expect_cached(ids[1], K1);
	acme_keycache_clear();
	assert_null(cached(ids[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_in_one_set),
		cmocka_unit_test(test_changed_key_keeps_its_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
