/* DPS authenticationKey construction, following the recipe measured in
 * shared/notes/dps-wire.md (TSS.MSR CreateActivation/GetDuplicationBlob)
 * and TPM 2.0 Part 1, 23.3 (duplication: inner then outer wrapper). */
#include "verifier/dps_authkey.h"

#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include "verifier/makecred.h"
#include "verifier/tpm_wrap.h"

/* An RSA key with AES-128-CFB and a SHA-256 name, as Azure's devices
 * have their EK and SRK: the blob is then Azure's byte for byte. */
static int rsa_suitable(const TPMT_PUBLIC *p)
{
	return p->type == TPM2_ALG_RSA && p->nameAlg == TPM2_ALG_SHA256 &&
	       p->parameters.rsaDetail.symmetric.algorithm == TPM2_ALG_AES &&
	       p->parameters.rsaDetail.symmetric.keyBits.aes == 128 &&
	       p->parameters.rsaDetail.symmetric.mode.aes == TPM2_ALG_CFB;
}

/* The SRK: RSA as above, or (Orchard's own) ECC with the same name and
 * symmetric, whose duplication seed comes by ECDH with label "DUPLICATE".
 * The sizes below (128-bit STORAGE keys, a 32-byte seed) rely on both. */
static int srk_suitable(const TPMT_PUBLIC *p)
{
	return rsa_suitable(p) || (p->type == TPM2_ALG_ECC && p->nameAlg == TPM2_ALG_SHA256 &&
				   p->parameters.eccDetail.symmetric.algorithm == TPM2_ALG_AES &&
				   p->parameters.eccDetail.symmetric.keyBits.aes == 128 &&
				   p->parameters.eccDetail.symmetric.mode.aes == TPM2_ALG_CFB);
}

/* The EK only receives the credential (the 16-byte inner wrapper key), so
 * makecred() decides: an RSA EK as Azure's devices have (byte for byte
 * Azure's blob), or an ECC EK (any curve, name and AES-CFB makecred takes:
 * the seed by ECDH and KDFe, TPM 2.0 Part 1, 24.4 and C.6.4; Orchard's
 * own, as Azure defines no ECC encoding). */
static int ek_suitable(const TPMT_PUBLIC *p)
{
	return rsa_suitable(p) || p->type == TPM2_ALG_ECC;
}

