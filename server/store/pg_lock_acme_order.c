/* Row-locks an ACME order while it is in a given served state: finalize's
 * claim (of racing finalizers one holds it; the others, once it commits,
 * see the new state and get nothing). A lock, not an UPDATE to
 * "processing": that state never outlived finalize's transaction, and the
 * UPDATE wrote a row version and its index entries for nothing. */
#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_lock_acme_order(struct store_conn *c, const char *id, const char *state)
{
	/* Waiting for a racing finalizer, PostgreSQL evaluates the WHERE again
	 * on the row it committed. */
	static struct store_stmt st = {
		"lock_acme_order",
		"SELECT o.id FROM acme_orders o WHERE o.id = $1 AND " ACME_ORDER_STATE(
			"o") " = $2 FOR NO KEY UPDATE",
		0};
	const char *p[] = {id, state};

	return store_exec_void(c, &st, 2, p);
}
