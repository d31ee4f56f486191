/* Constant-time comparisons, delegated to OpenSSL's CRYPTO_memcmp, which
 * is written so the compiler cannot turn it back into an early-exit loop. */
#include "common/ct.h"

#include <openssl/crypto.h>
#include <string.h>

bool ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool ct_equal_str(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}
