/* libFuzzer driver: arbitrary request bodies through the depth scan and the
 * bounded JSON parser, as every JSON route sees them. */
#include <stddef.h>
#include <stdint.h>

#include "common/jsonb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = NULL;

	jsonb_parse((const char *)data, size, 32, &j, NULL);
	json_decref(j);
	return 0;
}
