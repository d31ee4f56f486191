/* Reboot and rollback detection from the (resetCount, restartCount, clock)
 * tuple of two verified quotes by the same AK. */
#ifndef ORCHARD_VERIFIER_QUOTE_CLOCK_H
#define ORCHARD_VERIFIER_QUOTE_CLOCK_H
#include <tss2/tss2_tpm2_types.h>

#include "verifier/verr.h"

enum quote_epoch {
	QUOTE_SAME_BOOT, /* same reset and restart counts, clock moved on */
	QUOTE_RESUMED,	 /* restartCount grew: TPM2_Startup(STATE) since */
	QUOTE_REBOOTED,	 /* resetCount grew: the device rebooted since */
};

/* Compares cur against prev, an earlier verified quote of the same AK.
 * A counter going backwards, or the clock going backwards within one
 * reset epoch, is a rollback ("clock-rollback"); across a reset the clock
 * is not compared, because swtpm (and a TPM whose clock was not saved,
 * safe = NO) restarts it. For an AK outside the endorsement hierarchy the
 * TPM obfuscates resetCount, restartCount and firmwareVersion with a
 * per-key value (Part 1, 36.7): only compare quotes of one AK, never
 * across AKs. Returns 0 with *epoch set, or -1 with e set. */
int quote_clock_compare(const TPMS_ATTEST *prev, const TPMS_ATTEST *cur, enum quote_epoch *epoch,
			struct verr *e);

/* "same-boot", "resumed" or "rebooted". */
const char *quote_epoch_name(enum quote_epoch epoch);

#endif
