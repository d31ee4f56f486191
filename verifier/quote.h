/* Quote verification: a TPMS_ATTEST signed by a checked AK, carrying the
 * expected nonce, whose PCR digest matches the PCR values supplied. */
#ifndef ORCHARD_VERIFIER_QUOTE_H
#define ORCHARD_VERIFIER_QUOTE_H
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "verifier/ak.h"
#include "verifier/pcr_set.h"
#include "verifier/verr.h"

struct quote_input {
	const uint8_t *msg; /* TPMS_ATTEST bytes (tpm2_quote -m) */
	size_t msg_len;
	const uint8_t *sig; /* TPMT_SIGNATURE (tpm2_quote -s) */
	size_t sig_len;
	const struct pcr_set *pcrs; /* claimed PCR values (tpm2_quote -o) */
	const uint8_t *nonce;	    /* the nonce this verifier issued */
	size_t nonce_len;
	/* Optional: the AK's expected Qualified Name (from its EK binding).
	 * When NULL, only its algorithm and size are checked. */
	const uint8_t *qualified_signer;
	size_t qualified_signer_len;
};

struct quote_result {
	TPMS_ATTEST attest;	/* the verified attestation */
	struct pcr_set covered; /* only the PCRs the quote vouches for */
};

/* Verifies a quote by ak: signature first (so every later check reads
 * authenticated bytes), then magic and type, qualifiedSigner, extraData
 * against the nonce, and the PCR digest recomputed from in->pcrs. On
 * success fills out; out->covered is the only PCR data a policy may use.
 * Nonce freshness (issue, use once, expiry) is the nonce store's job and
 * happens before this call. Returns 0, or -1 with e set. */
int quote_verify(const struct ak_key *ak, const struct quote_input *in, struct quote_result *out,
		 struct verr *e);

/* Reads the quote's selection from unverified attestation bytes, so a
 * tpm2-tools "values" PCR file can be laid out before the signature is
 * checked. Returns 0, or -1 when msg is not a quote. */
int quote_peek_selection(const uint8_t *msg, size_t n, TPML_PCR_SELECTION *sel);

#endif
