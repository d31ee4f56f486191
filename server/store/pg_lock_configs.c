/* The transaction-long lock that makes configuration changes and their
 * re-evaluation take turns (an advisory lock: no row to lock yet on a
 * first PUT); one twin's re-evaluation takes it shared. */
#include "server/store/configs.h"
#include "server/store/store_pg.h"

enum store_qs store_lock_configs(struct store_conn *c, bool shared)
{
	static struct store_stmt excl = {
		"lock_configs",
		"SELECT pg_advisory_xact_lock(hashtext('orchard_twin_configurations'))", 0};
	static struct store_stmt shar = {
		"lock_configs_shared",
		"SELECT pg_advisory_xact_lock_shared(hashtext('orchard_twin_configurations'))", 0};
	enum store_qs qs = store_exec_void(c, shared ? &shar : &excl, 0, NULL);

	return qs < 0 ? qs : STORE_NONE;
}
