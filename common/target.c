/* The GNU target triple of this build (common/target.h): one table for the
 * depot's compiler and orchard-wasm's loader. */
#include "common/target.h"

const char *target_host(void)
{
#if defined(__x86_64__)
	return "x86_64-linux-gnu";
#elif defined(__aarch64__)
	return "aarch64-linux-gnu";
#else
	return "unknown";
#endif
}
