/* Allocation-failure torture (curl's torture tests, sqlite's fault
 * injection): every allocation in a parse or verification fails in turn;
 * each run must fail cleanly or succeed correctly, never crash or leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "verifier/ak.h"
#include "verifier/binding.h"
#include "verifier/eventlog.h"
#include "verifier/pcr_policy.h"
#include "verifier/quote.h"

/* The verifier's own allocations come here, OpenSSL's and jansson's through
 * their allocator hooks. */
#include "tests/unit/fail_alloc.h"
static void *ossl_malloc(size_t n, const char *f, int l)
{
	(void)f, (void)l;
	return __wrap_malloc(n);
}
static void *ossl_realloc(void *p, size_t n, const char *f, int l)
{
	(void)f, (void)l;
	return __wrap_realloc(p, n);
}
static void ossl_free(void *p, const char *f, int l)
{
	(void)f, (void)l;
	free(p);
}
static void *json_malloc(size_t n)
{
	return __wrap_malloc(n);
}

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
		fail_msg("fixture %s missing", name);
	x.n = fread(x.b, 1, sizeof(x.b), f);
	fclose(f);
	return x;
}

static struct blob ek, ak, msg, sig, pcrs;
static const uint8_t nonce[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

/* One scenario each: returns 0 when the whole job succeeded. */
static int run_quote(void)
{
	struct verr e = {0};
	struct binding *b = binding_restore(ek.b, ek.n, ak.b, ak.n, &e);
	struct pcr_set *s = malloc(sizeof(*s));
	struct quote_result *r = malloc(sizeof(*r));
	int rc = -1;

	if (b != NULL && s != NULL && r != NULL &&
	    pcr_set_read_tpm2tools(pcrs.b, pcrs.n, NULL, s, &e) == 0) {
		struct quote_input in = {msg.b, msg.n,	       sig.b, sig.n, s,
					 nonce, sizeof(nonce), NULL,  0};
		rc = binding_verify_quote(b, &in, r, &e);
	}
	free(s);
	free(r);
	binding_free(b);
	return rc;
}

static int run_challenge(void)
{
	struct verr e = {0};
	uint8_t out[4096], secret[BINDING_SECRET_LEN] = {1};
	size_t n = 0;
	struct binding *b = binding_new(ek.b, ek.n, ak.b, ak.n, &e);
	int rc = -1;

	if (b != NULL && binding_challenge(b, secret, out, sizeof(out), &n, &e) == 0)
		rc = binding_activate(b, secret, sizeof(secret), &e);
	binding_free(b);
	return rc;
}

static int run_policy(void)
{
	char doc[512], h0[65], h1[65];
	struct pcr_policy *p;
	int rc;

	memset(h0, '0', 64);
	memset(h1, '1', 64);
	h0[64] = h1[64] = '\0';
	snprintf(
		doc, sizeof(doc),
		"{\"pcrs\": {\"sha256\": {\"0\": [\"%s\", \"%s\"]}}, \"events\": {\"sha256\": {\"9\": [\"%s\"]}}}",
		h0, h1, h1);
	p = pcr_policy_parse(doc, strlen(doc), NULL);
	rc = p != NULL && p->nrules == 1 && p->nevrules == 1 ? 0 : -1;
	pcr_policy_free(p);
	return rc;
}

static int run_eventlog(void)
{
	/* a Spec ID event and one SHA-256 event */
	uint8_t log[200];
	size_t n = 0;
	struct eventlog *l;
	static const uint8_t head[] = {0, 0, 0, 0, 3, 0, 0, 0};
	memset(log, 0, sizeof(log));
	memcpy(log, head, 8);
	n = 8 + 20;
	log[n] = 33; /* event size */
	n += 4;
	memcpy(log + n, "Spec ID Event03", 16);
	n += 16 + 8;
	log[n] = 1;
	n += 4;
	log[n] = 0x0b;
	log[n + 2] = 32;
	n += 4 + 1;
	log[n] = 9;	 /* PCR 9 */
	log[n + 4] = 13; /* EV_IPL */
	log[n + 8] = 1;	 /* one digest */
	log[n + 12] = 0x0b;
	n += 14 + 32 + 4;
	l = eventlog_parse(log, n, NULL);
	int rc = l != NULL && l->nevents == 1 ? 0 : -1;
	eventlog_free(l);
	return rc;
}

static void torture(int (*fn)(void), const char *name)
{
	long n;

	fail_at = -1;
	if (fn() != 0)
		fail_msg("%s does not succeed without faults", name);
	for (n = 1; n < 100000; n++) {
		int rc;
		fail_at = n;
		seen = 0;
		rc = fn();
		fail_at = -1;
		if (seen < n) { /* no allocation failed: the job ran to the end */
			assert_int_equal(rc, 0);
			break;
		}
	}
	print_message("%s: %ld allocations failed in turn\n", name, n - 1);
	/* and it still works afterwards */
	assert_int_equal(fn(), 0);
}

static void test_torture_quote(void **state)
{
	(void)state;
	torture(run_quote, "binding + quote verification");
}
static void test_torture_challenge(void **state)
{
	(void)state;
	torture(run_challenge, "binding challenge + activation");
}
static void test_torture_policy(void **state)
{
	(void)state;
	torture(run_policy, "policy parse");
}
static void test_torture_eventlog(void **state)
{
	(void)state;
	torture(run_eventlog, "event log parse");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_torture_quote),
		cmocka_unit_test(test_torture_challenge),
		cmocka_unit_test(test_torture_policy),
		cmocka_unit_test(test_torture_eventlog),
	};
	if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) != 1)
		return 1;
	json_set_alloc_funcs(json_malloc, free);
	ek = fx(FX "ek_rsa.pub");
	ak = fx(FX "ak_rsa.pub");
	msg = fx(FX "quote.msg");
	sig = fx(FX "quote.sig");
	pcrs = fx(FX "quote.pcrs");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
