/* Unit tests for the verifier's binary parsers (TPM2B_PUBLIC, TPMS_ATTEST,
 * TPMT_SIGNATURE, tpm2-tools PCR files) with handcrafted bad inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "verifier/ak.h"
#include "verifier/pcr_set.h"
#include "verifier/tpm_attest.h"
#include "verifier/tpm_public.h"
#include "verifier/tpm_sig.h"

/* A P-256 restricted signing key as tpm2_createak makes it, with a real
 * point (the generator) so it loads. */
static TPMT_PUBLIC ecc_ak(void)
{
	static const uint8_t gx[32] = {0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47,
				       0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
				       0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0,
				       0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96};
	static const uint8_t gy[32] = {0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b,
				       0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16,
				       0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce,
				       0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};
	TPMT_PUBLIC p;

	memset(&p, 0, sizeof(p));
	p.type = TPM2_ALG_ECC;
	p.nameAlg = TPM2_ALG_SHA256;
	p.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
			     TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
			     TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
	p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	p.unique.ecc.x.size = 32;
	memcpy(p.unique.ecc.x.buffer, gx, 32);
	p.unique.ecc.y.size = 32;
	memcpy(p.unique.ecc.y.buffer, gy, 32);
	return p;
}

static size_t marshal_public(const TPMT_PUBLIC *p, uint8_t *out, size_t cap)
{
	TPM2B_PUBLIC b = {.size = 0, .publicArea = *p};
	size_t off = 0;
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&b, out, cap, &off), 0);
	return off;
}

static void test_public_ok_and_name(void **state)
{
	TPMT_PUBLIC p = ecc_ak();
	struct tpm_public tp;
	struct verr e = {0};
	uint8_t b[1024], d[32];
	unsigned int dl;
	size_t n = marshal_public(&p, b, sizeof(b));

	(void)state;
	assert_int_equal(tpm_public_parse(b, n, &tp, &e), 0);
	/* Name = 0x000b || SHA-256(TPMT_PUBLIC bytes as received) */
	assert_int_equal(tp.name_len, 34);
	assert_int_equal(tp.name[0], 0x00);
	assert_int_equal(tp.name[1], 0x0b);
	EVP_Digest(b + 2, n - 2, d, &dl, EVP_sha256(), NULL);
	assert_memory_equal(tp.name + 2, d, 32);
	assert_int_equal(ak_check_public(&tp.pub, &e), 0);
	EVP_PKEY *pk = tpm_public_to_pkey(&tp.pub, &e);
	assert_non_null(pk);
	EVP_PKEY_free(pk);
}

/* tpm_public_spki() writes what i2d_PUBKEY() writes for the same key. */
static void spki_same(const TPMT_PUBLIC *p)
{
	EVP_PKEY *pk = tpm_public_to_pkey(p, NULL);
	unsigned char *theirs = NULL;
	uint8_t *ours = NULL;
	size_t len = 0;
	int n;

	assert_non_null(pk);
	n = i2d_PUBKEY(pk, &theirs);
	assert_int_equal(tpm_public_spki(p, &ours, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(ours, theirs, len);
	free(ours);
	OPENSSL_free(theirs);
	EVP_PKEY_free(pk);
}

static void test_public_spki(void **state)
{
	TPMT_PUBLIC p = ecc_ak();
	EVP_PKEY *k;
	BIGNUM *bn = NULL, *y = NULL;
	uint8_t *out = NULL;
	size_t len;

	(void)state;
	spki_same(&p);
	/* P-384, from a key of OpenSSL's */
	k = EVP_EC_gen("P-384");
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_bn_param(k, "qx", &bn), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(k, "qy", &y), 1);
	p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
	p.unique.ecc.x.size = (UINT16)BN_bn2bin(bn, p.unique.ecc.x.buffer);
	p.unique.ecc.y.size = (UINT16)BN_bn2bin(y, p.unique.ecc.y.buffer);
	spki_same(&p);
	EVP_PKEY_free(k);
	BN_free(bn);
	BN_free(y);
	bn = NULL;
	/* RSA 2048 with the default exponent (0) and one spelled out */
	k = EVP_RSA_gen(2048);
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_bn_param(k, "n", &bn), 1);
	memset(&p, 0, sizeof p);
	p.type = TPM2_ALG_RSA;
	p.nameAlg = TPM2_ALG_SHA256;
	p.parameters.rsaDetail.keyBits = 2048;
	p.unique.rsa.size = (UINT16)BN_bn2bin(bn, p.unique.rsa.buffer);
	spki_same(&p);
	p.parameters.rsaDetail.exponent = 65537;
	spki_same(&p);
	p.parameters.rsaDetail.exponent = 3;
	spki_same(&p);
	EVP_PKEY_free(k);
	BN_free(bn);
	/* no such key type or curve */
	p.type = TPM2_ALG_KEYEDHASH;
	assert_int_equal(tpm_public_spki(&p, &out, &len), -1);
	p = ecc_ak();
	p.parameters.eccDetail.curveID = 0x0020;
	assert_int_equal(tpm_public_spki(&p, &out, &len), -1);
	assert_null(out);
}

