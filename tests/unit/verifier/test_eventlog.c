/* Unit tests for the crypto-agile event log parser and replay, with logs
 * built byte by byte: StartupLocality, undeclared banks, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "verifier/eventlog.h"

struct w {
	uint8_t b[4096];
	size_t n;
};

static void put(struct w *w, const void *p, size_t n)
{
	assert_true(w->n + n <= sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}
static void le32(struct w *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	put(w, b, 4);
}
static void le16(struct w *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	put(w, b, 2);
}

/* Spec ID event declaring SHA-256 (32 bytes) and, if sm3, SM3 (0x12). */
static void spec_id(struct w *w, int sm3)
{
	uint8_t zero[20] = {0};
	uint32_t body = 16 + 8 + 4 + 4 * (sm3 ? 2 : 1) + 1;

	le32(w, 0);
	le32(w, EV_NO_ACTION);
	put(w, zero, 20);
	le32(w, body);
	put(w, "Spec ID Event03", 16);
	put(w, zero, 8);
	le32(w, sm3 ? 2 : 1);
	le16(w, 0x000b);
	le16(w, 32);
	if (sm3) {
		le16(w, 0x0012);
		le16(w, 32);
	}
	put(w, zero, 1);
}

static void event(struct w *w, uint32_t pcr, uint32_t type, const uint8_t *d256, const char *data,
		  int sm3)
{
	le32(w, pcr);
	le32(w, type);
	le32(w, sm3 ? 2 : 1);
	le16(w, 0x000b);
	put(w, d256, 32);
	if (sm3) {
		le16(w, 0x0012);
		put(w, d256, 32);
	}
	le32(w, (uint32_t)strlen(data));
	put(w, data, strlen(data));
}

static void extend(uint8_t *pcr, const uint8_t *d)
{
	uint8_t buf[64];
	unsigned int l;
	memcpy(buf, pcr, 32);
	memcpy(buf + 32, d, 32);
	EVP_Digest(buf, 64, pcr, &l, EVP_sha256(), NULL);
}

static void test_replay_and_locality(void **state)
{
	struct w w = {.n = 0};
	uint8_t d1[32], d2[32], zero[32] = {0}, want0[32] = {0}, want9[32] = {0};
	struct verr e = {0};
	struct eventlog *log;

	size_t bounds[8], nb = 0;

	(void)state;
	memset(d1, 0x11, 32);
	memset(d2, 0x22, 32);
	spec_id(&w, 1);
	bounds[nb++] = w.n;
	/* "StartupLocality\0" + locality 3: PCR 0 starts at 0...03 */
	le32(&w, 0);
	le32(&w, EV_NO_ACTION);
	le32(&w, 1);
	le16(&w, 0x000b);
	put(&w, zero, 32);
	le32(&w, 17);
	put(&w, "StartupLocality\0\3", 17);
	bounds[nb++] = w.n;
	event(&w, 0, 0x8, d1, "crtm", 1);
	bounds[nb++] = w.n;
	event(&w, 9, 0xd, d2, "kernel", 1);
	log = eventlog_parse(w.b, w.n, &e);
	assert_non_null(log);
	assert_int_equal(log->startup_locality, 3);
	assert_int_equal(log->nevents, 3);
	assert_int_equal(log->nalgs, 2);
	/* SM3 is parsed (sizes from the header) but not replayed */
	assert_int_equal(log->replay.nbanks, 1);
	want0[31] = 3;
	extend(want0, d1);
	extend(want9, d2);
	assert_memory_equal(log->replay.bank[0].v[0], want0, 32);
	assert_memory_equal(log->replay.bank[0].v[9], want9, 32);
	assert_int_equal(log->touched[0], (1u << 0) | (1u << 9));

	/* compared with "quoted" values */
	struct pcr_set q;
	memset(&q, 0, sizeof(q));
	q.nbanks = 1;
	q.bank[0].alg = 0x000b;
	q.bank[0].mask = 1u << 9;
	memcpy(q.bank[0].v[9], want9, 32);
	assert_int_equal(eventlog_check_quote(log, &q, &e), 0);
	q.bank[0].v[9][0] ^= 1;
	assert_int_equal(eventlog_check_quote(log, &q, &e), -1);
	assert_string_equal(e.code, "eventlog-mismatch");
	eventlog_free(log);

	/* a log cut between events is a shorter log; cut anywhere else it fails */
	for (size_t k = 0; k < w.n; k++) {
		struct eventlog *t = eventlog_parse(w.b, k, NULL);
		int boundary = 0;
		for (size_t i = 0; i < nb; i++)
			boundary |= bounds[i] == k;
		if (boundary)
			assert_non_null(t);
		else
			assert_null(t);
		eventlog_free(t);
	}
}

static void test_bad_logs(void **state)
{
	struct w w = {.n = 0};
	uint8_t d[32] = {0};
	struct verr e = {0};

	(void)state;
	/* an event with a digest of a bank the Spec ID did not declare */
	spec_id(&w, 0);
	event(&w, 1, 0xd, d, "x", 1);
	assert_null(eventlog_parse(w.b, w.n, &e));
	assert_string_equal(e.code, "eventlog-malformed");
	/* PCR index beyond 23 */
	w.n = 0;
	spec_id(&w, 0);
	event(&w, 24, 0xd, d, "x", 0);
	verr_clear(&e);
	assert_null(eventlog_parse(w.b, w.n, &e));
	/* an event lacking the SHA-256 digest the log declares */
	w.n = 0;
	spec_id(&w, 0);
	le32(&w, 1);
	le32(&w, 0xd);
	le32(&w, 0);
	le32(&w, 0);
	verr_clear(&e);
	assert_null(eventlog_parse(w.b, w.n, &e));
	/* a Spec ID event with a wrong size for a known algorithm */
	w.n = 0;
	spec_id(&w, 0);
	w.b[32 + 16 + 8 + 4 + 2] = 20;
	verr_clear(&e);
	assert_null(eventlog_parse(w.b, w.n, &e));
	assert_string_equal(e.code, "eventlog-specid");
	/* an empty log, and a NULL one */
	assert_null(eventlog_parse(w.b, 0, NULL));
	assert_null(eventlog_parse(NULL, 0, NULL));
	eventlog_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_and_locality),
		cmocka_unit_test(test_bad_logs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
