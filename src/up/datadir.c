/*
 * datadir.c - `karpenter up`'s data directory: made private and owned by one
 * process.
 *
 * kp_up_datadir_lock() creates the directory (and missing parents) with mode
 * 0700, forces an existing one to 0700 and every file below it to 0600 (the
 * CA and serving keys, the token, the SQLite store with its WAL and SHM
 * files, kubeconfigs, the simulated cloud), then takes an exclusive flock(2)
 * on DIR/up.lock and writes the process id into it. The lock lives as long
 * as the returned descriptor, so it is released by kp_up_datadir_unlock()
 * or by the process ending in any way (kill -9 included): a stale lock file
 * never blocks a restart. A second `karpenter up` on the same directory gets
 * KP_ERR_LIMIT and the holder's pid instead of running a second controller
 * against the same store, Lease and simulated cloud.
 *
 * The caller also sets umask(077) so that files created later (SQLite
 * creates its WAL/SHM files on demand) are 0600 from the start.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kobj/kobj.h"
#include "up/up.h"

static int private_mode(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D || type == FTW_DP)
		return (st->st_mode & 07777) == 0700 ? 0 : chmod(path, 0700) == 0 ? 0 : errno;
	if (type == FTW_F && (st->st_mode & 07777) != 0600)
		return chmod(path, 0600) == 0 ? 0 : errno;
	return 0;   /* symlinks (FTW_SL, not followed) and the rest are left alone */
}

kp_err kp_up_datadir_lock(const char *dir, int *lock_fd, long *holder, struct kp_errbuf *eb)
{
	char path[4096], pid[32];
	struct stat st;
	int64_t v;
	kp_err rc;
	int fd, err, n;

	*lock_fd = -1;
	*holder = 0;
	if ((rc = kp_kobj_mkdir_p(dir, eb)))
		return rc;
	if (lstat(dir, &st) != 0)
		return kp_errf(eb, KP_ERR_IO, "data directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return kp_errf(eb, KP_ERR_INVALID, "data directory %s: not a directory", dir);
	if ((size_t)snprintf(path, sizeof(path), "%s/up.lock", dir) >= sizeof(path))
		return kp_errf(eb, KP_ERR_RANGE, "data directory path too long");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return kp_errf(eb, KP_ERR_IO, "open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		err = errno;
		n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		close(fd);
		if (err != EWOULDBLOCK)
			return kp_errf(eb, KP_ERR_IO, "lock %s: %s", path, strerror(err));
		pid[strcspn(pid, "\n")] = '\0';
		if (kp_parse_i64(pid, &v) == KP_OK && v > 0)
			*holder = (long)v;
		if (*holder > 0)
			return kp_errf(eb, KP_ERR_LIMIT, "data directory %s is in use by another karpenter up (pid %ld)",
				       dir, *holder);
		*holder = -1;
		return kp_errf(eb, KP_ERR_LIMIT, "data directory %s is in use by another karpenter up", dir);
	}
	/* ours now: make everything private, then record who holds it */
	if ((err = nftw(dir, private_mode, 16, FTW_PHYS)) != 0) {
		close(fd);
		return kp_errf(eb, KP_ERR_IO, "data directory %s: cannot make it private: %s", dir,
			       strerror(err > 0 ? err : errno));
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		close(fd);
		return kp_errf(eb, KP_ERR_IO, "write %s: %s", path, strerror(errno));
	}
	*lock_fd = fd;
	return KP_OK;
}

void kp_up_datadir_unlock(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd);   /* releases the flock; the file stays (its pid is stale, harmless) */
}
