// SPDX-License-Identifier: MIT
/* Many threads that each spin a little and then sleep in a syscall, over and
 * over: the shape of an idle worker pool. Every thread makes slow calls, off-CPU
 * intervals and scheduler switches, so what the profiler keeps per thread and
 * per event shows in its output size and its time after the target's exit.
 * Usage: manythreads THREADS SECONDS [SLEEP_MS (default 20)] */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;
static double secs = 1.0;
static long sleep_ms = 20;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline, noclone)) void pool_work(void)
{
	for (int i = 0; i < 20000; i++)
		sink += i;
}

__attribute__((noinline, noclone)) void pool_wait(void)
{
	struct timespec ts = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void *worker(void *arg)
{
	double end = now() + secs;

	while (now() < end) {
		pool_work();
		pool_wait();
	}
	return arg;
}

static long arg(const char *s, long lo, long hi)
{
	char *e;
	long v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < lo || v > hi) {
		fprintf(stderr, "manythreads: bad number '%s' (%ld-%ld)\n", s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long n, i;
	pthread_t *t;

	if (argc < 3) {
		fprintf(stderr, "usage: manythreads THREADS SECONDS [SLEEP_MS]\n");
		return 2;
	}
	n = arg(argv[1], 1, 4096);
	secs = arg(argv[2], 0, 3600);
	if (argc > 3)
		sleep_ms = arg(argv[3], 0, 100000);
	t = calloc(n, sizeof(*t));
	if (!t)
		return 1;
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, NULL)) {
			fprintf(stderr, "manythreads: pthread_create failed after %ld threads\n", i);
			return 1;
		}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
	return 0;
}
