/* Unit tests for the EK/AK binding with real swtpm evidence (fixtures/):
 * activation gates quotes, one answer per challenge, no AK substitution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "verifier/binding.h"

#define FX "tests/unit/verifier/fixtures/"

struct blob {
	uint8_t b[4096];
	size_t n;
};

static struct blob fx(const char *name)
{
	struct blob x = {.n = 0};
	FILE *f = fopen(name, "rb");
	if (f == NULL)
		fail_msg("fixture %s missing (run from the repository root)", name);
	x.n = fread(x.b, 1, sizeof(x.b), f);
	fclose(f);
	return x;
}

static const uint8_t nonce[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static int verify(struct binding *b, const char *q, struct verr *e)
{
	char p[256];
	struct blob m, s, r;
	struct pcr_set *set = calloc(1, sizeof(*set));
	struct quote_result *res = calloc(1, sizeof(*res));
	int rc = -1;

	snprintf(p, sizeof(p), FX "%s.msg", q);
	m = fx(p);
	snprintf(p, sizeof(p), FX "%s.sig", q);
	s = fx(p);
	snprintf(p, sizeof(p), FX "%s.pcrs", q);
	r = fx(p);
	verr_clear(e);
	if (set != NULL && res != NULL && pcr_set_read_tpm2tools(r.b, r.n, NULL, set, e) == 0) {
		struct quote_input in = {m.b, m.n, s.b, s.n, set, nonce, sizeof(nonce), NULL, 0};
		rc = binding_verify_quote(b, &in, res, e);
	}
	free(set);
	free(res);
	return rc;
}

static void test_binding_lifecycle(void **state)
{
	struct blob ek = fx(FX "ek_rsa.pub"), ak = fx(FX "ak_rsa.pub"), ak2 = fx(FX "ak_rsa2.pub"),
		    ekecc = fx(FX "ek_ecc.pub");
	uint8_t secret[BINDING_SECRET_LEN], cred[4096];
	size_t credn = 0;
	struct verr e = {0};
	struct binding *b = binding_new(ek.b, ek.n, ak.b, ak.n, &e);

	(void)state;
	assert_non_null(b);
	memset(secret, 0x5a, sizeof(secret));
	/* no quote before activation */
	assert_int_equal(verify(b, "quote", &e), -1);
	assert_string_equal(e.code, "binding-inactive");
	verr_clear(&e);
	assert_int_equal(binding_activate(b, secret, sizeof(secret), &e), -1);
	assert_string_equal(e.code, "activation-no-challenge");
	/* a wrong answer spends the challenge; the right one then fails too */
	verr_clear(&e);
	assert_int_equal(binding_challenge(b, secret, cred, sizeof(cred), &credn, &e), 0);
	assert_true(credn > 8 && cred[0] == 0xba && cred[3] == 0xde);
	secret[0] ^= 1;
	assert_int_equal(binding_activate(b, secret, sizeof(secret), &e), -1);
	assert_string_equal(e.code, "activation-failed");
	secret[0] ^= 1;
	verr_clear(&e);
	assert_int_equal(binding_activate(b, secret, sizeof(secret), &e), -1);
	assert_string_equal(e.code, "activation-no-challenge");
	/* a fresh challenge, answered right in "another process" that resumes
	 * it from the exported hash, activates */
	uint8_t pending[32];
	verr_clear(&e);
	assert_int_equal(binding_pending(b, pending), -1);
	assert_int_equal(binding_challenge(b, NULL, cred, sizeof(cred), &credn, &e), 0);
	assert_int_equal(binding_challenge(b, secret, cred, sizeof(cred), &credn, &e), 0);
	assert_int_equal(binding_pending(b, pending), 0);
	binding_free(b);
	b = binding_resume(ek.b, ek.n, ak.b, ak.n, pending, &e);
	assert_non_null(b);
	assert_int_equal(binding_activate(b, secret, sizeof(secret), &e), 0);
	assert_true(binding_is_active(b));
	/* fixed: no new challenge, and no other AK */
	verr_clear(&e);
	assert_int_equal(binding_challenge(b, NULL, cred, sizeof(cred), &credn, &e), -1);
	assert_string_equal(e.code, "binding-fixed");
	assert_int_equal(verify(b, "quote", &e), 0);
	assert_int_equal(verify(b, "quote2", &e), -1); /* signed by the other AK */
	assert_string_equal(e.code, "sig-invalid");
	verr_clear(&e);
	assert_int_equal(binding_check_pair(b, ek.b, ek.n, ak.b, ak.n, &e), 0);
	assert_int_equal(binding_check_pair(b, ek.b, ek.n, ak2.b, ak2.n, &e), -1);
	assert_string_equal(e.code, "ak-substituted");
	verr_clear(&e);
	assert_int_equal(binding_check_pair(b, ekecc.b, ekecc.n, ak.b, ak.n, &e), -1);
	assert_string_equal(e.code, "ek-mismatch");
	binding_free(b);
}

static void test_binding_restore_and_substitution(void **state)
{
	struct blob ek = fx(FX "ek_rsa.pub"), ak2 = fx(FX "ak_rsa2.pub"),
		    ekecc = fx(FX "ek_ecc.pub");
	struct verr e = {0};
	struct binding *b;

	(void)state;
	/* the other AK, restored as bound to its EK, verifies its own quote */
	b = binding_restore(ek.b, ek.n, ak2.b, ak2.n, &e);
	assert_non_null(b);
	assert_int_equal(verify(b, "quote2", &e), 0);
	binding_free(b);
	/* the same AK claimed under another EK: the quote's qualifiedSigner
	 * names its real parent, so the substitution fails */
	b = binding_restore(ekecc.b, ekecc.n, ak2.b, ak2.n, &e);
	assert_non_null(b);
	assert_int_equal(verify(b, "quote2", &e), -1);
	assert_string_equal(e.code, "quote-signer");
	binding_free(b);
	/* an EK public area where the AK should be */
	verr_clear(&e);
	assert_null(binding_new(ek.b, ek.n, ek.b, ek.n, &e));
	assert_string_equal(e.code, "ak-not-sign");
	binding_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_lifecycle),
		cmocka_unit_test(test_binding_restore_and_substitution),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
