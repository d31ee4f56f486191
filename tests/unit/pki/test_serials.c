/* pki/: serials are 128 random bits, the certificate holds the same
 * number, and none repeats, also when every HTTP worker issues at once; a
 * serial as users give it is read in Orchard's form. */
#include "tests/unit/pki/pki_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void test_serials(void **state)
{
	enum { N = 300 };
	char dir[256];
	static char serials[N][33];
	size_t len;
	int top_set = 0;

	(void)state;
	pki_test_dir_new(dir, sizeof dir);
	struct pki_ca *ca = pki_test_ca_open(dir, NULL, NULL);
	uint8_t *csr = pki_test_csr_make("p256", &len);
	struct pki_issue_req req = {csr, len, pki_test_one_dns, 1, "shortlived", NULL, 0, NULL};
	for (int i = 0; i < N; i++) {
		struct pki_cert c;
		assert_int_equal(pki_issue(ca, &req, &c, NULL, 0), PKI_OK);
		assert_int_equal(strlen(c.serial), 32);
		memcpy(serials[i], c.serial, 33);
		top_set += strchr("89abcdef", c.serial[0]) != NULL;
		/* The certificate holds the same 128-bit number. */
		X509 *x = pki_test_der_cert(&c);
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		char *hex = BN_bn2hex(bn);
		char want[40];
		size_t hl = strlen(hex);
		memset(want, '0', 32 - hl);
		for (size_t k = 0; k <= hl; k++)
			want[32 - hl + k] =
				(char)(hex[k] >= 'A' && hex[k] <= 'F' ? hex[k] + 32 : hex[k]);
		assert_string_equal(want, c.serial);
		assert_true(BN_num_bits(bn) <= 128);
		OPENSSL_free(hex);
		BN_free(bn);
		X509_free(x);
		pki_cert_free(&c);
	}
	qsort(serials, N, 33, pki_test_cmp_str);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(serials[i - 1], serials[i]);
	/* All 128 bits are random: the top bit is set about half the time. */
	assert_true(top_set > N / 4 && top_set < 3 * N / 4);
	free(csr);
	pki_ca_free(ca);
}

enum { THREADS = 4, PER_THREAD = 50 };
static struct pki_ca *shared_ca;
static char thread_serials[THREADS * PER_THREAD][33];

/* What `openssl x509 -serial` prints drops leading zeros and is upper
 * case: the same serial. Anything else is refused. */
static void test_serial_canonical(void **state)
{
	char out[33];

	(void)state;
	assert_int_equal(pki_serial_canonical("911960DB077F82EED56A0710D54D8C", out), 0);
	assert_string_equal(out, "00911960db077f82eed56a0710d54d8c");
	assert_int_equal(pki_serial_canonical("0123456789abcdef0123456789abcdef", out), 0);
	assert_string_equal(out, "0123456789abcdef0123456789abcdef");
	assert_int_equal(pki_serial_canonical("1", out), 0);
	assert_string_equal(out, "00000000000000000000000000000001");
	for (const char *const *bad =
		     (const char *const[]){"", "not-a-serial", "12 34", "0x12",
					   "0123456789abcdef0123456789abcdef0", NULL};
	     *bad; bad++)
		assert_int_equal(pki_serial_canonical(*bad, out), -1);
}

static void *issue_thread(void *arg)
{
	long t = (long)arg;
	size_t len;
	uint8_t *csr = pki_test_csr_make(t % 2 ? "p256" : "ed25519", &len);
	struct pki_issue_req req = {csr, len, pki_test_one_dns, 1, "shortlived", NULL, 0, NULL};

	for (int i = 0; i < PER_THREAD; i++) {
		struct pki_cert c;
		if (pki_issue(shared_ca, &req, &c, NULL, 0) != PKI_OK)
			break;
		memcpy(thread_serials[t * PER_THREAD + i], c.serial, 33);
		pki_cert_free(&c);
	}
	free(csr);
	return NULL;
}

/* pki_issue() is called from every HTTP worker at once. */
static void test_threads(void **state)
{
	char dir[256];
	pthread_t th[THREADS];

	(void)state;
	pki_test_dir_new(dir, sizeof dir);
	shared_ca = pki_test_ca_open(dir, NULL, NULL);
	assert_non_null(shared_ca);
	for (long t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, issue_thread, (void *)t), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	qsort(thread_serials, THREADS * PER_THREAD, 33, pki_test_cmp_str);
	for (int i = 0; i < THREADS * PER_THREAD; i++) {
		assert_int_equal(strlen(thread_serials[i]), 32);
		if (i > 0)
			assert_string_not_equal(thread_serials[i - 1], thread_serials[i]);
	}
	pki_ca_free(shared_ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serials),
		cmocka_unit_test(test_serial_canonical),
		cmocka_unit_test(test_threads),
	};

	return pki_test_run("test_serials", tests, sizeof tests / sizeof tests[0]);
}
