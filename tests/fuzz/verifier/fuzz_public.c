/* libFuzzer driver: TPM2B_PUBLIC parsing, Name computation, AK checks and
 * conversion to an OpenSSL key, plus TPMT_SIGNATURE parsing. */
#include <stddef.h>
#include <stdint.h>

#include "verifier/ak.h"
#include "verifier/tpm_public.h"
#include "verifier/tpm_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpm_public p;
	TPMT_SIGNATURE s;
	struct ak_key *k = ak_key_new(data, size, NULL);

	ak_key_free(k);
	if (tpm_public_parse(data, size, &p, NULL) == 0)
		EVP_PKEY_free(tpm_public_to_pkey(&p.pub, NULL));
	(void)tpm_sig_parse(data, size, &s, NULL);
	return 0;
}
