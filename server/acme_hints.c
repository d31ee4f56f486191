/* The hint table (acme_hints.h): direct-mapped by a hash of the challenge
 * id, one mutex held only to copy a slot in or out. */
#include <pthread.h>
#include <string.h>

#include "common/hash.h"
#include "server/acme_hints.h"

/* An authorization's challenges are answered within a second or so of
 * being listed; one replaced before then costs its answer one statement. */
#define HINT_SLOTS 1024

static struct acme_hint slots[HINT_SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static struct acme_hint *slot_of(const char *id)
{
	return &slots[hash_fnv1a_str(id) % HINT_SLOTS];
}

void acme_hint_put(const struct acme_hint *h)
{
	struct acme_hint *s = slot_of(h->chall_id);

	pthread_mutex_lock(&mu);
	*s = *h;
	pthread_mutex_unlock(&mu);
}

bool acme_hint_take(const char *chall_id, struct acme_hint *out)
{
	struct acme_hint *s = slot_of(chall_id);
	bool found;

	pthread_mutex_lock(&mu);
	if ((found = s->chall_id[0] != '\0' && strcmp(s->chall_id, chall_id) == 0)) {
		*out = *s;
		s->chall_id[0] = '\0';
	}
	pthread_mutex_unlock(&mu);
	return found;
}
