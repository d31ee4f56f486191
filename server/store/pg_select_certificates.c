/* Issued certificates in issue order, filtered, in pages after a keyset
 * cursor (seq). */
#include <stdio.h>

#include "server/store/pg_cert_rows.h"

enum store_qs store_select_certificates(struct store_conn *c, const struct store_cert_filter *f,
					struct store_cert_page *out)
{
	static struct store_stmt st = {
		"select_certificates",
		"SELECT " STORE_CERT_COLUMNS " FROM certificates"
		" WHERE ($1::text IS NULL OR profile = $1)"
		" AND ($2::text IS NULL OR strpos(sans, $2) > 0)"
		" AND CASE $3::int WHEN 1 THEN revoked_at IS NULL AND not_after > now()"
		" WHEN 2 THEN revoked_at IS NOT NULL"
		" WHEN 3 THEN revoked_at IS NULL AND not_after <= now() ELSE true END"
		" AND seq > $4::bigint ORDER BY seq LIMIT $5",
		0};
	char status[12], after[24], limit[12];
	const char *p[] = {f->profile, f->san, status, after, limit};
	enum store_qs qs;
	PGresult *res;

	snprintf(status, sizeof status, "%d", f->status);
	snprintf(after, sizeof after, "%lld", f->after);
	snprintf(limit, sizeof limit, "%d", f->limit);
	res = store_exec(c, &st, 5, p, &qs);
	return store_cert_rows(res, qs, out);
}
