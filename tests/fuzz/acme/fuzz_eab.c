/* libFuzzer driver: external account binding and keyChange's inner JWS
 * parsers over arbitrary JSON: no crash, no leak, and a parsed binding
 * verifies or not without reading out of bounds. */
#include <stdint.h>
#include <string.h>

#include "acme/eab.h"
#include "acme/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = {1};
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	struct acme_eab eab;
	struct acme_jws jws;
	struct acme_err e;

	if (j == NULL)
		return 0;
	if (acme_eab_parse(j, "https://ca.test/acme/new-account", "x", &eab, &e) == 0) {
		(void)acme_eab_verify(&eab, key, sizeof key);
		acme_eab_free(&eab);
	}
	if (acme_jws_parse_inner(j, &jws, &e) == 0)
		acme_jws_free(&jws);
	json_decref(j);
	return 0;
}
