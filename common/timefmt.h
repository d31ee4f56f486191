/* Timestamps as the wire wants them: RFC 3339 in UTC, whole seconds, such
 * as 2026-12-01T15:20:33Z. */
#ifndef ORCHARD_TIMEFMT_H
#define ORCHARD_TIMEFMT_H

#define TIMEFMT_RFC3339_LEN 32

/* Writes epoch seconds into out; an unrepresentable time writes "". */
void timefmt_rfc3339(long long epoch, char out[TIMEFMT_RFC3339_LEN]);

#endif
