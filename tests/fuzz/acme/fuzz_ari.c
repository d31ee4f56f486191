/* libFuzzer driver: RFC 9773 certificate identifiers. An accepted
 * identifier, rebuilt from what was parsed, must parse again to the same
 * key identifier and serial. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/ari.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[512], id[256], serial[33], serial2[33];
	uint8_t aki[ACME_ARI_AKI_MAX], aki2[ACME_ARI_AKI_MAX];
	size_t n = size < sizeof buf - 1 ? size : sizeof buf - 1, len, len2;

	memcpy(buf, data, n);
	buf[n] = '\0';
	if (acme_ari_parse(buf, aki, &len, serial) != 0)
		return 0;
	if (acme_ari_cert_id(aki, len, serial, id, sizeof id) != 0 ||
	    acme_ari_parse(id, aki2, &len2, serial2) != 0 || len2 != len ||
	    memcmp(aki, aki2, len) != 0 || strcmp(serial, serial2) != 0)
		abort();
	return 0;
}
