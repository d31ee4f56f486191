/* libFuzzer driver: a request's method, target and header fields through
 * what orchardd runs before a handler: the edge's target and header rules,
 * then route matching and segment decoding over the real route table.
 * Input: byte 0 picks the method and version, then the target, then
 * "name:value" fields, each ended by '\n' (a value may hold any other byte). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "server/edge.h"
#include "server/routes.h"

static int count_captures(const char *pattern)
{
	int n = 0;

	for (const char *p = pattern; *p; p++)
		n += *p == '{';
	return n;
}

/* The header rules must hold for any set the scan accepts. */
static void check_scan(const struct edge_scan *s, enum err_code err, bool http11)
{
	if (err != s->err)
		abort();
	if (err != ERR__COUNT) {
		if (s->detail[0] == '\0' || memchr(s->detail, '\0', sizeof s->detail) == NULL)
			abort();
		return;
	}
	if (s->content_length > 1 || s->transfer_encoding > 1 || s->host > 1 ||
	    (s->content_length && s->transfer_encoding) || (http11 && s->host != 1))
		abort();
}

static void run_headers(const uint8_t *p, size_t n, bool http11)
{
	struct edge_scan s;

	edge_scan_init(&s);
	while (n > 0) {
		const uint8_t *eol = memchr(p, '\n', n);
		size_t len = eol ? (size_t)(eol - p) : n;
		const uint8_t *colon = memchr(p, ':', len);
		if (colon != NULL) {
			size_t nlen = (size_t)(colon - p);
			/* Exact-size copies, so ASan sees any read past a field. */
			char *name = malloc(nlen ? nlen : 1), *value = malloc(len - nlen);
			if (name == NULL || value == NULL)
				abort();
			memcpy(name, p, nlen);
			memcpy(value, colon + 1, len - nlen - 1);
			edge_scan_field(&s, name, nlen, value, len - nlen - 1, false);
			free(name);
			free(value);
		}
		p += len + (eol != NULL);
		n -= len + (eol != NULL);
	}
	check_scan(&s, edge_scan_finish(&s, http11), http11);
}

static void run_route(const char *method, const char *target, size_t len)
{
	char *path = malloc(len + 1), *params[ROUTE_MAX_PARAMS], allow[64];
	const struct route *r = NULL;
	int n = -1;

	if (path == NULL)
		abort();
	/* As libmicrohttpd hands it over: the query split off at '?'. */
	memcpy(path, target, len);
	path[len] = '\0';
	path[strcspn(path, "?")] = '\0';
	if (strlen(path) <= ROUTE_MAX_URL &&
	    route_find(method, path, &r, params, &n, allow, sizeof allow) == ROUTE_FOUND) {
		if (r < routes || r >= routes + routes_count || n != count_captures(r->pattern))
			abort();
		for (int i = 0; i < n; i++) {
			size_t plen = strlen(params[i]);
			if (plen == 0 || !utf8_valid(params[i], plen))
				abort();
			free(params[i]);
		}
	} else if (strlen(allow) >= sizeof allow) {
		abort();
	}
	free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "FOO", ""};
	const uint8_t *eol;
	size_t line, tlen;

	if (size < 1)
		return 0;
	const char *method = methods[data[0] & 7];
	bool http11 = data[0] & 8;
	data++;
	size--;
	eol = memchr(data, '\n', size);
	line = eol ? (size_t)(eol - data) : size;
	/* libmicrohttpd ends the target at a NUL; so does the edge. */
	tlen = strnlen((const char *)data, line);
	char *target = malloc(tlen + 1);
	if (target == NULL)
		abort();
	memcpy(target, data, tlen);
	target[tlen] = '\0';
	enum err_code uerr = edge_check_uri(target, tlen);
	if (uerr != ERR__COUNT && uerr != ERR_URI_TOO_LONG && uerr != ERR_TOO_MANY_PARAMETERS)
		abort();
	if (uerr == ERR__COUNT)
		run_route(method, target, tlen);
	free(target);
	if (eol != NULL)
		run_headers(eol + 1, size - line - 1, http11);
	return 0;
}
