/* Moves an ACME order along finalize's state machine (RFC 8555 section
 * 7.1.6): ready -> invalid when the CA could not sign (success is
 * pg_issue_acme_order.c); the order as it is then comes back in the same
 * statement. */
#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/store_pg.h"

enum store_qs store_update_acme_order_status(struct store_conn *c, const char *id, const char *from,
					     const char *to, const char *serial, const char *error,
					     struct store_acme_order *out)
{
	/* The WHERE is evaluated again on the locked row, so a finalizer
	 * that waited for a racing one sees its outcome and moves nothing. */
	static struct store_stmt st = {"update_acme_order_status",
				       "UPDATE acme_orders o SET status = $3, updated_at = now(),"
				       " certificate_serial = COALESCE($4, certificate_serial),"
				       " error = COALESCE($5::jsonb, error)"
				       " WHERE o.id = $1 AND " ACME_ORDER_STATE(
					       "o") " = $2 RETURNING " ACME_ORDER_COLS("o"),
				       0};
	const char *p[] = {id, from, to, serial, error};

	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 5, p, &qs);

	return store_acme_order_row(res, qs, out);
}
