/* In-memory nonce store for tests and single-process tools: a bounded
 * array, purged of expired entries when it fills. */
#include <stdlib.h>
#include <string.h>

#include "common/ct.h"
#include "verifier/nonce_store.h"

struct mem_entry {
	uint8_t nonce[NONCE_MAX];
	size_t len;
	int64_t expires;
};

struct mem_store {
	struct nonce_store base;
	size_t n, max;
	struct mem_entry *e;
};

static int mem_put(struct nonce_store *s, const uint8_t *nonce, size_t len, int64_t now,
		   int64_t expires)
{
	struct mem_store *m = s->ctx;

	if (m->n == m->max) {
		size_t j = 0;
		for (size_t i = 0; i < m->n; i++)
			if (m->e[i].expires > now)
				m->e[j++] = m->e[i];
		m->n = j;
	}
	if (m->n == m->max || len > NONCE_MAX)
		return -1;
	memcpy(m->e[m->n].nonce, nonce, len);
	m->e[m->n].len = len;
	m->e[m->n].expires = expires;
	m->n++;
	return 0;
}

static int mem_take(struct nonce_store *s, const uint8_t *nonce, size_t len, int64_t *expires)
{
	struct mem_store *m = s->ctx;

	for (size_t i = 0; i < m->n; i++) {
		if (m->e[i].len == len && ct_equal(m->e[i].nonce, nonce, len)) {
			*expires = m->e[i].expires;
			m->e[i] = m->e[--m->n];
			return 0;
		}
	}
	return -1;
}

static void mem_free(struct nonce_store *s)
{
	struct mem_store *m = s->ctx;
	free(m->e);
	free(m);
}

static const struct nonce_store_ops mem_ops = {mem_put, mem_take, mem_free};

struct nonce_store *nonce_store_mem_new(size_t max)
{
	struct mem_store *m = calloc(1, sizeof(*m));

	if (m == NULL || max == 0 || (m->e = calloc(max, sizeof(*m->e))) == NULL) {
		free(m);
		return NULL;
	}
	m->max = max;
	m->base.ops = &mem_ops;
	m->base.ctx = m;
	return &m->base;
}
