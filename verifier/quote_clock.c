/* Quote-to-quote counter comparison (TPM 2.0 Part 2, 10.11.1
 * TPMS_CLOCK_INFO): monotonic within an epoch, reset across reboots. */
#include "verifier/quote_clock.h"

int quote_clock_compare(const TPMS_ATTEST *prev, const TPMS_ATTEST *cur, enum quote_epoch *epoch,
			struct verr *e)
{
	const TPMS_CLOCK_INFO *p = &prev->clockInfo, *c = &cur->clockInfo;

	if (c->resetCount < p->resetCount) {
		verr_set(e, "clock-rollback", "resetCount went back from %u to %u", p->resetCount,
			 c->resetCount);
		return -1;
	}
	if (c->resetCount > p->resetCount) {
		*epoch = QUOTE_REBOOTED;
		return 0;
	}
	if (c->restartCount < p->restartCount) {
		verr_set(e, "clock-rollback",
			 "restartCount went back from %u to %u within one boot", p->restartCount,
			 c->restartCount);
		return -1;
	}
	if (c->clock < p->clock) {
		verr_set(e, "clock-rollback",
			 "clock went back from %llu to %llu ms within one boot",
			 (unsigned long long)p->clock, (unsigned long long)c->clock);
		return -1;
	}
	*epoch = c->restartCount > p->restartCount ? QUOTE_RESUMED : QUOTE_SAME_BOOT;
	return 0;
}

const char *quote_epoch_name(enum quote_epoch epoch)
{
	switch (epoch) {
	case QUOTE_SAME_BOOT: return "same-boot";
	case QUOTE_RESUMED: return "resumed";
	case QUOTE_REBOOTED: return "rebooted";
	}
	return "unknown";
}
