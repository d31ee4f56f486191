/* Bounded little- and big-endian reads over untrusted bytes, in the manner
 * of tpm2-tss's MU unmarshallers and curl's strparse: check, then advance. */
#include "common/cursor.h"

void cursor_init(struct cursor *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = p != NULL ? len : 0;
	c->off = 0;
}

size_t cursor_left(const struct cursor *c)
{
	return c->len - c->off;
}

int cursor_bytes(struct cursor *c, size_t n, const uint8_t **out)
{
	if (n > c->len - c->off)
		return -1;
	*out = c->p + c->off;
	c->off += n;
	return 0;
}

int cursor_u8(struct cursor *c, uint8_t *v)
{
	const uint8_t *b;
	if (cursor_bytes(c, 1, &b) != 0)
		return -1;
	*v = b[0];
	return 0;
}

int cursor_le16(struct cursor *c, uint16_t *v)
{
	const uint8_t *b;
	if (cursor_bytes(c, 2, &b) != 0)
		return -1;
	*v = (uint16_t)(b[0] | b[1] << 8);
	return 0;
}

int cursor_le32(struct cursor *c, uint32_t *v)
{
	const uint8_t *b;
	if (cursor_bytes(c, 4, &b) != 0)
		return -1;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

int cursor_be16(struct cursor *c, uint16_t *v)
{
	const uint8_t *b;
	if (cursor_bytes(c, 2, &b) != 0)
		return -1;
	*v = (uint16_t)(b[0] << 8 | b[1]);
	return 0;
}

int cursor_be32(struct cursor *c, uint32_t *v)
{
	const uint8_t *b;
	if (cursor_bytes(c, 4, &b) != 0)
		return -1;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
	return 0;
}
