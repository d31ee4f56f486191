/* Quote verification throughput, in process, one core: with the AK already
 * loaded (as orchardd caches it per device) and with nothing cached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "verifier/ak.h"
#include "verifier/quote.h"

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(1 << 16);
	if (f == NULL || b == NULL) {
		free(b);
		if (f)
			fclose(f);
		return NULL;
	}
	*n = fread(b, 1, 1 << 16, f);
	fclose(f);
	return b;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint8_t *akb, *msg, *sig, *pcrs, nonce[64];
	size_t akn, msgn, sign, pcrn;
	long nl;
	double secs, t0, t;
	char *end;
	unsigned long n = 0;
	int cached, rc = 1;
	struct ak_key *ak = NULL;
	struct quote_result *res = malloc(sizeof(*res));
	struct pcr_set *claimed = malloc(sizeof(*claimed));

	if (argc != 8) {
		fprintf(stderr,
			"usage: verifier_bench cached|uncached SECONDS AK.pub Q.msg Q.sig Q.pcrs NONCEHEX\n");
		return 2;
	}
	cached = strcmp(argv[1], "cached") == 0;
	secs = strtod(argv[2], &end);
	if (*end != '\0' || secs <= 0) {
		fprintf(stderr, "verifier_bench: SECONDS must be a positive number\n");
		return 2;
	}
	akb = slurp(argv[3], &akn);
	msg = slurp(argv[4], &msgn);
	sig = slurp(argv[5], &sign);
	pcrs = slurp(argv[6], &pcrn);
	nl = hex_decode(argv[7], nonce, sizeof(nonce));
	if (!akb || !msg || !sig || !pcrs || nl <= 0 || !res || !claimed)
		goto out;
	if (cached && (ak = ak_key_new(akb, akn, NULL)) == NULL)
		goto out;
	t0 = now();
	do {
		/* one quote as a server sees it: PCR file parsed, quote verified */
		for (int i = 0; i < 64; i++) {
			struct verr e = {0};
			struct ak_key *k = cached ? ak : ak_key_new(akb, akn, &e);
			struct quote_input in = {msg,	msgn,	    sig,  sign, claimed,
						 nonce, (size_t)nl, NULL, 0};
			if (k == NULL ||
			    pcr_set_read_tpm2tools(pcrs, pcrn, NULL, claimed, &e) != 0 ||
			    quote_verify(k, &in, res, &e) != 0) {
				fprintf(stderr, "verification failed: %s: %s\n", e.code, e.msg);
				if (!cached)
					ak_key_free(k);
				goto out;
			}
			if (!cached)
				ak_key_free(k);
			n++;
		}
		t = now() - t0;
	} while (t < secs);
	printf("%.0f\n", (double)n / t);
	rc = 0;
out:
	ak_key_free(ak);
	free(akb);
	free(msg);
	free(sig);
	free(pcrs);
	free(res);
	free(claimed);
	return rc;
}
