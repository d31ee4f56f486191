/* The transaction runner (Taler's TEH_DB_run_transaction): BEGIN, the
 * caller's queries on one handle, COMMIT, the whole retried on
 * serialization failures and deadlocks, all within one deadline. */
#include "server/store/store_pg.h"

#define STORE_TXN_ATTEMPTS 3
/* Longest wait for a free pooled connection; the deadline caps it too. */
#define STORE_TXN_WAIT_MS 2000

enum store_qs store_run_txn(struct store *s, store_txn_cb cb, void *cls)
{
	enum store_qs qs = STORE_HARD;

	for (int attempt = 0; attempt < STORE_TXN_ATTEMPTS; attempt++) {
		struct store_conn *c = store_acquire(s, STORE_TXN_WAIT_MS);
		if (c == NULL)
			return STORE_HARD;
		qs = store_exec_simple(c, "BEGIN");
		if (qs == STORE_NONE) {
			qs = cb(c, cls);
			if (qs >= 0) {
				enum store_qs cq = store_exec_simple(c, "COMMIT");
				if (cq < 0)
					qs = cq;
			} else {
				store_exec_simple(c, "ROLLBACK");
			}
		}
		store_release(s, c);
		if (qs != STORE_SOFT)
			break;
	}
	return qs;
}

enum store_qs store_run(struct store *s, store_txn_cb cb, void *cls)
{
	struct store_conn *c = store_acquire(s, STORE_TXN_WAIT_MS);
	enum store_qs qs;

	if (c == NULL)
		return STORE_HARD;
	qs = cb(c, cls);
	store_release(s, c);
	return qs;
}
