/* Small files whole: reading keys, certificates, configuration; writing
 * state so that a crash leaves the old file or the new one. */
#ifndef ORCHARD_FILE_H
#define ORCHARD_FILE_H
#include <stddef.h>

/* Reads path into a new NUL-terminated buffer the caller frees, its length
 * in *len (may be NULL). Returns NULL when the file cannot be read, is
 * empty, or is larger than max bytes. */
char *file_read(const char *path, size_t max, size_t *len);
/* Writes n bytes to path through path.tmp and a rename: 0, or -1. */
int file_write_atomic(const char *path, const void *p, size_t n);
/* Makes path and its missing parents (mode 0700): 0, or -1. */
int file_mkdir_p(const char *path);

#endif
