// SPDX-License-Identifier: MIT
/* Memory truth workload (issue 18): grow_heap() mallocs and writes MIB MiB
 * in 1 MiB blocks and keeps them; map_transient() maps 8 MiB, writes it and
 * unmaps it; brk_grow() writes 2 MiB of small blocks from the heap (brk).
 * The memory profile must put most of the fault bytes under grow_heap, and
 * see the mappings. Usage: memwork [MIB] (default 100) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1 << 20)

__attribute__((noinline)) static char **grow_heap(int mib)
{
	char **keep = malloc(mib * sizeof(*keep));

	for (int i = 0; keep && i < mib; i++) {
		keep[i] = malloc(MIB);
		if (keep[i])
			memset(keep[i], i + 1, MIB);
	}
	return keep;
}

__attribute__((noinline)) static long map_transient(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long sum;

	if (p == MAP_FAILED)
		return -1;
	memset(p, 7, bytes);
	sum = p[bytes / 2];
	munmap(p, bytes);
	return sum;
}

__attribute__((noinline)) static long brk_grow(size_t bytes)
{
	long sum = 0;

	for (size_t done = 0; done < bytes; done += 4096) {
		char *b = malloc(4000); /* under the mmap threshold: from the heap */

		if (!b)
			break;
		memset(b, 3, 4000);
		sum += b[100];
	}
	return sum;
}

int main(int argc, char **argv)
{
	int mib = argc > 1 ? atoi(argv[1]) : 100;
	char **keep = grow_heap(mib);
	long sum = map_transient(8 * MIB) + brk_grow(2 * MIB);

	if (!keep)
		return 1;
	for (int i = 0; i < mib; i++)
		sum += keep[i] ? keep[i][i] : 0;
	printf("%d MiB kept (%ld)\n", mib, sum);
	return 0;
}
