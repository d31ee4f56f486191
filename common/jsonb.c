/* Depth-limited JSON parsing. The depth scan runs first so a body of ten
 * thousand '[' is refused in one linear pass, before jansson recurses. */
#include "common/jsonb.h"

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

enum jsonb_result jsonb_parse(const char *data, size_t len, int max_depth, json_t **out,
			      json_error_t *err)
{
	json_error_t local;

	*out = NULL;
	if (jsonb_depth(data, len, max_depth) > max_depth)
		return JSONB_TOO_DEEP;
	*out = json_loadb(data, len, JSON_REJECT_DUPLICATES, err ? err : &local);
	return *out ? JSONB_OK : JSONB_MALFORMED;
}
