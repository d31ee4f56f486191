/* Certificate rows out of a result, and freeing them. */
#include <stdlib.h>
#include <string.h>

#include "server/store/pg_cert_rows.h"

void store_cert_free(struct store_cert *c)
{
	if (c == NULL)
		return;
	free(c->serial);
	free(c->sans);
	free(c->key_type);
	free(c->profile);
	free(c->acme_account_id);
	free(c->acme_order_id);
	free(c->dps_registration);
	free(c->der_b64);
	memset(c, 0, sizeof *c);
}

void store_cert_page_free(struct store_cert_page *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		store_cert_free(&p->rows[i]);
	free(p->rows);
	memset(p, 0, sizeof *p);
}

enum store_qs store_cert_rows(PGresult *res, enum store_qs qs, struct store_cert_page *out)
{
	int ok = 1, n = res ? PQntuples(res) : 0;

	memset(out, 0, sizeof *out);
	if (qs > 0 && (out->rows = calloc((size_t)n, sizeof *out->rows)) == NULL)
		ok = 0;
	for (int i = 0; ok && qs > 0 && i < n; i++) {
		struct store_cert *c = &out->rows[i];
		out->n++;
		c->serial = store_value_dup(res, i, 0, &ok);
		c->sans = store_value_dup(res, i, 1, &ok);
		c->key_type = store_value_dup(res, i, 2, &ok);
		c->profile = store_value_dup(res, i, 3, &ok);
		c->not_before = store_value_ll(res, i, 4);
		c->not_after = store_value_ll(res, i, 5);
		c->issued_at = store_value_ll(res, i, 6);
		c->acme_account_id = store_value_dup(res, i, 7, &ok);
		c->acme_order_id = store_value_dup(res, i, 8, &ok);
		c->dps_registration = store_value_dup(res, i, 9, &ok);
		c->revoked_at = store_value_ll(res, i, 10);
		c->reason = (int)store_value_ll(res, i, 11);
		c->seq = store_value_ll(res, i, 12);
		if (PQnfields(res) > 13)
			c->der_b64 = store_value_dup(res, i, 13, &ok);
	}
	PQclear(res);
	if (!ok) {
		store_cert_page_free(out);
		return STORE_HARD;
	}
	return qs;
}
