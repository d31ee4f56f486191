/* The TCG PC Client crypto-agile event log (Linux binary_bios_measurements):
 * parsing, replay per bank, comparison with quoted PCRs, and the events
 * themselves for digest allow-lists. */
#ifndef ORCHARD_VERIFIER_EVENTLOG_H
#define ORCHARD_VERIFIER_EVENTLOG_H
#include <stddef.h>
#include <stdint.h>

#include "verifier/pcr_set.h"
#include "verifier/verr.h"

#define EVENTLOG_MAX_ALGS 8
#define EVENTLOG_MAX_EVENTS 100000
#define EV_NO_ACTION 0x00000003u

struct eventlog_event {
	uint32_t pcr;
	/* The event type is NOT covered by any digest: a policy must never
	 * trust it alone, only together with a digest it allow-lists. */
	uint32_t type;
	size_t ndigests;
	struct {
		uint16_t alg;
		const uint8_t *d; /* points into the log's copy */
	} digests[EVENTLOG_MAX_ALGS];
	const uint8_t *data;
	uint32_t data_len;
};

struct eventlog {
	uint8_t *raw; /* owned copy of the log bytes */
	size_t nalgs; /* from the Spec ID event: the only source of digest sizes */
	struct {
		uint16_t alg;
		uint16_t size;
	} algs[EVENTLOG_MAX_ALGS];
	uint8_t startup_locality; /* PCR 0 starts at 0...0 || locality */
	size_t nevents;
	struct eventlog_event *ev;   /* events after the Spec ID event */
	struct pcr_set replay;	     /* replayed values, banks we can hash */
	uint32_t touched[PCR_BANKS]; /* per replay bank: PCRs some event extended */
};

/* Parses and replays a crypto-agile log (Spec ID "Spec ID Event03" first,
 * in SHA-1 format; then TCG_PCR_EVENT2 records). Digest sizes come only
 * from the Spec ID header; an algorithm the header does not declare fails.
 * Returns a log the caller frees with eventlog_free, or NULL with e set. */
struct eventlog *eventlog_parse(const uint8_t *b, size_t n, struct verr *e);

/* Every PCR the quote covers and the log extends must equal the replayed
 * value ("eventlog-mismatch" otherwise). Returns 0 or -1 with e set. */
int eventlog_check_quote(const struct eventlog *log, const struct pcr_set *covered, struct verr *e);

/* Frees log (NULL-safe). */
void eventlog_free(struct eventlog *log);

#endif
