/* systemMetrics.appliedCount: the twins that carry a configuration. */
#include <stdlib.h>

#include "server/store/configs.h"
#include "server/store/store_pg.h"

enum store_qs store_count_config_applied(struct store_conn *c, const char *id, long long *count)
{
	static struct store_stmt st = {
		"count_config_applied",
		"SELECT count(*) FROM twin_configuration_applied WHERE configuration_id = $1", 0};
	const char *p[] = {id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	*count = qs == STORE_ONE ? store_value_ll(res, 0, 0) : 0;
	PQclear(res);
	return qs;
}
