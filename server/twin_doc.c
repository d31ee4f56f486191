/* Device twin documents: RFC 7396 merge patches, IoT Hub's $metadata and
 * $version, and IoT Hub's limits. Pure: values in, values out. */
#include "server/twin_doc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bool twin_device_id_ok(const char *id)
{
	static const char extra[] = "-.%_*?!(),:=@$'";
	size_t n = 0;

	for (const char *p = id; *p != '\0'; p++, n++) {
		unsigned char ch = (unsigned char)*p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr(extra, ch) != NULL))
			return false;
	}
	return n >= 1 && n <= TWIN_DEVICE_ID_MAX;
}

/* Appends /key to a pointer, escaped as RFC 6901 says; a pointer that
 * would overflow ends in "...". */
static void where_push(char *where, size_t cap, const char *key)
{
	size_t n = strlen(where);

	if (n + 2 >= cap)
		return;
	where[n++] = '/';
	for (const char *k = key; *k != '\0'; k++) {
		const char *rep = *k == '~' ? "~0" : *k == '/' ? "~1" : NULL;
		size_t need = rep ? 2 : 1;

		if (n + need + 4 >= cap) {
			memcpy(where + n, "...", 4);
			return;
		}
		if (rep != NULL) {
			memcpy(where + n, rep, 2);
		} else {
			where[n] = *k;
		}
		n += need;
	}
	where[n] = '\0';
}

static enum twin_fault fail(struct twin_err *e, enum twin_fault f, const char *msg)
{
	e->fault = f;
	snprintf(e->msg, sizeof e->msg, "%s", msg);
	return f;
}

static const char *key_fault(const char *key)
{
	size_t len = strlen(key);

	if (len == 0)
		return "empty key";
	if (len > TWIN_KEY_MAX)
		return "key over 1024 bytes";
	if (key[0] == '$')
		return "key starts with $";
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)key[i];

		if (ch == '.')
			return "key holds a dot";
		if (ch == ' ')
			return "key holds a space";
		if (ch < 0x20 || ch == 0x7f)
			return "key holds a control character";
		/* C1 controls U+0080..U+009F are C2 80..C2 9F in UTF-8. */
		if (ch == 0xc2 && i + 1 < len && (unsigned char)key[i + 1] >= 0x80 &&
		    (unsigned char)key[i + 1] <= 0x9f)
			return "key holds a control character";
	}
	return NULL;
}

static enum twin_fault check_value(const json_t *v, int level, struct twin_err *e)
{
	size_t mark = strlen(e->where);
	enum twin_fault f = TWIN_OK;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (level > TWIN_DEPTH_MAX)
			return fail(e, TWIN_TOO_DEEP, "nested deeper than 10 levels");
		if (json_is_object(v)) {
			const char *k;
			json_t *m;

			json_object_foreach ((json_t *)v, k, m) {
				const char *bad = key_fault(k);

				where_push(e->where, sizeof e->where, k);
				if (bad != NULL)
					return fail(e, TWIN_BAD_KEY, bad);
				if ((f = check_value(m, level + 1, e)) != TWIN_OK)
					return f;
				e->where[mark] = '\0';
			}
		} else {
			size_t i;
			json_t *m;

			json_array_foreach (v, i, m) {
				char idx[24];

				snprintf(idx, sizeof idx, "%zu", i);
				where_push(e->where, sizeof e->where, idx);
				if ((f = check_value(m, level + 1, e)) != TWIN_OK)
					return f;
				e->where[mark] = '\0';
			}
		}
		return TWIN_OK;
	case JSON_STRING:
		if (json_string_length(v) > TWIN_STRING_MAX)
			return fail(e, TWIN_STRING_TOO_LONG, "string over 4096 bytes");
		return TWIN_OK;
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);

		if (i > TWIN_INT_MAX || i < -TWIN_INT_MAX)
			return fail(e, TWIN_NUMBER_RANGE, "integer beyond 2^53");
		return TWIN_OK;
	}
	case JSON_REAL:
		if (!isfinite(json_real_value(v)))
			return fail(e, TWIN_NUMBER_RANGE, "number is not finite");
		return TWIN_OK;
	default: return TWIN_OK;
	}
}

enum twin_fault twin_check_patch(const json_t *patch, const char *root, struct twin_err *e)
{
	memset(e, 0, sizeof *e);
	snprintf(e->where, sizeof e->where, "%s", root);
	if (!json_is_object(patch))
		return fail(e, TWIN_NOT_OBJECT, "must be an object");
	if (check_value(patch, 1, e) != TWIN_OK)
		return e->fault;
	snprintf(e->where, sizeof e->where, "%s", root);
	return TWIN_OK;
}

/* Stamps one metadata object: $lastUpdated and, for desired, the version. */
static int stamp(json_t *meta, const char *now, long long version)
{
	if (json_object_set_new(meta, "$lastUpdated", json_string(now)) != 0)
		return -1;
	if (version > 0 &&
	    json_object_set_new(meta, "$lastUpdatedVersion", json_integer(version)) != 0)
		return -1;
	return 0;
}

