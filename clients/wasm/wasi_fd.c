/* wasi_fd.c: the fd_* family of WASI: reading, writing, seeking, metadata and
 * directory listing on guest file descriptors, each checked against its rights. */
#include "clients/wasm/wasi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define IOV_MAX_GUEST 1024

#define GET_FD(var, fdno, need)                                                                    \
	int32_t err_;                                                                              \
	wasi_fd *var = wasi_fd_get(c, (uint32_t)(fdno), (need), &err_);                            \
	if (!var)                                                                                  \
	return err_

WASI_FN(fd_advise)
{
	GET_FD(f, a[0], R_FD_ADVISE);
	static const int advice[] = {POSIX_FADV_NORMAL,	  POSIX_FADV_SEQUENTIAL,
				     POSIX_FADV_RANDOM,	  POSIX_FADV_WILLNEED,
				     POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE};
	uint32_t adv = (uint32_t)a[3];
	if (adv >= sizeof(advice) / sizeof(advice[0]) || a[1] > INT64_MAX || a[2] > INT64_MAX)
		return W_EINVAL;
	if (f->type == FT_DIRECTORY)
		return W_EBADF;
	return wasi_errno(posix_fadvise(f->host, (off_t)a[1], (off_t)a[2], advice[adv]));
}

WASI_FN(fd_allocate)
{
	GET_FD(f, a[0], R_FD_ALLOCATE);
	if (a[1] > INT64_MAX || a[2] > INT64_MAX || a[1] + a[2] > INT64_MAX)
		return W_EINVAL;
	if (f->type == FT_DIRECTORY)
		return W_EBADF;
	return wasi_errno(posix_fallocate(f->host, (off_t)a[1], (off_t)a[2]));
}

WASI_FN(fd_close)
{
	GET_FD(f, a[0], 0);
	close(f->host);
	free(f->preopen);
	*f = (wasi_fd){.host = -1};
	return W_ESUCCESS;
}

WASI_FN(fd_datasync)
{
	GET_FD(f, a[0], R_FD_DATASYNC);
	return fdatasync(f->host) < 0 ? wasi_errno(errno) : W_ESUCCESS;
}

WASI_FN(fd_sync)
{
	GET_FD(f, a[0], R_FD_SYNC);
	return fsync(f->host) < 0 ? wasi_errno(errno) : W_ESUCCESS;
}

WASI_FN(fd_fdstat_get)
{
	GET_FD(f, a[0], 0);
	uint8_t *p = wasi_mem(c, (uint32_t)a[1], SZ_FDSTAT);
	if (!p)
		return W_EFAULT;
	int fl = fcntl(f->host, F_GETFL);
	uint16_t flags = 0;
	if (fl >= 0) {
		if (fl & O_APPEND)
			flags |= FDF_APPEND;
		if (fl & O_NONBLOCK)
			flags |= FDF_NONBLOCK;
		if ((fl & O_SYNC) == O_SYNC)
			flags |= FDF_SYNC | FDF_RSYNC;
		else if (fl & O_DSYNC)
			flags |= FDF_DSYNC;
	}
	memset(p, 0, SZ_FDSTAT);
	p[0] = f->type;
	memcpy(p + 2, &flags, 2);
	memcpy(p + 8, &f->rights, 8);
	memcpy(p + 16, &f->inheriting, 8);
	return W_ESUCCESS;
}

WASI_FN(fd_fdstat_set_flags)
{
	GET_FD(f, a[0], R_FD_FDSTAT_SET_FLAGS);
	uint32_t want = (uint32_t)a[1];
	if (want & ~(FDF_APPEND | FDF_NONBLOCK | FDF_DSYNC | FDF_RSYNC | FDF_SYNC))
		return W_EINVAL;
	/* Linux cannot change O_SYNC or O_DSYNC on an open file; wasmtime refuses too. */
	if (want & (FDF_DSYNC | FDF_RSYNC | FDF_SYNC))
		return W_ENOTSUP;
	int fl = fcntl(f->host, F_GETFL);
	if (fl < 0)
		return wasi_errno(errno);
	fl &= ~(O_APPEND | O_NONBLOCK);
	if (want & FDF_APPEND)
		fl |= O_APPEND;
	if (want & FDF_NONBLOCK)
		fl |= O_NONBLOCK;
	if (fcntl(f->host, F_SETFL, fl) < 0)
		return wasi_errno(errno);
	f->flags = (uint16_t)want;
	return W_ESUCCESS;
}

