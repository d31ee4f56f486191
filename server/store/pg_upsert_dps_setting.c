/* Reads a DPS setting, storing a value first when none is (or, with
 * overwrite, replacing it): the ID scope is made once and kept. */
#include <string.h>

#include "server/store/dps_rows.h"

enum store_qs store_upsert_dps_setting(struct store_conn *c, const char *name, const char *value,
				       bool overwrite, char **out)
{
	static struct store_stmt st = {
		"upsert_dps_setting",
		"INSERT INTO dps_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE"
		" SET value = CASE WHEN $3::boolean THEN EXCLUDED.value ELSE dps_settings.value END"
		" RETURNING value",
		0};
	const char *p[] = {name, value, overwrite ? "true" : "false"};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 3, p, &qs);
	int ok = 1;

	*out = NULL;
	if (qs == STORE_ONE) {
		*out = store_value_dup(res, 0, 0, &ok);
		if (!ok)
			qs = STORE_HARD;
	}
	PQclear(res);
	return qs;
}