/* ak_key_new_known(): the area must be the key given. */
static void test_ak_known(void **state)
{
	TPMT_PUBLIC p = ecc_ak();
	uint8_t b[1024], *spki = NULL;
	size_t n = marshal_public(&p, b, sizeof(b)), len = 0;
	EVP_PKEY *pk = tpm_public_to_pkey(&p, NULL);
	struct ak_key *k;
	struct verr e = {0};

	(void)state;
	assert_int_equal(tpm_public_spki(&p, &spki, &len), 0);
	k = ak_key_new_known(b, n, spki, len, pk, &e);
	assert_non_null(k);
	assert_ptr_equal(k->pkey, pk);
	ak_key_free(k);
	/* another key's SPKI */
	spki[len - 1] ^= 1;
	assert_null(ak_key_new_known(b, n, spki, len, pk, &e));
	assert_string_equal(e.code, "ak-other-key");
	spki[len - 1] ^= 1;
	/* not restricted: refused before any comparison */
	p.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
	n = marshal_public(&p, b, sizeof(b));
	verr_clear(&e);
	assert_null(ak_key_new_known(b, n, spki, len, pk, &e));
	assert_string_not_equal(e.code, "ak-other-key");
	assert_null(ak_key_new_known(b, n, spki, len, NULL, &e));
	free(spki);
	EVP_PKEY_free(pk);
}

static void test_public_bad(void **state)
{
	TPMT_PUBLIC p = ecc_ak();
	struct tpm_public tp;
	struct verr e;
	uint8_t b[1024];
	size_t n = marshal_public(&p, b, sizeof(b));

	(void)state;
	/* every truncation fails */
	for (size_t k = 0; k < n; k++) {
		verr_clear(&e);
		assert_int_equal(tpm_public_parse(b, k, &tp, &e), -1);
	}
	/* a trailing byte outside the size field */
	verr_clear(&e);
	assert_int_equal(tpm_public_parse(b, n + 1, &tp, &e), -1);
	assert_string_equal(e.code, "public-size");
	/* size field covering a trailing byte after the TPMT_PUBLIC */
	b[n] = 0;
	b[1]++;
	verr_clear(&e);
	assert_int_equal(tpm_public_parse(b, n + 1, &tp, &e), -1);
	assert_string_equal(e.code, "public-trailing");
	assert_int_equal(tpm_public_parse(NULL, 0, &tp, NULL), -1);
}

static void test_public_off_curve(void **state)
{
	TPMT_PUBLIC p = ecc_ak();
	struct verr e = {0};

	(void)state;
	p.unique.ecc.y.buffer[31] ^= 1;
	assert_null(tpm_public_to_pkey(&p, &e));
	assert_string_equal(e.code, "public-ecc-point");
	p = ecc_ak();
	p.unique.ecc.x.size = 33;
	verr_clear(&e);
	assert_null(tpm_public_to_pkey(&p, &e));
	p = ecc_ak();
	p.parameters.eccDetail.curveID = 0x0099;
	verr_clear(&e);
	assert_null(tpm_public_to_pkey(&p, &e));
	assert_string_equal(e.code, "public-curve");
}

