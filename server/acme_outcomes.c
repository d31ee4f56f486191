/* The outcome table (acme_outcomes.h): direct-mapped by a hash of the
 * challenge id, one mutex held only to move a slot's state or outcome. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "server/acme.h"
#include "server/acme_outcomes.h"

/* Far more than validations in flight (an outcome is taken within
 * milliseconds): two sharing a slot at once only cost the second a read
 * (put) or the usual answer (expect). */
#define OUTCOME_SLOTS 1024

enum slot_state {
	SLOT_EMPTY,
	SLOT_HELD,	/* a recorded outcome, for take */
	SLOT_EXPECTED,	/* an answer waits for its job */
	SLOT_DELIVERED, /* ... which delivered: the answer records */
	SLOT_ABANDONED, /* the answer left: the job records */
};

struct slot {
	char id[ACME_ID_MAX];
	enum slot_state state;
	struct acme_outcome o;
};

static struct slot slots[OUTCOME_SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static struct slot *slot_of(const char *id)
{
	return &slots[hash_fnv1a_str(id) % OUTCOME_SLOTS];
}

/* Whether s is chall_id's, in state st. Under mu. */
static bool slot_is(const struct slot *s, const char *chall_id, enum slot_state st)
{
	return s->state == st && strcmp(s->id, chall_id) == 0;
}

/* Empties s, moving its outcome into *out (NULL: freeing it). Under mu;
 * free()s nothing itself when out is NULL: returns what to free. */
static char *slot_clear(struct slot *s, struct acme_outcome *out)
{
	char *error = s->o.error;

	if (out != NULL) {
		*out = s->o;
		error = NULL;
	}
	memset(s, 0, sizeof *s);
	return error;
}

/* Fills s with chall_id's outcome o (error copied, into *copy's place),
 * returning the error it held. Under mu. */
static char *slot_fill(struct slot *s, const char *chall_id, enum slot_state st,
		       const struct acme_outcome *o, char *copy)
{
	char *old = s->o.error;

	snprintf(s->id, sizeof s->id, "%s", chall_id);
	s->state = st;
	s->o = *o;
	s->o.error = copy;
	return old;
}

void acme_outcome_put(const char *chall_id, const struct acme_outcome *o)
{
	struct slot *s = slot_of(chall_id);
	char *copy = o->error ? strdup(o->error) : NULL, *old = copy;

	pthread_mutex_lock(&mu);
	if (s->state == SLOT_EMPTY || s->state == SLOT_HELD)
		old = slot_fill(s, chall_id, SLOT_HELD, o, copy);
	pthread_mutex_unlock(&mu);
	free(old);
}

bool acme_outcome_take(const char *chall_id, struct acme_outcome *out)
{
	struct slot *s = slot_of(chall_id);
	bool found;

	pthread_mutex_lock(&mu);
	if ((found = slot_is(s, chall_id, SLOT_HELD)))
		slot_clear(s, out);
	pthread_mutex_unlock(&mu);
	return found;
}

bool acme_outcome_expect(const char *chall_id)
{
	struct slot *s = slot_of(chall_id);
	char *old = NULL;
	bool ok;

	pthread_mutex_lock(&mu);
	/* A recorded outcome nobody took yet gives way; a hand-over does not. */
	if ((ok = s->state == SLOT_EMPTY || s->state == SLOT_HELD))
		old = slot_fill(s, chall_id, SLOT_EXPECTED, &(struct acme_outcome){0}, NULL);
	pthread_mutex_unlock(&mu);
	free(old);
	return ok;
}

enum acme_outcome_fate acme_outcome_deliver(const char *chall_id, const struct acme_outcome *o)
{
	struct slot *s = slot_of(chall_id);
	char *copy = o->error ? strdup(o->error) : NULL, *old = copy;
	enum acme_outcome_fate fate = ACME_OUTCOME_DROPPED;

	pthread_mutex_lock(&mu);
	if (slot_is(s, chall_id, SLOT_EXPECTED)) {
		old = slot_fill(s, chall_id, SLOT_DELIVERED, o, copy);
		fate = ACME_OUTCOME_HANDED;
	} else if (slot_is(s, chall_id, SLOT_ABANDONED)) {
		slot_clear(s, NULL);
		fate = ACME_OUTCOME_RECORD;
	}
	pthread_mutex_unlock(&mu);
	free(old);
	return fate;
}

/* claim, or with leave, abandon. */
static bool outcome_hand_back(const char *chall_id, struct acme_outcome *out, bool leave)
{
	struct slot *s = slot_of(chall_id);
	bool found;

	pthread_mutex_lock(&mu);
	if ((found = slot_is(s, chall_id, SLOT_DELIVERED)))
		slot_clear(s, out);
	else if (leave && slot_is(s, chall_id, SLOT_EXPECTED))
		s->state = SLOT_ABANDONED;
	pthread_mutex_unlock(&mu);
	return found;
}

bool acme_outcome_claim(const char *chall_id, struct acme_outcome *out)
{
	return outcome_hand_back(chall_id, out, false);
}

bool acme_outcome_abandon(const char *chall_id, struct acme_outcome *out)
{
	return outcome_hand_back(chall_id, out, true);
}

void acme_outcome_cancel(const char *chall_id)
{
	struct slot *s = slot_of(chall_id);
	char *old = NULL;

	pthread_mutex_lock(&mu);
	if (slot_is(s, chall_id, SLOT_EXPECTED) || slot_is(s, chall_id, SLOT_DELIVERED))
		old = slot_clear(s, NULL);
	pthread_mutex_unlock(&mu);
	free(old);
}
