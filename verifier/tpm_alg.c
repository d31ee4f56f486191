/* TPM algorithm IDs (TCG Algorithm Registry) to OpenSSL names. Only the
 * algorithms a verifier should accept are listed; everything else is NULL. */
#include "verifier/tpm_alg.h"

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

const EVP_MD *tpm_alg_md(uint16_t alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1: return EVP_sha1();
	case TPM2_ALG_SHA256: return EVP_sha256();
	case TPM2_ALG_SHA384: return EVP_sha384();
	case TPM2_ALG_SHA512: return EVP_sha512();
	default: return NULL;
	}
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
