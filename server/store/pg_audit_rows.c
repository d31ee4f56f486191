/* Audit rows from a result whose columns are STORE_AUDIT_COLUMNS, shared by
 * the two audit listings; and their release. */
#include <stdlib.h>
#include <string.h>

#include "server/store/operators.h"
#include "server/store/pg_audit_rows.h"

void store_audit_page_free(struct store_audit_page *p)
{
	for (size_t i = 0; p != NULL && i < p->n; i++) {
		struct store_audit_entry *e = &p->items[i];
		free(e->subject);
		free(e->jti);
		free(e->method);
		free(e->path);
		free(e->route);
		free(e->params_json);
		free(e->target);
		free(e->request_id);
	}
	if (p != NULL) {
		free(p->items);
		memset(p, 0, sizeof *p);
	}
}

enum store_qs store_audit_rows(PGresult *res, enum store_qs qs, struct store_audit_page *out)
{
	int ok = 1, n = qs > 0 ? PQntuples(res) : 0;

	memset(out, 0, sizeof *out);
	if (qs < 0 || n == 0)
		goto out;
	out->items = calloc((size_t)n, sizeof *out->items);
	if (out->items == NULL) {
		qs = STORE_HARD;
		goto out;
	}
	for (int i = 0; i < n; i++, out->n++) {
		struct store_audit_entry *e = &out->items[i];
		e->id = store_value_ll(res, i, 0);
		e->at = store_value_ll(res, i, 1);
		e->subject = store_value_dup(res, i, 2, &ok);
		e->jti = store_value_dup(res, i, 3, &ok);
		e->method = store_value_dup(res, i, 4, &ok);
		e->path = store_value_dup(res, i, 5, &ok);
		e->route = store_value_dup(res, i, 6, &ok);
		e->params_json = store_value_dup(res, i, 7, &ok);
		e->target = store_value_dup(res, i, 8, &ok);
		e->status = (int)store_value_ll(res, i, 9);
		e->request_id = store_value_dup(res, i, 10, &ok);
	}
	if (!ok) {
		store_audit_page_free(out);
		qs = STORE_HARD;
	}
out:
	PQclear(res);
	return qs;
}