/* Metadata for a value just written: an object gets one per member, all
 * stamped; a leaf (arrays included) only its own stamp. */
static json_t *meta_fresh(const json_t *v, const char *now, long long version)
{
	json_t *meta = json_object();
	const char *k;
	json_t *m;

	if (meta == NULL || stamp(meta, now, version) != 0)
		goto fail;
	if (json_is_object(v))
		json_object_foreach ((json_t *)v, k, m) {
			if (json_is_null(m))
				continue;
			if (json_object_set_new(meta, k, meta_fresh(m, now, version)) != 0)
				goto fail;
		}
	return meta;
fail:
	json_decref(meta);
	return NULL;
}

/* RFC 7396 on target (an object) in place; meta (NULL for tags) follows
 * the values. */
static int merge(json_t *target, json_t *meta, const json_t *patch, const char *now,
		 long long version)
{
	const char *k;
	json_t *p;

	json_object_foreach ((json_t *)patch, k, p) {
		if (json_is_null(p)) {
			json_object_del(target, k);
			if (meta != NULL)
				json_object_del(meta, k);
			continue;
		}
		if (json_is_object(p)) {
			json_t *t = json_object_get(target, k);
			json_t *m = meta ? json_object_get(meta, k) : NULL;

			if (!json_is_object(t)) {
				if (json_object_set_new(target, k, json_object()) != 0)
					return -1;
				t = json_object_get(target, k);
				m = NULL;
			}
			if (meta != NULL && !json_is_object(m)) {
				if (json_object_set_new(meta, k, json_object()) != 0)
					return -1;
				m = json_object_get(meta, k);
			}
			if (merge(t, m, p, now, version) != 0)
				return -1;
			continue;
		}
		if (json_object_set_new(target, k, json_deep_copy(p)) != 0)
			return -1;
		if (meta != NULL && json_object_set_new(meta, k, meta_fresh(p, now, version)) != 0)
			return -1;
	}
	return meta != NULL ? stamp(meta, now, version) : 0;
}

json_t *twin_props_new(const char *now, bool desired)
{
	json_t *meta = json_object();

	if (meta == NULL || stamp(meta, now, desired ? 1 : 0) != 0) {
		json_decref(meta);
		return NULL;
	}
	return json_pack("{s:o, s:I}", "$metadata", meta, "$version", (json_int_t)1);
}

enum twin_fault twin_merge_tags(json_t *tags, const json_t *patch)
{
	if (!json_is_object(tags) || !json_is_object(patch))
		return TWIN_NOT_OBJECT;
	return merge(tags, NULL, patch, NULL, 0) == 0 ? TWIN_OK : TWIN_NOMEM;
}

long long twin_props_version(const json_t *section)
{
	return json_integer_value(json_object_get(section, "$version"));
}

enum twin_fault twin_merge_props(json_t *section, const json_t *patch, const char *now,
				 bool desired, bool replace)
{
	long long version;
	json_t *meta;

	if (!json_is_object(section) || !json_is_object(patch))
		return TWIN_NOT_OBJECT;
	version = twin_props_version(section) + 1;
	if (replace)
		json_object_clear(section);
	meta = json_object_get(section, "$metadata");
	if (!json_is_object(meta)) {
		if (json_object_set_new(section, "$metadata", json_object()) != 0)
			return TWIN_NOMEM;
		meta = json_object_get(section, "$metadata");
	}
	if (json_object_set_new(section, "$version", json_integer(version)) != 0)
		return TWIN_NOMEM;
	/* $metadata and $version sit beside the values; a patch never names
	 * them (twin_check_patch refuses $ keys), so merging cannot touch them. */
	return merge(section, meta, patch, now, desired ? version : 0) == 0 ? TWIN_OK : TWIN_NOMEM;
}

size_t twin_size(const json_t *section)
{
	json_t *copy = json_copy((json_t *)section);
	size_t n;

	if (copy == NULL)
		return (size_t)-1;
	json_object_del(copy, "$metadata");
	json_object_del(copy, "$version");
	n = json_dumpb(copy, NULL, 0, JSON_COMPACT);
	json_decref(copy);
	return n;
}

enum twin_fault twin_check_size(const json_t *section, size_t max, const char *root,
				struct twin_err *e)
{
	size_t n = twin_size(section);

	memset(e, 0, sizeof *e);
	snprintf(e->where, sizeof e->where, "%s", root);
	if (n == (size_t)-1)
		return fail(e, TWIN_NOMEM, "out of memory");
	if (n > max) {
		e->fault = TWIN_TOO_LARGE;
		snprintf(e->msg, sizeof e->msg, "would be %zu bytes, over %zu", n, max);
	}
	return e->fault;
}

void twin_now(char out[40])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);

	snprintf(out + n, 40 - n, ".%07uZ", (unsigned)(ts.tv_nsec / 100) % 10000000u);
}
