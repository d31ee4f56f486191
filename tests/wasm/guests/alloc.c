/* alloc.c: allocates 1 MiB blocks until malloc fails, then reports how far
 * it got: with --max-memory N the total must stay under N MiB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kept reachable so the compiler cannot elide the allocations. */
char *volatile blocks[8192];

int main(void)
{
	unsigned mib = 0;
	while (mib < 8192) {
		char *p = malloc(1 << 20);
		if (!p)
			break;
		memset(p, 1, 1 << 20); /* really touch it */
		blocks[mib++] = p;
	}
	printf("allocated %u MiB\n", mib);
	return 0;
}
