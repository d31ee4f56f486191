/* cpu.c: CPU-bound work for the benchmark, built natively and to wasm:
 * recursive fib(N) and an Adler-style checksum over a buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint32_t checksum(unsigned rounds)
{
	static uint8_t buf[1 << 16];
	uint32_t a = 1, b = 0;
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31u + 7u);
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned i = 0; i < sizeof(buf); i++) {
			a = (a + buf[i]) % 65521u;
			b = (b + a) % 65521u;
		}
	return (b << 16) | a;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
	if (!strcmp(argv[1], "fib"))
		printf("fib(%u) = %u\n", n, fib(n));
	else
		printf("checksum(%u) = %08x\n", n, checksum(n));
	return 0;
}
