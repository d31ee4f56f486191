/* Lower-case hexadecimal encoding and strict decoding of byte strings. */
#ifndef ORCHARD_HEX_H
#define ORCHARD_HEX_H
#include <stddef.h>
#include <stdint.h>

/* Writes 2*n hex digits and a NUL to out (room for 2*n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);

/* Decodes exactly strlen(in)/2 bytes into out (capacity cap). Returns the
 * byte count, or -1 for an odd length, a non-hex digit or too little room. */
long hex_decode(const char *in, uint8_t *out, size_t cap);

#endif
