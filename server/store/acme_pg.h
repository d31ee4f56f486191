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

/* RFC 8555 7.1.6: whether the acme_orders row named o is ready, as an SQL
 * condition: ACME_ORDER_STATE(o) = 'ready' without its aggregate (pending
 * and unexpired, and no authorization that is not valid and unexpired, a
 * missing one included; ACME_ORDER_STATE() drops a missing one and reads
 * an order without any as pending: the cardinality test). The same
 * per-id lookup, an index scan in the generic plan. callgrind, finalize's
 * issuance statement replayed with a bench's parameters: 552-565 K ->
 * 521-523 K instructions (the aggregate's set-up and its projection). */
#define ACME_ORDER_READY(o)                                                                        \
	"(" o ".status = 'pending' AND " o ".expires_at > now() AND cardinality(" o                \
	".authz_ids) > 0 AND NOT EXISTS (SELECT 1 FROM unnest(" o ".authz_ids) AS u (id)"          \
	" LEFT JOIN LATERAL (SELECT x.status, x.expires_at FROM acme_authzs x WHERE x.id = u.id"   \
	" OFFSET 0) AS a ON true WHERE a.status IS NULL OR a.status <> 'valid'"                    \
	" OR a.expires_at <= now()))"

/* An order's columns with state, an SQL text expression for its served
 * state, as store_acme_order_row() reads them. */
#define ACME_ORDER_COLS_STATE(o, state)                                                            \
	o ".id, " o ".account_id, " state ", " o ".identifiers::text, to_json(" o                  \
	  ".authz_ids)::text, " o ".profile, " o                                                   \
	  ".error::text, " STORE_EPOCH(o ".expires_at") ", " o ".certificate_serial, " o           \
							".replaces"

/* An order's columns, state computed. */
#define ACME_ORDER_COLS(o) ACME_ORDER_COLS_STATE(o, ACME_ORDER_STATE(o))

/* One authorization ($1) with its computed state and its challenges as
 * JSON (store_acme_authz_fill()): an array of objects with the members
 * id, type, token, status, validated and error, which json_agg makes from
 * the subquery's rows and column names (json_build_object per row looked
 * up its six arguments' types each time: callgrind, the authorization
 * read replayed with a bench's parameters, 495 K -> 469 K instructions). */
#define ACME_AUTHZ_SELECT                                                                          \
	"SELECT a.id, a.account_id, a.identifier_type, a.identifier_value, a.wildcard,"            \
	" acme_authz_state(a.status, a.expires_at), " STORE_EPOCH(                                 \
		"a.expires_at") ", (SELECT coalesce(json_agg(c ORDER BY c.type), '[]') FROM"       \
				" (SELECT ch.id, ch.type, ch.token, ch.status, " STORE_EPOCH(      \
					"ch.validated_at") " AS validated, ch.error"               \
							   " FROM acme_challenges ch"              \
							   " WHERE ch.authz_id = a.id) c)::text"   \
							   " FROM acme_authzs a WHERE a.id = $1"

/* One challenge ($1) with its authorization's identifier and state and the
 * account's current key thumbprint (store_acme_chall_fill()). */
#define ACME_CHALL_SELECT                                                                          \
	"SELECT ch.id, ch.authz_id, a.account_id, ch.type, ch.token, ch.status,"                   \
	" a.identifier_type, a.identifier_value, a.wildcard,"                                      \
	" acme_authz_state(a.status, a.expires_at), ac.key_thumbprint"                             \
	" FROM acme_challenges ch JOIN acme_authzs a ON a.id = ch.authz_id"                        \
	" JOIN acme_accounts ac ON ac.id = a.account_id WHERE ch.id = $1"

/* A validation's outcome recorded: CTEs ch (the challenge moved, where
 * cond holds, with its authz_id and validated_at) and a (the id of its
 * authorization, moved unless already decided: "still pending" is written
 * as not one of the other four states of acme_authz_status, since with
 * "status = 'pending'" the generic plan, made while acme_authzs was small,
 * read every pending authorization through the partial index
 * acme_authzs_pending: bench/acme.sh with auto_explain, 27 index entries a
 * validation at 64 flows). SQL parameters: ok (boolean), error (jsonb
 * text), ttl (seconds valid), key, ak and verdict (device-attest-01's). */
