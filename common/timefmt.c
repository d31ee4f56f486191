/* RFC 3339 UTC formatting, one place for every timestamp a handler renders
 * from a typed row. */
#include "common/timefmt.h"

#include <time.h>

void timefmt_rfc3339(long long epoch, char out[TIMEFMT_RFC3339_LEN])
{
	time_t t = (time_t)epoch;
	struct tm tm;

	out[0] = '\0';
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, TIMEFMT_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}
