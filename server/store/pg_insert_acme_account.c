/* Records a new ACME account: its random id, key and contacts. */
#include "server/store/acme.h"
#include "server/store/store_pg.h"

enum store_qs store_insert_acme_account(struct store_conn *c, const struct store_acme_account *a)
{
	static struct store_stmt st = {
		"insert_acme_account",
		"INSERT INTO acme_accounts (id, key_thumbprint, jwk, contact, tos_agreed)"
		" VALUES ($1, $2, $3, $4::jsonb, $5::boolean)",
		0};
	const char *p[] = {a->id, a->thumbprint, a->jwk, a->contact, a->tos_agreed ? "t" : "f"};

	return store_exec_void(c, &st, 5, p);
}
