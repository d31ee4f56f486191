/* Records which configuration (at which etag) a twin's desired content
 * came from. */
#include "server/store/configs.h"
#include "server/store/store_pg.h"

enum store_qs store_upsert_config_applied(struct store_conn *c, const char *device_id,
					  const char *id, const char *etag)
{
	static struct store_stmt st = {
		"upsert_config_applied",
		"INSERT INTO twin_configuration_applied (device_id, configuration_id, etag)"
		" VALUES ($1, $2, $3) ON CONFLICT (device_id) DO UPDATE SET"
		" configuration_id = EXCLUDED.configuration_id, etag = EXCLUDED.etag,"
		" applied_at = now()",
		0};
	const char *p[] = {device_id, id, etag};

	return store_exec_void(c, &st, 3, p);
}
