/* TPMS_ATTEST, the structure a TPM signs for a quote: strict parsing that
 * checks what Tss2_MU_TPMS_ATTEST_Unmarshal leaves to the caller. */
#ifndef ORCHARD_VERIFIER_TPM_ATTEST_H
#define ORCHARD_VERIFIER_TPM_ATTEST_H
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "verifier/verr.h"

/* Parses b as a TPMS_ATTEST of type QUOTE: the magic must be
 * TPM_GENERATED_VALUE (the MU unmarshaller does not check it), the type
 * TPM_ST_ATTEST_QUOTE, and the structure must fill exactly n bytes.
 * Returns 0, or -1 with e set. */
int tpm_attest_parse_quote(const uint8_t *b, size_t n, TPMS_ATTEST *out, struct verr *e);

#endif
