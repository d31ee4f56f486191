/* libFuzzer driver: TPMS_ATTEST quote parsing, and the PCR file reader laid
 * out by the parsed selection (both read attacker-controlled bytes). */
#include <stddef.h>
#include <stdint.h>

#include "verifier/pcr_set.h"
#include "verifier/quote.h"
#include "verifier/tpm_attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TPMS_ATTEST a;
	TPML_PCR_SELECTION sel;
	struct pcr_set s;
	struct verr e = {0};

	if (tpm_attest_parse_quote(data, size, &a, &e) == 0) {
		sel = a.attested.quote.pcrSelect;
		(void)pcr_selection_check(&sel, NULL);
	}
	(void)quote_peek_selection(data, size, &sel);
	(void)pcr_set_read_tpm2tools(data, size, NULL, &s, NULL);
	return 0;
}
