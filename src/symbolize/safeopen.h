/* SPDX-License-Identifier: MIT */
/* Opening files whose names a profiled process controls (the paths of its
 * mappings, debug files next to them): never through a planted symlink,
 * never blocking on a FIFO, never opening a device, and only the file the
 * caller expects (device and inode of the mapping). */
#ifndef AP_SAFEOPEN_H
#define AP_SAFEOPEN_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define AP_OPEN_FOLLOW 1u /* follow a final symlink: /proc/PID/map_files/..,
			   * /proc/self/fd/N, a root-owned debug tree */

/* Open path read-only (O_NONBLOCK, O_CLOEXEC). The name is first resolved
 * with O_PATH (O_NOFOLLOW unless AP_OPEN_FOLLOW), which opens nothing: a
 * FIFO is not waited on and a device's open is never called. Only a
 * regular file is then reopened for reading. ino != 0: st_ino must equal
 * it; dev != 0: st_dev too. st (may be NULL) receives the file's stat.
 * Returns the fd, or -errno: -ELOOP (a symlink), -EINVAL (not a regular
 * file), -ESTALE (another file), or open's own errors (-ENOENT, ...). */
int open_checked(const char *path, unsigned flags, uint64_t dev, uint64_t ino, struct stat *st);

/* -ELOOP, -EINVAL, -ESTALE: a file was found at the path but was refused */
static inline bool open_refused(int err)
{
	return err == -ELOOP || err == -EINVAL || err == -ESTALE;
}

#endif