static void test_ak_attributes(void **state)
{
	static const struct {
		TPMA_OBJECT clear, set;
		const char *code;
	} cases[] = {
		{TPMA_OBJECT_RESTRICTED, 0, "ak-not-restricted"},
		{TPMA_OBJECT_FIXEDTPM, 0, "ak-not-fixedtpm"},
		{TPMA_OBJECT_FIXEDPARENT, 0, "ak-not-fixedparent"},
		{TPMA_OBJECT_SENSITIVEDATAORIGIN, 0, "ak-not-sensitivedataorigin"},
		{TPMA_OBJECT_SIGN_ENCRYPT, 0, "ak-not-sign"},
		{0, TPMA_OBJECT_DECRYPT, "ak-decrypt"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TPMT_PUBLIC p = ecc_ak();
		struct verr e = {0};
		p.objectAttributes = (p.objectAttributes & ~cases[i].clear) | cases[i].set;
		assert_int_equal(ak_check_public(&p, &e), -1);
		assert_string_equal(e.code, cases[i].code);
	}
	TPMT_PUBLIC p = ecc_ak();
	struct verr e = {0};
	p.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
	assert_int_equal(ak_check_public(&p, &e), -1);
	assert_string_equal(e.code, "ak-curve");
	p = ecc_ak();
	p.nameAlg = TPM2_ALG_SHA1;
	verr_clear(&e);
	assert_int_equal(ak_check_public(&p, &e), -1);
	assert_string_equal(e.code, "ak-namealg");
}

static size_t make_attest(uint8_t *b, size_t cap, uint32_t magic, uint16_t type)
{
	TPMS_ATTEST a;
	size_t off = 0;

	memset(&a, 0, sizeof(a));
	a.magic = magic;
	a.type = type;
	a.qualifiedSigner.size = 34;
	a.extraData.size = 8;
	memset(a.extraData.buffer, 7, 8);
	a.clockInfo.clock = 1000;
	a.clockInfo.resetCount = 2;
	a.clockInfo.safe = 1;
	a.firmwareVersion = 0x2019102300163636ull;
	if (type == TPM2_ST_ATTEST_QUOTE) {
		a.attested.quote.pcrSelect.count = 1;
		a.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
		a.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
		a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[0] = 0x81;
		a.attested.quote.pcrDigest.size = 32;
	} else {
		a.attested.certify.name.size = 4;
		a.attested.certify.qualifiedName.size = 4;
	}
	assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(&a, b, cap, &off), 0);
	return off;
}

static void test_attest(void **state)
{
	uint8_t b[2048];
	TPMS_ATTEST a;
	struct verr e;
	size_t n;

	(void)state;
	n = make_attest(b, sizeof(b), TPM2_GENERATED_VALUE, TPM2_ST_ATTEST_QUOTE);
	verr_clear(&e);
	assert_int_equal(tpm_attest_parse_quote(b, n, &a, &e), 0);
	assert_int_equal(a.clockInfo.resetCount, 2);
	assert_int_equal(a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[0], 0x81);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(tpm_attest_parse_quote(b, k, &a, NULL), -1);
	verr_clear(&e);
	assert_int_equal(tpm_attest_parse_quote(b, n + 1, &a, &e), -1);
	assert_string_equal(e.code, "attest-trailing");

	n = make_attest(b, sizeof(b), 0xff544348, TPM2_ST_ATTEST_QUOTE);
	verr_clear(&e);
	assert_int_equal(tpm_attest_parse_quote(b, n, &a, &e), -1);
	assert_string_equal(e.code, "attest-magic");

	n = make_attest(b, sizeof(b), TPM2_GENERATED_VALUE, TPM2_ST_ATTEST_CERTIFY);
	verr_clear(&e);
	assert_int_equal(tpm_attest_parse_quote(b, n, &a, &e), -1);
	assert_string_equal(e.code, "attest-type");
}

static void test_sig(void **state)
{
	TPMT_SIGNATURE s, out;
	uint8_t b[1024];
	size_t off = 0;
	struct verr e = {0};

	(void)state;
	memset(&s, 0, sizeof(s));
	s.sigAlg = TPM2_ALG_ECDSA;
	s.signature.ecdsa.hash = TPM2_ALG_SHA1;
	s.signature.ecdsa.signatureR.size = 32;
	s.signature.ecdsa.signatureS.size = 32;
	assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, b, sizeof(b), &off), 0);
	assert_int_equal(tpm_sig_parse(b, off, &out, &e), 0);
	for (size_t k = 0; k < off; k++)
		assert_int_equal(tpm_sig_parse(b, k, &out, NULL), -1);
	assert_int_equal(tpm_sig_parse(b, off + 1, &out, &e), -1);
	/* SHA-1 signatures are refused before any mathematics */
	TPMT_PUBLIC p = ecc_ak();
	p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	EVP_PKEY *pk = tpm_public_to_pkey(&p, NULL);
	verr_clear(&e);
	assert_int_equal(tpm_sig_verify(pk, NULL, &p, &out, b, 4, &e), -1);
	assert_string_equal(e.code, "sig-hash");
	/* a zero (r, s) never verifies */
	out.signature.ecdsa.hash = TPM2_ALG_SHA256;
	verr_clear(&e);
	assert_int_equal(tpm_sig_verify(pk, NULL, &p, &out, b, 4, &e), -1);
	EVP_PKEY_free(pk);
}

