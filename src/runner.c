// SPDX-License-Identifier: MIT
/* Launch with a gate: the child blocks on a pipe until every BPF program is
 * attached, so the first instructions of the target are sampled; a second,
 * close-on-exec pipe reports a failed exec or a failed switch to the
 * target's user. The target runs as the invoking user as `sudo -u` would run
 * it: its groups, its HOME, no capabilities. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "runner.h"
#include "util.h"

extern char **environ;

enum { STEP_EXEC, STEP_AMBIENT, STEP_SETGROUPS, STEP_SETRESGID, STEP_SETRESUID, STEP_CAPS,
       STEP_INHERITABLE };

const char *runner_cred_step(int step)
{
	static const char *const names[] = {
		[STEP_EXEC] = "exec",
		[STEP_AMBIENT] = "clearing ambient capabilities",
		[STEP_SETGROUPS] = "setgroups",
		[STEP_SETRESGID] = "setresgid",
		[STEP_SETRESUID] = "setresuid",
		[STEP_CAPS] = "capabilities left after the switch",
		[STEP_INHERITABLE] = "clearing inheritable capabilities",
	};

	return step >= 0 && step < (int)AP_ARRAY_SIZE(names) ? names[step] : "?";
}

static bool env_replaced(const char *e)
{
	static const char *const names[] = { "HOME=", "USER=", "LOGNAME=", "SHELL=" };
	size_t i;

	for (i = 0; i < AP_ARRAY_SIZE(names); i++)
		if (!strncmp(e, names[i], strlen(names[i])))
			return true;
	return false;
}

/* our environment as sudo left it, with the user's HOME, USER, LOGNAME, SHELL */
static char **user_env(const struct passwd *pw)
{
	size_t n = 0, i, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = xcalloc(n + 5, sizeof(*env));
	for (i = 0; i < n; i++)
		if (!env_replaced(environ[i]))
			env[k++] = xstrdup(environ[i]);
	if (pw) {
		env[k++] = xasprintf("HOME=%s", pw->pw_dir);
		env[k++] = xasprintf("USER=%s", pw->pw_name);
		env[k++] = xasprintf("LOGNAME=%s", pw->pw_name);
		env[k++] = xasprintf("SHELL=%s", pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh");
	}
	env[k] = NULL;
	return env;
}

int runner_cred_init(struct runner_cred *rc, uid_t uid, gid_t gid)
{
	struct passwd *pw;
	int n = 32, got;

	memset(rc, 0, sizeof(*rc));
	rc->uid = uid;
	rc->gid = gid;
	rc->drop = uid != geteuid() || gid != getegid();
	if (!rc->drop)
		return 0;
	errno = 0;
	pw = getpwuid(uid);
	if (!pw && errno && errno != ENOENT && errno != ESRCH)
		return -errno;
	if (!pw) { /* a uid without a passwd entry: its primary group alone */
		rc->groups = xmalloc(sizeof(*rc->groups));
		rc->groups[0] = gid;
		rc->nr_groups = 1;
	}
	while (pw) {
		rc->groups = xrealloc(rc->groups, n * sizeof(*rc->groups));
		got = n;
		if (getgrouplist(pw->pw_name, gid, rc->groups, &got) >= 0) {
			rc->nr_groups = got;
			break;
		}
		if (n >= 65536)
			return -E2BIG;
		n = got > n ? got : n * 2;
	}
	rc->envp = user_env(pw);
	return 0;
}

void runner_cred_free(struct runner_cred *rc)
{
	char **e;

	if (!rc)
		return;
	for (e = rc->envp; e && *e; e++)
		free(*e);
	free(rc->envp);
	free(rc->groups);
	memset(rc, 0, sizeof(*rc));
}

static bool caps_left(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return true;
	return d[0].effective | d[1].effective | d[0].permitted | d[1].permitted |
	       d[0].inheritable | d[1].inheritable;
}

/* the inheritable set survives the uid change and the exec; a file with
 * inheritable file capabilities would turn it back into permitted ones */
static int clear_inheritable(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[0].inheritable = d[1].inheritable = 0;
	return syscall(SYS_capset, &h, d);
}

/* In a child: become rc's user for good. 0, or the failed step with errno set.
 * Async-signal-safe calls only: the lookups were done before the fork. */
static int cred_apply(const struct runner_cred *rc)
{
	/* ambient capabilities would survive the exec of a non-root target */
	if (rc->uid != 0 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) &&
	    errno != EINVAL)
		return STEP_AMBIENT;
	if (rc->uid != 0 && clear_inheritable())
		return STEP_INHERITABLE;
	if (!rc->drop)
		return 0;
	if (setgroups(rc->nr_groups, rc->groups))
		return STEP_SETGROUPS;
	if (setresgid(rc->gid, rc->gid, rc->gid))
		return STEP_SETRESGID;
	if (setresuid(rc->uid, rc->uid, rc->uid))
		return STEP_SETRESUID;
	/* a uid change from root clears every capability unless securebits say
	 * otherwise; check rather than trust, and that root cannot come back */
	if (rc->uid != 0 && (caps_left() || setresuid(0, 0, 0) == 0)) {
		errno = EPERM;
		return STEP_CAPS;
	}
	return 0;
}

