/* Private to server/store/: the depot's column lists and row readers,
 * shared by the queries that return the same rows. */
#ifndef ORCHARD_PG_DEPOT_ROWS_H
#define ORCHARD_PG_DEPOT_ROWS_H
#include "server/store/depot.h"
#include "server/store/store_pg.h"

/* From depot_publishers p; keys aggregated from depot_publisher_keys. */
#define DEPOT_PUBLISHER_COLS                                                                             \
	"p.name, p.public_key, p.key_id, " STORE_EPOCH("p.created_at") ", " STORE_EPOCH(                 \
		"p.updated_at") ", (SELECT json_agg(json_build_object('keyId', k.key_id,"                \
				"'addedAt', k.added_at, 'retiredAt', k.retired_at) ORDER BY k.added_at)" \
				"::text FROM depot_publisher_keys k WHERE k.publisher = p.name)"

/* From depot_packages d. */
#define DEPOT_PACKAGE_COLS                                                                         \
	"d.publisher, d.name, d.version, d.manifest, translate(encode(d.signature, 'base64'),"     \
	" E'\\n', ''), d.key_id, d.module_sha256, d.published_by, d.size, " STORE_EPOCH(           \
		"d.published_at") ", " STORE_EPOCH("d.yanked_at") ", d.yanked"

/* Fill *out from row i (columns as above); -1 when out of memory. */
int pg_depot_publisher_row(const PGresult *res, int i, struct store_depot_publisher *out);
int pg_depot_package_row(const PGresult *res, int i, struct store_depot_package *out);

#endif
