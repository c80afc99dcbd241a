// SPDX-License-Identifier: MIT
/* Known allocations for --malloc (tests/integration/suite-malloc.sh) and
 * its cost per call.
 *
 * Usage: mallocwork truth    keep_live() mallocs LIVE_N x LIVE_SZ bytes and
 *                            keeps them; churn() mallocs and frees CHURN_N x
 *                            CHURN_SZ bytes; extra() calls calloc and realloc.
 *                            Prints its own call counts and bytes (one line).
 *        mallocwork bench N  N malloc(32)/free pairs; prints ns per pair.
 * Output goes through write(2), so stdio allocates nothing the counts miss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIVE_N 2048
#define LIVE_SZ 32000
#define CHURN_N 32768
#define CHURN_SZ 8000
#define EXTRA_N 1000

static void *volatile sink; /* the allocations escape: not elided */
static void *kept[LIVE_N];
static unsigned long n_malloc, n_calloc, n_realloc, n_free;

__attribute__((noinline)) static void keep_live(void)
{
	int i;

	for (i = 0; i < LIVE_N; i++) {
		kept[i] = malloc(LIVE_SZ);
		n_malloc++;
		sink = kept[i];
	}
}

__attribute__((noinline)) static void churn(void)
{
	int i;

	for (i = 0; i < CHURN_N; i++) {
		char *p = malloc(CHURN_SZ);

		n_malloc++;
		p[0] = 1;
		sink = p;
		free(p);
		n_free++;
	}
}

__attribute__((noinline)) static void extra(void)
{
	void *p = NULL;
	int i;

	for (i = 0; i < EXTRA_N; i++) {
		sink = calloc(10, 100);
		n_calloc++;
		free(sink);
		n_free++;
	}
	for (i = 1; i <= EXTRA_N; i++) {
		p = realloc(p, (size_t)i * 64);
		n_realloc++;
		sink = p;
	}
	free(p);
	n_free++;
}

static void say(const char *s)
{
	size_t n = strlen(s);

	if (write(1, s, n) != (ssize_t)n)
		exit(1);
}

int main(int argc, char **argv)
{
	char line[256];

	if (argc == 2 && !strcmp(argv[1], "truth")) {
		keep_live();
		churn();
		extra();
		snprintf(line, sizeof(line),
			 "malloc=%lu calloc=%lu realloc=%lu free=%lu live_bytes=%lu churn_bytes=%lu\n",
			 n_malloc, n_calloc, n_realloc, n_free, (unsigned long)LIVE_N * LIVE_SZ,
			 (unsigned long)CHURN_N * CHURN_SZ);
		say(line);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "bench")) {
		long n = atol(argv[2]), i;
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		for (i = 0; i < n; i++) {
			sink = malloc(32);
			free(sink);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		snprintf(line, sizeof(line), "pairs=%ld ns_per_pair=%.1f\n", n,
			 ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (n ? n : 1));
		say(line);
		return 0;
	}
	say("usage: mallocwork truth | bench N\n");
	return 2;
}
