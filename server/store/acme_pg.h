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

/* Fills *out from res's first row when qs is STORE_ONE; clears res. */
enum store_qs store_acme_account_row(PGresult *res, enum store_qs qs,
				     struct store_acme_account *out);

/* n strings as JSON array text (free()), for statements that take a list
 * as json_array_elements_text($k::json); NULL when out of memory. */
char *store_json_strings(size_t n, const char *const *v);

#endif
