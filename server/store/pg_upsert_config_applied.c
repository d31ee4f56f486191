/* Records which configuration (at which etag) twins' desired content
 * came from, for many twins in one statement. */
#include "server/store/configs.h"
#include "server/store/store_pg.h"

enum store_qs store_upsert_config_applied(struct store_conn *c, const char *rows_json)
{
	static struct store_stmt st = {
		"upsert_config_applied",
		"INSERT INTO twin_configuration_applied (device_id, configuration_id, etag)"
		" SELECT device_id, id, etag FROM jsonb_to_recordset($1::jsonb)"
		" AS r(device_id text, id text, etag text)"
		" ON CONFLICT (device_id) DO UPDATE SET"
		" configuration_id = EXCLUDED.configuration_id, etag = EXCLUDED.etag,"
		" applied_at = now()",
		0};
	const char *p[] = {rows_json};

	return store_exec_void(c, &st, 1, p);
}
