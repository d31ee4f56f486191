/* Stores one device-to-cloud message and, in the same statement, trims
 * that device's messages to the retention (the newest MESSAGES_KEEP, none
 * older than MESSAGES_KEEP_DAYS) and announces it on EVENTS_DEVICE_MESSAGE. */
#include <stdio.h>
#include <stdlib.h>

#include "common/hex.h"
#include "server/store/events.h"
#include "server/store/messages.h"
#include "server/store/store_pg.h"

#define STR_(x) #x
#define STR(x) STR_(x)

enum store_qs store_insert_device_message(struct store_conn *c, const struct store_message_new *m,
					  long long *id)
{
	/* The trim's subquery does not see the new row (one snapshot): keeping
	 * MESSAGES_KEEP - 1 older ones leaves MESSAGES_KEEP. */
	static struct store_stmt st = {
		"insert_device_message",
		"WITH ins AS (INSERT INTO device_messages (device_id, system_properties, properties,"
		" body) VALUES ($1, $2::jsonb, $3::jsonb, decode($4, 'hex')) RETURNING id),"
		" trim AS (DELETE FROM device_messages WHERE device_id = $1 AND"
		" (received_at < now() - interval '" STR(
			MESSAGES_KEEP_DAYS) " days' OR id <="
					    " (SELECT id FROM device_messages WHERE device_id = $1 ORDER BY id DESC"
					    " OFFSET " STR(
						    MESSAGES_KEEP) " - 1 LIMIT 1)))"
								   " SELECT id, pg_notify('" EVENTS_DEVICE_MESSAGE
								   "', $1 || ' ' || id) FROM ins",
		0};
	char *hex = malloc(m->len * 2 + 1);
	const char *p[] = {m->device_id, m->system_properties, m->properties, hex};
	enum store_qs qs;
	PGresult *res;

	if (hex == NULL)
		return STORE_HARD;
	hex_encode(m->body, m->len, hex);
	res = store_exec(c, &st, 4, p, &qs);
	free(hex);
	if (qs > 0)
		*id = store_value_ll(res, 0, 0);
	PQclear(res);
	return qs;
}
