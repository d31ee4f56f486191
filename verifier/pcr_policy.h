/* PCR policy: for each PCR of a bank, the set of values that are good
 * (several golden values allowed), plus optional per-PCR allow-lists of
 * event digests; evaluated only over PCRs a verified quote covers. */
#ifndef ORCHARD_VERIFIER_PCR_POLICY_H
#define ORCHARD_VERIFIER_PCR_POLICY_H
#include <stddef.h>
#include <stdint.h>

#include "verifier/eventlog.h"
#include "verifier/pcr_set.h"
#include "verifier/verr.h"

#define PCR_POLICY_MAX_VALUES 256

struct pcr_policy_rule {
	uint16_t alg;
	unsigned pcr;
	size_t nvalues;
	uint8_t (*values)[64]; /* owned */
};

struct pcr_policy {
	size_t nrules, nevrules, nforbid, nrequire;
	struct pcr_policy_rule *rules;	 /* "pcrs": PCR value must be listed */
	struct pcr_policy_rule *evrules; /* "events": every event digest extended
					    into that PCR must be listed */
	struct pcr_policy_rule *forbid;	 /* "forbiddenEvents": no event extended
					    into that PCR may carry a listed digest */
	struct pcr_policy_rule *require; /* "requiredEvents": every listed digest
					    must be extended into that PCR */
	int secure_boot;		 /* "secureBoot": true: the log shows the
					    SecureBoot variable as 1 (PCR 7) */
};

/* One failing PCR and why ("pcr-not-quoted", "pcr-mismatch",
 * "event-not-allowed", "event-forbidden", "event-missing",
 * "secureboot-off", "eventlog-required"). */
struct pcr_policy_failure {
	uint16_t alg;
	unsigned pcr;
	char code[24];
	char detail[160];
};

/* Parses a policy document:
 *   {"pcrs":   {"sha256": {"7": ["<hex>", "<hex>"], "0": ["<hex>"]}},
 *    "events": {"sha256": {"9": ["<hex>", ...]}},
 *    "forbiddenEvents": {"sha256": {"4": ["<hex>", ...]}},
 *    "requiredEvents":  {"sha256": {"4": ["<hex>", ...]}},
 *    "secureBoot": true}
 * Every event rule judges events by their digest in that bank (the event
 * type is not covered by any digest); "secureBoot" reads the SecureBoot
 * EV_EFI_VARIABLE_DRIVER_CONFIG event of PCR 7 in the SHA-256 bank, whose
 * data must hash to its digest.
 * Unknown top-level keys are refused, so a typo cannot disable a check.
 * Returns a policy the caller frees with pcr_policy_free, or NULL with e set. */
struct pcr_policy *pcr_policy_parse(const char *json, size_t len, struct verr *e);

/* Evaluates pol over covered (the PCRs a verified quote vouches for) and,
 * when pol has event rules, log (already checked against the quote; may be
 * NULL otherwise). A PCR the policy names that the quote does not cover
 * fails: passing a quote over a subset was go-attestation's CVE-2022-0317.
 * Writes up to maxf failures into f (may be NULL) and their count into
 * *nf. Returns 0 when everything passed, else -1 with e summarising. */
int pcr_policy_evaluate_report(const struct pcr_policy *pol, const struct pcr_set *covered,
			       const struct eventlog *log, struct pcr_policy_failure *f,
			       size_t maxf, size_t *nf, struct verr *e);

/* pcr_policy_evaluate_report without the per-PCR list. */
int pcr_policy_evaluate(const struct pcr_policy *pol, const struct pcr_set *covered,
			const struct eventlog *log, struct verr *e);

/* Frees pol (NULL-safe). */
void pcr_policy_free(struct pcr_policy *pol);

#endif
