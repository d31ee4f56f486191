/* Records which EK and device an issued AK certificate names, and
 * announces it in the same statement. */
#include "server/store/attest.h"
#include "server/store/events.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_attest_certificate(struct store_conn *c, const char *serial,
					      const struct store_attest_challenge *ch)
{
	static struct store_stmt st = {
		"insert_attest_certificate",
		"WITH i AS (INSERT INTO attest_ak_certificates (serial, ek_hash, registration_id,"
		" enrollment_kind, enrollment_id) VALUES ($1, $2, $3, $4, $5)"
		" RETURNING registration_id, serial)"
		" SELECT pg_notify('" EVENTS_ATTEST_AK
		"', registration_id || ' ' || serial) FROM i",
		0};
	const char *p[] = {serial, ch->ek_hash, ch->registration_id, ch->enrollment_kind,
			   ch->enrollment_id};

	return store_exec_void(c, &st, 5, p);
}
