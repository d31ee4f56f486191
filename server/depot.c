/* The depot's shared server-side pieces: JSON views of its rows and the
 * desired-state check for the twin side (docs/depot.md). */
#include "server/depot.h"

#include <string.h>

#include "common/timefmt.h"
#include "depot/depot.h"

static json_t *time_or_null(long long t)
{
	char s[TIMEFMT_RFC3339_LEN];

	if (t == 0)
		return json_null();
	timefmt_rfc3339(t, s);
	return json_string(s);
}

json_t *depot_package_json(const struct store_depot_package *p)
{
	json_t *manifest = json_loads(p->manifest, 0, NULL);
	char ref[3 * DEPOT_NAME_MAX + 8], module[7 + 65];

	if (manifest == NULL)
		return NULL;
	snprintf(ref, sizeof ref, "%s/pkg/%s/%s", p->publisher, p->name, p->version);
	snprintf(module, sizeof module, "sha256:%s", p->module_sha256);
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:b, s:o, s:o, s:s?}",
			 "package", ref, "publisher", p->publisher, "name", p->name, "version",
			 p->version, "manifest", manifest, "signature", p->signature, "keyId",
			 p->key_id, "module", module, "size", (json_int_t)p->size, "yanked",
			 p->yanked, "yankedAt", time_or_null(p->yanked_at), "publishedAt",
			 time_or_null(p->published_at), "publishedBy", p->published_by);
}

json_t *depot_publisher_json(const struct store_depot_publisher *p)
{
	json_t *keys = p->keys_json ? json_loads(p->keys_json, 0, NULL) : json_array();

	if (keys == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "name", p->name, "publicKey",
			 p->public_key, "keyId", p->key_id, "keys", keys, "createdAt",
			 time_or_null(p->created_at), "updatedAt", time_or_null(p->updated_at));
}

int depot_desired_check(struct store_conn *c, const char *ref, enum err_code *err)
{
	char pub[DEPOT_NAME_MAX + 1], name[DEPOT_NAME_MAX + 1], ver[DEPOT_NAME_MAX + 1];
	struct store_depot_package p;
	enum store_qs qs;
	int rc = -1;

	if (depot_ref_parse(ref, pub, name, ver) != 0) {
		*err = ERR_DEPOT_BAD_NAME;
		return -1;
	}
	qs = store_select_depot_package(c, pub, name, ver, &p);
	if (qs < 0)
		*err = ERR_DB_UNAVAILABLE;
	else if (qs == STORE_NONE)
		*err = ERR_DEPOT_PACKAGE_NOT_FOUND;
	else if (p.yanked)
		*err = ERR_DEPOT_YANKED;
	else
		rc = 0;
	store_depot_package_free(&p);
	return rc;
}