#define ACME_FINISH_CTES(cond, ok, error, ttl, key, ak, verdict)                                   \
	"ch AS (UPDATE acme_challenges ch SET status = CASE WHEN " ok "::boolean THEN"             \
	" 'valid' ELSE 'invalid' END, validated_at = CASE WHEN " ok "::boolean THEN now() END,"    \
	" error = " error "::jsonb, updated_at = now() WHERE " cond                                \
	" RETURNING authz_id, validated_at),"                                                      \
	" a AS (UPDATE acme_authzs SET status = CASE WHEN " ok "::boolean THEN 'valid'"            \
	" ELSE 'invalid' END, expires_at = CASE WHEN " ok "::boolean THEN now() +"                 \
	" make_interval(secs => " ttl "::int) ELSE expires_at END, updated_at = now(),"            \
	" attested_key = CASE WHEN " ok "::boolean THEN " key "::bytea END,"                       \
	" attested_ak_serial = CASE WHEN " ok "::boolean THEN " ak " END,"                         \
	" attestation_verdict = " verdict "::jsonb"                                                \
	" WHERE acme_authzs.id = (SELECT authz_id FROM ch)"                                        \
	" AND acme_authzs.status NOT IN ('valid', 'invalid', 'deactivated', 'revoked')"            \
	" RETURNING acme_authzs.id)"

/* What ACME_FINISH_CTES moved: the validated time (0 when invalid), then
 * the columns extra (SQL text, "" for none); no row when nothing moved. */
#define ACME_FINISH_SELECT(extra)                                                                  \
	"SELECT coalesce(" STORE_EPOCH("ch.validated_at") ", 0)" extra " FROM a, ch"

/* The state of the order ACME_ORDER_ONE_CTES wrote (o): pending with its
 * new authorization ($6), ready with a reused one (valid and unexpired by
 * r's condition). ACME_ORDER_STATE(o) gives the same on the statement's
 * snapshot, which does not see the new authorization, but its subplan
 * cost 67 K instructions a statement to set up (callgrind). */
#define ACME_ORDER_ONE_STATE "(CASE WHEN o.authz_ids[1] = $6 THEN 'pending' ELSE 'ready' END)"

/* newOrder for one identifier (pg_insert_acme_order_one.c), as the CTEs
 * r (a reusable authorization), a (else a new one), ch (its challenges)
 * and o (the order, RETURNING *), written only when the SQL condition
 * guard holds. Parameters $1-$15: see store_insert_acme_order_one(). */
#define ACME_ORDER_ONE_CTES(guard)                                                                 \
	"r AS (SELECT id FROM acme_authzs WHERE $10::boolean AND account_id = $2"                  \
	" AND identifier_type = $7 AND identifier_value = $8 AND wildcard = $9::boolean"           \
	" AND status = 'valid' AND expires_at > now() + make_interval(secs => $11::int)"           \
	" ORDER BY expires_at DESC LIMIT 1),"                                                      \
	" a AS (INSERT INTO acme_authzs (id, account_id, identifier_type, identifier_value,"       \
	" wildcard, expires_at) SELECT $6, $2, $7, $8, $9::boolean,"                               \
	" now() + make_interval(secs => $12::int) WHERE NOT EXISTS (SELECT 1 FROM r)"              \
	" AND " guard " RETURNING id),"                                                            \
	" ch AS (INSERT INTO acme_challenges (id, authz_id, type, token)"                          \
	" SELECT u.i, a.id, u.t, u.k FROM a,"                                                      \
	" unnest($13::text[], $14::text[], $15::text[]) AS u (i, t, k)),"                          \
	" o AS (INSERT INTO acme_orders (id, account_id, identifiers, authz_ids, profile,"         \
	" expires_at) SELECT $1, $2, $3::jsonb, ARRAY(SELECT id FROM r UNION ALL"                  \
	" SELECT id FROM a), $4, now() + make_interval(secs => $5::int) WHERE " guard              \
	" RETURNING *)"

/* What an account's ($1) rate limits look at: its orders of the last hour,
 * the seconds until the oldest of them leaves the hour, its pending
 * authorizations. */
