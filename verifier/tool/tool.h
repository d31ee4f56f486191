/* Shared plumbing for orchard-verify's subcommands: file input with a size
 * cap, hex arguments, and the one way a rejection is reported. */
#ifndef ORCHARD_VERIFIER_TOOL_H
#define ORCHARD_VERIFIER_TOOL_H
#include <stddef.h>
#include <stdint.h>

#include "verifier/verr.h"

/* Reads a whole file of at most max bytes into a new buffer the caller
 * frees. NULL with e set on failure ("input-read"). */
uint8_t *tool_read_file(const char *path, size_t max, size_t *len, struct verr *e);

/* Writes n bytes to path (mode 0644). Returns 0 or -1 with e set. */
int tool_write_file(const char *path, const uint8_t *b, size_t n, struct verr *e);

/* Prints "orchard-verify: rejected: CODE: MSG" to stderr; returns 1. */
int tool_reject(const char *what, const struct verr *e);

int cmd_quote(int argc, char **argv);
int cmd_ek(int argc, char **argv);
int cmd_makecredential(int argc, char **argv);
int cmd_nonce(int argc, char **argv);
int cmd_dps_authkey(int argc, char **argv);

#endif
