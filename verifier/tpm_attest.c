/* TPMS_ATTEST checks (TPM 2.0 Part 2, 10.12.12): the magic is what makes a
 * restricted key refuse to sign look-alike data, so it is checked first. */
#include "verifier/tpm_attest.h"

#include <string.h>
#include <tss2/tss2_mu.h>

int tpm_attest_parse_quote(const uint8_t *b, size_t n, TPMS_ATTEST *out, struct verr *e)
{
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	if (b == NULL || n < 6) {
		verr_set(e, "attest-truncated", "attestation of %zu bytes", n);
		return -1;
	}
	/* Check magic and type on the raw bytes before unmarshalling, so a
	 * foreign structure is named as such rather than as "malformed". */
	if (((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]) !=
	    TPM2_GENERATED_VALUE) {
		verr_set(e, "attest-magic", "magic is not TPM_GENERATED_VALUE");
		return -1;
	}
	if ((uint16_t)(b[4] << 8 | b[5]) != TPM2_ST_ATTEST_QUOTE) {
		verr_set(e, "attest-type", "attestation type 0x%04x is not a quote",
			 b[4] << 8 | b[5]);
		return -1;
	}
	if (Tss2_MU_TPMS_ATTEST_Unmarshal(b, n, &off, out) != 0) {
		verr_set(e, "attest-malformed", "TPMS_ATTEST does not unmarshal");
		return -1;
	}
	if (off != n) {
		verr_set(e, "attest-trailing", "%zu bytes after TPMS_ATTEST", n - off);
		return -1;
	}
	return 0;
}
