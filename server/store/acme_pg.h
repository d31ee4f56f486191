/* What the ACME account queries share inside server/store/: the column
 * list and the row reader. */
#ifndef ORCHARD_STORE_ACME_PG_H
#define ORCHARD_STORE_ACME_PG_H
#include <libpq-fe.h>
#include <stddef.h>

#include "server/store/acme.h"
#include "server/store/store_pg.h"

#define ACME_ACCOUNT_COLS                                                                          \
	"id, key_thumbprint, jwk, contact::text, status, tos_agreed, " STORE_EPOCH("created_at")

/* RFC 8555 7.1.6: the order state served, of the acme_orders row named o
 * (a table alias), as an SQL expression. The same rule as the SQL function
 * acme_order_state() of migration 0006, written out: PostgreSQL does not
 * inline that function (its body has a subquery), so every call planned it
 * again; here the subquery is planned once with the statement.
 * The authorizations are looked up one id at a time (unnest, then a LATERAL
 * subquery that OFFSET 0 keeps from being flattened into a join): a
 * prepared statement keeps the generic plan made on its sixth run, and with
 * `a.id = ANY (o.authz_ids)` on a still small acme_authzs that plan is a
 * sequential scan, kept while the table grows until autoanalyze replans
 * (bench/acme.sh, ACME_BENCH_PGSS=1: 6 sequential scans reading 4,500 rows
 * per issuance after 1,500 issuances, growing with the table). One id by
 * equality is an index scan even on an empty table. */
#define ACME_ORDER_STATE(o)                                                                        \
	"(CASE WHEN " o ".status <> 'pending' THEN " o ".status"                                   \
	" WHEN " o ".expires_at <= now() THEN 'invalid'"                                           \
	" ELSE (SELECT CASE"                                                                       \
	" WHEN bool_or(acme_authz_state(a.status, a.expires_at) NOT IN ('pending', 'valid'))"      \
	" THEN 'invalid'"                                                                          \
	" WHEN bool_and(acme_authz_state(a.status, a.expires_at) = 'valid') THEN 'ready'"          \
	" ELSE 'pending' END FROM unnest(" o ".authz_ids) AS u (id), LATERAL (SELECT x.status,"    \
	" x.expires_at FROM acme_authzs x WHERE x.id = u.id OFFSET 0) AS a) END)"

/* An order's columns, state computed, as store_acme_order_row() reads them. */
#define ACME_ORDER_COLS(o)                                                                         \
	o ".id, " o ".account_id, " ACME_ORDER_STATE(                                              \
		o) ", " o ".identifiers::text,"                                                    \
		   " to_json(" o ".authz_ids)::text, " o ".profile, " o                            \
		   ".error::text, " STORE_EPOCH(o ".expires_at") ", " o ".certificate_serial, " o  \
								 ".replaces"

/* A kid request's nonce, taken in the statement that reads its account:
 * the CTE n deletes the nonce (SQL text nonce) when the account (id) is
 * valid and its stored key is jwk, and yields whether it was unexpired. */
#define ACME_NONCE_TAKE_CTE(id, nonce, jwk)                                                        \
	"n AS (DELETE FROM acme_nonces WHERE nonce = " nonce " AND EXISTS (SELECT 1 FROM"          \
	" acme_accounts WHERE id = " id " AND status = 'valid' AND jwk = " jwk ")"                 \
	" RETURNING expires_at > now() AS fresh)"

/* Reads what ACME_NONCE_TAKE_CTE's statements return: the account's
 * columns (ACME_ACCOUNT_COLS) from column 0 into *out, then at column 7
 * the nonce's state. Does not clear res. */
enum store_qs store_acme_nonce_account_row(const PGresult *res, enum store_qs qs,
					   struct store_acme_account *out,
					   enum store_nonce_state *nonce_state);

/* Fill *out (zeroed first) from row 0 of res, from column col on; -1 out
 * of memory (nothing kept). Do not clear res. */
int store_acme_order_fill(const PGresult *res, int col, struct store_acme_order *out);
int store_acme_account_fill(const PGresult *res, int col, struct store_acme_account *out);

/* Fills *out (zeroed first) from res's first row when qs is STORE_ONE and
 * out is not NULL; clears res. */
enum store_qs store_acme_order_row(PGresult *res, enum store_qs qs, struct store_acme_order *out);

/* Fills *out from res's first row when qs is STORE_ONE; clears res. */
enum store_qs store_acme_account_row(PGresult *res, enum store_qs qs,
				     struct store_acme_account *out);

/* n strings as JSON array text (free()), for statements that take a list
 * as json_array_elements_text($k::json); NULL when out of memory. */
char *store_json_strings(size_t n, const char *const *v);

#endif
