/* libFuzzer driver: PCR policy JSON parsing and evaluation. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "verifier/pcr_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verr e = {0};
	struct pcr_policy *p = pcr_policy_parse((const char *)data, size, &e);

	if (p != NULL) {
		struct pcr_set q;
		memset(&q, 0, sizeof(q));
		q.nbanks = 1;
		q.bank[0].alg = 0x000b;
		q.bank[0].mask = 0xffffff;
		(void)pcr_policy_evaluate(p, &q, NULL, NULL);
	}
	pcr_policy_free(p);
	return 0;
}
