/* Directory-backed nonce store for orchard-verify, so separate runs of the
 * tool share one issue/consume-once history: one file per nonce. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "verifier/nonce_store.h"

struct dir_store {
	struct nonce_store base;
	char *dir;
};

static int dir_path(struct dir_store *d, const uint8_t *nonce, size_t len, char *path, size_t cap)
{
	char hex[2 * NONCE_MAX + 1];

	if (len > NONCE_MAX)
		return -1;
	hex_encode(nonce, len, hex);
	return snprintf(path, cap, "%s/%s", d->dir, hex) < (int)cap ? 0 : -1;
}

static int dir_put(struct nonce_store *s, const uint8_t *nonce, size_t len, int64_t now,
		   int64_t expires)
{
	(void)now; /* expired files are judged when taken */
	char path[4096];
	FILE *f;
	int fd, rc = -1;

	if (dir_path(s->ctx, nonce, len, path, sizeof(path)) != 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fprintf(f, "%lld\n", (long long)expires) > 0)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static int dir_take(struct nonce_store *s, const uint8_t *nonce, size_t len, int64_t *expires)
{
	char path[4096], text[32];
	char *end;
	ssize_t r;
	long long v;
	int fd;

	if (dir_path(s->ctx, nonce, len, path, sizeof(path)) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, text, sizeof(text) - 1);
	close(fd);
	/* Whoever unlinks the file owns the nonce; everybody else lost. */
	if (r <= 0 || unlink(path) != 0)
		return -1;
	text[r] = '\0';
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || (*end != '\n' && *end != '\0'))
		return -1;
	*expires = v;
	return 0;
}

static void dir_free(struct nonce_store *s)
{
	struct dir_store *d = s->ctx;
	free(d->dir);
	free(d);
}

static const struct nonce_store_ops dir_ops = {dir_put, dir_take, dir_free};

struct nonce_store *nonce_store_dir_new(const char *dir)
{
	struct dir_store *d;

	/* Created private on first use; an existing folder is used as is. */
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL || (d->dir = strdup(dir)) == NULL) {
		free(d);
		return NULL;
	}
	d->base.ops = &dir_ops;
	d->base.ctx = d;
	return &d->base;
}
