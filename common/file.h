/* Reading small files whole: keys, certificates, configuration. */
#ifndef ORCHARD_FILE_H
#define ORCHARD_FILE_H
#include <stddef.h>

/* Reads path into a new NUL-terminated buffer the caller frees, its length
 * in *len (may be NULL). Returns NULL when the file cannot be read, is
 * empty, or is larger than max bytes. */
char *file_read(const char *path, size_t max, size_t *len);

#endif
