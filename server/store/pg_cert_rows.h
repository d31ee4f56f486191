/* Shared by the certificate queries in server/store/: the columns they
 * select and the conversion of their result into typed rows. */
#ifndef ORCHARD_PG_CERT_ROWS_H
#define ORCHARD_PG_CERT_ROWS_H
#include "server/store/pki.h"
#include "server/store/store_pg.h"

#define STORE_CERT_COLUMNS                                                                         \
	"serial, sans, key_type, profile, " STORE_EPOCH("not_before") ", " STORE_EPOCH(            \
		"not_after") ", " STORE_EPOCH("issued_at") ", acme_account_id, acme_order_id,"     \
							   " dps_registration, " STORE_EPOCH(      \
								   "revoked_at") ","               \
										 " coalesce(revocation_reason, -1), seq"

/* Fills *out from res (consumed: cleared here) when qs says it holds rows;
 * a 14th column, when present, is the DER in base64. Returns qs, or
 * STORE_HARD when out of memory. */
enum store_qs store_cert_rows(PGresult *res, enum store_qs qs, struct store_cert_page *out);

#endif
