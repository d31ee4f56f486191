/* EK/AK binding state: pending challenge -> activated, with the pair and
 * the AK's Qualified Name fixed at creation and never replaced. */
#include "verifier/binding.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/ct.h"
#include "verifier/makecred.h"

struct binding {
	uint8_t *ek_bytes, *ak_bytes; /* the public areas as received */
	size_t ekn, akn;
	struct tpm_public ek;
	struct ak_key *ak;
	uint8_t ak_qn[TPM_NAME_MAX];
	size_t ak_qn_len;
	uint8_t secret_hash[32];
	int challenged, active;
};

static uint8_t *dup_bytes(const uint8_t *b, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	if (p != NULL && n > 0)
		memcpy(p, b, n);
	return p;
}

struct binding *binding_new(const uint8_t *ek_pub, size_t ekn, const uint8_t *ak_pub, size_t akn,
			    struct verr *e)
{
	static const uint8_t endorsement[4] = {0x40, 0x00, 0x00, 0x0b}; /* TPM_RH_ENDORSEMENT */
	struct binding *b = calloc(1, sizeof(*b));
	uint8_t ekqn[TPM_NAME_MAX];
	size_t ekqnl = 0;

	if (b == NULL || (b->ek_bytes = dup_bytes(ek_pub, ekn)) == NULL ||
	    (b->ak_bytes = dup_bytes(ak_pub, akn)) == NULL) {
		verr_set(e, "internal", "out of memory");
		goto fail;
	}
	b->ekn = ekn;
	b->akn = akn;
	if (tpm_public_parse(ek_pub, ekn, &b->ek, e) != 0 ||
	    (b->ak = ak_key_new(ak_pub, akn, e)) == NULL)
		goto fail;
	/* Part 1, 16.6: QN(EK) = H(handle of its hierarchy || Name(EK)),
	 * QN(AK) = H(QN(EK) || Name(AK)) for an AK created under the EK. */
	if (tpm_public_qualified_name(endorsement, sizeof(endorsement), &b->ek, ekqn, &ekqnl) !=
		    0 ||
	    tpm_public_qualified_name(ekqn, ekqnl, &b->ak->pub, b->ak_qn, &b->ak_qn_len) != 0) {
		verr_set(e, "internal", "qualified name");
		goto fail;
	}
	return b;
fail:
	binding_free(b);
	return NULL;
}

struct binding *binding_restore(const uint8_t *ek_pub, size_t ekn, const uint8_t *ak_pub,
				size_t akn, struct verr *e)
{
	struct binding *b = binding_new(ek_pub, ekn, ak_pub, akn, e);
	if (b != NULL)
		b->active = 1;
	return b;
}

int binding_challenge(struct binding *b, const uint8_t *secret, uint8_t *out, size_t cap,
		      size_t *len, struct verr *e)
{
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET encsec;
	uint8_t s[BINDING_SECRET_LEN];
	unsigned int hl = 0;
	int rc = -1;

	if (b->active) {
		verr_set(e, "binding-fixed", "binding already activated; it never changes");
		return -1;
	}
	if (secret != NULL)
		memcpy(s, secret, sizeof(s));
	else if (RAND_bytes(s, sizeof(s)) != 1) {
		verr_set(e, "internal", "RAND_bytes failed");
		goto out;
	}
	if (makecred(&b->ek.pub, b->ak->pub.name, b->ak->pub.name_len, s, sizeof(s), &blob, &encsec,
		     e) != 0)
		goto out;
	*len = makecred_write_tpm2tools(&blob, &encsec, out, cap);
	if (*len == 0) {
		verr_set(e, "internal", "credential does not fit");
		goto out;
	}
	if (EVP_Digest(s, sizeof(s), b->secret_hash, &hl, EVP_sha256(), NULL) != 1) {
		verr_set(e, "internal", "digest failed");
		goto out;
	}
	b->challenged = 1;
	rc = 0;
out:
	OPENSSL_cleanse(s, sizeof(s));
	return rc;
}

int binding_activate(struct binding *b, const uint8_t *secret, size_t n, struct verr *e)
{
	uint8_t h[32];
	unsigned int hl = 0;
	int ok;

	if (!b->challenged) {
		verr_set(e, "activation-no-challenge", "no activation challenge outstanding");
		return -1;
	}
	b->challenged = 0; /* one answer per challenge */
	ok = secret != NULL && n == BINDING_SECRET_LEN &&
	     EVP_Digest(secret, n, h, &hl, EVP_sha256(), NULL) == 1 &&
	     ct_equal(h, b->secret_hash, sizeof(h));
	OPENSSL_cleanse(b->secret_hash, sizeof(b->secret_hash));
	if (!ok) {
		verr_set(e, "activation-failed", "the TPM's answer is not the challenge secret");
		return -1;
	}
	b->active = 1;
	return 0;
}

int binding_pending(const struct binding *b, uint8_t hash[32])
{
	if (!b->challenged)
		return -1;
	memcpy(hash, b->secret_hash, 32);
	return 0;
}

struct binding *binding_resume(const uint8_t *ek_pub, size_t ekn, const uint8_t *ak_pub, size_t akn,
			       const uint8_t hash[32], struct verr *e)
{
	struct binding *b = binding_new(ek_pub, ekn, ak_pub, akn, e);

	if (b != NULL) {
		memcpy(b->secret_hash, hash, 32);
		b->challenged = 1;
	}
	return b;
}

int binding_is_active(const struct binding *b)
{
	return b->active;
}

int binding_check_pair(const struct binding *b, const uint8_t *ek_pub, size_t ekn,
		       const uint8_t *ak_pub, size_t akn, struct verr *e)
{
	if (ekn != b->ekn || memcmp(ek_pub, b->ek_bytes, ekn) != 0) {
		verr_set(e, "ek-mismatch", "EK is not the bound EK");
		return -1;
	}
	if (akn != b->akn || memcmp(ak_pub, b->ak_bytes, akn) != 0) {
		verr_set(e, "ak-substituted", "AK is not the one activated for this EK");
		return -1;
	}
	return 0;
}

int binding_verify_quote(const struct binding *b, const struct quote_input *in,
			 struct quote_result *out, struct verr *e)
{
	struct quote_input q = *in;

	if (!b->active) {
		verr_set(e, "binding-inactive", "AK not yet activated for this EK");
		return -1;
	}
	q.qualified_signer = b->ak_qn;
	q.qualified_signer_len = b->ak_qn_len;
	return quote_verify(b->ak, &q, out, e);
}

const struct ak_key *binding_ak(const struct binding *b)
{
	return b->ak;
}

void binding_free(struct binding *b)
{
	if (b == NULL)
		return;
	OPENSSL_cleanse(b->secret_hash, sizeof(b->secret_hash));
	ak_key_free(b->ak);
	free(b->ek_bytes);
	free(b->ak_bytes);
	free(b);
}
