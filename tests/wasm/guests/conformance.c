/* conformance.c: the two checks an independent wasi-testsuite run found us
 * failing (preview1 path_open_preopen and sock_shutdown on a non-socket), in
 * that suite's terms; run under both engines with one preopen at fd 3. */
#include <string.h>
#include <wasi/api.h>

#include "check.h"

#define FIRST_PREOPEN 3

/* The rights the testsuite wants on every preopened folder (base), and on
 * what is opened through it (inheriting: these plus the file rights). */
#define DIR_BASE                                                                                   \
	(__WASI_RIGHTS_PATH_CREATE_DIRECTORY | __WASI_RIGHTS_PATH_CREATE_FILE |                    \
	 __WASI_RIGHTS_PATH_LINK_SOURCE | __WASI_RIGHTS_PATH_LINK_TARGET |                         \
	 __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_READLINK |        \
	 __WASI_RIGHTS_PATH_RENAME_SOURCE | __WASI_RIGHTS_PATH_RENAME_TARGET |                     \
	 __WASI_RIGHTS_PATH_SYMLINK | __WASI_RIGHTS_PATH_REMOVE_DIRECTORY |                        \
	 __WASI_RIGHTS_PATH_UNLINK_FILE | __WASI_RIGHTS_PATH_FILESTAT_GET |                        \
	 __WASI_RIGHTS_PATH_FILESTAT_SET_TIMES | __WASI_RIGHTS_FD_FILESTAT_GET |                   \
	 __WASI_RIGHTS_FD_FILESTAT_SET_TIMES)
#define DIR_INHERITING                                                                             \
	(DIR_BASE | __WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK |    \
	 __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS | __WASI_RIGHTS_FD_SYNC | __WASI_RIGHTS_FD_TELL |       \
	 __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_ADVISE | __WASI_RIGHTS_FD_ALLOCATE |            \
	 __WASI_RIGHTS_FD_FILESTAT_SET_SIZE | __WASI_RIGHTS_POLL_FD_READWRITE)

/* path_open(FIRST_PREOPEN, ".") with these flags and rights; closes what it opened. */
static __wasi_errno_t open_dot(__wasi_oflags_t of, __wasi_rights_t base, __wasi_rights_t inh)
{
	__wasi_fd_t fd;
	__wasi_errno_t e = __wasi_path_open(FIRST_PREOPEN, 0, ".", of, base, inh, 0, &fd);
	if (e == 0)
		__wasi_fd_close(fd);
	return e;
}

int main(void)
{
	__wasi_fdstat_t st;
	CHECK_EQ("preopen: fd_fdstat_get", __wasi_fd_fdstat_get(FIRST_PREOPEN, &st), 0);
	CHECK_EQ("preopen: is a directory", st.fs_filetype, __WASI_FILETYPE_DIRECTORY);
	CHECK_EQ("preopen: every directory base right", st.fs_rights_base & DIR_BASE, DIR_BASE);
	CHECK_EQ("preopen: every directory inheriting right",
		 st.fs_rights_inheriting & DIR_INHERITING, DIR_INHERITING);
	CHECK_EQ("preopen: open . with the same rights",
		 open_dot(0, st.fs_rights_base, st.fs_rights_inheriting), 0);
	CHECK_EQ("preopen: open . with no rights", open_dot(0, 0, 0), 0);
	CHECK_EQ("preopen: open . O_DIRECTORY with no rights",
		 open_dot(__WASI_OFLAGS_DIRECTORY, 0, 0), 0);
	CHECK_EQ("preopen: open . O_DIRECTORY with read",
		 open_dot(__WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READ, 0), 0);
	CHECK_EQ("sock_shutdown: stdout is not a socket",
		 __wasi_sock_shutdown(1, __WASI_SDFLAGS_WR), __WASI_ERRNO_NOTSOCK);
	CHECK_EQ("sock_shutdown: a folder is not a socket",
		 __wasi_sock_shutdown(FIRST_PREOPEN, __WASI_SDFLAGS_WR), __WASI_ERRNO_NOTSOCK);
	CHECK_EQ("sock_shutdown: a closed fd is EBADF", __wasi_sock_shutdown(99, __WASI_SDFLAGS_WR),
		 __WASI_ERRNO_BADF);
	printf("DONE %d failed\n", check_failed);
	return check_failed != 0;
}
