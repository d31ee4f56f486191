/* The package manifest: strict validation of the fields the depot issue
 * fixes, names and versions, twin package references, and the canonical
 * form publishers sign (RFC 8785 for the manifest's subset). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "depot/depot.h"

#define ARGS_MAX 64
#define STRING_MAX 4096
#define ENV_MAX 64
#define PORTS_MAX 64
#define MEMORY_MIB_MAX 4096
#define CPU_SECONDS_MAX (1LL << 31)

static bool name_chars(const char *s, bool upper, const char *punct)
{
	size_t n = strlen(s);

	if (n == 0 || n > DEPOT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (upper && c >= 'A' && c <= 'Z'))
			continue;
		if (i == 0 || strchr(punct, c) == NULL)
			return false;
	}
	return true;
}

bool depot_name_ok(const char *s)
{
	return s != NULL && name_chars(s, false, "._-");
}

bool depot_publisher_ok(const char *s)
{
	return depot_name_ok(s) && strcmp(s, "packages") != 0 && strcmp(s, "publishers") != 0;
}

bool depot_version_ok(const char *s)
{
	return s != NULL && name_chars(s, true, ".+_-");
}

/* No control characters (the canonical form then needs no escapes JCS and
 * jansson would write differently), valid UTF-8 being jansson's job. */
static bool text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool env_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* "host:port": a host of [A-Za-z0-9.-] (or a bracketed IPv6 address) and
 * a port 1-65535. */
static bool endpoint_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || colon == s || strlen(s) > 300)
		return false;
	for (const char *p = s; p < colon; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '[' ||
		      *p == ']' || *p == ':'))
			return false;
	if (colon[1] < '1' || colon[1] > '9')
		return false;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 1 && port <= 65535;
}

