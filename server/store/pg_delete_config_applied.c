/* Forgets which configuration a twin carries: none targets it any more
 * (its desired properties stay as they are, as in IoT Hub). */
#include "server/store/configs.h"
#include "server/store/store_pg.h"

enum store_qs store_delete_config_applied(struct store_conn *c, const char *device_id)
{
	static struct store_stmt st = {
		"delete_config_applied",
		"DELETE FROM twin_configuration_applied WHERE device_id = $1", 0};
	const char *p[] = {device_id};

	return store_exec_void(c, &st, 1, p);
}
