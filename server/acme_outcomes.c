/* The outcome table (acme_outcomes.h): direct-mapped by a hash of the
 * challenge id, one mutex held only to move a slot in or out. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/acme.h"
#include "server/acme_outcomes.h"

/* Far more than validations in flight (an outcome is taken within
 * milliseconds): two sharing a slot at once only cost the second a read. */
#define OUTCOME_SLOTS 1024

struct slot {
	char id[ACME_ID_MAX];
	struct acme_outcome o;
};

static struct slot slots[OUTCOME_SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static struct slot *slot_of(const char *id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return &slots[h % OUTCOME_SLOTS];
}

void acme_outcome_put(const char *chall_id, const struct acme_outcome *o)
{
	struct slot *s = slot_of(chall_id);
	char *error = o->error ? strdup(o->error) : NULL, *old;

	pthread_mutex_lock(&mu);
	old = s->o.error;
	snprintf(s->id, sizeof s->id, "%s", chall_id);
	s->o = *o;
	s->o.error = error;
	pthread_mutex_unlock(&mu);
	free(old);
}

bool acme_outcome_take(const char *chall_id, struct acme_outcome *out)
{
	struct slot *s = slot_of(chall_id);
	bool found;

	pthread_mutex_lock(&mu);
	found = s->id[0] != '\0' && strcmp(s->id, chall_id) == 0;
	if (found) {
		*out = s->o;
		memset(s, 0, sizeof *s);
	}
	pthread_mutex_unlock(&mu);
	return found;
}
