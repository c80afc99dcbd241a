// SPDX-License-Identifier: MIT
/* The runner's checks that need no BPF: what /proc says about a -p id, the
 * credentials prepared for the target, the command search. (The switch of
 * user itself needs root: tests/integration/suite-runner.sh.) */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "runner.h"
#include "unit.h"

static pid_t thread_tid;
static int started[2], release[2]; /* thread -> test, test -> thread */

static void *thread_main(void *arg)
{
	char c;

	thread_tid = syscall(SYS_gettid);
	if (write(started[1], "r", 1) != 1 || read(release[0], &c, 1) != 1)
		return NULL;
	return arg;
}

TEST(runner_pid_info)
{
	struct runner_pid_info pi;
	pthread_t th;
	char c;

	ASSERT_EQ(runner_pid_info(getpid(), &pi), 0, "our own pid");
	ASSERT_EQ(pi.tgid, (uint32_t)getpid(), "a process is its own tgid");
	ASSERT_TRUE(!pi.kthread && pi.state != 'Z' && pi.threads >= 1, "a live user process");
	ASSERT_EQ(runner_pid_info(0, &pi), -ESRCH, "pid 0");
	ASSERT_EQ(runner_pid_info(0x7fffffff, &pi), -ESRCH, "no such pid");

	if (!ASSERT_EQ(pipe(started) | pipe(release), 0, "pipes") ||
	    !ASSERT_EQ(pthread_create(&th, NULL, thread_main, NULL), 0, "pthread_create"))
		return;
	ASSERT_EQ(read(started[0], &c, 1), 1, "thread started");
	ASSERT_EQ(runner_pid_info(thread_tid, &pi), 0, "a thread's id");
	ASSERT_EQ(pi.tgid, (uint32_t)getpid(), "a thread's id resolves to its process");
	ASSERT_TRUE(pi.threads >= 2, "two threads counted");
	ASSERT_EQ(write(release[1], "x", 1), 1, "release thread");
	pthread_join(th, NULL);
	close(started[0]);
	close(started[1]);
	close(release[0]);
	close(release[1]);
}

TEST(runner_cred)
{
	struct runner_cred rc;
	int i, homes = 0, has_gid = 0;

	ASSERT_EQ(runner_cred_init(&rc, geteuid(), getegid()), 0, "ourselves");
	ASSERT_TRUE(!rc.drop && !rc.envp, "no switch, our environment as is");
	runner_cred_free(&rc);

	ASSERT_EQ(runner_cred_init(&rc, 65534, 65534), 0, "another user");
	ASSERT_TRUE(rc.drop, "a switch");
	for (i = 0; i < rc.nr_groups; i++)
		has_gid += rc.groups[i] == 65534;
	ASSERT_TRUE(has_gid, "its primary group among its groups");
	for (i = 0; rc.envp && rc.envp[i]; i++)
		homes += !strncmp(rc.envp[i], "HOME=", 5);
	ASSERT_TRUE(homes <= 1, "one HOME at most");
	runner_cred_free(&rc);
	runner_cred_free(NULL);
}

TEST(runner_resolve_self)
{
	struct runner_cred rc;
	char *path = NULL;
	int step;

	runner_cred_init(&rc, geteuid(), getegid());
	ASSERT_EQ(runner_resolve("sh", &rc, &path, &step), 0, "sh on PATH");
	ASSERT_TRUE(path && strlen(path) > 3 && !strcmp(path + strlen(path) - 3, "/sh"),
		    "a path to sh");
	free(path);
	path = NULL;
	ASSERT_EQ(runner_resolve("no-such-command-ap", &rc, &path, &step), -ENOENT, "not found");
	ASSERT_EQ(runner_resolve("/etc/passwd", &rc, &path, &step), -EACCES, "not executable");
	ASSERT_EQ(runner_resolve("/", &rc, &path, &step), -EACCES, "a directory");
	ASSERT_EQ(runner_resolve("", &rc, &path, &step), -ENOENT, "empty");
	ASSERT_TRUE(path == NULL, "no path on failure");
	runner_cred_free(&rc);
}
