/* AK public-area policy (TPM 2.0 Part 1, 25.2 "Attestation keys" and
 * Part 2, 8.3 TPMA_OBJECT) and the cached, loaded form of an AK. */
#include "verifier/ak.h"

#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_tpm2_types.h>

#include "verifier/tpm_sig.h"

int ak_check_public(const TPMT_PUBLIC *p, struct verr *e)
{
	static const struct {
		TPMA_OBJECT bit;
		int want;
		const char *code;
		const char *name;
	} rules[] = {
		{TPMA_OBJECT_RESTRICTED, 1, "ak-not-restricted", "restricted"},
		{TPMA_OBJECT_FIXEDTPM, 1, "ak-not-fixedtpm", "fixedTPM"},
		{TPMA_OBJECT_FIXEDPARENT, 1, "ak-not-fixedparent", "fixedParent"},
		{TPMA_OBJECT_SENSITIVEDATAORIGIN, 1, "ak-not-sensitivedataorigin",
		 "sensitiveDataOrigin"},
		{TPMA_OBJECT_SIGN_ENCRYPT, 1, "ak-not-sign", "sign"},
		{TPMA_OBJECT_DECRYPT, 0, "ak-decrypt", "decrypt"},
	};
	TPMA_OBJECT a = p->objectAttributes;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (((a & rules[i].bit) != 0) != rules[i].want) {
			verr_set(e, rules[i].code, "AK attribute %s must be %s (attributes 0x%08x)",
				 rules[i].name, rules[i].want ? "set" : "clear", a);
			return -1;
		}
	}
	/* The Name binds the credential and the quote's signer: a SHA-1 Name
	 * would let a colliding public area stand in for the AK. */
	if (p->nameAlg != TPM2_ALG_SHA256 && p->nameAlg != TPM2_ALG_SHA384 &&
	    p->nameAlg != TPM2_ALG_SHA512) {
		verr_set(e, "ak-namealg", "AK nameAlg 0x%04x is not SHA-256 or stronger",
			 p->nameAlg);
		return -1;
	}
	if (p->type == TPM2_ALG_RSA) {
		if (p->parameters.rsaDetail.keyBits < 2048) {
			verr_set(e, "ak-weak", "RSA AK of %u bits",
				 p->parameters.rsaDetail.keyBits);
			return -1;
		}
	} else if (p->type == TPM2_ALG_ECC) {
		uint16_t c = p->parameters.eccDetail.curveID;
		if (c != TPM2_ECC_NIST_P256 && c != TPM2_ECC_NIST_P384) {
			verr_set(e, "ak-curve", "AK curve 0x%04x not P-256/P-384", c);
			return -1;
		}
	} else {
		verr_set(e, "ak-type", "AK type 0x%04x is neither RSA nor ECC", p->type);
		return -1;
	}
	return 0;
}

struct ak_key *ak_key_new(const uint8_t *pub, size_t n, struct verr *e)
{
	struct ak_key *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		verr_set(e, "internal", "out of memory");
		return NULL;
	}
	if (tpm_public_parse(pub, n, &k->pub, e) != 0 || ak_check_public(&k->pub.pub, e) != 0 ||
	    (k->pkey = tpm_public_to_pkey(&k->pub.pub, e)) == NULL) {
		ak_key_free(k);
		return NULL;
	}
	/* Optional: without it every verification sets a context up anew. */
	k->verify_tmpl = tpm_sig_prepare(k->pkey, &k->pub.pub);
	return k;
}

struct ak_key *ak_key_new_known(const uint8_t *pub, size_t n, const uint8_t *spki, size_t spki_len,
				EVP_PKEY *pkey, struct verr *e)
{
	struct ak_key *k = calloc(1, sizeof(*k));
	uint8_t *mine = NULL;
	size_t len = 0;

	if (k == NULL || pkey == NULL) {
		free(k);
		verr_set(e, "internal", "out of memory");
		return NULL;
	}
	if (tpm_public_parse(pub, n, &k->pub, e) != 0 || ak_check_public(&k->pub.pub, e) != 0)
		goto fail;
	if (tpm_public_spki(&k->pub.pub, &mine, &len) != 0 || len != spki_len ||
	    memcmp(mine, spki, len) != 0) {
		verr_set(e, "ak-other-key", "the public area is not the expected key");
		goto fail;
	}
	if (EVP_PKEY_up_ref(pkey) != 1) {
		verr_set(e, "internal", "out of memory");
		goto fail;
	}
	k->pkey = pkey;
	free(mine);
	k->verify_tmpl = tpm_sig_prepare(k->pkey, &k->pub.pub);
	return k;
fail:
	free(mine);
	ak_key_free(k);
	return NULL;
}

void ak_key_free(struct ak_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_CTX_free(k->verify_tmpl);
	EVP_PKEY_free(k->pkey);
	free(k);
}
