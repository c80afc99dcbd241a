// SPDX-License-Identifier: MIT
/* Python thread names of a live process, as the profiler reads them at the
 * end of a run (src/python/pythreads.c), without BPF:
 *   pythreadtool PID        prints "TID NAME" per thread, then "reads N ..."
 *   pythreadtool PID CODE   prints the first local's name of the code
 *                           object at address CODE (id(f.__code__))
 *   pythreadtool PID tasks  prints the suspended asyncio tasks (3.14+),
 *                           "NAME|WAITS|func file:line > ..." each
 * exit 0 with at least one name, 1 with none or an error (on stderr). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "python/pyproc.h"
#include "python/pythreads.h"
#include "util.h"

static void on_map(void *ctx, uint32_t pid, struct ap_image *img, const struct ap_mapping *m)
{
	struct ap_py_proc pp;
	struct py_refusal why;
	int minor;

	(void)ctx;
	(void)pid;
	if (img->py_minor || !m->sf || !m->sf->py_runtime)
		return;
	if (pyproc__detect(m, &pp, &minor, &why))
		return;
	img->py_minor = minor;
	img->py_sf = m->sf;
}

int main(int argc, char **argv)
{
	static struct py_thread_name names[AP_PYTHREADS_MAX];
	struct pythreads_stats st = { 0 };
	struct procmaps pm = { .on_map = on_map };
	struct ap_image *img;
	struct ap_proc *p;
	struct py_target tg;
	char arg0[64];
	uint32_t pid;
	int n, i, err;

	if (argc < 2 || argc > 3 || !(pid = strtoul(argv[1], NULL, 10))) {
		fprintf(stderr, "usage: pythreadtool PID [CODE]\n");
		return 2;
	}
	err = procmaps__load_proc(&pm, pid, 0);
	p = err ? NULL : procmaps__find(&pm, pid);
	img = p ? proc__image_at(p, UINT64_MAX) : NULL;
	if (pythreads__target(pid, img, &tg)) {
		fprintf(stderr, "pythreadtool: pid %u: no CPython 3.8-3.13 runtime found\n", pid);
		procmaps__free(&pm);
		return 1;
	}
	if (argc == 3 && !strcmp(argv[2], "tasks")) {
		static struct py_async_task at[AP_PYASYNC_TASKS];
		struct pyasync_stats ast = { 0 };
		uint32_t k;

		n = pythreads__async_tasks(&tg, at, AP_PYASYNC_TASKS, &ast);
		for (i = 0; i < n; i++) {
			printf("%s|%s|", at[i].name, at[i].waits);
			for (k = 0; k < at[i].depth; k++)
				printf("%s%s %s:%d", k ? " > " : "", at[i].chain[k].func,
				       at[i].chain[k].file, at[i].chain[k].line);
			printf("%s\n", at[i].cut ? " > ..." : "");
		}
		printf("reads %llu refused %llu capped %llu cut %llu failed %llu incomplete %llu\n",
		       (unsigned long long)ast.reads, (unsigned long long)ast.refused,
		       (unsigned long long)ast.capped, (unsigned long long)ast.cut,
		       (unsigned long long)ast.failed, (unsigned long long)ast.incomplete);
		if (n < 0)
			fprintf(stderr, "pythreadtool: pid %u: %s\n", pid, ap_errstr(n));
		procmaps__free(&pm);
		return n >= 0 ? 0 : 1;
	}
	if (argc == 3) {
		err = pythreads__first_local(&tg, strtoull(argv[2], NULL, 0), arg0, sizeof(arg0));
		if (err)
			fprintf(stderr, "pythreadtool: pid %u: %s\n", pid, ap_errstr(err));
		else
			printf("%s\n", arg0);
		procmaps__free(&pm);
		return err ? 1 : 0;
	}
	n = pythreads__read(&tg, names, AP_PYTHREADS_MAX, &st);
	for (i = 0; i < n; i++)
		printf("%u %s\n", names[i].tid, names[i].name);
	printf("reads %llu refused %llu\n", (unsigned long long)st.reads,
	       (unsigned long long)st.refused);
	if (n < 0)
		fprintf(stderr, "pythreadtool: pid %u: %s\n", pid, ap_errstr(n));
	procmaps__free(&pm);
	return n > 0 ? 0 : 1;
}