#define ACME_LIMITS_SELECT                                                                         \
	"SELECT (SELECT count(*) FROM acme_orders WHERE account_id = $1"                           \
	" AND created_at > now() - interval '1 hour'),"                                            \
	" (SELECT ceil(extract(epoch from min(created_at) + interval '1 hour' - now()))::bigint"   \
	" FROM acme_orders WHERE account_id = $1 AND created_at > now() - interval '1 hour'),"     \
	" (SELECT count(*) FROM acme_authzs WHERE account_id = $1 AND status = 'pending'"          \
	" AND expires_at > now())"

/* A kid request's nonce, taken in the statement that reads its account:
 * the CTE n deletes the nonce (SQL text nonce) when the account (id) is
 * valid and its stored key is jwk, and yields whether it was unexpired. */
#define ACME_NONCE_TAKE_CTE(id, nonce, jwk)                                                        \
	"n AS (DELETE FROM acme_nonces WHERE nonce = " nonce " AND EXISTS (SELECT 1 FROM"          \
	" acme_accounts WHERE id = " id " AND status = 'valid' AND jwk = " jwk ")"                 \
	" RETURNING expires_at > now() AS fresh)"

/* An ACME_LATE statement: object inner (a SELECT of at most one row, its
 * id $1) with the signer's account ($2) and nonce ($3) and the key text the
 * signature verified with ($4). Columns: the account (ACME_ACCOUNT_COLS),
 * the nonce's state, then inner's from ACME_LATE_COL (NULL when none).
 * The nonce is deleted when the account is valid and holds that key, as
 * ACME_NONCE_TAKE_CTE does, judged on the account row the statement
 * returns (the CTE acc) rather than on a second read of it: 15-22 K
 * instructions less a statement (callgrind, the certificate read). */
#define ACME_LATE_SQL(inner)                                                                       \
	"WITH " ACME_LATE_CTES("$2", "$3", "$4") " SELECT " ACME_LATE_ACC                          \
						 ", obj.* FROM acc LEFT JOIN LATERAL (" inner      \
						 ") obj ON true"

/* ACME_LATE_SQL's two CTEs for account id, nonce and key text jwk (SQL
 * text): acc, the account's row as c0-c6 and ok (valid, and holding that
 * key), and n, the nonce deleted when ok. ACME_LATE_ACC selects what
 * store_acme_nonce_account_row() reads from them. */
#define ACME_LATE_CTES(id, nonce, jwk)                                                             \
	"acc (c0, c1, c2, c3, c4, c5, c6, ok) AS (SELECT " ACME_ACCOUNT_COLS                       \
	", status = 'valid' AND jwk = " jwk " FROM acme_accounts WHERE id = " id "),"              \
	" n AS (DELETE FROM acme_nonces WHERE nonce = " nonce " AND (SELECT ok FROM acc)"          \
	" RETURNING expires_at > now() AS fresh)"
#define ACME_LATE_ACC                                                                              \
	"acc.c0, acc.c1, acc.c2, acc.c3, acc.c4, acc.c5, acc.c6, (SELECT fresh FROM n)"
#define ACME_LATE_COL 8

/* Reads what ACME_NONCE_TAKE_CTE's statements return: the account's
 * columns (ACME_ACCOUNT_COLS) from column 0 into *out, then at column 7
 * the nonce's state. Does not clear res. */
enum store_qs store_acme_nonce_account_row(const PGresult *res, enum store_qs qs,
					   struct store_acme_account *out,
					   enum store_nonce_state *nonce_state);

/* Runs st (ACME_LATE_SQL) for object id and fills late. Returns the result
 * (caller PQclears) when *qs is STORE_ONE and the object exists, else NULL. */
PGresult *store_acme_late_exec(struct store_conn *c, struct store_stmt *st, const char *id,
			       struct store_acme_late *late, enum store_qs *qs);

/* Fill *out (zeroed first) from row 0 of res, from column col on; -1 out
 * of memory (nothing kept). Do not clear res. */
int store_acme_order_fill(const PGresult *res, int col, struct store_acme_order *out);
int store_acme_authz_fill(const PGresult *res, int col, struct store_acme_authz *out);
int store_acme_chall_fill(const PGresult *res, int col, struct store_acme_chall *out);
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
