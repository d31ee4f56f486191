/* TPM2_Quote verification (TPM 2.0 Part 3, 18.4; Part 2, 10.12.1
 * TPMS_QUOTE_INFO). Order matters: authenticate, then parse, then compare. */
#include "verifier/quote.h"

#include <string.h>

#include "common/ct.h"
#include "verifier/tpm_alg.h"
#include "verifier/tpm_attest.h"
#include "verifier/tpm_sig.h"

static int check_signer(const struct ak_key *ak, const TPM2B_NAME *qs, const struct quote_input *in,
			struct verr *e)
{
	uint16_t alg;

	if (in->qualified_signer != NULL) {
		if (qs->size != in->qualified_signer_len ||
		    memcmp(qs->name, in->qualified_signer, qs->size) != 0) {
			verr_set(e, "quote-signer",
				 "qualifiedSigner is not the bound AK under its EK");
			return -1;
		}
		return 0;
	}
	/* Without the parent's Qualified Name we can still insist on the
	 * AK's name algorithm and digest size. */
	alg = qs->size >= 2 ? (uint16_t)(qs->name[0] << 8 | qs->name[1]) : 0;
	if (alg != ak->pub.pub.nameAlg || qs->size != 2 + tpm_alg_digest_size(alg)) {
		verr_set(e, "quote-signer", "qualifiedSigner does not use the AK's name algorithm");
		return -1;
	}
	return 0;
}

int quote_verify(const struct ak_key *ak, const struct quote_input *in, struct quote_result *out,
		 struct verr *e)
{
	TPMT_SIGNATURE sig;
	const TPMS_QUOTE_INFO *qi;
	uint8_t dig[TPM_ALG_MAX_DIGEST];
	size_t dl = 0;
	uint16_t hash;

	memset(out, 0, sizeof(*out));
	if (tpm_sig_parse(in->sig, in->sig_len, &sig, e) != 0)
		return -1;
	if (tpm_sig_verify(ak->pkey, ak->verify_tmpl, &ak->pub.pub, &sig, in->msg, in->msg_len,
			   e) != 0)
		return -1;
	if (tpm_attest_parse_quote(in->msg, in->msg_len, &out->attest, e) != 0)
		return -1;
	if (check_signer(ak, &out->attest.qualifiedSigner, in, e) != 0)
		return -1;
	if (in->nonce == NULL || out->attest.extraData.size != in->nonce_len ||
	    !ct_equal(out->attest.extraData.buffer, in->nonce, in->nonce_len)) {
		verr_set(e, "nonce-mismatch", "quote extraData is not the issued nonce");
		return -1;
	}
	qi = &out->attest.attested.quote;
	/* The TPM digests the PCRs with the signing scheme's hash. */
	hash = tpm_sig_hash(&sig);
	if (pcr_set_digest(in->pcrs, &qi->pcrSelect, hash, dig, &dl, &out->covered, e) != 0)
		return -1;
	if (qi->pcrDigest.size != dl || memcmp(qi->pcrDigest.buffer, dig, dl) != 0) {
		memset(&out->covered, 0, sizeof(out->covered));
		verr_set(e, "pcr-digest", "PCR values do not match the quoted PCR digest");
		return -1;
	}
	return 0;
}

int quote_peek_selection(const uint8_t *msg, size_t n, TPML_PCR_SELECTION *sel)
{
	TPMS_ATTEST a;

	if (tpm_attest_parse_quote(msg, n, &a, NULL) != 0)
		return -1;
	*sel = a.attested.quote.pcrSelect;
	return 0;
}
