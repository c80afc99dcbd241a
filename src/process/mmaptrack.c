// SPDX-License-Identifier: MIT
/* perf side-band tracking through libbpf's perf_buffer__new_raw(): it opens
 * the dummy event on every online CPU, mmaps the rings and hands us each
 * raw record. Records are buffered, sorted by time and applied. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/sysmacros.h>
#include "process/mmaptrack.h"
#include "log.h"
#include "util.h"

struct mmaptrack {
	struct procmaps *pm;
	struct perf_buffer *pb;
	int map_fd;
	mmaptrack_filter_fn filter;
	void *ctx;
	struct pending {
		uint64_t time;
		struct perf_event_header *rec;
	} *pend;
	size_t nr_pend, cap;
};

struct rec_task {            /* PERF_RECORD_FORK / EXIT */
	struct perf_event_header h;
	uint32_t pid, ppid, tid, ptid;
	uint64_t time;
};

struct rec_mmap2 {           /* PERF_RECORD_MMAP2 */
	struct perf_event_header h;
	uint32_t pid, tid;
	uint64_t addr, len, pgoff;
	uint32_t maj, min;
	uint64_t ino, ino_generation;
	uint32_t prot, flags;
	char filename[];
};

struct rec_comm {            /* PERF_RECORD_COMM */
	struct perf_event_header h;
	uint32_t pid, tid;
	char comm[];
};

/* with sample_id_all and sample_type == PERF_SAMPLE_TIME, every record ends
 * with its u64 time */
static uint64_t rec_time(const struct perf_event_header *h)
{
	uint64_t t;

	if (h->size < sizeof(*h) + 8)
		return 0;
	memcpy(&t, (const char *)h + h->size - 8, 8);
	return t;
}

#define MT_PAGES 128 /* per CPU */

static enum bpf_perf_event_ret on_record(void *ctx, int cpu, struct perf_event_header *h)
{
	struct mmaptrack *mt = ctx;

	switch (h->type) {
	case PERF_RECORD_MMAP2:
	case PERF_RECORD_COMM:
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		break;
	case PERF_RECORD_LOST:
		mt->pm->nr_lost_events += ((uint64_t *)(h + 1))[1];
		return LIBBPF_PERF_EVENT_CONT;
	default:
		return LIBBPF_PERF_EVENT_CONT;
	}
	GROW(mt->pend, mt->cap, mt->nr_pend + 1);
	mt->pend[mt->nr_pend].time = rec_time(h);
	mt->pend[mt->nr_pend].rec = xmalloc(h->size);
	memcpy(mt->pend[mt->nr_pend].rec, h, h->size);
	mt->nr_pend++;
	return LIBBPF_PERF_EVENT_CONT;
}

static int cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return x->time < y->time ? -1 : x->time > y->time;
}

static void apply(struct mmaptrack *mt, const struct perf_event_header *h, uint64_t time)
{
	const struct rec_mmap2 *m = (const void *)h;
	const struct rec_comm *c = (const void *)h;
	const struct rec_task *t = (const void *)h;
	struct ap_proc *p;

	switch (h->type) {
	case PERF_RECORD_MMAP2:
		if (!(m->prot & 4 /* PROT_EXEC */) || !mt->filter(m->pid, 0, mt->ctx))
			return;
		procmaps__mmap(mt->pm, m->pid, time, m->addr, m->len, m->pgoff,
			       makedev(m->maj, m->min), m->ino, m->filename);
		break;
	case PERF_RECORD_COMM:
		if (!(h->misc & PERF_RECORD_MISC_COMM_EXEC) || c->pid != c->tid ||
		    !mt->filter(c->pid, 0, mt->ctx))
			return;
		procmaps__exec(mt->pm, c->pid, time, c->comm);
		break;
	case PERF_RECORD_FORK:
		if (t->pid == t->ppid || !mt->filter(t->pid, t->ppid, mt->ctx))
			return; /* a new thread, or not ours */
		procmaps__fork(mt->pm, t->ppid, t->pid, t->time);
		break;
	case PERF_RECORD_EXIT:
		if (t->pid != t->tid)
			return;
		p = procmaps__find(mt->pm, t->pid);
		if (p && !p->exited && mt->pm->on_exit && mt->filter(t->pid, 0, mt->ctx))
			mt->pm->on_exit(mt->pm->hook_ctx, t->pid);
		if (p)
			p->exited = true;
		break;
	}
}

void mmaptrack__consume(struct mmaptrack *mt)
{
	size_t i;

	perf_buffer__consume(mt->pb);
	if (!mt->nr_pend)
		return;
	qsort(mt->pend, mt->nr_pend, sizeof(*mt->pend), cmp_pending);
	for (i = 0; i < mt->nr_pend; i++) {
		apply(mt, mt->pend[i].rec, mt->pend[i].time);
		free(mt->pend[i].rec);
	}
	mt->nr_pend = 0;
}

struct mmaptrack *mmaptrack__new(struct procmaps *pm, mmaptrack_filter_fn filter, void *ctx)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_DUMMY,
		.size = sizeof(attr),
		.sample_type = PERF_SAMPLE_TIME,
		.sample_id_all = 1,
		.mmap = 1,
		.mmap2 = 1,
		.comm = 1,
		.comm_exec = 1,
		.task = 1,
		/* timestamps on the clock of bpf_ktime_get_ns() */
		.use_clockid = 1,
		.clockid = CLOCK_MONOTONIC,
		/* wake the reader only when a quarter of the buffer is used:
		 * a wakeup per record (an mmap, an exec, a fork, an exit) was
		 * an interrupt in the target's context, ~12 per short command.
		 * The BPF exec record wakes the reader for what is urgent, a
		 * new interpreter (cpu.c: watch_exec); records are read before
		 * every ring buffer record in any case */
		.watermark = 1,
		.wakeup_watermark = MT_PAGES * 4096 / 4,
	};
	struct mmaptrack *mt = xcalloc(1, sizeof(*mt));
	int err, ncpu = libbpf_num_possible_cpus();

	mt->pm = pm;
	mt->filter = filter;
	mt->ctx = ctx;
	if (ncpu < 0) {
		err = ncpu;
		goto err_out;
	}
	mt->map_fd = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "ap_sideband", 4, 4, ncpu, NULL);
	if (mt->map_fd < 0) {
		err = -errno;
		ap_warn("mmaptrack: perf event array: %s", ap_errstr(err));
		goto err_out;
	}
	mt->pb = perf_buffer__new_raw(mt->map_fd, MT_PAGES, &attr, on_record, mt, NULL);
	if (!mt->pb) {
		err = -errno;
		ap_warn("mmaptrack: perf side-band events: %s", ap_errstr(err));
		goto err_out;
	}
	return mt;

err_out:
	mmaptrack__free(mt);
	errno = -err;
	return NULL;
}

int mmaptrack__epoll_fd(const struct mmaptrack *mt)
{
	return perf_buffer__epoll_fd(mt->pb);
}

void mmaptrack__free(struct mmaptrack *mt)
{
	size_t i;

	if (!mt)
		return;
	perf_buffer__free(mt->pb);
	if (mt->map_fd > 0)
		close(mt->map_fd);
	for (i = 0; i < mt->nr_pend; i++)
		free(mt->pend[i].rec);
	free(mt->pend);
	free(mt);
}

