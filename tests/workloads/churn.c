// SPDX-License-Identifier: MIT
/* Process churn for the budgets (make soak, make bench, the CI soak test):
 * RATE short-lived processes a second start and exit, native and Python
 * alternately, each computing for 100-300 ms of wall time (so the rate
 * holds on a loaded machine: a child ends on time whatever CPU it got),
 * plus BUSY steady processes that spin until the end (native and Python
 * alternately), to keep the CPUs busy.
 *
 * Usage: churn [-r RATE] [-b BUSY] [-p PYTHON] [-s SCRIPT] SECONDS
 *   RATE    processes started per second (default 20, 1-1000)
 *   BUSY    steady spinning processes (default 2)
 *   PYTHON  interpreter (default /usr/bin/python3)
 *   SCRIPT  the Python child (default tests/workloads/py/churn.py)
 * Ends after SECONDS (0: until SIGTERM/SIGINT) and prints one line:
 * how many started, exited cleanly, failed, and were skipped because too
 * many were still running (at most 400 at once).
 *
 * Children re-execute this binary (/proc/self/exe) as `churn --child MS`
 * (native: main -> churn_native -> churn_leaf) or `churn --spin`, and the
 * Python script as `churn.py MS` or `churn.py spin`. Every child dies with
 * the driver (PR_SET_PDEATHSIG). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ALIVE 400
#define MAX_BUSY 64

volatile unsigned long sink;
static volatile sig_atomic_t stop;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline, noclone)) unsigned long churn_leaf(unsigned long n)
{
	unsigned long x = 7;

	for (unsigned long i = 0; i < n; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	return x;
}

/* computes until MS of wall time have passed (ms < 0: until killed) */
__attribute__((noinline, noclone)) void churn_native(long ms)
{
	double end = now_s() + ms / 1000.0;

	while (ms < 0 || now_s() < end)
		sink += churn_leaf(100000);
}

static pid_t busy[MAX_BUSY];
static long nbusy = 2, alive, exited, failed;

/* collect ended children: every one with flags 0, those ended with WNOHANG */
static void reap(int flags)
{
	pid_t pid;
	int status, i;

	while ((pid = waitpid(-1, &status, flags)) > 0 || (pid < 0 && errno == EINTR)) {
		if (pid < 0)
			continue;
		for (i = 0; i < nbusy && busy[i] != pid && busy[i] != -pid; i++)
			;
		if (i < nbusy) {
			/* a steady process that ended before the driver killed it */
			if (busy[i] > 0)
				failed++;
			busy[i] = 0;
			continue;
		}
		alive--;
		if (WIFEXITED(status) && !WEXITSTATUS(status))
			exited++;
		else
			failed++;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "churn: %s: not a number in %ld..%ld: '%s'\n", what, lo, hi, s);
		exit(2);
	}
	return v;
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	const char *python = "/usr/bin/python3", *script = "tests/workloads/py/churn.py";
	long rate = 20, seconds, started = 0, native = 0, py = 0, skipped = 0;
	char self[4096], msbuf[32];
	double t0, next;
	ssize_t n;
	int opt, i;

	if (argc == 3 && !strcmp(argv[1], "--child")) {
		churn_native(parse_long(argv[2], 0, 60000, "--child MS"));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--spin")) {
		churn_native(-1);
		return 0;
	}
	while ((opt = getopt(argc, argv, "r:b:p:s:")) != -1) {
		switch (opt) {
		case 'r': rate = parse_long(optarg, 1, 1000, "-r RATE"); break;
		case 'b': nbusy = parse_long(optarg, 0, MAX_BUSY, "-b BUSY"); break;
		case 'p': python = optarg; break;
		case 's': script = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	seconds = parse_long(argv[optind], 0, 86400, "SECONDS");
	if (access(python, X_OK) || access(script, R_OK)) {
		fprintf(stderr, "churn: %s or %s: %s\n", python, script, strerror(errno));
		return 2;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		perror("churn: /proc/self/exe");
		return 1;
	}
	self[n] = 0;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	srand(getpid());

	for (i = 0; i < nbusy; i++) {
		char *nv[] = { self, "--spin", NULL };
		char *pv[] = { (char *)python, (char *)script, "spin", NULL };

		busy[i] = spawn(i % 2 ? pv : nv);
	}
	t0 = next = now_s();
	while (!stop && (!seconds || now_s() - t0 < seconds)) {
		pid_t pid;

		reap(WNOHANG);
		if (alive >= MAX_ALIVE) {
			skipped++;
		} else {
			/* 100-300 ms of work */
			snprintf(msbuf, sizeof(msbuf), "%d", 100 + rand() % 201);
			char *nv[] = { self, "--child", msbuf, NULL };
			char *pv[] = { (char *)python, (char *)script, msbuf, NULL };

			bool is_py = started % 2;

			pid = spawn(is_py ? pv : nv);
			if (pid > 0) {
				alive++;
				started++;
				is_py ? py++ : native++;
			} else {
				failed++;
			}
		}
		next += 1.0 / rate;
		double d = next - now_s();

		if (d > 0) {
			struct timespec ts = { (time_t)d, (long)((d - (time_t)d) * 1e9) };

			nanosleep(&ts, NULL);
		} else if (d < -1.0) {
			next = now_s(); /* far behind (a stopped machine): do not burst */
		}
	}
	for (i = 0; i < nbusy; i++) {
		if (busy[i] > 0)
			kill(busy[i], SIGKILL);
		busy[i] = -busy[i]; /* killed by us: not a failure */
	}
	/* the short children end by themselves within 300 ms of their start
	 * (later on a loaded machine) */
	reap(0);
	printf("churn: %ld started (%ld native, %ld python) in %.1f s, %ld exited 0, %ld failed, "
	       "%ld skipped\n",
	       started, native, py, now_s() - t0, exited, failed, skipped);
	return failed ? 1 : 0;
usage:
	fprintf(stderr, "usage: churn [-r RATE] [-b BUSY] [-p PYTHON] [-s SCRIPT] SECONDS\n");
	return 2;
}
