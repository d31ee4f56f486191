/* Creates a publisher or rotates its key: the new key becomes current, the
 * others are retired but kept for the packages they signed. */
#include <string.h>

#include "server/store/depot.h"
#include "server/store/store_pg.h"

enum store_qs store_upsert_depot_publisher(struct store_conn *c, const char *name, const char *pem,
					   const char *key_id, bool *created)
{
	static struct store_stmt st = {
		"upsert_depot_publisher",
		"WITH p AS (INSERT INTO depot_publishers (name, public_key, key_id) VALUES ($1, $2, $3)"
		" ON CONFLICT (name) DO UPDATE SET public_key = EXCLUDED.public_key,"
		" key_id = EXCLUDED.key_id, updated_at = now() RETURNING (xmax = 0) AS created),"
		" r AS (UPDATE depot_publisher_keys SET retired_at = now() WHERE publisher = $1"
		" AND key_id <> $3 AND retired_at IS NULL),"
		" k AS (INSERT INTO depot_publisher_keys (publisher, key_id, public_key)"
		" SELECT $1, $3, $2 FROM p"
		" ON CONFLICT (publisher, key_id) DO UPDATE SET retired_at = NULL)"
		" SELECT created FROM p",
		0};
	const char *p[] = {name, pem, key_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 3, p, &qs);

	*created = qs == STORE_ONE && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return qs;
}
