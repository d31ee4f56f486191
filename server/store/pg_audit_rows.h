/* Shared by the audit listings in server/store/: the columns they select
 * and the conversion of their result into typed rows. */
#ifndef ORCHARD_PG_AUDIT_ROWS_H
#define ORCHARD_PG_AUDIT_ROWS_H
#include "server/store/operators.h"
#include "server/store/store_pg.h"

#define STORE_AUDIT_COLUMNS                                                                        \
	"id, " STORE_EPOCH("at") ", subject, jti, method, path, route, params::text, target,"      \
				 " status, request_id"

/* Fills *out from res (consumed: cleared here) when qs says it holds rows;
 * returns qs, or STORE_HARD when out of memory. */
enum store_qs store_audit_rows(PGresult *res, enum store_qs qs, struct store_audit_page *out);

#endif
