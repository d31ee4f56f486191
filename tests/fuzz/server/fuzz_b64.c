/* libFuzzer driver: base64 and base64url decoding must never read out of
 * bounds, and whatever decodes must encode back to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int url = 0; url < 2; url++) {
		size_t n;
		uint8_t *out = b64_decode((const char *)data, size, url, &n);
		if (out == NULL)
			continue;
		char *back = b64_encode(out, n, url);
		/* Strict decoding: exactly one text per byte string. */
		if (back == NULL || strlen(back) != size || memcmp(back, data, size) != 0)
			abort();
		free(back);
		free(out);
	}
	return 0;
}
