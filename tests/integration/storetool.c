// SPDX-License-Identifier: MIT
/* A driver of the agent's store (src/sink/store.c) for the integration
 * tests, on real file systems (a full tmpfs, a SIGKILL mid-window):
 *   storetool DIR MAX_BYTES N SIZE   write N windows of one SIZE-byte file
 *   storetool DIR MAX_BYTES hold     begin a window, write a file, wait
 * prints the store's counters as one JSON line; exit 125 when the store
 * cannot be opened (its one line on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "sink/store.h"
#include "util.h"

static int write_blob(int dirfd, void *ctx)
{
	size_t n = *(size_t *)ctx;
	char *buf = xcalloc(1, n ? n : 1);
	int err = write_file_atomic_at(dirfd, "run.json", buf, n);

	free(buf);
	return err;
}

int main(int argc, char **argv)
{
	struct ap_store_stats st;
	struct ap_store *s;
	long max, n, size, i;
	uint64_t t0 = now_real_ns();
	int dirfd;
	size_t sz;

	if (argc != 5 && !(argc == 4 && !strcmp(argv[3], "hold"))) {
		fprintf(stderr, "usage: storetool DIR MAX_BYTES N SIZE | DIR MAX_BYTES hold\n");
		return 2;
	}
	if (parse_long(argv[2], 0, 1L << 40, &max))
		return 2;
	if (ap_store__open(argv[1], max, &s))
		return 125;
	if (argc == 4) {
		sz = 4096;
		if (ap_store__begin(s, t0, &dirfd) || write_blob(dirfd, &sz))
			return 1;
		printf("held\n");
		fflush(stdout);
		pause();
		return 0;
	}
	if (parse_long(argv[3], 0, 100000, &n) || parse_long(argv[4], 0, 1L << 30, &size))
		return 2;
	sz = size;
	for (i = 0; i < n; i++)
		ap_store__write_window(s, t0 + i * 1000000000ull, write_blob, &sz);
	ap_store__stats(s, &st);
	printf("{\"windows\":%llu,\"bytes\":%llu,\"committed\":%llu,\"evicted\":%llu,"
	       "\"dropped\":%llu,\"enospc\":%llu,\"temp_removed\":%llu}\n",
	       (unsigned long long)st.windows, (unsigned long long)st.bytes,
	       (unsigned long long)st.committed, (unsigned long long)st.evicted,
	       (unsigned long long)st.dropped, (unsigned long long)st.enospc,
	       (unsigned long long)st.temp_removed);
	ap_store__close(s);
	return 0;
}