/* A tpm2-tools "serialized" PCR file for sha256 PCRs 0 and 7. */
static size_t make_pcr_file(uint8_t *b, uint8_t sizeof_select)
{
	size_t n = 4 + 16 * 8 + 4 + 4 + 8 * 66;

	memset(b, 0, n);
	b[0] = 1;    /* selection count */
	b[4] = 0x0b; /* sha256 */
	b[6] = sizeof_select;
	b[7] = 0x81; /* PCRs 0 and 7 */
	b[132] = 1;  /* one TPML_DIGEST */
	b[136] = 2;  /* two digests */
	b[140] = 32; /* size of digest 1 */
	memset(b + 142, 0xaa, 32);
	b[140 + 66] = 32;
	memset(b + 142 + 66, 0xbb, 32);
	return n;
}

static void test_pcr_file(void **state)
{
	uint8_t b[1024], d[64];
	struct pcr_set s, cov;
	struct verr e;
	size_t n = make_pcr_file(b, 3), dl;
	TPML_PCR_SELECTION sel;

	(void)state;
	verr_clear(&e);
	assert_int_equal(pcr_set_read_tpm2tools(b, n, NULL, &s, &e), 0);
	assert_int_equal(s.nbanks, 1);
	assert_int_equal(s.bank[0].mask, 0x81);
	assert_int_equal(s.bank[0].v[7][0], 0xbb);
	/* the quote's digest over the selection */
	memset(&sel, 0, sizeof(sel));
	sel.count = 1;
	sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel.pcrSelections[0].sizeofSelect = 3;
	sel.pcrSelections[0].pcrSelect[0] = 0x81;
	assert_int_equal(pcr_set_digest(&s, &sel, TPM2_ALG_SHA256, d, &dl, &cov, &e), 0);
	uint8_t cat[64], want[32];
	unsigned int wl;
	memset(cat, 0xaa, 32);
	memset(cat + 32, 0xbb, 32);
	EVP_Digest(cat, 64, want, &wl, EVP_sha256(), NULL);
	assert_memory_equal(d, want, 32);
	assert_int_equal(cov.bank[0].mask, 0x81);
	/* a selection naming PCR 1, for which no value was given */
	sel.pcrSelections[0].pcrSelect[0] = 0x83;
	verr_clear(&e);
	assert_int_equal(pcr_set_digest(&s, &sel, TPM2_ALG_SHA256, d, &dl, &cov, &e), -1);
	assert_string_equal(e.code, "pcrs-missing");
	assert_int_equal(cov.nbanks, 0);
	/* sizeofSelect beyond PCR 23, bad digest size, truncation, values layout */
	n = make_pcr_file(b, 4);
	verr_clear(&e);
	assert_int_equal(pcr_set_read_tpm2tools(b, n, NULL, &s, &e), -1);
	n = make_pcr_file(b, 3);
	b[140] = 20;
	assert_int_equal(pcr_set_read_tpm2tools(b, n, NULL, &s, NULL), -1);
	n = make_pcr_file(b, 3);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(pcr_set_read_tpm2tools(b, k, NULL, &s, NULL), -1);
	sel.pcrSelections[0].pcrSelect[0] = 0x81;
	assert_int_equal(pcr_set_read_tpm2tools(b, 64, &sel, &s, NULL), 0);
	assert_int_equal(s.bank[0].mask, 0x81);
	/* a bank selected twice */
	sel.count = 2;
	sel.pcrSelections[1] = sel.pcrSelections[0];
	verr_clear(&e);
	assert_int_equal(pcr_selection_check(&sel, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_ok_and_name),
		cmocka_unit_test(test_public_spki),
		cmocka_unit_test(test_ak_known),
		cmocka_unit_test(test_public_bad),
		cmocka_unit_test(test_public_off_curve),
		cmocka_unit_test(test_ak_attributes),
		cmocka_unit_test(test_attest),
		cmocka_unit_test(test_sig),
		cmocka_unit_test(test_pcr_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