WASI_FN(fd_fdstat_set_rights)
{
	GET_FD(f, a[0], 0);
	/* Rights only ever shrink. */
	if ((a[1] & ~f->rights) || (a[2] & ~f->inheriting))
		return W_ENOTCAPABLE;
	f->rights = a[1];
	f->inheriting = a[2];
	return W_ESUCCESS;
}

WASI_FN(fd_filestat_get)
{
	GET_FD(f, a[0], R_FD_FILESTAT_GET);
	struct stat st;
	if (fstat(f->host, &st) < 0)
		return wasi_errno(errno);
	return wasi_put_filestat(c, (uint32_t)a[1], &st);
}

WASI_FN(fd_filestat_set_size)
{
	GET_FD(f, a[0], R_FD_FILESTAT_SET_SIZE);
	if (a[1] > INT64_MAX)
		return W_EINVAL;
	return ftruncate(f->host, (off_t)a[1]) < 0 ? wasi_errno(errno) : W_ESUCCESS;
}

/* Shared by fd_ and path_filestat_set_times: WASI fstflags to two timespecs. */
int32_t wasi_times(uint64_t atim, uint64_t mtim, uint32_t fst, struct timespec ts[2]);
int32_t wasi_times(uint64_t atim, uint64_t mtim, uint32_t fst, struct timespec ts[2])
{
	if (fst & ~(FST_ATIM | FST_ATIM_NOW | FST_MTIM | FST_MTIM_NOW))
		return W_EINVAL;
	if (((fst & FST_ATIM) && (fst & FST_ATIM_NOW)) ||
	    ((fst & FST_MTIM) && (fst & FST_MTIM_NOW)))
		return W_EINVAL;
	ts[0] = (struct timespec){.tv_sec = 0, .tv_nsec = UTIME_OMIT};
	ts[1] = ts[0];
	if (fst & FST_ATIM)
		ts[0] = (struct timespec){.tv_sec = (time_t)(atim / 1000000000ull),
					  .tv_nsec = (long)(atim % 1000000000ull)};
	if (fst & FST_ATIM_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	if (fst & FST_MTIM)
		ts[1] = (struct timespec){.tv_sec = (time_t)(mtim / 1000000000ull),
					  .tv_nsec = (long)(mtim % 1000000000ull)};
	if (fst & FST_MTIM_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	return W_ESUCCESS;
}

WASI_FN(fd_filestat_set_times)
{
	GET_FD(f, a[0], R_FD_FILESTAT_SET_TIMES);
	struct timespec ts[2];
	int32_t e = wasi_times(a[1], a[2], (uint32_t)a[3], ts);
	if (e)
		return e;
	return futimens(f->host, ts) < 0 ? wasi_errno(errno) : W_ESUCCESS;
}

/* fd_read, fd_write, fd_pread, fd_pwrite share one body. */
static int32_t fd_rw(wasi_ctx *c, uint32_t fd, uint32_t iovs, uint32_t niov, int64_t off,
		     bool write, uint32_t out_ptr)
{
	uint64_t need = write ? R_FD_WRITE : R_FD_READ;
	if (off >= 0)
		need |= R_FD_SEEK;
	GET_FD(f, fd, need);
	struct iovec iov[IOV_MAX_GUEST];
	int32_t e = wasi_iovs(c, iovs, niov, iov, IOV_MAX_GUEST);
	if (e)
		return e;
	if (!wasi_mem(c, out_ptr, 4))
		return W_EFAULT;
	ssize_t n;
	if (off >= 0)
		n = write ? pwritev(f->host, iov, (int)niov, off)
			  : preadv(f->host, iov, (int)niov, off);
	else
		n = write ? writev(f->host, iov, (int)niov) : readv(f->host, iov, (int)niov);
	if (n < 0)
		return wasi_errno(errno);
	return wasi_put_u32(c, out_ptr, (uint32_t)n);
}

WASI_FN(fd_read)
{
	return fd_rw(c, (uint32_t)a[0], (uint32_t)a[1], (uint32_t)a[2], -1, false, (uint32_t)a[3]);
}

WASI_FN(fd_write)
{
	return fd_rw(c, (uint32_t)a[0], (uint32_t)a[1], (uint32_t)a[2], -1, true, (uint32_t)a[3]);
}

WASI_FN(fd_pread)
{
	if (a[3] > INT64_MAX)
		return W_EINVAL;
	return fd_rw(c, (uint32_t)a[0], (uint32_t)a[1], (uint32_t)a[2], (int64_t)a[3], false,
		     (uint32_t)a[4]);
}

WASI_FN(fd_pwrite)
{
	if (a[3] > INT64_MAX)
		return W_EINVAL;
	return fd_rw(c, (uint32_t)a[0], (uint32_t)a[1], (uint32_t)a[2], (int64_t)a[3], true,
		     (uint32_t)a[4]);
}

WASI_FN(fd_prestat_get)
{
	GET_FD(f, a[0], 0);
	if (!f->preopen)
		return W_EBADF;
	uint8_t *p = wasi_mem(c, (uint32_t)a[1], SZ_PRESTAT);
	if (!p)
		return W_EFAULT;
	uint32_t len = (uint32_t)strlen(f->preopen);
	memset(p, 0, SZ_PRESTAT); /* tag 0: a folder */
	memcpy(p + 4, &len, 4);
	return W_ESUCCESS;
}

WASI_FN(fd_prestat_dir_name)
{
	GET_FD(f, a[0], 0);
	if (!f->preopen)
		return W_EBADF;
	size_t len = strlen(f->preopen);
	if ((uint32_t)a[2] < len)
		return W_ENAMETOOLONG;
	char *p = wasi_mem(c, (uint32_t)a[1], len);
	if (!p)
		return W_EFAULT;
	memcpy(p, f->preopen, len);
	return W_ESUCCESS;
}

WASI_FN(fd_renumber)
{
	int32_t e;
	wasi_fd *from = wasi_fd_get(c, (uint32_t)a[0], 0, &e);
	if (!from)
		return e;
	wasi_fd *to = wasi_fd_get(c, (uint32_t)a[1], 0, &e);
	if (!to)
		return e;
	if (from == to)
		return W_ESUCCESS;
	close(to->host);
	free(to->preopen);
	*to = *from;
	*from = (wasi_fd){.host = -1};
	return W_ESUCCESS;
}

WASI_FN(fd_seek)
{
	uint32_t whence = (uint32_t)a[2];
	int64_t off = (int64_t)a[1];
	/* A seek that only asks where we are needs just the tell right. */
	uint64_t need = (whence == 1 && off == 0) ? R_FD_TELL : R_FD_SEEK;
	GET_FD(f, a[0], need);
	static const int hw[] = {SEEK_SET, SEEK_CUR, SEEK_END};
	if (whence > 2)
		return W_EINVAL;
	if (f->type == FT_DIRECTORY)
		return W_EBADF;
	if (!wasi_mem(c, (uint32_t)a[3], 8))
		return W_EFAULT;
	off_t pos = lseek(f->host, off, hw[whence]);
	if (pos < 0)
		return wasi_errno(errno);
	return wasi_put_u64(c, (uint32_t)a[3], (uint64_t)pos);
}

WASI_FN(fd_tell)
{
	GET_FD(f, a[0], R_FD_TELL);
	if (!wasi_mem(c, (uint32_t)a[1], 8))
		return W_EFAULT;
	off_t pos = lseek(f->host, 0, SEEK_CUR);
	if (pos < 0)
		return wasi_errno(errno);
	return wasi_put_u64(c, (uint32_t)a[1], (uint64_t)pos);
}

static uint8_t dtype_to_wasi(unsigned char t)
{
	switch (t) {
	case DT_REG: return FT_REGULAR_FILE;
	case DT_DIR: return FT_DIRECTORY;
	case DT_LNK: return FT_SYMBOLIC_LINK;
	case DT_CHR: return FT_CHARACTER_DEVICE;
	case DT_BLK: return FT_BLOCK_DEVICE;
	case DT_SOCK: return FT_SOCKET_STREAM;
	default: return FT_UNKNOWN;
	}
}

/* Cookies are the kernel's d_off values, which lseek on a directory accepts;
 * the last entry is cut at the end of the buffer, as the witx asks, so a
 * guest seeing bufused == buf_len knows to call again. */
WASI_FN(fd_readdir)
{
	GET_FD(f, a[0], R_FD_READDIR);
	uint32_t buf = (uint32_t)a[1], buf_len = (uint32_t)a[2];
	uint64_t cookie = a[3];
	uint8_t *out = wasi_mem(c, buf, buf_len);
	if (!out || !wasi_mem(c, (uint32_t)a[4], 4))
		return W_EFAULT;
	if (f->type != FT_DIRECTORY)
		return W_ENOTDIR;
	if (cookie > INT64_MAX || lseek(f->host, (off_t)cookie, SEEK_SET) < 0)
		return cookie > INT64_MAX ? W_EINVAL : wasi_errno(errno);
	uint32_t used = 0;
	/* Kernel dirents are 8-byte aligned records; so must the buffer be. */
	char dbuf[4096] __attribute__((aligned(8)));
	while (used < buf_len) {
		ssize_t n = getdents64(f->host, dbuf, sizeof(dbuf));
		if (n < 0)
			return wasi_errno(errno);
		if (n == 0)
			break;
		for (ssize_t pos = 0; pos < n && used < buf_len;) {
			struct dirent64 *d = (struct dirent64 *)(void *)(dbuf + pos);
			pos += d->d_reclen;
			uint8_t hdr[SZ_DIRENT] = {0};
			uint64_t next = (uint64_t)d->d_off, ino = d->d_ino;
			uint32_t namlen = (uint32_t)strlen(d->d_name);
			memcpy(hdr, &next, 8);
			memcpy(hdr + 8, &ino, 8);
			memcpy(hdr + 16, &namlen, 4);
			hdr[20] = dtype_to_wasi(d->d_type);
			/* Some file systems do not fill d_type; ask, as wasmtime does. */
			struct stat st;
			if (d->d_type == DT_UNKNOWN &&
			    fstatat(f->host, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				hdr[20] = wasi_filetype(st.st_mode);
			uint32_t take = buf_len - used < SZ_DIRENT ? buf_len - used : SZ_DIRENT;
			memcpy(out + used, hdr, take);
			used += take;
			take = buf_len - used < namlen ? buf_len - used : namlen;
			memcpy(out + used, d->d_name, take);
			used += take;
		}
	}
	return wasi_put_u32(c, (uint32_t)a[4], used);
}

const engine_host_func wasi_fd_funcs[] = {
	WASI_ENTRY(fd_advise, "iIIi"),
	WASI_ENTRY(fd_allocate, "iII"),
	WASI_ENTRY(fd_close, "i"),
	WASI_ENTRY(fd_datasync, "i"),
	WASI_ENTRY(fd_fdstat_get, "ii"),
	WASI_ENTRY(fd_fdstat_set_flags, "ii"),
	WASI_ENTRY(fd_fdstat_set_rights, "iII"),
	WASI_ENTRY(fd_filestat_get, "ii"),
	WASI_ENTRY(fd_filestat_set_size, "iI"),
	WASI_ENTRY(fd_filestat_set_times, "iIIi"),
	WASI_ENTRY(fd_pread, "iiiIi"),
	WASI_ENTRY(fd_prestat_get, "ii"),
	WASI_ENTRY(fd_prestat_dir_name, "iii"),
	WASI_ENTRY(fd_pwrite, "iiiIi"),
	WASI_ENTRY(fd_read, "iiii"),
	WASI_ENTRY(fd_readdir, "iiiIi"),
	WASI_ENTRY(fd_renumber, "ii"),
	WASI_ENTRY(fd_seek, "iIii"),
	WASI_ENTRY(fd_sync, "i"),
	WASI_ENTRY(fd_tell, "ii"),
	WASI_ENTRY(fd_write, "iiii"),
};
const size_t wasi_fd_nfuncs = sizeof(wasi_fd_funcs) / sizeof(wasi_fd_funcs[0]);
