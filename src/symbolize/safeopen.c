// SPDX-License-Identifier: MIT
/* Opening target-named files; see safeopen.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "symbolize/safeopen.h"

int open_checked(const char *path, unsigned flags, uint64_t dev, uint64_t ino, struct stat *stp)
{
	char self[64];
	struct stat st;
	int pfd, fd, err;

	/* O_PATH: no open() of the file itself yet, so a FIFO or a device
	 * planted at the path is looked at, not opened */
	pfd = open(path, O_PATH | O_CLOEXEC | (flags & AP_OPEN_FOLLOW ? 0 : O_NOFOLLOW));
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = S_ISLNK(st.st_mode) ? -ELOOP : -EINVAL;
		goto out;
	}
	if ((ino && st.st_ino != ino) || (dev && st.st_dev != dev)) {
		err = -ESTALE;
		goto out;
	}
	/* reopening the O_PATH fd reaches the same inode, whatever the path
	 * names by now */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	close(pfd);
	if (stp)
		*stp = st;
	return fd;
out:
	close(pfd);
	return err;
}
