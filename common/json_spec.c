/* Declarative JSON field parsing. Strings and objects are borrowed from the
 * parsed document; arrays and decoded bytes are allocated and tracked. */
#include "common/json_spec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"

enum json_spec_rc json_spec_fail(struct json_spec_error *err, const char *ptr, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->pointer, sizeof err->pointer, "%s", ptr);
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof err->reason, fmt, ap);
	va_end(ap);
	return JSON_SPEC_INVALID;
}

/* Appends "/" and token to ptr (RFC 6901: "~" is "~0", "/" is "~1").
 * A pointer too long for the buffer is cut: it only names a field. */
static void pointer_append(char *ptr, size_t size, const char *token)
{
	size_t n = strlen(ptr);

	if (n + 1 < size)
		ptr[n++] = '/';
	for (; *token != '\0' && n + 2 < size; token++) {
		if (*token == '~' || *token == '/') {
			ptr[n++] = '~';
			ptr[n++] = *token == '~' ? '0' : '1';
		} else {
			ptr[n++] = *token;
		}
	}
	ptr[n] = '\0';
}

/* Checks a JSON string against the spec's length and character rules. */
static enum json_spec_rc check_string(json_t *v, size_t max_len, unsigned flags, const char *ptr,
				      struct json_spec_error *err)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return json_spec_fail(err, ptr, "must be a string");
	s = json_string_value(v);
	n = json_string_length(v);
	if (strlen(s) != n)
		return json_spec_fail(err, ptr, "must not contain NUL");
	if (n == 0 && (flags & JSON_SPEC_NONEMPTY))
		return json_spec_fail(err, ptr, "must not be empty");
	if (n > max_len)
		return json_spec_fail(err, ptr, "must be at most %zu bytes", max_len);
	if (flags & JSON_SPEC_NO_CTRL)
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return json_spec_fail(err, ptr,
						      "must not contain control characters");
	return JSON_SPEC_OK;
}

static enum json_spec_rc parse_string(const struct json_spec *s, json_t *v, const char *ptr,
				      struct json_spec_error *err)
{
	enum json_spec_rc rc = check_string(v, (size_t)s->max, s->flags, ptr, err);

	if (rc == JSON_SPEC_OK)
		*(const char **)s->dest = json_string_value(v);
	return rc;
}

static enum json_spec_rc parse_int(const struct json_spec *s, json_t *v, const char *ptr,
				   struct json_spec_error *err)
{
	json_int_t i;

	if (!json_is_integer(v))
		return json_spec_fail(err, ptr, "must be an integer");
	i = json_integer_value(v);
	if (i < s->min || i > s->max)
		return json_spec_fail(err, ptr, "must be between %lld and %lld", s->min, s->max);
	*(long long *)s->dest = i;
	return JSON_SPEC_OK;
}

static enum json_spec_rc parse_bool(const struct json_spec *s, json_t *v, const char *ptr,
				    struct json_spec_error *err)
{
	if (!json_is_boolean(v))
		return json_spec_fail(err, ptr, "must be true or false");
	*(bool *)s->dest = json_is_true(v);
	return JSON_SPEC_OK;
}

static enum json_spec_rc parse_object(const struct json_spec *s, json_t *v, const char *ptr,
				      struct json_spec_error *err)
{
	if (!json_is_object(v))
		return json_spec_fail(err, ptr, "must be an object");
	*(json_t **)s->dest = v;
	return JSON_SPEC_OK;
}

static enum json_spec_rc parse_at(json_t *root, struct json_spec *spec, const char *prefix,
				  struct json_spec_error *err);

static enum json_spec_rc parse_fields(const struct json_spec *s, json_t *v, const char *ptr,
				      struct json_spec_error *err)
{
	if (!json_is_object(v))
		return json_spec_fail(err, ptr, "must be an object");
	return parse_at(v, s->sub, ptr, err);
}

static void free_fields(const struct json_spec *s)
{
	json_spec_free(s->sub);
}

static enum json_spec_rc parse_string_array(const struct json_spec *s, json_t *v, const char *ptr,
					    struct json_spec_error *err)
{
	const char **out;
	size_t i, n;
	json_t *e;

