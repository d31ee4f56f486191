/* cwasm.h: the .cwasm file: a text header naming what made it, the shared
 * object compiled from the module, and a SHA-256 over all of that at the end. */
#ifndef ORCHARD_WASM_CWASM_H
#define ORCHARD_WASM_CWASM_H

#include <stddef.h>
#include <stdint.h>

#define CWASM_MAGIC "orchard-cwasm 1\n"
#define CWASM_DIGEST_LEN 32

/* What a .cwasm records. The strings are what this build writes and wants. */
typedef struct cwasm_info {
	char module_sha256[65]; /* of the .wasm it was compiled from */
	char wabt[32];		/* wabt's version (wasm2c and wasm-rt) */
	unsigned abi;		/* AOT_ABI_VERSION */
	char target[64];	/* a GNU triple, e.g. x86_64-linux-gnu */
	char cc[160];		/* the compiler's first --version line */
	char flags[256];	/* its flags */
	const uint8_t *payload; /* the shared object; borrowed from the bytes */
	size_t payload_len;
} cwasm_info;

/* The wabt version of this build of orchard-wasm (its target:
 * common/target.h). */
const char *cwasm_wabt_version(void);

/* Does bytes begin with the magic? Says nothing of its integrity. */
int cwasm_is(const uint8_t *bytes, size_t len);

/* Checks the digest over the whole file, then reads the header into *info
 * (payload pointing into bytes), then refuses a file made for another ABI,
 * wabt or target. Returns 0, or -1 with a one-line reason in err. */
int cwasm_open(const uint8_t *bytes, size_t len, cwasm_info *info, char *err, size_t errlen);

/* Builds the whole file for info (payload included) into a new buffer *out
 * (the caller frees it). Same info, same bytes. Returns 0 or -1 with err. */
int cwasm_build(const cwasm_info *info, uint8_t **out, size_t *outlen, char *err, size_t errlen);

/* SHA-256 of bytes as 64 hex digits (out has room for 65). 0 or -1. */
int cwasm_sha256_hex(const uint8_t *bytes, size_t len, char *out);

#endif
