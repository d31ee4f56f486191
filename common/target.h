/* The GNU target triple this build runs on: the one name orchardd's depot
 * and orchard-wasm both give native code, so the two must agree. */
#ifndef ORCHARD_COMMON_TARGET_H
#define ORCHARD_COMMON_TARGET_H

/* "x86_64-linux-gnu", "aarch64-linux-gnu", or "unknown". */
const char *target_host(void);

#endif
