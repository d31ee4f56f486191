/* Device twin documents, pure: RFC 7396 merge patches on tags and on
 * properties with IoT Hub's $metadata and $version, and IoT Hub's limits.
 * No HTTP, no database: tests/unit/server/test_twin.c drives it alone. */
#ifndef ORCHARD_TWIN_DOC_H
#define ORCHARD_TWIN_DOC_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define TWIN_KEY_MAX 1024    /* bytes of one key */
#define TWIN_DEPTH_MAX 10    /* levels of objects and arrays, the section's own object is 1 */
#define TWIN_STRING_MAX 4096 /* bytes of one string value */
#define TWIN_TAGS_MAX 8192   /* bytes of tags, compact JSON */
#define TWIN_PROPS_MAX 32768 /* bytes of desired or reported, compact JSON, without $ members */
#define TWIN_INT_MAX 9007199254740992LL /* 2^53 */
#define TWIN_DEVICE_ID_MAX 128

enum twin_fault {
	TWIN_OK,
	TWIN_BAD_KEY,
	TWIN_TOO_DEEP,
	TWIN_STRING_TOO_LONG,
	TWIN_NUMBER_RANGE,
	TWIN_TOO_LARGE,
	TWIN_NOT_OBJECT, /* a patch or section that must be an object is not */
	TWIN_NOMEM,
};

/* Why an update was refused: the fault, where (an RFC 6901 pointer from the
 * twin's root, "/properties/desired/a/b"), and a sentence. */
struct twin_err {
	enum twin_fault fault;
	char where[256];
	char msg[128];
};

/* Whether id is an IoT Hub device ID: 1-128 ASCII letters, digits and
 * - . % _ * ? ! ( ) , : = @ $ ' */
bool twin_device_id_ok(const char *id);

/* Checks a patch (or a replacement) for section root ("/tags",
 * "/properties/desired") against every per-value limit: keys, depth,
 * strings, integers. Sizes are checked on the result (twin_check_size). */
enum twin_fault twin_check_patch(const json_t *patch, const char *root, struct twin_err *e);

/* An empty properties section: {"$metadata": {"$lastUpdated": now[,
 * "$lastUpdatedVersion": 1]}, "$version": 1}. NULL when out of memory. */
json_t *twin_props_new(const char *now, bool desired);

/* Applies patch (RFC 7396: null deletes) to tags in place. */
enum twin_fault twin_merge_tags(json_t *tags, const json_t *patch);

/* Applies patch to a properties section in place: values as RFC 7396,
 * $version + 1, and $metadata stamped with now ($lastUpdated on every
 * object on a changed path and on every leaf written; with desired, also
 * $lastUpdatedVersion, the new $version). replace empties it first (PUT). */
enum twin_fault twin_merge_props(json_t *section, const json_t *patch, const char *now,
				 bool desired, bool replace);

/* The section's $version (0 when missing). */
long long twin_props_version(const json_t *section);

/* Bytes of a section as compact JSON, without its $metadata and $version. */
size_t twin_size(const json_t *section);

/* Checks section's size against max (TWIN_TAGS_MAX, TWIN_PROPS_MAX). */
enum twin_fault twin_check_size(const json_t *section, size_t max, const char *root,
				struct twin_err *e);

/* Now as IoT Hub writes $lastUpdated: 2026-12-01T15:20:33.1234567Z. */
void twin_now(char out[40]);

#endif
