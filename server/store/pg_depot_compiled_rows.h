/* The columns of a compiled form's record and their reader, shared by the
 * depot_compiled queries. */
#ifndef ORCHARD_PG_DEPOT_COMPILED_ROWS_H
#define ORCHARD_PG_DEPOT_COMPILED_ROWS_H
#include "server/store/depot_compiled.h"
#include "server/store/store_pg.h"

#define DEPOT_COMPILED_COLS                                                                        \
	"module_sha256, target, state, compiler, cwasm_sha256, statement,"                         \
	" translate(encode(signature, 'base64'), E'\\n', ''), key_id, error, size, " STORE_EPOCH(  \
		"updated_at")

/* Fills *out from row i (columns as above); -1 when out of memory. */
int pg_depot_compiled_row(const PGresult *res, int i, struct store_depot_compiled *out);
#endif
