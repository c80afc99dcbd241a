// SPDX-License-Identifier: MIT
/* Two threads with their own call chains plus a main thread that waits:
 * samples must name each thread's function and unwind through
 * start_thread/clone3. Usage: threads SECONDS (of CPU time per thread, so
 * the samples each gets do not depend on the machine's load) */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;
static double secs = 1.0;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline, noclone)) void spin_one(void)
{
	double end = now() + secs;

	while (now() < end)
		for (int i = 0; i < 10000; i++)
			sink += i;
}

__attribute__((noinline, noclone)) void spin_two(void)
{
	double end = now() + secs;

	while (now() < end)
		for (int i = 0; i < 10000; i++)
			sink ^= i;
}

static void *worker_one(void *arg)
{
	spin_one();
	sink++;
	return arg;
}

static void *worker_two(void *arg)
{
	spin_two();
	sink++;
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t a, b;

	if (argc > 1)
		secs = atof(argv[1]);
	pthread_create(&a, NULL, worker_one, NULL);
	pthread_create(&b, NULL, worker_two, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}
