/* Finalize's success in one statement (RFC 8555 section 7.1.6): the order
 * ready -> valid with its certificate's serial, and the certificate
 * recorded, the order as it is then returned. The UPDATE row-locks the
 * order and PostgreSQL evaluates its WHERE again on the locked row, so of
 * racing finalizers one moves it and records its certificate; the others
 * get STORE_NONE and record nothing. One round trip and one transaction
 * where BEGIN, a row lock, the INSERT, the UPDATE and COMMIT were five
 * (bench/acme.sh with ACME_BENCH_PGSS=1). The order returned is valid, its
 * stored status: ACME_ORDER_STATE() there cost a subplan to set up; the
 * WHERE asks ACME_ORDER_READY(), the same rule without an aggregate. */
#include <stdio.h>
#include <stdlib.h>

#include "common/hex.h"
#include "server/store/acme.h"
#include "server/store/acme_pg.h"
#include "server/store/pki.h"
#include "server/store/store_pg.h"

enum store_qs store_issue_acme_order(struct store_conn *c, const char *id,
				     const struct store_cert *cert, struct store_acme_order *out)
{
	static struct store_stmt st = {
		"issue_acme_order",
		"WITH o AS (UPDATE acme_orders o SET status = 'valid', updated_at = now(),"
		" certificate_serial = $2 WHERE o.id = $1 AND " ACME_ORDER_READY(
			"o") " RETURNING o.*),"
			     " c AS (INSERT INTO certificates (serial, sans, key_type, profile,"
			     " not_before, not_after, acme_account_id, acme_order_id, der)"
			     " SELECT $2, $3, $4, $5, to_timestamp($6), to_timestamp($7), $8, o.id,"
			     " $9::bytea FROM o)"
			     " SELECT " ACME_ORDER_COLS_STATE("o", "o.status") " FROM o",
		0};
	char nb[24], na[24];
	char *der = malloc(cert->der_len * 2 + 3);
	const char *p[] = {id, cert->serial,	      cert->sans, cert->key_type, cert->profile, nb,
			   na, cert->acme_account_id, der};
	enum store_qs qs;
	PGresult *res;

	if (der == NULL)
		return STORE_HARD;
	/* bytea's text input: \x and hex digits. */
	der[0] = '\\';
	der[1] = 'x';
	hex_encode(cert->der, cert->der_len, der + 2);
	snprintf(nb, sizeof nb, "%lld", cert->not_before);
	snprintf(na, sizeof na, "%lld", cert->not_after);
	res = store_exec(c, &st, 9, p, &qs);
	free(der);
	return store_acme_order_row(res, qs, out);
}
