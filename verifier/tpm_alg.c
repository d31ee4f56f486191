/* TPM algorithm IDs (TCG Algorithm Registry) to OpenSSL names. Only the
 * algorithms a verifier should accept are listed; everything else is NULL. */
#include "verifier/tpm_alg.h"

#include <pthread.h>
#include <string.h>
#include <tss2/tss2_tpm2_types.h>

static const struct {
	uint16_t id;
	const char *name;
	size_t size;
} hashes[] = {
	{TPM2_ALG_SHA1, "sha1", 20},
	{TPM2_ALG_SHA256, "sha256", 32},
	{TPM2_ALG_SHA384, "sha384", 48},
	{TPM2_ALG_SHA512, "sha512", 64},
};

/* Explicitly fetched digests, once per process: OpenSSL 3 otherwise looks
 * the implementation up in its provider store on every EVP_Digest call,
 * which costs a visible share of a quote verification. They live until
 * exit, like OpenSSL's own method store. */
static EVP_MD *fetched[4];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
	static const char *names[4] = {"SHA1", "SHA256", "SHA384", "SHA512"};
	for (int i = 0; i < 4; i++)
		fetched[i] = EVP_MD_fetch(NULL, names[i], NULL);
}

const EVP_MD *tpm_alg_md(uint16_t alg)
{
	int i;

	switch (alg) {
	case TPM2_ALG_SHA1: i = 0; break;
	case TPM2_ALG_SHA256: i = 1; break;
	case TPM2_ALG_SHA384: i = 2; break;
	case TPM2_ALG_SHA512: i = 3; break;
	default: return NULL;
	}
	pthread_once(&fetch_once, fetch_all);
	return fetched[i];
}

size_t tpm_alg_digest_size(uint16_t alg)
{
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (hashes[i].id == alg)
			return hashes[i].size;
	return 0;
}

const char *tpm_alg_hash_name(uint16_t alg)
{
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (hashes[i].id == alg)
			return hashes[i].name;
	return NULL;
}

uint16_t tpm_alg_hash_from_name(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (strcmp(hashes[i].name, name) == 0)
			return hashes[i].id;
	return 0;
}

const char *tpm_alg_curve_name(uint16_t curve)
{
	switch (curve) {
	case TPM2_ECC_NIST_P256: return "P-256";
	case TPM2_ECC_NIST_P384: return "P-384";
	case TPM2_ECC_NIST_P521: return "P-521";
	default: return NULL;
	}
}

size_t tpm_alg_curve_bytes(uint16_t curve)
{
	switch (curve) {
	case TPM2_ECC_NIST_P256: return 32;
	case TPM2_ECC_NIST_P384: return 48;
	case TPM2_ECC_NIST_P521: return 66;
	default: return 0;
	}
}