/* a directory on PATH the user may not enter holds nothing for it (as in
 * bash); a path given with a '/' that it may not reach cannot be executed */
static int check_exec(const char *path, bool searching)
{
	struct stat st;

	if (stat(path, &st))
		return errno == EACCES && !searching ? -EACCES : -ENOENT;
	if (S_ISDIR(st.st_mode) || access(path, X_OK))
		return -EACCES;
	return 0;
}

/* the search itself, with our real uid's permissions (access(2)) */
static int resolve_path(const char *argv0, char *buf, size_t len)
{
	const char *env = getenv("PATH"), *p, *end;
	int err, found_noexec = 0;

	if (!*argv0)
		return -ENOENT;
	if (strchr(argv0, '/')) {
		if (snprintf(buf, len, "%s", argv0) >= (int)len)
			return -ENAMETOOLONG;
		return check_exec(argv0, false);
	}
	for (p = env ? env : "/usr/local/bin:/usr/bin:/bin"; ; p = end + 1) {
		end = strchrnul(p, ':');
		snprintf(buf, len, "%.*s/%s", end == p ? 1 : (int)(end - p), end == p ? "." : p,
			 argv0);
		err = check_exec(buf, true);
		if (!err)
			return 0;
		if (err == -EACCES)
			found_noexec = 1;
		if (!*end)
			break;
	}
	return found_noexec ? -EACCES : -ENOENT;
}

struct resolve_answer {
	int err, step;
	char path[PATH_MAX];
};

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

int runner_resolve(const char *argv0, const struct runner_cred *rc, char **path, int *step)
{
	struct resolve_answer *a = xcalloc(1, sizeof(*a));
	int fds[2], err, status;
	pid_t pid;

	*step = 0;
	if (!rc->drop) {
		err = resolve_path(argv0, a->path, sizeof(a->path));
		goto out;
	}
	/* search as the user: a helper that switched to it, as the target will */
	if (pipe2(fds, O_CLOEXEC)) {
		err = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		goto out;
	}
	if (pid == 0) {
		close(fds[0]);
		a->step = cred_apply(rc);
		a->err = a->step ? -errno : resolve_path(argv0, a->path, sizeof(a->path));
		_exit(write(fds[1], a, sizeof(*a)) == sizeof(*a) ? 0 : 1);
	}
	close(fds[1]);
	err = read_full(fds[0], a, sizeof(*a));
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!err) {
		err = a->err;
		*step = a->step;
		a->path[sizeof(a->path) - 1] = 0;
	}
out:
	if (!err)
		*path = xstrdup(a->path);
	free(a);
	return err;
}

/* the soft RLIMIT_NOFILE we started with, restored in the target */
static struct rlimit nofile_orig;
static bool nofile_raised;

int runner_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= rl.rlim_max)
		return 0;
	nofile_orig = rl;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	nofile_raised = true;
	return 0;
}

