/* The CRL's entries: revoked certificates not yet expired. */
#include "server/store/pg_cert_rows.h"

enum store_qs store_select_revoked_certificates(struct store_conn *c, struct store_cert_page *out)
{
	static struct store_stmt st = {"select_revoked_certificates",
				       "SELECT " STORE_CERT_COLUMNS " FROM certificates"
				       " WHERE revoked_at IS NOT NULL AND not_after > now()"
				       " ORDER BY serial",
				       0};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 0, NULL, &qs);

	return store_cert_rows(res, qs, out);
}
