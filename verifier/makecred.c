/* TPM2_MakeCredential in software (TPM 2.0 Part 1, 24 "Credential
 * Protection" and annex B.10.4 / C.6.4 for the seed; Part 3, 12.6). */
#include "verifier/makecred.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "verifier/kdf.h"
#include "verifier/tpm_wrap.h"
#include "verifier/tpm_alg.h"
#include "verifier/tpm_public.h"

/* "IDENTITY" with its NUL: Part 1, 24.4 uses it as OAEP label and KDFe label. */
static const char identity_label[] = "IDENTITY";

int makecred(const TPMT_PUBLIC *ek, const uint8_t *ak_name, size_t name_len, const uint8_t *secret,
	     size_t slen, TPM2B_ID_OBJECT *blob, TPM2B_ENCRYPTED_SECRET *encsec, struct verr *e)
{
	const TPMT_SYM_DEF_OBJECT *sym = ek->type == TPM2_ALG_RSA
						 ? &ek->parameters.rsaDetail.symmetric
						 : &ek->parameters.eccDetail.symmetric;
	uint16_t hash = ek->nameAlg;
	const EVP_MD *md = tpm_alg_md(hash);
	size_t ds = tpm_alg_digest_size(hash), off = 0, encl;
	EVP_PKEY *pk = NULL;
	TPM2B_DIGEST cred;
	uint8_t seed[TPM_ALG_MAX_DIGEST], plain[2 + 64];
	int rc = -1;

	memset(blob, 0, sizeof(*blob));
	memset(encsec, 0, sizeof(*encsec));
	if (md == NULL || (ek->type != TPM2_ALG_RSA && ek->type != TPM2_ALG_ECC)) {
		verr_set(e, "makecred-ek", "EK is neither RSA nor ECC with a known nameAlg");
		goto out;
	}
	if (sym->algorithm != TPM2_ALG_AES || sym->mode.aes != TPM2_ALG_CFB ||
	    (sym->keyBits.aes != 128 && sym->keyBits.aes != 256)) {
		verr_set(e, "makecred-ek", "EK symmetric scheme is not AES-128/256-CFB");
		goto out;
	}
	if (slen == 0 || slen > ds || name_len < 2 || name_len > TPM_NAME_MAX) {
		verr_set(e, "makecred-input", "secret of %zu bytes (1-%zu allowed) or bad AK name",
			 slen, ds);
		goto out;
	}
	if ((pk = tpm_public_to_pkey(ek, e)) == NULL)
		goto out;
	if (ek->type == TPM2_ALG_RSA) {
		if (RAND_bytes(seed, (int)ds) != 1 ||
		    tpm_wrap_rsa_seed(pk, hash, identity_label, seed, ds, encsec) != 0) {
			verr_set(e, "makecred-seed", "RSA-OAEP of the seed failed");
			goto out;
		}
	} else if (tpm_wrap_ecc_seed(pk, ek, hash, identity_label, seed, ds, encsec) != 0) {
		verr_set(e, "makecred-seed", "ECDH seed derivation failed");
		goto out;
	}
	/* credentialBlob = TPM2B(outerHMAC) || CFB(TPM2B_DIGEST credential) */
	memset(&cred, 0, sizeof(cred));
	cred.size = (uint16_t)slen;
	memcpy(cred.buffer, secret, slen);
	encl = 0;
	if (Tss2_MU_TPM2B_DIGEST_Marshal(&cred, plain, sizeof(plain), &encl) != 0 ||
	    (off = tpm_wrap_outer(hash, seed, ds, sym->keyBits.aes, ak_name, name_len, plain, encl,
				  blob->credential, sizeof(blob->credential))) == 0) {
		verr_set(e, "makecred-wrap", "credential wrapping failed");
		goto out;
	}
	blob->size = (uint16_t)off;
	rc = 0;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(plain, sizeof(plain));
	ERR_clear_error();
	EVP_PKEY_free(pk);
	return rc;
}

size_t makecred_write_tpm2tools(const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *encsec,
				uint8_t *out, size_t cap)
{
	size_t off = 0;

	if (Tss2_MU_UINT32_Marshal(0xBADCC0DE, out, cap, &off) != 0 ||
	    Tss2_MU_UINT32_Marshal(1, out, cap, &off) != 0 ||
	    Tss2_MU_TPM2B_ID_OBJECT_Marshal(blob, out, cap, &off) != 0 ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(encsec, out, cap, &off) != 0)
		return 0;
	return off;
}
