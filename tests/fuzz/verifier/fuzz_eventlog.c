/* libFuzzer driver: crypto-agile event log parsing and replay. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "verifier/eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eventlog *log = eventlog_parse(data, size, NULL);

	if (log != NULL) {
		struct pcr_set q;
		memset(&q, 0, sizeof(q));
		(void)eventlog_check_quote(log, &log->replay, NULL);
		(void)eventlog_check_quote(log, &q, NULL);
	}
	eventlog_free(log);
	return 0;
}
