/* Durations written the way operators type them: "90s", "15m", "1h", "7d",
 * or a bare number of seconds. */
#ifndef ORCHARD_DURATION_H
#define ORCHARD_DURATION_H

/* Returns seconds (> 0), or -1 for anything else, including overflow. */
long duration_parse(const char *text);

#endif
