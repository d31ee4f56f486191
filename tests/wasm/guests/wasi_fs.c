/* wasi_fs.c: guest checks of the fd_* and path_* families under one
 * preopened folder, their errno values, rights, and every escape route. */
#include <string.h>
#include <wasi/api.h>

#include "check.h"

#define DIR 3
#define ALL_RIGHTS ((__wasi_rights_t)0x1fffffff)
#define RD_FILE                                                                                    \
	(__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL |                   \
	 __WASI_RIGHTS_FD_FILESTAT_GET)
#define RD                                                                                         \
	(__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL |                   \
	 __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_READDIR)

static int open_at(const char *path, __wasi_oflags_t of, __wasi_rights_t r, __wasi_lookupflags_t lf,
		   __wasi_fd_t *fd)
{
	return __wasi_path_open(DIR, lf, path, of, r, ALL_RIGHTS, 0, fd);
}

static __wasi_size_t write_str(__wasi_fd_t fd, const char *s)
{
	__wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
	__wasi_size_t n = 0;
	__wasi_fd_write(fd, &iov, 1, &n);
	return n;
}

static int escape_checks(void)
{
	__wasi_fd_t fd;
	/* Every way out of the folder: "..", absolute, symlinks, hard links. */
	CHECK_EQ("escape.dotdot", open_at("../outside/secret.txt", 0, RD, 0, &fd),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.dotdot_deep", open_at("sub/../../outside/secret.txt", 0, RD, 0, &fd),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.dotdot_dir", open_at("..", __WASI_OFLAGS_DIRECTORY, RD, 0, &fd),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.absolute", open_at("/etc/passwd", 0, RD, 0, &fd), __WASI_ERRNO_PERM);
	CHECK_EQ("escape.symlink_abs",
		 open_at("abs_link", 0, RD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.symlink_rel",
		 open_at("rel_link", 0, RD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.symlink_dir_mid",
		 open_at("dir_link/secret.txt", 0, RD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.symlink_nofollow", open_at("rel_link", 0, RD, 0, &fd), __WASI_ERRNO_LOOP);
	__wasi_filestat_t fs;
	CHECK_EQ("escape.stat_dotdot", __wasi_path_filestat_get(DIR, 0, "..", &fs),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.stat_follow",
		 __wasi_path_filestat_get(DIR, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "rel_link", &fs),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.mkdir_dotdot", __wasi_path_create_directory(DIR, "../outside/newdir"),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.unlink_dotdot", __wasi_path_unlink_file(DIR, "../outside/secret.txt"),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.unlink_via_symlink_dir",
		 __wasi_path_unlink_file(DIR, "dir_link/secret.txt"), __WASI_ERRNO_PERM);
	CHECK_EQ("escape.rename_out",
		 __wasi_path_rename(DIR, "inside.txt", DIR, "../outside/stolen.txt"),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.rename_in",
		 __wasi_path_rename(DIR, "../outside/secret.txt", DIR, "got.txt"),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.hardlink_dotdot",
		 __wasi_path_link(DIR, 0, "../outside/secret.txt", DIR, "hl.txt"),
		 __WASI_ERRNO_PERM);
	CHECK_EQ(
		"escape.hardlink_follow",
		__wasi_path_link(DIR, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "abs_link", DIR, "hl.txt"),
		__WASI_ERRNO_INVAL);
	CHECK_EQ("escape.hardlink_target_out",
		 __wasi_path_link(DIR, 0, "inside.txt", DIR, "../outside/hl.txt"),
		 __WASI_ERRNO_PERM);
	/* Linking the symlink itself is allowed; following the copy still fails. */
	CHECK_EQ("escape.hardlink_of_symlink",
		 __wasi_path_link(DIR, 0, "rel_link", DIR, "rel_link2"), 0);
	CHECK_EQ("escape.hardlink_of_symlink_open",
		 open_at("rel_link2", 0, RD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.symlink_create_abs", __wasi_path_symlink("/etc/passwd", DIR, "new_abs"),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.symlink_create_rel_then_open",
		 __wasi_path_symlink("../../etc/passwd", DIR, "new_rel"), 0);
	CHECK_EQ("escape.symlink_created_open",
		 open_at("new_rel", 0, RD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd),
		 __WASI_ERRNO_PERM);
	uint8_t lb[32];
	__wasi_size_t ln = 0;
	CHECK_EQ("escape.readlink_is_text_only",
		 __wasi_path_readlink(DIR, "new_rel", lb, sizeof(lb), &ln), 0);
	CHECK_EQ("escape.times_follow",
		 __wasi_path_filestat_set_times(DIR, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "abs_link",
						0, 0, __WASI_FSTFLAGS_MTIM_NOW),
		 __WASI_ERRNO_PERM);
	CHECK_EQ("escape.rmdir_dotdot", __wasi_path_remove_directory(DIR, "sub/.."),
		 __WASI_ERRNO_INVAL);
	CHECK_EQ("escape.not_a_dir_fd", __wasi_path_open(1, 0, "x", 0, RD, RD, 0, &fd),
		 __WASI_ERRNO_NOTDIR);
	CHECK_EQ("escape.nul_in_path",
		 raw_path_open(DIR, 0, (uint32_t)(uintptr_t) "in\0side.txt", 11, 0, RD, RD, 0,
			       (uint32_t)(uintptr_t)&fd),
		 __WASI_ERRNO_ILSEQ);
	return 0;
}

int main(void)
{
	__wasi_prestat_t ps;
	char name[16] = {0};
	CHECK_EQ("fd_prestat_get", __wasi_fd_prestat_get(DIR, &ps), 0);
	CHECK_EQ("fd_prestat_get.len", ps.u.dir.pr_name_len, 3);
	CHECK_EQ("fd_prestat_dir_name",
		 __wasi_fd_prestat_dir_name(DIR, (uint8_t *)name, sizeof(name)), 0);
	CHECK("fd_prestat_dir_name.value", !memcmp(name, "/sb", 3));
	CHECK_EQ("fd_prestat_dir_name.short", __wasi_fd_prestat_dir_name(DIR, (uint8_t *)name, 1),
		 __WASI_ERRNO_NAMETOOLONG);
	CHECK_EQ("fd_prestat_dir_name.efault", raw_fd_prestat_dir_name(DIR, BAD_PTR, 3),
		 __WASI_ERRNO_FAULT);
	__wasi_fdstat_t st;
	CHECK_EQ("fd_fdstat_get.dir", __wasi_fd_fdstat_get(DIR, &st), 0);
	CHECK_EQ("fd_fdstat_get.dir_type", st.fs_filetype, __WASI_FILETYPE_DIRECTORY);

	/* create, write, read, seek, tell */
	__wasi_fd_t fd, fd2;
	CHECK_EQ("path_open.create",
		 open_at("new.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, ALL_RIGHTS, 0, &fd),
		 0);
	CHECK_EQ("fd_write", write_str(fd, "hello world\n"), 12);
	__wasi_filesize_t pos;
	CHECK_EQ("fd_tell", __wasi_fd_tell(fd, &pos), 0);
	CHECK_EQ("fd_tell.value", pos, 12);
	CHECK_EQ("fd_seek.set", __wasi_fd_seek(fd, 6, __WASI_WHENCE_SET, &pos), 0);
	CHECK_EQ("fd_seek.value", pos, 6);
	CHECK_EQ("fd_seek.end", __wasi_fd_seek(fd, -2, __WASI_WHENCE_END, &pos) == 0 && pos == 10,
		 1);
	CHECK_EQ("fd_seek.bad_whence", __wasi_fd_seek(fd, 0, 7, &pos), __WASI_ERRNO_INVAL);
	CHECK_EQ("fd_seek.negative", __wasi_fd_seek(fd, -100, __WASI_WHENCE_SET, &pos),
		 __WASI_ERRNO_INVAL);
	uint8_t buf[64] = {0};
	__wasi_iovec_t riov = {buf, 5};
	__wasi_size_t n;
	CHECK_EQ("fd_pread", __wasi_fd_pread(fd, &riov, 1, 0, &n), 0);
	CHECK("fd_pread.value", n == 5 && !memcmp(buf, "hello", 5));
	__wasi_ciovec_t wiov = {(const uint8_t *)"HELLO", 5};
	CHECK_EQ("fd_pwrite", __wasi_fd_pwrite(fd, &wiov, 1, 0, &n), 0);
	__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos);
	riov.buf_len = sizeof(buf);
	CHECK_EQ("fd_read", __wasi_fd_read(fd, &riov, 1, &n), 0);
	CHECK("fd_read.value", n == 12 && !memcmp(buf, "HELLO world\n", 12));
	CHECK_EQ("fd_read.eof", __wasi_fd_read(fd, &riov, 1, &n) == 0 && n == 0, 1);
	CHECK_EQ("fd_advise", __wasi_fd_advise(fd, 0, 0, __WASI_ADVICE_SEQUENTIAL), 0);
	CHECK_EQ("fd_advise.bad", __wasi_fd_advise(fd, 0, 0, 9), __WASI_ERRNO_INVAL);
	CHECK_EQ("fd_allocate", __wasi_fd_allocate(fd, 0, 4096), 0);
	__wasi_filestat_t fs;
	CHECK_EQ("fd_filestat_get", __wasi_fd_filestat_get(fd, &fs), 0);
	CHECK("fd_filestat_get.size",
	      fs.size == 4096 && fs.filetype == __WASI_FILETYPE_REGULAR_FILE);
	CHECK_EQ("fd_filestat_set_size", __wasi_fd_filestat_set_size(fd, 12), 0);
	__wasi_fd_filestat_get(fd, &fs);
	CHECK_EQ("fd_filestat_set_size.value", fs.size, 12);
	CHECK_EQ("fd_filestat_set_times",
		 __wasi_fd_filestat_set_times(fd, 1000000000ull, 2000000000ull,
					      __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM),
		 0);
	__wasi_fd_filestat_get(fd, &fs);
	CHECK_EQ("fd_filestat_set_times.mtim", fs.mtim, 2000000000ull);
	CHECK_EQ("fd_filestat_set_times.bad",
		 __wasi_fd_filestat_set_times(fd, 0, 0,
					      __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW),
		 __WASI_ERRNO_INVAL);
	CHECK_EQ("fd_sync", __wasi_fd_sync(fd), 0);
	CHECK_EQ("fd_datasync", __wasi_fd_datasync(fd), 0);
	CHECK_EQ("fd_fdstat_set_flags.append",
		 __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND), 0);
	__wasi_fd_fdstat_get(fd, &st);
	CHECK("fd_fdstat_get.append", st.fs_flags & __WASI_FDFLAGS_APPEND);
	CHECK_EQ("fd_fdstat_set_flags.sync", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_SYNC),
		 __WASI_ERRNO_NOTSUP);
	/* rights only shrink, and are enforced */
	CHECK_EQ("fd_fdstat_set_rights.drop", __wasi_fd_fdstat_set_rights(fd, RD_FILE, 0), 0);
	CHECK_EQ("rights.write_denied", __wasi_fd_write(fd, &wiov, 1, &n), __WASI_ERRNO_NOTCAPABLE);
	CHECK_EQ("rights.set_size_denied", __wasi_fd_filestat_set_size(fd, 0),
		 __WASI_ERRNO_NOTCAPABLE);
	CHECK_EQ("fd_fdstat_set_rights.grow", __wasi_fd_fdstat_set_rights(fd, ALL_RIGHTS, 0),
		 __WASI_ERRNO_NOTCAPABLE);
	/* renumber and close */
	CHECK_EQ("path_open.existing", open_at("new.txt", 0, RD, 0, &fd2), 0);
	CHECK_EQ("fd_renumber", __wasi_fd_renumber(fd2, fd), 0);
	CHECK_EQ("fd_renumber.from_closed", __wasi_fd_close(fd2), __WASI_ERRNO_BADF);
	CHECK_EQ("rights.renumbered_keeps_read", __wasi_fd_pread(fd, &riov, 1, 0, &n), 0);
	CHECK_EQ("rights.read_only_open_write", __wasi_fd_write(fd, &wiov, 1, &n),
		 __WASI_ERRNO_NOTCAPABLE);
	CHECK_EQ("fd_close", __wasi_fd_close(fd), 0);
	CHECK_EQ("fd_close.twice", __wasi_fd_close(fd), __WASI_ERRNO_BADF);

	/* path_open errors */
	CHECK_EQ("path_open.noent", open_at("missing.txt", 0, RD, 0, &fd), __WASI_ERRNO_NOENT);
	CHECK_EQ("path_open.excl",
		 open_at("new.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, ALL_RIGHTS, 0, &fd),
		 __WASI_ERRNO_EXIST);
	CHECK_EQ("path_open.notdir", open_at("new.txt", __WASI_OFLAGS_DIRECTORY, RD, 0, &fd),
		 __WASI_ERRNO_NOTDIR);
	CHECK_EQ("path_open.isdir_write", open_at("sub", 0, __WASI_RIGHTS_FD_WRITE, 0, &fd),
		 __WASI_ERRNO_ISDIR);
	CHECK_EQ("path_open.empty", open_at("", 0, RD, 0, &fd), __WASI_ERRNO_NOENT);
	CHECK_EQ("path_open.symlink_inside",
		 open_at("in_link", 0, RD, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd), 0);
	__wasi_fd_close(fd);

	/* directories */
	CHECK_EQ("path_create_directory", __wasi_path_create_directory(DIR, "d1"), 0);
	CHECK_EQ("path_create_directory.exists", __wasi_path_create_directory(DIR, "d1"),
		 __WASI_ERRNO_EXIST);
	CHECK_EQ("path_open.dir", open_at("d1", __WASI_OFLAGS_DIRECTORY, ALL_RIGHTS, 0, &fd), 0);
	CHECK_EQ("path_open.in_subdir_fd",
		 __wasi_path_open(fd, 0, "f.txt", __WASI_OFLAGS_CREAT, ALL_RIGHTS, 0, 0, &fd2), 0);
	__wasi_fd_close(fd2);
	CHECK_EQ("escape.subdir_fd_dotdot",
		 __wasi_path_open(fd, 0, "../new.txt", 0, RD, 0, 0, &fd2), __WASI_ERRNO_PERM);
	uint8_t dbuf[256];
	__wasi_size_t used = 0;
	CHECK_EQ("fd_readdir", __wasi_fd_readdir(fd, dbuf, sizeof(dbuf), 0, &used), 0);
	int found = 0;
	for (__wasi_size_t off = 0; off + sizeof(__wasi_dirent_t) <= used;) {
		__wasi_dirent_t d;
		memcpy(&d, dbuf + off, sizeof(d));
		off += sizeof(d);
		if (d.d_namlen == 5 && off + 5 <= used && !memcmp(dbuf + off, "f.txt", 5) &&
		    d.d_type == __WASI_FILETYPE_REGULAR_FILE)
			found = 1;
		off += d.d_namlen;
	}
	CHECK("fd_readdir.found", found);
	CHECK_EQ("fd_readdir.small_buffer",
		 __wasi_fd_readdir(fd, dbuf, 10, 0, &used) == 0 && used == 10, 1);
	CHECK_EQ("fd_readdir.efault",
		 raw_fd_readdir(fd, BAD_PTR, 100, 0, (uint32_t)(uintptr_t)&used),
		 __WASI_ERRNO_FAULT);
	CHECK_EQ("fd_readdir.notdir", __wasi_fd_readdir(1, dbuf, sizeof(dbuf), 0, &used) != 0, 1);
	__wasi_fd_close(fd);
	CHECK_EQ("path_remove_directory.notempty", __wasi_path_remove_directory(DIR, "d1"),
		 __WASI_ERRNO_NOTEMPTY);
	CHECK_EQ("path_unlink_file", __wasi_path_unlink_file(DIR, "d1/f.txt"), 0);
	CHECK_EQ("path_unlink_file.noent", __wasi_path_unlink_file(DIR, "d1/f.txt"),
		 __WASI_ERRNO_NOENT);
	CHECK_EQ("path_unlink_file.dir", __wasi_path_unlink_file(DIR, "d1") != 0, 1);
	CHECK_EQ("path_remove_directory", __wasi_path_remove_directory(DIR, "d1"), 0);
	CHECK_EQ("path_remove_directory.notdir", __wasi_path_remove_directory(DIR, "new.txt"),
		 __WASI_ERRNO_NOTDIR);

	/* metadata by path */
	CHECK_EQ("path_filestat_get", __wasi_path_filestat_get(DIR, 0, "new.txt", &fs), 0);
	CHECK_EQ("path_filestat_get.size", fs.size, 12);
	CHECK_EQ("path_filestat_get.symlink",
		 __wasi_path_filestat_get(DIR, 0, "in_link", &fs) == 0 &&
			 fs.filetype == __WASI_FILETYPE_SYMBOLIC_LINK,
		 1);
	CHECK_EQ("path_filestat_get.follow",
		 __wasi_path_filestat_get(DIR, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "in_link", &fs) ==
				 0 &&
			 fs.filetype == __WASI_FILETYPE_REGULAR_FILE,
		 1);
	CHECK_EQ("path_filestat_set_times",
		 __wasi_path_filestat_set_times(DIR, 0, "new.txt", 0, 5000000000ull,
						__WASI_FSTFLAGS_MTIM),
		 0);
	__wasi_path_filestat_get(DIR, 0, "new.txt", &fs);
	CHECK_EQ("path_filestat_set_times.value", fs.mtim, 5000000000ull);
	CHECK_EQ("path_filestat_set_times.follow",
		 __wasi_path_filestat_set_times(DIR, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "in_link",
						0, 0, __WASI_FSTFLAGS_MTIM_NOW),
		 0);

	/* links and renames */
	CHECK_EQ("path_link", __wasi_path_link(DIR, 0, "new.txt", DIR, "hard.txt"), 0);
	__wasi_path_filestat_get(DIR, 0, "new.txt", &fs);
	CHECK_EQ("path_link.nlink", fs.nlink, 2);
	CHECK_EQ("path_link.exists", __wasi_path_link(DIR, 0, "new.txt", DIR, "hard.txt"),
		 __WASI_ERRNO_EXIST);
	CHECK_EQ("path_symlink", __wasi_path_symlink("new.txt", DIR, "soft.txt"), 0);
	char lbuf[32] = {0};
	CHECK_EQ("path_readlink",
		 __wasi_path_readlink(DIR, "soft.txt", (uint8_t *)lbuf, sizeof(lbuf), &used), 0);
	CHECK("path_readlink.value", used == 7 && !memcmp(lbuf, "new.txt", 7));
	CHECK_EQ("path_readlink.truncated",
		 __wasi_path_readlink(DIR, "soft.txt", (uint8_t *)lbuf, 3, &used) == 0 && used == 3,
		 1);
	CHECK_EQ("path_readlink.notlink",
		 __wasi_path_readlink(DIR, "new.txt", (uint8_t *)lbuf, sizeof(lbuf), &used),
		 __WASI_ERRNO_INVAL);
	CHECK_EQ("path_rename", __wasi_path_rename(DIR, "hard.txt", DIR, "renamed.txt"), 0);
	CHECK_EQ("path_rename.noent", __wasi_path_rename(DIR, "hard.txt", DIR, "x.txt"),
		 __WASI_ERRNO_NOENT);
	CHECK_EQ("path_unlink_file.symlink", __wasi_path_unlink_file(DIR, "soft.txt"), 0);
	CHECK_EQ("path_unlink_file.renamed", __wasi_path_unlink_file(DIR, "renamed.txt"), 0);

	/* rights of the preopen itself */
	CHECK_EQ("rights.dir_no_read", __wasi_fd_read(DIR, &riov, 1, &n) != 0, 1);
	escape_checks();
	/* the files the escapes aimed at are untouched (the host checks too) */
	return check_done();
}
