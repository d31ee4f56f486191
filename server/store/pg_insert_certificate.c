/* Records an issued certificate. */
#include <stdio.h>
#include <stdlib.h>

#include "common/hex.h"
#include "server/store/pki.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_certificate(struct store_conn *c, const struct store_cert *cert)
{
	static struct store_stmt st = {
		"insert_certificate",
		"INSERT INTO certificates (serial, sans, key_type, profile, not_before, not_after,"
		" acme_account_id, acme_order_id, dps_registration, der)"
		" VALUES ($1, $2, $3, $4, to_timestamp($5), to_timestamp($6), $7, $8, $9, $10::bytea)"
		" RETURNING serial",
		0};
	char nb[24], na[24];
	char *der = malloc(cert->der_len * 2 + 3);
	const char *p[] = {cert->serial,
			   cert->sans,
			   cert->key_type,
			   cert->profile,
			   nb,
			   na,
			   cert->acme_account_id,
			   cert->acme_order_id,
			   cert->dps_registration,
			   der};
	enum store_qs qs;

	if (der == NULL)
		return STORE_HARD;
	/* bytea's text input: \x and hex digits. */
	der[0] = '\\';
	der[1] = 'x';
	hex_encode(cert->der, cert->der_len, der + 2);
	snprintf(nb, sizeof nb, "%lld", cert->not_before);
	snprintf(na, sizeof na, "%lld", cert->not_after);
	qs = store_exec_void(c, &st, 10, p);
	free(der);
	return qs;
}
