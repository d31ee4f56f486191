/* Validation outcomes held a moment between a validation job and the
 * challenge answer waiting on it, so the answer replies without a read.
 * Two hand-overs: a recorded outcome (put/take), and an unrecorded one
 * that the answer records with its nonce in one statement (expect ...). */
#ifndef ORCHARD_ACME_OUTCOMES_H
#define ORCHARD_ACME_OUTCOMES_H
#include <stdbool.h>

/* A validation's end. */
struct acme_outcome {
	bool ok;
	long long validated; /* Unix seconds, when ok and recorded */
	char *error;	     /* the problem (JSON text) when not ok; NULL out of memory */
};

/* Holds challenge chall_id's recorded outcome (error copied) in a slot of
 * a fixed table, in place of another recorded outcome: memory stays
 * bounded when no answer takes it (one that gave up waiting). Dropped
 * when the slot is in an expect/deliver hand-over. */
void acme_outcome_put(const char *chall_id, const struct acme_outcome *o);

/* Moves chall_id's recorded outcome into *out (the caller frees
 * out->error): true, or false when it is not held (replaced, dropped or
 * not recorded by this process): read the store then. */
bool acme_outcome_take(const char *chall_id, struct acme_outcome *out);

/* The unrecorded hand-over. An answer that has not used its nonce yet
 * expects chall_id's outcome from the job it starts (false: the slot is
 * busy, answer the usual way). The job delivers; the answer claims it and
 * records it with its nonce; an answer that stops waiting first uses its
 * nonce, then abandons the outcome to the job (which records it) or, when
 * it may not record (its nonce or the start refused), cancels. */
enum acme_outcome_fate {
	ACME_OUTCOME_HANDED,  /* the answer has it: post EVENTS_ACME_OUTCOME */
	ACME_OUTCOME_RECORD,  /* the answer left it to the job: record it */
	ACME_OUTCOME_DROPPED, /* nobody may record it */
};
bool acme_outcome_expect(const char *chall_id);
enum acme_outcome_fate acme_outcome_deliver(const char *chall_id, const struct acme_outcome *o);
/* Moves the delivered outcome into *out: false while none is delivered. */
bool acme_outcome_claim(const char *chall_id, struct acme_outcome *out);
/* As claim when delivered; otherwise leaves it to the job (false). */
bool acme_outcome_abandon(const char *chall_id, struct acme_outcome *out);
void acme_outcome_cancel(const char *chall_id);

#endif