	if (!json_is_array(v))
		return json_spec_fail(err, ptr, "must be an array of strings");
	n = json_array_size(v);
	if (n == 0 && (s->flags & JSON_SPEC_NONEMPTY))
		return json_spec_fail(err, ptr, "must not be empty");
	if (n > (size_t)s->min)
		return json_spec_fail(err, ptr, "must have at most %lld items", s->min);
	json_array_foreach (v, i, e) {
		char elem[sizeof err->pointer];
		char index[24];
		snprintf(elem, sizeof elem, "%s", ptr);
		snprintf(index, sizeof index, "%zu", i);
		pointer_append(elem, sizeof elem, index);
		/* Emptiness of an element is its own rule, not the array's. */
		if (check_string(e, (size_t)s->max, s->flags & ~JSON_SPEC_NONEMPTY, elem, err) !=
		    JSON_SPEC_OK)
			return JSON_SPEC_INVALID;
	}
	out = calloc(n + 1, sizeof *out);
	if (out == NULL)
		return JSON_SPEC_NOMEM;
	json_array_foreach (v, i, e)
		out[i] = json_string_value(e);
	*(const char ***)s->dest = out;
	*(size_t *)s->dest2 = n;
	return JSON_SPEC_OK;
}

static void free_pointer(const struct json_spec *s)
{
	free(*(void **)s->dest);
	*(void **)s->dest = NULL;
}

static enum json_spec_rc parse_bytes(const struct json_spec *s, json_t *v, const char *ptr,
				     struct json_spec_error *err)
{
	int url = s->min != 0;
	size_t n, max = (size_t)s->max;
	uint8_t *out;

	if (!json_is_string(v))
		return json_spec_fail(err, ptr, "must be a %s string",
				      url ? "base64url" : "base64");
	/* Refuse by the encoded length first: no allocation for a huge value. */
	if (json_string_length(v) > b64_encoded_len(max, url))
		return json_spec_fail(err, ptr, "must decode to at most %zu bytes", max);
	out = malloc(b64_decoded_max(json_string_length(v)));
	if (out == NULL)
		return JSON_SPEC_NOMEM;
	if (b64_decode_into(json_string_value(v), json_string_length(v), url, out, &n) != 0) {
		free(out);
		return json_spec_fail(err, ptr, "must be %s",
				      url ? "unpadded base64url" : "base64");
	}
	if (n > max || (n == 0 && (s->flags & JSON_SPEC_NONEMPTY))) {
		free(out);
		return json_spec_fail(err, ptr,
				      n ? "must decode to at most %zu bytes" : "must not be empty",
				      max);
	}
	*(uint8_t **)s->dest = out;
	*(size_t *)s->dest2 = n;
	return JSON_SPEC_OK;
}

