// SPDX-License-Identifier: MIT
/* Launch with a gate: the child blocks on a pipe until every BPF program is
 * attached, so the first instructions of the target are sampled; a second,
 * close-on-exec pipe reports a failed exec. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runner.h"
#include "util.h"

static int check_exec(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -ENOENT;
	if (S_ISDIR(st.st_mode) || access(path, X_OK))
		return -EACCES;
	return 0;
}

int runner_resolve(const char *argv0, char **path)
{
	const char *env = getenv("PATH"), *p, *end;
	char buf[PATH_MAX];
	int err, found_noexec = 0;

	if (!*argv0)
		return -ENOENT;
	if (strchr(argv0, '/')) {
		err = check_exec(argv0);
		if (!err)
			*path = xstrdup(argv0);
		return err;
	}
	for (p = env ? env : "/usr/local/bin:/usr/bin:/bin"; ; p = end + 1) {
		end = strchrnul(p, ':');
		snprintf(buf, sizeof(buf), "%.*s/%s", end == p ? 1 : (int)(end - p),
			 end == p ? "." : p, argv0);
		err = check_exec(buf);
		if (!err) {
			*path = xstrdup(buf);
			return 0;
		}
		if (err == -EACCES)
			found_noexec = 1;
		if (!*end)
			break;
	}
	return found_noexec ? -EACCES : -ENOENT;
}

pid_t runner_spawn_gated(char *const argv[], int *gate_fd, int *err_fd)
{
	int gate[2], errp[2], e;
	pid_t pid;
	char c;

	if (pipe2(gate, O_CLOEXEC))
		return -errno;
	if (pipe2(errp, O_CLOEXEC)) {
		e = -errno;
		close(gate[0]);
		close(gate[1]);
		return e;
	}
	pid = fork();
	if (pid < 0) {
		e = -errno;
		close(gate[0]);
		close(gate[1]);
		close(errp[0]);
		close(errp[1]);
		return e;
	}
	if (pid == 0) {
		close(gate[1]);
		close(errp[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		/* anything but the go byte (the profiler died) means do not run */
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		if (c != 'g')
			_exit(125);
		execvp(argv[0], argv);
		e = errno;
		if (write(errp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(e == ENOENT ? 127 : 126);
	}
	close(gate[0]);
	close(errp[1]);
	*gate_fd = gate[1];
	*err_fd = errp[0];
	return pid;
}

int runner_release(int gate_fd, int err_fd)
{
	int e = 0;
	ssize_t n;

	n = write(gate_fd, "g", 1);
	close(gate_fd);
	if (n != 1) {
		close(err_fd);
		return -EPIPE;
	}
	do
		n = read(err_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(err_fd);
	return n == sizeof(e) ? -e : 0;
}

int runner_check_pid(uint32_t pid)
{
	char path[32];

	if (pid == 0 || pid > INT_MAX)
		return -ESRCH;
	if (kill((pid_t)pid, 0) && errno == ESRCH)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	if (access(path, R_OK))
		return -errno;
	return 0;
}
