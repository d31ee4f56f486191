/* Readiness: the database answers within its deadline and holds every
 * migration this binary was built with. */
#include "server/store/store_pg.h"

int store_check_ready(struct store *s)
{
	static struct store_stmt st = {"check_ready",
				       "SELECT version, checksum FROM schema_migrations", 0};
	struct store_conn *c = store_acquire(s, 1000);
	enum store_qs qs = STORE_HARD;
	PGresult *res = c ? store_exec(c, &st, 0, NULL, &qs) : NULL;
	int ready = qs < 0 ? -1 : migrate_applied_current(res);

	PQclear(res);
	store_release(s, c);
	return ready;
}
