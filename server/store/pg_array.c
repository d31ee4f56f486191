/* PostgreSQL array literals ({"a","b",NULL}) for the batched statements
 * that pass one array per column and unnest them: every element quoted,
 * backslash and double quote escaped, NULL for a missing value. */
#include <string.h>

#include "server/store/store_pg.h"

int store_array_add(struct buf *b, const char *v)
{
	const char *p, *q;
	int rc;

	rc = buf_add(b, b->len == 0 ? "{" : ",", 1);
	if (v == NULL)
		return rc | buf_add(b, "NULL", 4);
	rc |= buf_add(b, "\"", 1);
	for (p = v; (q = strpbrk(p, "\"\\")) != NULL; p = q + 1)
		rc |= buf_add(b, p, (size_t)(q - p)) | buf_add(b, "\\", 1) | buf_add(b, q, 1);
	return rc | buf_add(b, p, strlen(p)) | buf_add(b, "\"", 1);
}

const char *store_array_end(struct buf *b)
{
	if ((b->len == 0 ? buf_add(b, "{}", 2) : buf_add(b, "}", 1)) != 0)
		return NULL;
	return (const char *)b->data;
}
