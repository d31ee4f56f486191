/* libFuzzer driver: EK certificate parsing (DER or PEM), its key checked
 * against a fixed EK public area, as ek_cert_match_public does. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "verifier/ek_cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509 *c = ek_cert_parse(data, size, NULL);
	char id[64];

	if (c != NULL) {
		TPMT_PUBLIC p;
		memset(&p, 0, sizeof(p));
		p.type = TPM2_ALG_RSA;
		p.nameAlg = TPM2_ALG_SHA256;
		p.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
				     TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				     TPMA_OBJECT_SENSITIVEDATAORIGIN;
		p.parameters.rsaDetail.keyBits = 2048;
		p.unique.rsa.size = 256;
		memset(p.unique.rsa.buffer, 0xc3, 256);
		(void)ek_cert_match_public(c, &p, NULL);
	}
	X509_free(c);
	(void)ek_registration_id(data, size, id, sizeof(id));
	return 0;
}
