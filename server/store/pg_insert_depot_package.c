/* Records a published package and announces it in the same statement. */
#include <stdio.h>

#include "server/store/depot.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_depot_package(struct store_conn *c, const struct store_depot_package *p,
					 const char *sig_hex)
{
	static struct store_stmt st = {
		"insert_depot_package",
		"WITH i AS (INSERT INTO depot_packages (publisher, name, version, manifest, signature,"
		" key_id, module_sha256, size, published_by)"
		" VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6, $7, $8, $9)"
		" RETURNING publisher || '/pkg/' || name || '/' || version AS ref)"
		" SELECT pg_notify('" EVENTS_DEPOT "', ref) FROM i",
		0};
	char size[24];
	const char *params[] = {p->publisher, p->name,		p->version, p->manifest,    sig_hex,
				p->key_id,    p->module_sha256, size,	    p->published_by};

	snprintf(size, sizeof size, "%lld", p->size);
	return store_exec_void(c, &st, 9, params);
}
