/* wasi_path.c: the path_* family of WASI. Every path is resolved by the
 * kernel beneath its preopened folder (openat2 RESOLVE_BENEATH): no "..",
 * absolute path or symlink leads out, and we never compare strings to decide. */
#include "clients/wasm/wasi.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int32_t wasi_times(uint64_t atim, uint64_t mtim, uint32_t fst, struct timespec ts[2]);

/* An escape (EXDEV from RESOLVE_BENEATH) is reported as EPERM, as wasmtime does. */
static int32_t resolve_errno(int err)
{
	return err == EXDEV ? W_EPERM : wasi_errno(err);
}

static int open_beneath(int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
	/* openat2 insists on mode 0 unless a file may be created. */
	struct open_how how = {.flags = flags | O_CLOEXEC,
			       .mode = (flags & O_CREAT) ? mode : 0,
			       .resolve = RESOLVE_BENEATH};
	/* An absolute path never resolves beneath: say so without asking. */
	if (path[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* A path split into an opened parent folder and a last component that the
 * *at() call then names; "." and ".." as last component make the whole path
 * the parent, so that they are resolved beneath too. */
typedef struct wasi_split {
	int root; /* the preopen's host fd, borrowed */
	int parent;
	char *path; /* owned copy of the guest string */
	const char *base;
} wasi_split;

static void split_free(wasi_split *s)
{
	if (s->parent >= 0)
		close(s->parent);
	free(s->path);
	s->parent = -1;
	s->path = NULL;
}

static int32_t split_path(wasi_ctx *c, uint32_t fd, uint64_t need, uint32_t ptr, uint32_t len,
			  wasi_split *s)
{
	int32_t e;
	s->parent = -1;
	s->path = NULL;
	s->base = NULL;
	/* A file where a folder belongs is ENOTDIR before it is a missing right. */
	wasi_fd *any = wasi_fd_get(c, fd, 0, &e);
	if (any && any->type != FT_DIRECTORY)
		return W_ENOTDIR;
	wasi_fd *dir = wasi_fd_get(c, fd, need, &e);
	if (!dir)
		return e;
	if (dir->type != FT_DIRECTORY)
		return W_ENOTDIR;
	s->root = dir->host;
	e = wasi_str(c, ptr, len, &s->path);
	if (e)
		return e;
	char *p = s->path;
	if (*p == '\0')
		return W_ENOENT;
	if (*p == '/')
		return W_EPERM;
	size_t end = strlen(p);
	while (end > 0 && p[end - 1] == '/')
		end--;
	size_t cut = end;
	while (cut > 0 && p[cut - 1] != '/')
		cut--;
	/* p[cut..] is the last component, trailing slashes kept. */
	const char *last = p + cut;
	size_t lastlen = end - cut;
	char *parent = NULL;
	if ((lastlen == 1 && last[0] == '.') ||
	    (lastlen == 2 && last[0] == '.' && last[1] == '.')) {
		parent = strdup(p);
		s->base = ".";
	} else {
		parent = cut == 0 ? strdup(".") : strndup(p, cut);
		s->base = last;
	}
	if (!parent)
		return W_ENOMEM;
	s->parent = open_beneath(dir->host, parent, O_PATH | O_DIRECTORY, 0);
	int err = errno;
	free(parent);
	if (s->parent < 0)
		return resolve_errno(err);
	return W_ESUCCESS;
}

WASI_FN(path_open)
{
	uint32_t dirflags = (uint32_t)a[1], oflags = (uint32_t)a[4], fdflags = (uint32_t)a[7];
	uint64_t want = a[5], want_inh = a[6];
	uint64_t need = R_PATH_OPEN;
	if (oflags & OF_CREAT)
		need |= R_PATH_CREATE_FILE;
	if (oflags & OF_TRUNC)
		need |= R_PATH_FILESTAT_SET_SIZE;
	int32_t e;
	wasi_fd *dir = wasi_fd_get(c, (uint32_t)a[0], 0, &e);
	if (dir && dir->type != FT_DIRECTORY)
		return W_ENOTDIR;
	dir = wasi_fd_get(c, (uint32_t)a[0], need, &e);
	if (!dir)
		return e;
	if (!wasi_mem(c, (uint32_t)a[8], 4))
		return W_EFAULT;
	if (oflags & ~(OF_CREAT | OF_DIRECTORY | OF_EXCL | OF_TRUNC))
		return W_EINVAL;
	char *path = NULL;
	e = wasi_str(c, (uint32_t)a[2], (uint32_t)a[3], &path);
	if (e)
		return e;
	int flags = O_NOCTTY;
	if (oflags & OF_CREAT)
		flags |= O_CREAT;
	if (oflags & OF_EXCL)
		flags |= O_EXCL;
	if (oflags & OF_TRUNC)
		flags |= O_TRUNC;
	if (oflags & OF_DIRECTORY)
		flags |= O_DIRECTORY;
	if (!(dirflags & LF_SYMLINK_FOLLOW))
		flags |= O_NOFOLLOW;
	if (fdflags & FDF_APPEND)
		flags |= O_APPEND;
	if (fdflags & FDF_NONBLOCK)
		flags |= O_NONBLOCK;
	if (fdflags & FDF_DSYNC)
		flags |= O_DSYNC;
	if (fdflags & (FDF_SYNC | FDF_RSYNC))
		flags |= O_SYNC;
	bool rd = want & (R_FD_READ | R_FD_READDIR);
	bool wr = want & (R_FD_DATASYNC | R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE);
	if (oflags & OF_DIRECTORY)
		wr = false;
	flags |= wr ? (rd ? O_RDWR : O_WRONLY) : O_RDONLY;
	int host = open_beneath(dir->host, path, (uint64_t)flags, 0666);
	int err = errno;
	free(path);
	if (host < 0) {
		/* O_NOFOLLOW on a symlink says ELOOP, which is what WASI wants too. */
		return resolve_errno(err);
	}
	struct stat st;
	if (fstat(host, &st) < 0) {
		err = errno;
		close(host);
		return wasi_errno(err);
	}
	uint8_t type = wasi_filetype(st.st_mode);
	uint64_t mask = type == FT_DIRECTORY ? R_DIR_BASE : R_FILE_BASE;
	return wasi_fd_give(c, host, type, want & dir->inheriting & mask,
			    want_inh & dir->inheriting, (uint32_t)a[8]);
}

/* The calls of shape (fd, path, path_len) that do one thing to a name:
 * the path split under fd with right need, then op(parent, base, arg). */
static int32_t path_name_op(wasi_ctx *c, const uint64_t *a, uint64_t need,
			    int (*op)(int, const char *, int), int arg)
{
	wasi_split s;
	int32_t e = split_path(c, (uint32_t)a[0], need, (uint32_t)a[1], (uint32_t)a[2], &s);
	if (!e && op(s.parent, s.base, arg) < 0)
		e = wasi_errno(errno);
	split_free(&s);
	return e;
}

static int mkdir_at(int dirfd, const char *name, int mode)
{
	return mkdirat(dirfd, name, (mode_t)mode);
}

WASI_FN(path_create_directory)
{
	return path_name_op(c, a, R_PATH_CREATE_DIRECTORY, mkdir_at, 0777);
}

WASI_FN(path_filestat_get)
{
	uint32_t flags = (uint32_t)a[1];
	struct stat st;
	wasi_split s;
	int32_t e = split_path(c, (uint32_t)a[0], R_PATH_FILESTAT_GET, (uint32_t)a[2],
			       (uint32_t)a[3], &s);
	if (e)
		goto out;
	if (flags & LF_SYMLINK_FOLLOW) {
		/* Follow beneath: the kernel resolves the link, never out of the folder. */
		int fd = open_beneath(s.root, s.path, O_PATH, 0);
		if (fd < 0) {
			e = resolve_errno(errno);
			goto out;
		}
		if (fstat(fd, &st) < 0)
			e = wasi_errno(errno);
		close(fd);
	} else if (fstatat(s.parent, s.base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		e = wasi_errno(errno);
	}
	if (!e)
		e = wasi_put_filestat(c, (uint32_t)a[4], &st);
out:
	split_free(&s);
	return e;
}

WASI_FN(path_filestat_set_times)
{
	uint32_t flags = (uint32_t)a[1];
	struct timespec ts[2];
	wasi_split s;
	int32_t e = wasi_times(a[4], a[5], (uint32_t)a[6], ts);
	if (e)
		return e;
	e = split_path(c, (uint32_t)a[0], R_PATH_FILESTAT_SET_TIMES, (uint32_t)a[2], (uint32_t)a[3],
		       &s);
	if (e)
		goto out;
	if (flags & LF_SYMLINK_FOLLOW) {
		int fd = open_beneath(s.root, s.path, O_PATH, 0);
		if (fd < 0) {
			e = resolve_errno(errno);
			goto out;
		}
		if (utimensat(fd, "", ts, AT_EMPTY_PATH) < 0)
			e = wasi_errno(errno);
		close(fd);
	} else if (utimensat(s.parent, s.base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
		e = wasi_errno(errno);
	}
out:
	split_free(&s);
	return e;
}

WASI_FN(path_link)
{
	/* Following a symlink here could hard-link a file outside the folder, so,
	 * like wasmtime, we refuse the flag. */
	if ((uint32_t)a[1] & LF_SYMLINK_FOLLOW)
		return W_EINVAL;
	wasi_split from, to;
	int32_t e = split_path(c, (uint32_t)a[0], R_PATH_LINK_SOURCE, (uint32_t)a[2],
			       (uint32_t)a[3], &from);
	to.parent = -1;
	to.path = NULL;
	if (!e)
		e = split_path(c, (uint32_t)a[4], R_PATH_LINK_TARGET, (uint32_t)a[5],
			       (uint32_t)a[6], &to);
	if (!e && linkat(from.parent, from.base, to.parent, to.base, 0) < 0)
		e = wasi_errno(errno);
	split_free(&from);
	split_free(&to);
	return e;
}

WASI_FN(path_readlink)
{
	wasi_split s;
	uint32_t buf = (uint32_t)a[3], buf_len = (uint32_t)a[4];
	char tmp[4096];
	int32_t e =
		split_path(c, (uint32_t)a[0], R_PATH_READLINK, (uint32_t)a[1], (uint32_t)a[2], &s);
	if (e)
		goto out;
	char *out = wasi_mem(c, buf, buf_len);
	if (!out || !wasi_mem(c, (uint32_t)a[5], 4)) {
		e = W_EFAULT;
		goto out;
	}
	ssize_t n = readlinkat(s.parent, s.base, tmp, sizeof(tmp));
	if (n < 0) {
		e = wasi_errno(errno);
		goto out;
	}
	/* Truncated to the buffer, as wasmtime does. */
	uint32_t take = (uint32_t)n < buf_len ? (uint32_t)n : buf_len;
	memcpy(out, tmp, take);
	e = wasi_put_u32(c, (uint32_t)a[5], take);
out:
	split_free(&s);
	return e;
}

WASI_FN(path_remove_directory)
{
	return path_name_op(c, a, R_PATH_REMOVE_DIRECTORY, unlinkat, AT_REMOVEDIR);
}

WASI_FN(path_rename)
{
	wasi_split from, to;
	int32_t e = split_path(c, (uint32_t)a[0], R_PATH_RENAME_SOURCE, (uint32_t)a[1],
			       (uint32_t)a[2], &from);
	to.parent = -1;
	to.path = NULL;
	if (!e)
		e = split_path(c, (uint32_t)a[3], R_PATH_RENAME_TARGET, (uint32_t)a[4],
			       (uint32_t)a[5], &to);
	if (!e && renameat(from.parent, from.base, to.parent, to.base) < 0)
		e = wasi_errno(errno);
	split_free(&from);
	split_free(&to);
	return e;
}

WASI_FN(path_symlink)
{
	char *target = NULL;
	wasi_split s;
	s.parent = -1;
	s.path = NULL;
	int32_t e = wasi_str(c, (uint32_t)a[0], (uint32_t)a[1], &target);
	if (e)
		goto out;
	/* An absolute target could never resolve beneath the folder: refuse it
	 * up front rather than leave a link that only the host could follow. */
	if (target[0] == '/') {
		e = W_EPERM;
		goto out;
	}
	e = split_path(c, (uint32_t)a[2], R_PATH_SYMLINK, (uint32_t)a[3], (uint32_t)a[4], &s);
	if (!e && symlinkat(target, s.parent, s.base) < 0)
		e = wasi_errno(errno);
out:
	free(target);
	split_free(&s);
	return e;
}

WASI_FN(path_unlink_file)
{
	return path_name_op(c, a, R_PATH_UNLINK_FILE, unlinkat, 0);
}

const engine_host_func wasi_path_funcs[] = {
	WASI_ENTRY(path_create_directory, "iii"),
	WASI_ENTRY(path_filestat_get, "iiiii"),
	WASI_ENTRY(path_filestat_set_times, "iiiiIIi"),
	WASI_ENTRY(path_link, "iiiiiii"),
	WASI_ENTRY(path_open, "iiiiiIIii"),
	WASI_ENTRY(path_readlink, "iiiiii"),
	WASI_ENTRY(path_remove_directory, "iii"),
	WASI_ENTRY(path_rename, "iiiiii"),
	WASI_ENTRY(path_symlink, "iiiii"),
	WASI_ENTRY(path_unlink_file, "iii"),
};
const size_t wasi_path_nfuncs = sizeof(wasi_path_funcs) / sizeof(wasi_path_funcs[0]);
