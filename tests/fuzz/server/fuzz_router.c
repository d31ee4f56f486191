/* libFuzzer driver: arbitrary methods and paths through the route table
 * (percent-decoding, captures), checking captures are freed and bounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/routes.h"

static int h(struct request *req)
{
	(void)req;
	return 1;
}

/* Patterns of every shape the real table has: literals, one and several
 * captures, the same path under two methods. */
const struct route routes[] = {
	{"GET", "/healthz", h, PUBLIC, BODY_NONE, 0, WIRE_ORCHARD, "a"},
	{"PUT", "/{scope}/registrations/{id}/register", h, PUBLIC, BODY_JSON, 1024, WIRE_ORCHARD,
	 "b"},
	{"GET", "/{scope}/registrations/{id}/operations/{op}", h, PUBLIC, BODY_NONE, 0,
	 WIRE_ORCHARD, "c"},
	{"GET", "/ops/tokens/{jti}", h, SCOPE_TOKENS_READ, BODY_NONE, "d"},
	{"DELETE", "/ops/tokens/{jti}", h, SCOPE_TOKENS_WRITE, BODY_NONE, "e"},
};
const size_t routes_count = sizeof routes / sizeof routes[0];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
	char *path, *params[ROUTE_MAX_PARAMS], allow[64];
	const struct route *r = NULL;
	int n = 0;

	if (size < 1)
		return 0;
	path = malloc(size);
	if (path == NULL)
		return 0;
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	if (route_find(methods[data[0] % 5], path, &r, params, &n, allow, sizeof allow) ==
	    ROUTE_FOUND) {
		if (r == NULL || n < 0 || n > ROUTE_MAX_PARAMS)
			abort();
		for (int i = 0; i < n; i++)
			free(params[i]);
	}
	free(path);
	return 0;
}
