/* Whole-file reads with a size cap, so a wrong path (a device, a huge log)
 * fails cleanly instead of exhausting memory. */
#include "common/file.h"

#include <stdio.h>
#include <stdlib.h>

char *file_read(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || (size_t)n > max ||
	    fseek(f, 0, SEEK_SET) != 0 || (data = malloc((size_t)n + 1)) == NULL)
		goto out;
	if (fread(data, 1, (size_t)n, f) != (size_t)n) {
		free(data);
		data = NULL;
		goto out;
	}
	data[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
out:
	fclose(f);
	return data;
}
