/* Bounded growable buffer, in the spirit of curl's dynbuf: every buffer
 * carries its own ceiling, so no caller forgets one. */
#include "common/buf.h"

#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		uint8_t *d = realloc(b->data, cap);
		if (d == NULL)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}
