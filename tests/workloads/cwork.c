// SPDX-License-Identifier: MIT
/* Known-truth CPU workload: main -> run_workload -> compute -> leaf_a/leaf_b,
 * leaf_a called three times for each leaf_b call, both leaves the same cost,
 * so 75% / 25% by design. Built -O2 -fomit-frame-pointer: unwinding it needs
 * CFI. Usage: cwork SECONDS [EXIT_CODE]   (runs until it has had SECONDS of
 *                                        CPU time: its wall time when the
 *                                        machine is idle, longer when it is
 *                                        loaded, so the samples it gets do not
 *                                        depend on the load)
 *        cwork -n ROUNDS                (fixed work, for benchmarks) */
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile unsigned long sink;

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* distinct constants keep identical-code folding from merging the leaves */
__attribute__((noinline, noclone)) unsigned long leaf_a(unsigned long n)
{
	unsigned long x = 1;

	for (unsigned long i = 0; i < n; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	return x;
}

__attribute__((noinline, noclone)) unsigned long leaf_b(unsigned long n)
{
	unsigned long x = 3;

	for (unsigned long i = 0; i < n; i++)
		x = x * 2862933555777941757ul + 3037000493ul;
	return x;
}

/* results are used after each call so none of them becomes a tail call */
__attribute__((noinline, noclone)) unsigned long compute(int k)
{
	unsigned long r = (k % 4 == 3) ? leaf_b(200000) : leaf_a(200000);

	sink += r;
	return r ^ k;
}

__attribute__((noinline, noclone)) unsigned long run_workload(double seconds, long rounds)
{
	double end = cpu_now() + seconds;
	unsigned long acc = 0;
	int k = 0, r = 0;

	/* reading a CPU-time clock is a syscall: once every 16 calls */
	do {
		for (int j = 0; j < 4; j++)
			acc += compute(k++);
	} while (rounds ? --rounds > 0 : (++r % 4 || cpu_now() < end));
	sink += acc;
	return acc;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "-n")) {
		run_workload(0, atol(argv[2]));
		return 0;
	}
	run_workload(argc > 1 ? atof(argv[1]) : 2.0, 0);
	return argc > 2 ? atoi(argv[2]) : 0;
}
