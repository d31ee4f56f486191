/* clients/attest/dps_tpm.c without a TPM: the authenticationKey blob
 * parser (six TPM2Bs; truncated at every length, trailing bytes, a last
 * TPM2B not empty, an oversized part, a public area that is no keyedHash
 * key) and the registration ID derived from an EK (RFC 4648 base32). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <tss2/tss2_mu.h>

#include "clients/attest/dps_tpm.h"

static size_t put_tpm2b(uint8_t *b, size_t off, const uint8_t *data, uint16_t n)
{
	b[off] = (uint8_t)(n >> 8);
	b[off + 1] = (uint8_t)n;
	memcpy(b + off + 2, data, n);
	return off + 2 + n;
}

/* A well-formed blob: filler parts and an HMAC key's TPM2B_PUBLIC. */
static size_t good_blob(uint8_t *b, TPMI_ALG_PUBLIC type)
{
	uint8_t fill[64];
	TPM2B_PUBLIC pub;
	size_t off = 0, o = 0;

	memset(fill, 0xa5, sizeof fill);
	memset(&pub, 0, sizeof pub);
	pub.publicArea.type = type;
	pub.publicArea.nameAlg = TPM2_ALG_SHA256;
	pub.publicArea.objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
	if (type == TPM2_ALG_KEYEDHASH) {
		pub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
		pub.publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg =
			TPM2_ALG_SHA256;
		pub.publicArea.unique.keyedHash.size = 32;
	} else {
		pub.publicArea.parameters.symDetail.sym.algorithm = TPM2_ALG_NULL;
	}
	off = put_tpm2b(b, off, fill, 50); /* credentialBlob */
	off = put_tpm2b(b, off, fill, 64); /* encryptedSecret */
	off = put_tpm2b(b, off, fill, 40); /* duplicate */
	off = put_tpm2b(b, off, fill, 64); /* seed */
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, b + off, 1024, &o), TSS2_RC_SUCCESS);
	off += o;
	return put_tpm2b(b, off, fill, 0); /* the empty sixth */
}

static void test_parse_good(void **state)
{
	uint8_t b[2048];
	struct oa_dps_authkey k;
	char err[OA_ERR_MAX];
	size_t n = good_blob(b, TPM2_ALG_KEYEDHASH);

	(void)state;
	assert_int_equal(oa_dps_authkey_parse(b, n, &k, err), 0);
	assert_int_equal(k.cred.size, 50);
	assert_int_equal(k.secret.size, 64);
	assert_int_equal(k.dup.size, 40);
	assert_int_equal(k.seed.size, 64);
	assert_int_equal(k.pub.publicArea.type, TPM2_ALG_KEYEDHASH);
	assert_ptr_equal(k.pub_raw, b + 2 + 50 + 2 + 64 + 2 + 40 + 2 + 64);
	assert_int_equal(k.pub_len, n - 2 - (k.pub_raw - b));
}

static void test_parse_truncated(void **state)
{
	uint8_t b[2048];
	struct oa_dps_authkey k;
	char err[OA_ERR_MAX];
	size_t n = good_blob(b, TPM2_ALG_KEYEDHASH);

	(void)state;
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(oa_dps_authkey_parse(b, cut, &k, err), -1);
	b[n] = 0;
	assert_int_equal(oa_dps_authkey_parse(b, n + 1, &k, err), -1); /* trailing byte */
}

static void test_parse_bad_parts(void **state)
{
	uint8_t b[2048], c[2048];
	struct oa_dps_authkey k;
	char err[OA_ERR_MAX];
	size_t n = good_blob(b, TPM2_ALG_KEYEDHASH);

	(void)state;
	/* The sixth TPM2B not empty. */
	memcpy(c, b, n);
	c[n - 1] = 1;
	c[n] = 0;
	assert_int_equal(oa_dps_authkey_parse(c, n + 1, &k, err), -1);
	/* A credentialBlob larger than a TPM2B_ID_OBJECT holds. */
	uint8_t big[sizeof(TPM2B_ID_OBJECT) + 8];
	size_t off;
	memset(big, 1, sizeof big);
	off = put_tpm2b(c, 0, big, sizeof big);
	memcpy(c + off, b + 2 + 50, n - 2 - 50);
	assert_int_equal(oa_dps_authkey_parse(c, off + n - 2 - 50, &k, err), -1);
	/* A public area that is not an HMAC key. */
	n = good_blob(b, TPM2_ALG_SYMCIPHER);
	assert_int_equal(oa_dps_authkey_parse(b, n, &k, err), -1);
	/* Garbage in the public area (an unknown type). */
	n = good_blob(b, TPM2_ALG_KEYEDHASH);
	b[2 + 50 + 2 + 64 + 2 + 40 + 2 + 64 + 2] = 0x7f;
	assert_int_equal(oa_dps_authkey_parse(b, n, &k, err), -1);
}

/* tests/integration/dps_tpm.sh's python derivation of the same bytes. */
static void test_registration_id(void **state)
{
	uint8_t ek[3] = {'a', 'b', 'c'};
	struct oa_buf b = {ek, sizeof ek};
	char id[64];

	(void)state;
	oa_dps_registration_id(&b, id);
	/* base32(sha256("abc")), lower case, no padding */
	assert_string_equal(id, "xj4bnp4pahh6uqkbidpf3lrceoyagyndsylxvhfucd7wd4qacwwq");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_bad_parts),
		cmocka_unit_test(test_registration_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
