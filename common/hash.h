/* FNV-1a, the hash of orchardd's in-memory tables: waiters by channel and
 * key, MQTT subscriptions, the twin writer's rows. Header-only, so the
 * mosquitto plugin uses the same without linking libcommon. */
#ifndef ORCHARD_HASH_H
#define ORCHARD_HASH_H
#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_INIT 2166136261u

/* h (HASH_FNV1A_INIT to start) continued over n bytes of p. */
static inline uint32_t hash_fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* The hash of a NUL-terminated string. */
static inline uint32_t hash_fnv1a_str(const char *s)
{
	uint32_t h = HASH_FNV1A_INIT;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

#endif