static void report_child_error(int fd, int step, int e)
{
	int msg[2] = { step, e };

	if (write(fd, msg, sizeof(msg)) < 0)
		_exit(127);
}

pid_t runner_spawn_gated(char *const argv[], const char *path, const struct runner_cred *rc,
			 int *gate_fd, int *err_fd)
{
	int gate[2], errp[2], e, step, n;
	char **env = rc->envp ? rc->envp : environ;
	pid_t pid;
	char c = 0;

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
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL); /* ignored by the profiler only */
		/* anything but the go byte (the profiler died) means do not run */
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		if (c != 'g')
			_exit(125);
		/* the target gets the fd limit it would have had without us */
		if (nofile_raised)
			setrlimit(RLIMIT_NOFILE, &nofile_orig);
		/* never run as root by accident: a failed switch ends the child */
		step = cred_apply(rc);
		if (step) {
			report_child_error(errp[1], step, errno);
			_exit(125);
		}
		execve(path, argv, env);
		e = errno;
		if (e == ENOEXEC) { /* no #! line: a shell script, as execvp runs it */
			for (n = 0; argv[n]; n++)
				;
			char *sh[n + 2];

			sh[0] = "sh";
			sh[1] = (char *)path;
			memcpy(sh + 2, argv + 1, n * sizeof(*sh));
			execve("/bin/sh", sh, env);
		}
		report_child_error(errp[1], STEP_EXEC, e);
		_exit(e == ENOENT ? 127 : 126);
	}
	close(gate[0]);
	close(errp[1]);
	*gate_fd = gate[1];
	*err_fd = errp[0];
	return pid;
}

int runner_release(int gate_fd, int err_fd, int *step)
{
	int msg[2] = { 0, 0 };
	ssize_t n;

	*step = 0;
	n = write(gate_fd, "g", 1);
	close(gate_fd);
	if (n != 1) {
		close(err_fd);
		return -EPIPE;
	}
	do
		n = read(err_fd, msg, sizeof(msg));
	while (n < 0 && errno == EINTR);
	close(err_fd);
	if (n != sizeof(msg))
		return 0;
	*step = msg[0];
	return -msg[1];
}

int runner_pid_info(uint32_t pid, struct runner_pid_info *pi)
{
	char path[64], line[256], *rp;
	unsigned long flags = 0;
	bool have_tgid = false;
	FILE *f;
	int err;

	memset(pi, 0, sizeof(*pi));
	if (pid == 0 || pid > INT_MAX)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Name:\t", 6)) {
			snprintf(pi->comm, sizeof(pi->comm), "%.31s", line + 6);
			pi->comm[strcspn(pi->comm, "\n")] = 0;
		} else if (!strncmp(line, "State:\t", 7)) {
			pi->state = line[7];
		} else if (!strncmp(line, "Threads:\t", 9)) {
			pi->threads = strtoul(line + 9, NULL, 10);
		} else if (!strncmp(line, "Tgid:\t", 6)) {
			long v;

			line[strcspn(line, "\n")] = 0;
			have_tgid = !parse_long(line + 6, 1, INT_MAX, &v);
			pi->tgid = have_tgid ? v : 0;
		}
	}
	fclose(f);
	if (!have_tgid)
		return -ESRCH;
	/* the flags are field 9 of stat, counted after the ')' closing comm */
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	err = fgets(line, sizeof(line), f) ? 0 : -EIO;
	fclose(f);
	rp = err ? NULL : strrchr(line, ')');
	if (!rp || sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return -EIO;
	pi->kthread = flags & 0x00200000; /* PF_KTHREAD */
	return 0;
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

bool runner_pid_alive(uint32_t pid)
{
	struct runner_pid_info pi;

	if (runner_check_pid(pid))
		return false;
	/* a zombie answers kill(0) and has a (now empty) maps file, but nothing
	 * of it runs any more: its parent just has not reaped it */
	return runner_pid_info(pid, &pi) == 0 && !(pi.state == 'Z' && pi.threads <= 1);
}
