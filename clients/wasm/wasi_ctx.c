/* wasi_ctx.c: the WASI context (fd table, args, environment), bounds-checked
 * access to guest memory, and host-to-WASI errno mapping. */
#include "clients/wasm/wasi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define WASI_FDS_MAX 1024

static char **strv_dup(char *const *v, uint32_t *n)
{
	uint32_t count = 0;
	while (v && v[count])
		count++;
	char **out = calloc(count + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (uint32_t i = 0; i < count; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			for (uint32_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	*n = count;
	return out;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The rights of an inherited stdio fd depend on what the host gave us. */
static void stdio_add(wasi_ctx *c, int host)
{
	struct stat st;
	uint8_t type = FT_CHARACTER_DEVICE;
	uint64_t rights = R_TTY_BASE;
	if (fstat(host, &st) == 0) {
		type = wasi_filetype(st.st_mode);
		if (type == FT_REGULAR_FILE)
			rights = R_FILE_BASE;
		else if (type == FT_SOCKET_STREAM || type == FT_SOCKET_DGRAM)
			rights = R_SOCK_BASE;
	}
	int dup_fd = fcntl(host, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0) /* a closed stdio stays closed for the guest: EBADF */
		dup_fd = -1;
	c->fds[host] = (wasi_fd){.host = dup_fd, .type = type, .rights = rights};
	if (c->nfds <= (uint32_t)host)
		c->nfds = (uint32_t)host + 1;
}

wasi_ctx *wasi_ctx_new(char *const *argv, char *const *envp, const grants *g)
{
	wasi_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->max_fds = WASI_FDS_MAX;
	c->fds = calloc(c->max_fds, sizeof(*c->fds));
	c->argv = strv_dup(argv, &c->argc);
	c->envp = strv_dup(envp, &c->envc);
	if (!c->fds || !c->argv || !c->envp)
		goto fail;
	for (uint32_t i = 0; i < c->max_fds; i++)
		c->fds[i].host = -1;
	for (int i = 0; i < 3; i++)
		stdio_add(c, i);
	c->grants = g;
	return c;
fail:
	wasi_ctx_free(c);
	return NULL;
}

void wasi_ctx_free(wasi_ctx *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; c->fds && i < c->nfds; i++) {
		if (c->fds[i].host >= 0)
			close(c->fds[i].host);
		free(c->fds[i].preopen);
	}
	free(c->fds);
	strv_free(c->argv);
	strv_free(c->envp);
	free(c);
}

int wasi_ctx_preopen(wasi_ctx *c, const char *host_path, const char *guest_path)
{
	int rc = -1;
	char *name = NULL;
	int fd = open(host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	name = strdup(guest_path);
	if (!name)
		goto out;
	int64_t gfd = wasi_fd_add(c, fd, FT_DIRECTORY, R_DIR_BASE, R_DIR_BASE | R_FILE_BASE);
	if (gfd < 0) {
		errno = EMFILE;
		goto out;
	}
	fd = -1;
	c->fds[gfd].preopen = name;
	name = NULL;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(name);
	return rc;
}

int64_t wasi_fd_add(wasi_ctx *c, int host, uint8_t type, uint64_t rights, uint64_t inheriting)
{
	for (uint32_t i = 3; i < c->max_fds; i++) {
		if (c->fds[i].host >= 0)
			continue;
		c->fds[i] = (wasi_fd){
			.host = host, .type = type, .rights = rights, .inheriting = inheriting};
		if (c->nfds <= i)
			c->nfds = i + 1;
		return i;
	}
	return -1;
}

int32_t wasi_fd_give(wasi_ctx *c, int host, uint8_t type, uint64_t rights, uint64_t inheriting,
		     uint32_t out)
{
	int64_t gfd = wasi_fd_add(c, host, type, rights, inheriting);

	if (gfd < 0) {
		close(host);
		return W_EMFILE;
	}
	return wasi_put_u32(c, out, (uint32_t)gfd);
}

wasi_fd *wasi_fd_get(wasi_ctx *c, uint32_t fd, uint64_t need, int32_t *err)
{
	if (fd >= c->nfds || c->fds[fd].host < 0) {
		*err = W_EBADF;
		return NULL;
	}
	if ((c->fds[fd].rights & need) != need) {
		*err = W_ENOTCAPABLE;
		return NULL;
	}
	*err = W_ESUCCESS;
	return &c->fds[fd];
}

uint8_t wasi_filetype(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return FT_REGULAR_FILE;
	case S_IFDIR: return FT_DIRECTORY;
	case S_IFCHR: return FT_CHARACTER_DEVICE;
	case S_IFBLK: return FT_BLOCK_DEVICE;
	case S_IFLNK: return FT_SYMBOLIC_LINK;
	case S_IFSOCK: return FT_SOCKET_STREAM;
	default: return FT_UNKNOWN;
	}
}

void *wasi_mem(wasi_ctx *c, uint64_t ptr, uint64_t len)
{
	/* Subtraction-safe: ptr <= size and len <= size - ptr. */
	if (!c->mem || ptr > c->mem_size || len > c->mem_size - ptr)
		return NULL;
	return c->mem + ptr;
}

#define PUT(bits)                                                                                  \
	int32_t wasi_put_u##bits(wasi_ctx *c, uint32_t ptr, uint##bits##_t v)                      \
	{                                                                                          \
		void *p = wasi_mem(c, ptr, sizeof(v));                                             \
		if (!p)                                                                            \
			return W_EFAULT;                                                           \
		memcpy(p, &v, sizeof(v)); /* wasm and x86-64 are little-endian */                  \
		return W_ESUCCESS;                                                                 \
	}
PUT(8)
PUT(16)
PUT(32)
PUT(64)

int32_t wasi_get_u32(wasi_ctx *c, uint32_t ptr, uint32_t *v)
{
	void *p = wasi_mem(c, ptr, sizeof(*v));
	if (!p)
		return W_EFAULT;
	memcpy(v, p, sizeof(*v));
	return W_ESUCCESS;
}

int32_t wasi_get_u64(wasi_ctx *c, uint32_t ptr, uint64_t *v)
{
	void *p = wasi_mem(c, ptr, sizeof(*v));
	if (!p)
		return W_EFAULT;
	memcpy(v, p, sizeof(*v));
	return W_ESUCCESS;
}

int32_t wasi_iovs(wasi_ctx *c, uint32_t ptr, uint32_t nvec, struct iovec *out, uint32_t max)
{
	if (nvec > max)
		return W_EINVAL;
	if (!wasi_mem(c, ptr, (uint64_t)nvec * SZ_IOVEC))
		return W_EFAULT;
	for (uint32_t i = 0; i < nvec; i++) {
		uint32_t buf = 0, len = 0;
		wasi_get_u32(c, ptr + i * SZ_IOVEC, &buf);
		wasi_get_u32(c, ptr + i * SZ_IOVEC + 4, &len);
		void *p = wasi_mem(c, buf, len);
		if (!p)
			return W_EFAULT;
		out[i].iov_base = p;
		out[i].iov_len = len;
	}
	return W_ESUCCESS;
}

int32_t wasi_str(wasi_ctx *c, uint32_t ptr, uint32_t len, char **out)
{
	*out = NULL;
	const char *p = wasi_mem(c, ptr, len);
	if (!p)
		return W_EFAULT;
	if (memchr(p, '\0', len))
		return W_EILSEQ; /* a NUL inside a path would silently shorten it */
	char *s = malloc((size_t)len + 1);
	if (!s)
		return W_ENOMEM;
	memcpy(s, p, len);
	s[len] = '\0';
	*out = s;
	return W_ESUCCESS;
}

int32_t wasi_put_filestat(wasi_ctx *c, uint32_t ptr, const struct stat *st)
{
	uint8_t *p = wasi_mem(c, ptr, SZ_FILESTAT);
	if (!p)
		return W_EFAULT;
	uint64_t v;
	memset(p, 0, SZ_FILESTAT);
	v = st->st_dev;
	memcpy(p + 0, &v, 8);
	v = st->st_ino;
	memcpy(p + 8, &v, 8);
	p[16] = wasi_filetype(st->st_mode);
	v = st->st_nlink;
	memcpy(p + 24, &v, 8);
	v = (uint64_t)st->st_size;
	memcpy(p + 32, &v, 8);
	v = (uint64_t)st->st_atim.tv_sec * 1000000000ull + (uint64_t)st->st_atim.tv_nsec;
	memcpy(p + 40, &v, 8);
	v = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
	memcpy(p + 48, &v, 8);
	v = (uint64_t)st->st_ctim.tv_sec * 1000000000ull + (uint64_t)st->st_ctim.tv_nsec;
	memcpy(p + 56, &v, 8);
	return W_ESUCCESS;
}

int32_t wasi_errno(int err)
{
	switch (err) {
	case 0: return W_ESUCCESS;
	case E2BIG: return W_E2BIG;
	case EACCES: return W_EACCES;
	case EADDRINUSE: return W_EADDRINUSE;
	case EADDRNOTAVAIL: return W_EADDRNOTAVAIL;
	case EAFNOSUPPORT: return W_EAFNOSUPPORT;
	case EAGAIN: return W_EAGAIN;
	case EALREADY: return W_EALREADY;
	case EBADF: return W_EBADF;
	case EBADMSG: return W_EBADMSG;
	case EBUSY: return W_EBUSY;
	case ECANCELED: return W_ECANCELED;
	case ECHILD: return W_ECHILD;
	case ECONNABORTED: return W_ECONNABORTED;
	case ECONNREFUSED: return W_ECONNREFUSED;
	case ECONNRESET: return W_ECONNRESET;
	case EDEADLK: return W_EDEADLK;
	case EDESTADDRREQ: return W_EDESTADDRREQ;
	case EDOM: return W_EDOM;
	case EDQUOT: return W_EDQUOT;
	case EEXIST: return W_EEXIST;
	case EFAULT: return W_EFAULT;
	case EFBIG: return W_EFBIG;
	case EHOSTUNREACH: return W_EHOSTUNREACH;
	case EIDRM: return W_EIDRM;
	case EILSEQ: return W_EILSEQ;
	case EINPROGRESS: return W_EINPROGRESS;
	case EINTR: return W_EINTR;
	case EINVAL: return W_EINVAL;
	case EIO: return W_EIO;
	case EISCONN: return W_EISCONN;
	case EISDIR: return W_EISDIR;
	case ELOOP: return W_ELOOP;
	case EMFILE: return W_EMFILE;
	case EMLINK: return W_EMLINK;
	case EMSGSIZE: return W_EMSGSIZE;
	case EMULTIHOP: return W_EMULTIHOP;
	case ENAMETOOLONG: return W_ENAMETOOLONG;
	case ENETDOWN: return W_ENETDOWN;
	case ENETRESET: return W_ENETRESET;
	case ENETUNREACH: return W_ENETUNREACH;
	case ENFILE: return W_ENFILE;
	case ENOBUFS: return W_ENOBUFS;
	case ENODEV: return W_ENODEV;
	case ENOENT: return W_ENOENT;
	case ENOEXEC: return W_ENOEXEC;
	case ENOLCK: return W_ENOLCK;
	case ENOLINK: return W_ENOLINK;
	case ENOMEM: return W_ENOMEM;
	case ENOMSG: return W_ENOMSG;
	case ENOPROTOOPT: return W_ENOPROTOOPT;
	case ENOSPC: return W_ENOSPC;
	case ENOSYS: return W_ENOSYS;
	case ENOTCONN: return W_ENOTCONN;
	case ENOTDIR: return W_ENOTDIR;
	case ENOTEMPTY: return W_ENOTEMPTY;
	case ENOTRECOVERABLE: return W_ENOTRECOVERABLE;
	case ENOTSOCK: return W_ENOTSOCK;
	case EOPNOTSUPP: return W_ENOTSUP;
	case ENOTTY: return W_ENOTTY;
	case ENXIO: return W_ENXIO;
	case EOVERFLOW: return W_EOVERFLOW;
	case EOWNERDEAD: return W_EOWNERDEAD;
	case EPERM: return W_EPERM;
	case EPIPE: return W_EPIPE;
	case EPROTO: return W_EPROTO;
	case EPROTONOSUPPORT: return W_EPROTONOSUPPORT;
	case EPROTOTYPE: return W_EPROTOTYPE;
	case ERANGE: return W_ERANGE;
	case EROFS: return W_EROFS;
	case ESPIPE: return W_ESPIPE;
	case ESRCH: return W_ESRCH;
	case ESTALE: return W_ESTALE;
	case ETIMEDOUT: return W_ETIMEDOUT;
	case ETXTBSY: return W_ETXTBSY;
	case EXDEV: return W_EXDEV;
	default: return W_EIO;
	}
}

const engine_host_func *wasi_host_funcs(size_t *n)
{
	static engine_host_func all[160];
	static size_t count;
	if (count == 0) {
		const struct {
			const engine_host_func *f;
			size_t n;
		} parts[] = {
			{wasi_proc_funcs, wasi_proc_nfuncs}, {wasi_fd_funcs, wasi_fd_nfuncs},
			{wasi_path_funcs, wasi_path_nfuncs}, {wasi_poll_funcs, wasi_poll_nfuncs},
			{wasi_sock_funcs, wasi_sock_nfuncs},
		};
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
			for (size_t j = 0; j < parts[i].n && count < sizeof(all) / sizeof(all[0]);
			     j++)
				all[count++] = parts[i].f[j];
	}
	*n = count;
	return all;
}
