/* A growable byte buffer with a hard maximum, for untrusted input such as
 * request bodies: it refuses to grow past max instead of exhausting memory. */
#ifndef ORCHARD_BUF_H
#define ORCHARD_BUF_H
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data; /* NUL-terminated for convenience; owned */
	size_t len;
	size_t cap;
	size_t max; /* hard limit on len */
};

void buf_init(struct buf *b, size_t max);

/* Appends n bytes. Returns 0, or -1 (buffer unchanged) when the result
 * would exceed max or memory runs out. */
int buf_add(struct buf *b, const void *p, size_t n);

/* Frees the data and resets the buffer to empty; max is kept. */
void buf_free(struct buf *b);

#endif
