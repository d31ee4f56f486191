/* Route matching: walks the pattern and the path segment by segment, with
 * no allocation until a route matches. Captures are percent-decoded here,
 * since MHD is told to leave the path undecoded (so %2F stays in a segment). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "server/routes.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes n bytes of a segment into a new string, or NULL on a bad escape,
 * an encoded NUL, or bytes (raw or decoded) that are not UTF-8: the path
 * goes into SQL and the audit trail, which take nothing else. */
static char *segment_decode(const char *s, size_t n)
{
	char *out = utf8_valid(s, n) ? malloc(n + 1) : NULL, *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
		int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	if (!utf8_valid(out, (size_t)(o - out))) {
		free(out);
		return NULL;
	}
	return out;
}

/* Matches path against pattern; on success records capture spans. */
static int pattern_match(const char *pattern, const char *path, const char *cap[], size_t caplen[],
			 int *ncap)
{
	const char *p = pattern, *u = path;

	*ncap = 0;
	while (*p == '/' && *u == '/') {
		p++;
		u++;
		size_t pl = strcspn(p, "/"), ul = strcspn(u, "/");
		if (*p == '{') {
			if (ul == 0 || *ncap == ROUTE_MAX_PARAMS)
				return 0;
			cap[*ncap] = u;
			caplen[(*ncap)++] = ul;
		} else if (pl != ul || strncasecmp(p, u, pl) != 0) {
			return 0;
		}
		p += pl;
		u += ul;
	}
	return *p == '\0' && *u == '\0';
}

/* HEAD is GET without the body (RFC 9110 9.3.2); MHD drops the body. */
static int method_match(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 ||
	       (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

enum route_match route_find(const char *method, const char *path, const struct route **found,
			    char *params[ROUTE_MAX_PARAMS], int *nparams, char *allow,
			    size_t allow_len)
{
	const char *cap[ROUTE_MAX_PARAMS];
	size_t caplen[ROUTE_MAX_PARAMS], used = 0;
	int ncap, path_seen = 0;

	*nparams = 0;
	allow[0] = '\0';
	for (size_t i = 0; i < routes_count; i++) {
		const struct route *r = &routes[i];
		if (!pattern_match(r->pattern, path, cap, caplen, &ncap))
			continue;
		if (!method_match(r->method, method)) {
			int n = snprintf(allow + used, allow_len - used, "%s%s%s",
					 path_seen ? ", " : "", r->method,
					 strcmp(r->method, "GET") == 0 ? ", HEAD" : "");
			if (n > 0 && (size_t)n < allow_len - used)
				used += (size_t)n;
			path_seen = 1;
			continue;
		}
		for (int k = 0; k < ncap; k++) {
			params[k] = segment_decode(cap[k], caplen[k]);
			if (params[k] == NULL) {
				for (int j = 0; j < k; j++)
					free(params[j]);
				return ROUTE_NO_PATH;
			}
		}
		*nparams = ncap;
		*found = r;
		allow[0] = '\0'; /* other methods seen on the way: no Allow */
		return ROUTE_FOUND;
	}
	return path_seen ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}

static const struct {
	const char *name;
	unsigned mask;
} scope_names[] = {
	{"enrollments:read", SCOPE_ENROLLMENTS_READ},
	{"enrollments:write", SCOPE_ENROLLMENTS_WRITE},
	{"twins:read", SCOPE_TWINS_READ},
	{"twins:write", SCOPE_TWINS_WRITE},
	{"pki:admin", SCOPE_PKI_ADMIN},
	{"audit:read", SCOPE_AUDIT_READ},
	{"tokens:read", SCOPE_TOKENS_READ},
	{"tokens:write", SCOPE_TOKENS_WRITE},
	{"acme:admin", SCOPE_ACME_ADMIN},
	{"depot:read", SCOPE_DEPOT_READ},
	{"depot:write", SCOPE_DEPOT_WRITE},
};

unsigned scope_parse(const char *name)
{
	if (strcmp(name, "all") == 0)
		return SCOPE_ALL;
	for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
		if (strcmp(scope_names[i].name, name) == 0)
			return scope_names[i].mask;
	return 0;
}

unsigned scope_parse_list(const char *text, unsigned *bad)
{
	unsigned mask = 0;
	char word[64];

	*bad = 0;
	while (*text) {
		size_t n = strcspn(text, " ");
		unsigned m = 0;
		if (n > 0 && n < sizeof word) {
			memcpy(word, text, n);
			word[n] = '\0';
			m = scope_parse(word);
		}
		if (m == 0)
			(*bad)++;
		mask |= m;
		text += n;
		text += strspn(text, " ");
	}
	return mask;
}

void scope_format(unsigned mask, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	if (mask == SCOPE_ALL) {
		snprintf(out, len, "all");
		return;
	}
	for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++) {
		if (!(mask & scope_names[i].mask))
			continue;
		int n = snprintf(out + used, len - used, "%s%s", used ? " " : "",
				 scope_names[i].name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}
