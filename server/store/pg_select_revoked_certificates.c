/* A CRL's entries: revoked certificates not yet expired, of the
 * attestation CA (profile attestation-key) or of the intermediate. */
#include "server/store/pg_cert_rows.h"

enum store_qs store_select_revoked_certificates(struct store_conn *c, bool attestation,
						struct store_cert_page *out)
{
	static struct store_stmt st = {"select_revoked_certificates",
				       "SELECT " STORE_CERT_COLUMNS " FROM certificates"
				       " WHERE revoked_at IS NOT NULL AND not_after > now()"
				       " AND (profile = 'attestation-key') = $1::boolean"
				       " ORDER BY serial",
				       0};
	enum store_qs qs;
	const char *p[] = {attestation ? "t" : "f"};
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	return store_cert_rows(res, qs, out);
}
