/* wasi_abi.h: numbers and struct layouts of wasi_snapshot_preview1 as the
 * guest sees them (wasm32), from WebAssembly/WASI phases/snapshot/witx/typenames.witx. */
#ifndef ORCHARD_WASI_ABI_H
#define ORCHARD_WASI_ABI_H

/* errno (typenames.witx, in order) */
enum {
	W_ESUCCESS = 0,
	W_E2BIG,
	W_EACCES,
	W_EADDRINUSE,
	W_EADDRNOTAVAIL,
	W_EAFNOSUPPORT,
	W_EAGAIN,
	W_EALREADY,
	W_EBADF,
	W_EBADMSG,
	W_EBUSY,
	W_ECANCELED,
	W_ECHILD,
	W_ECONNABORTED,
	W_ECONNREFUSED,
	W_ECONNRESET,
	W_EDEADLK,
	W_EDESTADDRREQ,
	W_EDOM,
	W_EDQUOT,
	W_EEXIST,
	W_EFAULT,
	W_EFBIG,
	W_EHOSTUNREACH,
	W_EIDRM,
	W_EILSEQ,
	W_EINPROGRESS,
	W_EINTR,
	W_EINVAL,
	W_EIO,
	W_EISCONN,
	W_EISDIR,
	W_ELOOP,
	W_EMFILE,
	W_EMLINK,
	W_EMSGSIZE,
	W_EMULTIHOP,
	W_ENAMETOOLONG,
	W_ENETDOWN,
	W_ENETRESET,
	W_ENETUNREACH,
	W_ENFILE,
	W_ENOBUFS,
	W_ENODEV,
	W_ENOENT,
	W_ENOEXEC,
	W_ENOLCK,
	W_ENOLINK,
	W_ENOMEM,
	W_ENOMSG,
	W_ENOPROTOOPT,
	W_ENOSPC,
	W_ENOSYS,
	W_ENOTCONN,
	W_ENOTDIR,
	W_ENOTEMPTY,
	W_ENOTRECOVERABLE,
	W_ENOTSOCK,
	W_ENOTSUP,
	W_ENOTTY,
	W_ENXIO,
	W_EOVERFLOW,
	W_EOWNERDEAD,
	W_EPERM,
	W_EPIPE,
	W_EPROTO,
	W_EPROTONOSUPPORT,
	W_EPROTOTYPE,
	W_ERANGE,
	W_EROFS,
	W_ESPIPE,
	W_ESRCH,
	W_ESTALE,
	W_ETIMEDOUT,
	W_ETXTBSY,
	W_EXDEV,
	W_ENOTCAPABLE,
};

/* rights */
#define R_FD_DATASYNC (1ull << 0)
#define R_FD_READ (1ull << 1)
#define R_FD_SEEK (1ull << 2)
#define R_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define R_FD_SYNC (1ull << 4)
#define R_FD_TELL (1ull << 5)
#define R_FD_WRITE (1ull << 6)
#define R_FD_ADVISE (1ull << 7)
#define R_FD_ALLOCATE (1ull << 8)
#define R_PATH_CREATE_DIRECTORY (1ull << 9)
#define R_PATH_CREATE_FILE (1ull << 10)
#define R_PATH_LINK_SOURCE (1ull << 11)
#define R_PATH_LINK_TARGET (1ull << 12)
#define R_PATH_OPEN (1ull << 13)
#define R_FD_READDIR (1ull << 14)
#define R_PATH_READLINK (1ull << 15)
#define R_PATH_RENAME_SOURCE (1ull << 16)
#define R_PATH_RENAME_TARGET (1ull << 17)
#define R_PATH_FILESTAT_GET (1ull << 18)
#define R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define R_FD_FILESTAT_GET (1ull << 21)
#define R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define R_FD_FILESTAT_SET_TIMES (1ull << 23)
#define R_PATH_SYMLINK (1ull << 24)
#define R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define R_PATH_UNLINK_FILE (1ull << 26)
#define R_POLL_FD_READWRITE (1ull << 27)
#define R_SOCK_SHUTDOWN (1ull << 28)
#define R_SOCK_ACCEPT (1ull << 29)
#define R_ALL ((1ull << 30) - 1)

/* What a regular file, a directory, a tty or a socket may ever do. */
#define R_FILE_BASE                                                                                \
	(R_FD_DATASYNC | R_FD_READ | R_FD_SEEK | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_TELL |   \
	 R_FD_WRITE | R_FD_ADVISE | R_FD_ALLOCATE | R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_SIZE |   \
	 R_FD_FILESTAT_SET_TIMES | R_POLL_FD_READWRITE)
#define R_DIR_BASE                                                                                 \
	(R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_ADVISE | R_PATH_CREATE_DIRECTORY |               \
	 R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET | R_PATH_OPEN |              \
	 R_FD_READDIR | R_PATH_READLINK | R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET |            \
	 R_PATH_FILESTAT_GET | R_PATH_FILESTAT_SET_SIZE | R_PATH_FILESTAT_SET_TIMES |              \
	 R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_TIMES | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY |  \
	 R_PATH_UNLINK_FILE)
#define R_TTY_BASE                                                                                 \
	(R_FD_READ | R_FD_FDSTAT_SET_FLAGS | R_FD_WRITE | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE)
#define R_SOCK_BASE                                                                                \
	(R_FD_READ | R_FD_FDSTAT_SET_FLAGS | R_FD_WRITE | R_FD_FILESTAT_GET |                      \
	 R_POLL_FD_READWRITE | R_SOCK_SHUTDOWN | R_SOCK_ACCEPT)

/* filetype */
enum {
	FT_UNKNOWN = 0,
	FT_BLOCK_DEVICE,
	FT_CHARACTER_DEVICE,
	FT_DIRECTORY,
	FT_REGULAR_FILE,
	FT_SOCKET_DGRAM,
	FT_SOCKET_STREAM,
	FT_SYMBOLIC_LINK,
};

/* fdflags, oflags, lookupflags, fstflags */
#define FDF_APPEND 1u
#define FDF_DSYNC 2u
#define FDF_NONBLOCK 4u
#define FDF_RSYNC 8u
#define FDF_SYNC 16u
#define OF_CREAT 1u
#define OF_DIRECTORY 2u
#define OF_EXCL 4u
#define OF_TRUNC 8u
#define LF_SYMLINK_FOLLOW 1u
#define FST_ATIM 1u
#define FST_ATIM_NOW 2u
#define FST_MTIM 4u
#define FST_MTIM_NOW 8u

/* clocks, events */
enum { CLK_REALTIME = 0, CLK_MONOTONIC, CLK_PROCESS_CPUTIME, CLK_THREAD_CPUTIME };
enum { EV_CLOCK = 0, EV_FD_READ, EV_FD_WRITE };
#define SUBCLOCK_ABSTIME 1u
#define EVRW_HANGUP 1u

/* sockets: riflags, roflags, sdflags */
#define RI_RECV_PEEK 1u
#define RI_RECV_WAITALL 2u
#define RO_RECV_DATA_TRUNCATED 1u
#define SD_RD 1u
#define SD_WR 2u

/* Struct sizes (wasm32). Offsets are spelled at each use. */
#define SZ_IOVEC 8u
#define SZ_FDSTAT 24u
#define SZ_FILESTAT 64u
#define SZ_PRESTAT 8u
#define SZ_DIRENT 24u
#define SZ_SUBSCRIPTION 48u
#define SZ_EVENT 32u

#endif
