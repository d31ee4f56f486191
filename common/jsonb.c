/* Depth-limited JSON parsing. The depth scan runs first so a body of ten
 * thousand '[' is refused in one linear pass, before jansson recurses. */
#include "common/jsonb.h"

#include <string.h>

int jsonb_depth(const char *data, size_t len, int limit)
{
	int depth = 0, max = 0, in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
			continue;
		}
		if (c == '"') {
			in_string = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
			if (max > limit)
				return max;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

static size_t skip_ws(const char *d, size_t i, size_t len)
{
	while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r'))
		i++;
	return i;
}

/* A plain string at d[i] ('"' there): printable ASCII without escapes.
 * Returns the index past its closing quote, 0 when it is anything else. */
static size_t plain_string(const char *d, size_t i, size_t len)
{
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '"')
			return i + 1;
		if (c < 0x20 || c > 0x7e || c == '\\')
			return 0;
	}
	return 0;
}

json_t *jsonb_flat(const char *data, size_t len)
{
	json_t *o;
	size_t i = skip_ws(data, 0, len);

	if (i >= len || data[i] != '{' || (o = json_object()) == NULL)
		return NULL;
	i = skip_ws(data, i + 1, len);
	if (i < len && data[i] == '}')
		goto end;
	for (;;) {
		char key[64];
		size_t k, v, e;
		json_t *s;

		if (i >= len || data[i] != '"' || (k = plain_string(data, i, len)) == 0 ||
		    k - i - 2 >= sizeof key)
			goto other;
		memcpy(key, data + i + 1, k - i - 2);
		key[k - i - 2] = '\0';
		v = skip_ws(data, k, len);
		if (v >= len || data[v] != ':')
			goto other;
		v = skip_ws(data, v + 1, len);
		if (v >= len || data[v] != '"' || (e = plain_string(data, v, len)) == 0 ||
		    json_object_get(o, key) != NULL) /* a duplicate: jansson's error */
			goto other;
		if ((s = json_stringn_nocheck(data + v + 1, e - v - 2)) == NULL ||
		    json_object_set_new_nocheck(o, key, s) != 0)
			goto other;
		i = skip_ws(data, e, len);
		if (i < len && data[i] == '}')
			break;
		if (i >= len || data[i] != ',')
			goto other;
		i = skip_ws(data, i + 1, len);
	}
end:
	if (skip_ws(data, i + 1, len) == len)
		return o;
other:
	json_decref(o);
	return NULL;
}

enum jsonb_result jsonb_parse(const char *data, size_t len, int max_depth, json_t **out,
			      json_error_t *err)
{
	json_error_t local;

	*out = NULL;
	if (max_depth >= 1 && (*out = jsonb_flat(data, len)) != NULL)
		return JSONB_OK;
	if (jsonb_depth(data, len, max_depth) > max_depth)
		return JSONB_TOO_DEEP;
	*out = json_loadb(data, len, JSON_REJECT_DUPLICATES, err ? err : &local);
	return *out ? JSONB_OK : JSONB_MALFORMED;
}