int dps_authkey_build(const struct tpm_public *ek, const struct tpm_public *srk, const uint8_t *k,
		      size_t klen, uint8_t *out, size_t cap, size_t *len, struct verr *e)
{
	TPM2B_PUBLIC idpub;
	TPM2B_SENSITIVE sens;
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET credsec, symseed;
	TPM2B_PRIVATE dup;
	EVP_PKEY *srk_pk = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t seedv[32], inner[16], dseed[32], pubb[1024], idname[34], plain[1024], enc[1024];
	size_t pubn = 0, sensn = 0, off = 0, encn, dupn;
	unsigned int dl = 0;
	int rc = -1;

	*len = 0;
	memset(&idpub, 0, sizeof(idpub));
	memset(&sens, 0, sizeof(sens));
	if (!ek_suitable(&ek->pub) || !srk_suitable(&srk->pub)) {
		verr_set(e, "dps-keys",
			 "the EK must be RSA (SHA-256 named, AES-128-CFB) or ECC, the"
			 " SRK RSA or ECC, SHA-256 named, AES-128-CFB");
		goto out;
	}
	if (klen == 0 || klen > sizeof(sens.sensitiveArea.sensitive.bits.buffer)) {
		verr_set(e, "dps-key", "HMAC key of %zu bytes", klen);
		goto out;
	}
	if (RAND_bytes(seedv, sizeof(seedv)) != 1 || RAND_bytes(inner, sizeof(inner)) != 1 ||
	    RAND_bytes(dseed, sizeof(dseed)) != 1) {
		verr_set(e, "internal", "RAND_bytes failed");
		goto out;
	}
	/* The keyed-hash object: unique = H(seedValue || key) (Part 1, 27.2.2). */
	idpub.publicArea.type = TPM2_ALG_KEYEDHASH;
	idpub.publicArea.nameAlg = TPM2_ALG_SHA256;
	idpub.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
	idpub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
	idpub.publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = TPM2_ALG_SHA256;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, seedv, sizeof(seedv)) != 1 || EVP_DigestUpdate(md, k, klen) != 1 ||
	    EVP_DigestFinal_ex(md, idpub.publicArea.unique.keyedHash.buffer, &dl) != 1) {
		verr_set(e, "internal", "digest failed");
		goto out;
	}
	idpub.publicArea.unique.keyedHash.size = (uint16_t)dl;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&idpub, pubb, sizeof(pubb), &pubn) != 0) {
		verr_set(e, "internal", "cannot marshal the key's public area");
		goto out;
	}
	/* Name(idPub) over the TPMT_PUBLIC bytes, after the u16 size. */
	idname[0] = 0x00;
	idname[1] = 0x0b;
	if (EVP_Digest(pubb + 2, pubn - 2, idname + 2, &dl, EVP_sha256(), NULL) != 1) {
		verr_set(e, "internal", "digest failed");
		goto out;
	}
	/* Inner wrapper: CFB(inner, TPM2B(H(sensitive || Name)) || sensitive). */
	sens.sensitiveArea.sensitiveType = TPM2_ALG_KEYEDHASH;
	sens.sensitiveArea.seedValue.size = sizeof(seedv);
	memcpy(sens.sensitiveArea.seedValue.buffer, seedv, sizeof(seedv));
	sens.sensitiveArea.sensitive.bits.size = (uint16_t)klen;
	memcpy(sens.sensitiveArea.sensitive.bits.buffer, k, klen);
	if (Tss2_MU_TPM2B_SENSITIVE_Marshal(&sens, plain + 34, sizeof(plain) - 34, &sensn) != 0 ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, plain + 34, sensn) != 1 ||
	    EVP_DigestUpdate(md, idname, sizeof(idname)) != 1 ||
	    EVP_DigestFinal_ex(md, plain + 2, &dl) != 1) {
		verr_set(e, "internal", "inner integrity failed");
		goto out;
	}
	plain[0] = 0x00;
	plain[1] = 0x20;
	encn = 34 + sensn;
	if (tpm_wrap_aes_cfb(inner, 128, plain, encn, enc) != 0) {
		verr_set(e, "internal", "inner wrapper failed");
		goto out;
	}
	/* Outer wrapper with a seed only the SRK can recover. */
	if ((srk_pk = tpm_public_to_pkey(&srk->pub, e)) == NULL)
		goto out;
	memset(&symseed, 0, sizeof(symseed));
	memset(&dup, 0, sizeof(dup));
	if ((srk->pub.type == TPM2_ALG_RSA
		     ? tpm_wrap_rsa_seed(srk_pk, TPM2_ALG_SHA256, "DUPLICATE", dseed, sizeof(dseed),
					 &symseed)
		     : tpm_wrap_ecc_seed(srk_pk, &srk->pub, TPM2_ALG_SHA256, "DUPLICATE", dseed,
					 sizeof(dseed), &symseed)) != 0 ||
	    (dupn = tpm_wrap_outer(TPM2_ALG_SHA256, dseed, sizeof(dseed), 128, idname,
				   sizeof(idname), enc, encn, dup.buffer, sizeof(dup.buffer))) ==
		    0) {
		verr_set(e, "dps-wrap", "duplication wrapper failed");
		goto out;
	}
	dup.size = (uint16_t)dupn;
	/* The inner key reaches the TPM as a credential bound to the SRK. */
	if (makecred(&ek->pub, srk->name, srk->name_len, inner, sizeof(inner), &cred, &credsec,
		     e) != 0)
		goto out;
	if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(&cred, out, cap, &off) != 0 ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&credsec, out, cap, &off) != 0 ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(&dup, out, cap, &off) != 0 ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&symseed, out, cap, &off) != 0 ||
	    pubn > cap - off) {
		verr_set(e, "dps-wrap", "blob does not fit in %zu bytes", cap);
		goto out;
	}
	memcpy(out + off, pubb, pubn);
	off += pubn;
	if (cap - off < 2) {
		verr_set(e, "dps-wrap", "blob does not fit in %zu bytes", cap);
		goto out;
	}
	out[off++] = 0;
	out[off++] = 0;
	*len = off;
	rc = 0;
out:
	OPENSSL_cleanse(seedv, sizeof(seedv));
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(dseed, sizeof(dseed));
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(&sens, sizeof(sens));
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(srk_pk);
	return rc;
}
