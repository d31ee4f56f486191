/* A bounded reader for untrusted bytes: (buffer, length, offset) with
 * subtraction-safe checks; a read that does not fit fails and moves nothing. */
#ifndef ORCHARD_CURSOR_H
#define ORCHARD_CURSOR_H
#include <stddef.h>
#include <stdint.h>

struct cursor {
	const uint8_t *p;
	size_t len;
	size_t off; /* always <= len */
};

void cursor_init(struct cursor *c, const uint8_t *p, size_t len);

/* Bytes not yet read. */
size_t cursor_left(const struct cursor *c);

/* Each returns 0 and advances, or -1 and leaves the cursor unchanged. */
int cursor_u8(struct cursor *c, uint8_t *v);
int cursor_le16(struct cursor *c, uint16_t *v);
int cursor_le32(struct cursor *c, uint32_t *v);
int cursor_be16(struct cursor *c, uint16_t *v);
int cursor_be32(struct cursor *c, uint32_t *v);
/* Points *out at the next n bytes (no copy) and skips them. */
int cursor_bytes(struct cursor *c, size_t n, const uint8_t **out);

#endif
