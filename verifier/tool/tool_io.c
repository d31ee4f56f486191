/* orchard-verify's file and error plumbing: every input is size-capped, and
 * every rejection prints one line with a stable code a script can match. */
#include "verifier/tool/tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"

uint8_t *tool_read_file(const char *path, size_t max, size_t *len, struct verr *e)
{
	struct buf b;
	uint8_t chunk[4096];
	uint8_t *ret = NULL;
	ssize_t r;
	int fd;

	buf_init(&b, max);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		verr_set(e, "input-read", "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((r = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_add(&b, chunk, (size_t)r) != 0) {
			verr_set(e, "input-too-large", "%s: larger than %zu bytes", path, max);
			goto out;
		}
	}
	if (r < 0) {
		verr_set(e, "input-read", "%s: %s", path, strerror(errno));
		goto out;
	}
	/* An empty file still yields a (non-NULL) buffer. */
	if (b.data == NULL && buf_add(&b, "", 0) != 0) {
		verr_set(e, "internal", "out of memory");
		goto out;
	}
	ret = b.data;
	*len = b.len;
	b.data = NULL;
out:
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	return ret;
}

int tool_write_file(const char *path, const uint8_t *b, size_t n, struct verr *e)
{
	FILE *f = fopen(path, "wb");
	int rc = -1;

	if (f == NULL) {
		verr_set(e, "output-write", "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fwrite(b, 1, n, f) != n)
		verr_set(e, "output-write", "%s: short write", path);
	else
		rc = 0;
	if (fclose(f) != 0 && rc == 0) {
		verr_set(e, "output-write", "%s: %s", path, strerror(errno));
		rc = -1;
	}
	return rc;
}

int tool_reject(const char *what, const struct verr *e)
{
	fprintf(stderr, "orchard-verify: %s rejected: %s: %s\n", what,
		e->code[0] ? e->code : "error", e->msg);
	return 1;
}
