/* One certificate by serial, with its DER. */
#include <string.h>

#include "server/store/pg_cert_rows.h"

enum store_qs store_select_certificate(struct store_conn *c, const char *serial,
				       struct store_cert *out)
{
	static struct store_stmt st = {"select_certificate",
				       "SELECT " STORE_CERT_COLUMNS ", encode(der, 'base64')"
				       " FROM certificates WHERE serial = $1",
				       0};
	const char *p[] = {serial};
	struct store_cert_page page;
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	memset(out, 0, sizeof *out);
	qs = store_cert_rows(res, qs, &page);
	if (qs == STORE_ONE) {
		*out = page.rows[0];
		page.n = 0;
	}
	store_cert_page_free(&page);
	return qs;
}