static bool int_in(const json_t *v, long long lo, long long hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static int check_capabilities(const json_t *caps, struct depot_manifest *m, const char **why)
{
	const char *key;
	json_t *v, *e;
	size_t i;

	if (!json_is_object(caps))
		return *why = "capabilities must be an object", -1;
	json_object_foreach ((json_t *)caps, key, v) {
		if (strcmp(key, "listen") == 0) {
			if (!json_is_array(v) || json_array_size(v) > PORTS_MAX)
				return *why = "capabilities.listen must be an array of ports", -1;
			json_array_foreach (v, i, e)
				if (!int_in(e, 1, 65535))
					return *why = "capabilities.listen holds ports 1-65535", -1;
		} else if (strcmp(key, "connect") == 0) {
			if (!json_is_array(v) || json_array_size(v) > PORTS_MAX)
				return *why = "capabilities.connect must be an array of host:port",
				       -1;
			json_array_foreach (v, i, e)
				if (!json_is_string(e) || !endpoint_ok(json_string_value(e)))
					return *why = "capabilities.connect holds \"host:port\" strings",
					       -1;
		} else if (strcmp(key, "dir") == 0) {
			if (!json_is_boolean(v))
				return *why = "capabilities.dir must be a boolean", -1;
			m->dir = json_is_true(v);
		} else if (strcmp(key, "memoryMiB") == 0) {
			if (!int_in(v, 1, MEMORY_MIB_MAX))
				return *why = "capabilities.memoryMiB must be an integer 1-4096",
				       -1;
			m->memory_mib = json_integer_value(v);
		} else if (strcmp(key, "cpuSeconds") == 0) {
			if (!int_in(v, 1, CPU_SECONDS_MAX))
				return *why = "capabilities.cpuSeconds must be a positive integer",
				       -1;
			m->cpu_seconds = json_integer_value(v);
		} else {
			return *why = "capabilities has an unknown field", -1;
		}
	}
	return 0;
}

static int copy_name(const json_t *doc, const char *field, bool (*ok)(const char *), char *out,
		     const char **why, const char *bad)
{
	const char *s = json_string_value(json_object_get(doc, field));

	if (s == NULL || !ok(s))
		return *why = bad, -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int check_module(const json_t *v, struct depot_manifest *m, const char **why)
{
	const char *s = json_string_value(v);

	if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return *why = "module must be \"sha256:\" and 64 lower-case hex digits", -1;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return *why = "module must be \"sha256:\" and 64 lower-case hex digits", -1;
	if (hex_decode(s + 7, m->module, sizeof m->module) != 32)
		return *why = "module must be \"sha256:\" and 64 lower-case hex digits", -1;
	memcpy(m->module_hex, s + 7, 65);
	m->has_module = true;
	return 0;
}

int depot_manifest_check(json_t *doc, int need_module, struct depot_manifest *m, const char **why)
{
	const char *key;
	json_t *v, *e;
	size_t i;

	memset(m, 0, sizeof *m);
	m->memory_mib = DEPOT_MEMORY_MIB_DEFAULT;
	if (!json_is_object(doc))
		return *why = "the manifest must be a JSON object", -1;
	if (copy_name(doc, "publisher", depot_publisher_ok, m->publisher, why,
		      "publisher must be 1-64 of a-z 0-9 . _ -") != 0 ||
	    copy_name(doc, "name", depot_name_ok, m->name, why,
		      "name must be 1-64 of a-z 0-9 . _ -") != 0 ||
	    copy_name(doc, "version", depot_version_ok, m->version, why,
		      "version must be 1-64 of A-Z a-z 0-9 . + _ -") != 0)
		goto fail;
	json_object_foreach (doc, key, v) {
		if (strcmp(key, "publisher") == 0 || strcmp(key, "name") == 0 ||
		    strcmp(key, "version") == 0)
			continue;
		if (strcmp(key, "module") == 0) {
			if (check_module(v, m, why) != 0)
				goto fail;
		} else if (strcmp(key, "args") == 0) {
			if (!json_is_array(v) || json_array_size(v) > ARGS_MAX) {
				*why = "args must be an array of at most 64 strings";
				goto fail;
			}
			json_array_foreach (v, i, e)
				if (!json_is_string(e) ||
				    !text_ok(json_string_value(e), STRING_MAX)) {
					*why = "args holds strings without control characters";
					goto fail;
				}
		} else if (strcmp(key, "env") == 0) {
			const char *k;
			if (!json_is_object(v) || json_object_size(v) > ENV_MAX) {
				*why = "env must be an object of at most 64 strings";
				goto fail;
			}
			json_object_foreach (v, k, e)
				if (!env_name_ok(k) || !json_is_string(e) ||
				    !text_ok(json_string_value(e), STRING_MAX)) {
					*why = "env maps [A-Za-z_][A-Za-z0-9_]* names to strings";
					goto fail;
				}
		} else if (strcmp(key, "capabilities") == 0) {
			if (check_capabilities(v, m, why) != 0)
				goto fail;
		} else {
			*why = "the manifest has an unknown field";
			goto fail;
		}
	}
	if (need_module == 1 && !m->has_module) {
		*why = "module is missing";
		goto fail;
	}
	if (need_module == 0 && m->has_module) {
		*why = "module is filled by orchard-pkg build: leave it out";
		goto fail;
	}
	m->doc = json_incref(doc);
	return 0;
fail:
	memset(m, 0, sizeof *m);
	return -1;
}

int depot_manifest_parse(const char *text, size_t len, int need_module, struct depot_manifest *m,
			 const char **why)
{
	json_error_t jerr;
	json_t *doc;
	int rc;

	memset(m, 0, sizeof *m);
	if (len > DEPOT_MANIFEST_MAX)
		return *why = "the manifest is over 64 KiB", -1;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return *why = "the manifest is not JSON (or repeats a key)", -1;
	rc = depot_manifest_check(doc, need_module, m, why);
	json_decref(doc);
	return rc;
}

void depot_manifest_free(struct depot_manifest *m)
{
	if (m == NULL)
		return;
	json_decref(m->doc);
	memset(m, 0, sizeof *m);
}

char *depot_canonical(const json_t *doc, size_t *len)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

	if (s != NULL)
		*len = strlen(s);
	return s;
}

int depot_ref_parse(const char *ref, char publisher[DEPOT_NAME_MAX + 1],
		    char name[DEPOT_NAME_MAX + 1], char version[DEPOT_NAME_MAX + 1])
{
	char buf[3 * DEPOT_NAME_MAX + 8], *parts[4];
	size_t n = 1;

	if (ref == NULL || strlen(ref) >= sizeof buf)
		return -1;
	memcpy(buf, ref, strlen(ref) + 1);
	parts[0] = buf;
	for (char *p = buf; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		if (n == 4)
			return -1; /* a fifth segment */
		*p = '\0';
		parts[n++] = p + 1;
	}
	if (n != 4 || strcmp(parts[1], "pkg") != 0 || !depot_publisher_ok(parts[0]) ||
	    !depot_name_ok(parts[2]) || !depot_version_ok(parts[3]))
		return -1;
	memcpy(publisher, parts[0], strlen(parts[0]) + 1);
	memcpy(name, parts[2], strlen(parts[2]) + 1);
	memcpy(version, parts[3], strlen(parts[3]) + 1);
	return 0;
}

int depot_app_check(const json_t *app, const char **ref, const char **why)
{
	struct depot_manifest scratch = {0};
	char pub[DEPOT_NAME_MAX + 1], name[DEPOT_NAME_MAX + 1], ver[DEPOT_NAME_MAX + 1];
	const char *key;
	json_t *v;

	*ref = NULL;
	if (!json_is_object(app))
		return *why = "app must be an object {package, grants}", -1;
	json_object_foreach ((json_t *)app, key, v) {
		if (strcmp(key, "package") == 0) {
			if (!json_is_string(v) ||
			    depot_ref_parse(json_string_value(v), pub, name, ver) != 0)
				return *why = "app.package must be \"{publisher}/pkg/{name}/{version}\"",
				       -1;
			*ref = json_string_value(v);
		} else if (strcmp(key, "grants") == 0) {
			/* grants read as capabilities: *why names "capabilities.*" */
			if (check_capabilities(v, &scratch, why) != 0)
				return -1;
		} else {
			return *why = "app has an unknown member (package, grants)", -1;
		}
	}
	if (*ref == NULL)
		return *why = "app.package is required", -1;
	return 0;
}

bool depot_app_named(const json_t *patch_app, const json_t *merged)
{
	if (patch_app == NULL || json_is_null(patch_app))
		return false;
	if (json_is_object(patch_app) && (json_object_get(patch_app, "package") != NULL ||
					  json_object_get(patch_app, "grants") != NULL))
		return true;
	return json_is_object(merged) && json_object_get(merged, "package") != NULL;
}
