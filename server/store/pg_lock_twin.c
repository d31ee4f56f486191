/* Reads one device twin FOR UPDATE: the read of a read-modify-write, so
 * concurrent patches of one twin apply one after the other, none lost. */
#include "server/store/store_pg.h"
#include "server/store/twins.h"

enum store_qs twin_row_read(PGresult *res, enum store_qs qs, struct store_twin *out);

enum store_qs store_lock_twin(struct store_conn *c, const char *device_id, struct store_twin *out)
{
	static struct store_stmt st = {
		"lock_twin",
		"SELECT device_id, etag, version, status, tags::text, desired::text,"
		" reported::text, (desired->>'$version')::bigint, " STORE_EPOCH(
			"updated_at") " FROM twins WHERE device_id = $1 FOR UPDATE",
		0};
	const char *p[] = {device_id};
	enum store_qs qs;
	PGresult *res = store_exec(c, &st, 1, p, &qs);

	return twin_row_read(res, qs, out);
}
