/* The depot's process state, shared by its two halves: the key and the
 * compiler (server/depot_compile.c), and the targets compiled for (depot_targets.c). */
#ifndef ORCHARD_SERVER_DEPOT_INT_H
#define ORCHARD_SERVER_DEPOT_INT_H
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>

#include "depot/depot.h"
#include "server/depot.h"

struct jobs;

#define COMPILE_TARGETS_MAX 8	 /* targets of --depot-compile-targets */
#define REPORTED_TARGETS_MAX 16	 /* targets devices report, compiled for besides those */
#define IGNORED_TARGETS_MAX 32	 /* reported targets refused, each logged once */
#define COMPILE_REQUEUE_MAX 1000 /* modules queued again at start, per target */

struct depot {
	EVP_PKEY *key;
	char key_id[DEPOT_KEY_ID_LEN + 1];
	char *public_pem;
	char *compiler; /* NULL: compiled forms off */
	/* The configured targets, then those devices report (append-only:
	 * entries never change once counted, so readers take only the count
	 * under the lock). */
	char targets[COMPILE_TARGETS_MAX + REPORTED_TARGETS_MAX][DEPOT_TARGET_MAX + 1];
	size_t ntargets;
	char ignored[IGNORED_TARGETS_MAX][DEPOT_TARGET_MAX + 1];
	bool ignored_retry[IGNORED_TARGETS_MAX]; /* no compiler yet: PATH is looked at again */
	size_t nignored;
	pthread_mutex_t lock; /* ntargets, ignored, nignored */
	struct jobs *jobs;
	atomic_int stopping; /* depot_stop: queued compilations are skipped */
	atomic_int child;    /* the compiler's pid while one runs, else 0 */
};

/* Queues the compilation of module (hex) for target on the depot's worker. */
void depot_queue_compile(struct server *srv, const char *module, const char *target);
/* The current count of targets (configured and reported). */
size_t depot_count_targets(struct depot *d);

#endif
