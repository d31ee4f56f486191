/* libFuzzer driver: the depot's parsers over untrusted bytes. The input is
 * read as an .opkg container (an accepted one must have a canonical
 * manifest that re-parses to the same fields), as manifest JSON, and as
 * Range / If-None-Match header text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "depot/depot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct depot_opkg o;
	struct depot_manifest m, again;
	const char *why = NULL;
	uint64_t start, len;
	char text[256];
	size_t n = size < sizeof text - 1 ? size : sizeof text - 1;

	if (depot_opkg_read(data, size, 4096, &o, &m, &why) == DEPOT_OK) {
		if (depot_manifest_parse((const char *)o.manifest, o.manifest_len, 1, &again,
					 &why) != 0 ||
		    strcmp(again.publisher, m.publisher) != 0 ||
		    memcmp(again.module, m.module, sizeof m.module) != 0 || o.module_len > 4096)
			abort();
		depot_manifest_free(&again);
		depot_manifest_free(&m);
	}
	if (depot_manifest_parse((const char *)data, size, -1, &m, &why) == 0)
		depot_manifest_free(&m);
	memcpy(text, data, n);
	text[n] = '\0';
	if (depot_range_parse(text, 1000, &start, &len) == 0 && (len == 0 || start + len > 1000))
		abort();
	(void)depot_etag_match(text, "\"sha256:00\"");
	return 0;
}
