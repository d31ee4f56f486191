/* An AK certificate chain kept on the device between runs (PEM), so that
 * a renewal proves the new key with the AK certificate it already has. */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/attest/attest.h"

/* The chain as PEM into path, or from it. */
int oa_chain_save(const char *path, const struct oa_buf *chain, size_t n, char *err)
{
	FILE *f = fopen(path, "w");
	bool ok = f != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		const unsigned char *p = chain[i].b;
		X509 *x = d2i_X509(NULL, &p, (long)chain[i].n);
		ok = x != NULL && PEM_write_X509(f, x) == 1;
		X509_free(x);
	}
	if (f != NULL && fclose(f) != 0)
		ok = false;
	if (!ok)
		snprintf(err, OA_ERR_MAX, "cannot write %s", path);
	return ok ? 0 : -1;
}

int oa_chain_load(const char *path, struct oa_buf *chain, size_t *n, char *err)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	*n = 0;
	while (f != NULL && *n < OA_CHAIN_MAX && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int len = i2d_X509(x, &der);
		X509_free(x);
		if (len <= 0)
			break;
		chain[*n].b = malloc((size_t)len);
		if (chain[*n].b != NULL) {
			memcpy(chain[*n].b, der, (size_t)len);
			chain[(*n)++].n = (size_t)len;
		}
		OPENSSL_free(der);
	}
	if (f != NULL)
		fclose(f);
	if (*n == 0)
		snprintf(err, OA_ERR_MAX, "no certificate in %s", path);
	return *n ? 0 : -1;
}
