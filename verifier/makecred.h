/* Software TPM2_MakeCredential: wraps a secret so that only the TPM holding
 * the EK, and only for an object with the given Name (the AK), releases it
 * through TPM2_ActivateCredential. */
#ifndef ORCHARD_VERIFIER_MAKECRED_H
#define ORCHARD_VERIFIER_MAKECRED_H
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "verifier/verr.h"

/* Makes the credential blob and encrypted seed for ek (an RSA EK: RSA-OAEP
 * of the seed with label "IDENTITY"; an ECC EK: ephemeral ECDH and KDFe)
 * bound to ak_name. The secret is 1 to H(ek.nameAlg) bytes. Returns 0, or
 * -1 with e set. */
int makecred(const TPMT_PUBLIC *ek, const uint8_t *ak_name, size_t name_len, const uint8_t *secret,
	     size_t slen, TPM2B_ID_OBJECT *blob, TPM2B_ENCRYPTED_SECRET *encsec, struct verr *e);

/* Serialises blob and encsec as tpm2_makecredential -o does, which
 * tpm2_activatecredential -i reads: 0xBADCC0DE, version 1 (both
 * big-endian u32), TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET. Returns the
 * length written, or 0 if cap is too small. */
size_t makecred_write_tpm2tools(const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *encsec,
				uint8_t *out, size_t cap);

#endif