/* Reads exactly n decimal digits at *p. Returns -1 when they are not. */
static int digits(const char **p, const char *end, int n)
{
	int v = 0;

	if (end - *p < n)
		return -1;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

static int expect(const char **p, const char *end, const char *set)
{
	if (*p >= end || strchr(set, **p) == NULL || **p == '\0')
		return -1;
	(*p)++;
	return 0;
}

int json_spec_parse_time(const char *s, size_t len, time_t *out)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s, *end = s + len;
	struct tm tm = {0};
	int y, mo, d, h, mi, se, off = 0;
	time_t t;

	if ((y = digits(&p, end, 4)) < 0 || expect(&p, end, "-") || (mo = digits(&p, end, 2)) < 0 ||
	    expect(&p, end, "-") || (d = digits(&p, end, 2)) < 0 || expect(&p, end, "Tt") ||
	    (h = digits(&p, end, 2)) < 0 || expect(&p, end, ":") || (mi = digits(&p, end, 2)) < 0 ||
	    expect(&p, end, ":") || (se = digits(&p, end, 2)) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return -1;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if ((oh = digits(&p, end, 2)) < 0 || expect(&p, end, ":") ||
		    (om = digits(&p, end, 2)) < 0 || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (p != end)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se == 60 ? 59 : se; /* a leap second is its minute's end */
	t = timegm(&tm);
	*out = t - off;
	return 0;
}

static enum json_spec_rc parse_time(const struct json_spec *s, json_t *v, const char *ptr,
				    struct json_spec_error *err)
{
	if (!json_is_string(v) ||
	    json_spec_parse_time(json_string_value(v), json_string_length(v), s->dest) != 0)
		return json_spec_fail(err, ptr, "must be an RFC 3339 date-time");
	return JSON_SPEC_OK;
}

static enum json_spec_rc parse_at(json_t *root, struct json_spec *spec, const char *prefix,
				  struct json_spec_error *err)
{
	enum json_spec_rc rc = JSON_SPEC_OK;
	struct json_spec *s;

	/* Allocating parsers start from NULL, so a free after a failure half
	 * way releases only what was parsed. */
	for (s = spec; s->field != NULL; s++)
		if (s->free != NULL && s->sub == NULL)
			*(void **)s->dest = NULL;
	if (!json_is_object(root))
		return json_spec_fail(err, prefix, "must be a JSON object");
	for (s = spec; s->field != NULL && rc == JSON_SPEC_OK; s++) {
		json_t *v = json_object_get(root, s->field);
		char ptr[sizeof err->pointer];

		snprintf(ptr, sizeof ptr, "%s", prefix);
		pointer_append(ptr, sizeof ptr, s->field);
		if (s->present != NULL)
			*s->present = v != NULL && !json_is_null(v);
		if (v == NULL || json_is_null(v)) {
			if (!(s->flags & JSON_SPEC_OPTIONAL))
				rc = json_spec_fail(err, ptr, "is required");
			continue;
		}
		rc = s->parse(s, v, ptr, err);
	}
	if (rc != JSON_SPEC_OK)
		json_spec_free(spec);
	return rc;
}

enum json_spec_rc json_spec_parse(json_t *root, struct json_spec *spec, struct json_spec_error *err)
{
	err->pointer[0] = err->reason[0] = '\0';
	return parse_at(root, spec, "", err);
}

void json_spec_free(struct json_spec *spec)
{
	for (struct json_spec *s = spec; s != NULL && s->field != NULL; s++)
		if (s->free != NULL)
			s->free(s);
}

struct json_spec json_spec_end(void)
{
	return (struct json_spec){.field = NULL};
}

struct json_spec json_spec_string(const char *field, const char **dest, size_t max_len,
				  unsigned flags)
{
	return (struct json_spec){.field = field,
				  .parse = parse_string,
				  .dest = dest,
				  .max = (long long)max_len,
				  .flags = flags};
}

struct json_spec json_spec_int(const char *field, long long *dest, long long min, long long max,
			       unsigned flags)
{
	return (struct json_spec){.field = field,
				  .parse = parse_int,
				  .dest = dest,
				  .min = min,
				  .max = max,
				  .flags = flags};
}

struct json_spec json_spec_bool(const char *field, bool *dest, unsigned flags)
{
	return (struct json_spec){
		.field = field, .parse = parse_bool, .dest = dest, .flags = flags};
}

struct json_spec json_spec_object(const char *field, json_t **dest, unsigned flags)
{
	return (struct json_spec){
		.field = field, .parse = parse_object, .dest = dest, .flags = flags};
}

struct json_spec json_spec_fields(const char *field, struct json_spec *sub, unsigned flags)
{
	return (struct json_spec){.field = field,
				  .parse = parse_fields,
				  .free = free_fields,
				  .sub = sub,
				  .flags = flags};
}

struct json_spec json_spec_string_array(const char *field, const char ***dest, size_t *count,
					size_t max_items, size_t max_len, unsigned flags)
{
	return (struct json_spec){.field = field,
				  .parse = parse_string_array,
				  .free = free_pointer,
				  .dest = dest,
				  .dest2 = count,
				  .min = (long long)max_items,
				  .max = (long long)max_len,
				  .flags = flags};
}

/* min selects the alphabet: 0 base64, 1 base64url. */
struct json_spec json_spec_base64(const char *field, uint8_t **dest, size_t *len, size_t max_len,
				  unsigned flags)
{
	return (struct json_spec){.field = field,
				  .parse = parse_bytes,
				  .free = free_pointer,
				  .dest = dest,
				  .dest2 = len,
				  .min = 0,
				  .max = (long long)max_len,
				  .flags = flags};
}

struct json_spec json_spec_base64url(const char *field, uint8_t **dest, size_t *len, size_t max_len,
				     unsigned flags)
{
	struct json_spec s = json_spec_base64(field, dest, len, max_len, flags);

	s.min = 1;
	return s;
}

struct json_spec json_spec_time(const char *field, time_t *dest, unsigned flags)
{
	return (struct json_spec){
		.field = field, .parse = parse_time, .dest = dest, .flags = flags};
}
