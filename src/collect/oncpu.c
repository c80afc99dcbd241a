// SPDX-License-Identifier: MIT
/* On-CPU collector: a cpu-clock perf event on every CPU runs on_cpu_sample
 * (bpf/cpu.bpf.c); each AP_REC_SAMPLE record becomes one count of its
 * unwound, symbolized stack and a point of the thread's timeline. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "collect/collect.h"
#include "log.h"
#include "util.h"

struct oncpu {
	struct bpf_link **links;    /* one per online CPU */
	int *pfds;
	int nr_links;
	uint64_t received;          /* samples handled */
};

static int perf_event_open_cpu_clock(int cpu, long freq)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		/* a fixed period in ns is exact for cpu-clock; freq mode would
		 * make the kernel re-tune it */
		.sample_period = 1000000000ull / freq,
	};

	return syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int oncpu_configure(struct ap_collector *c)
{
	c->priv = xcalloc(1, sizeof(struct oncpu));
	c->enabled = true;
	return 0;
}

static int oncpu_attach(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;
	struct oncpu *o = c->priv;
	int nr_cpus = cc->ses->nr_cpus, cpu, fd, err;

	o->links = xcalloc(nr_cpus, sizeof(*o->links));
	o->pfds = xcalloc(nr_cpus, sizeof(*o->pfds));
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		fd = perf_event_open_cpu_clock(cpu, cc->ses->opts.freq);
		if (fd < 0) {
			err = -errno;
			if (err == -ENODEV) /* offline CPU */
				continue;
			ap_err("cpu: perf_event_open(cpu-clock) on cpu %d: %s", cpu, ap_errstr(err));
			return err;
		}
		o->links[o->nr_links] = bpf_program__attach_perf_event(cc->skel->progs.on_cpu_sample, fd);
		if (!o->links[o->nr_links]) {
			err = -errno;
			close(fd);
			ap_err("cpu: attach on cpu %d: %s", cpu, ap_errstr(err));
			return err;
		}
		o->pfds[o->nr_links++] = fd;
	}
	return 0;
}

/* AP_COUNT_* of a sample's AP_SPY_* flags */
static uint32_t count_flags(uint32_t py)
{
	return ((py & AP_SPY_GIL) ? AP_COUNT_GIL : 0) |
	       ((py & AP_SPY_STATE) ? AP_COUNT_PY_STATE : 0) |
	       ((py & AP_SPY_GC) ? AP_COUNT_GC : 0) |
	       ((py & AP_SPY_FINALIZING) ? AP_COUNT_FINALIZING : 0) |
	       ((py & AP_SPY_GIL_KNOWN) ? AP_COUNT_GIL_KNOWN : 0) |
	       ((py & AP_SPY_NOGIL) ? AP_COUNT_NOGIL : 0);
}

static int oncpu_on_record(struct ap_collector *c, uint32_t type, const void *data, size_t size)
{
	struct cpu_collector *cc = c->cc;
	struct oncpu *o = c->priv;
	const struct ap_cpu_sample *s = data;
	char comm[AP_COMM_LEN + 1];
	uint32_t stack;

	if (size >= AP_CPU_SAMPLE_HDR)
		collect_pytask_begin(cc, s); /* the task frame the splice puts in */
	stack = collect_record_stack(cc, s, size, (const uint64_t *)s->kstack, s->nr_kframes);
	cc->task_on = false; /* other records' stacks have none */
	if (stack == AP_NONE)
		return 0; /* counted by collect_record_stack */
	o->received++;
	memcpy(comm, s->comm, AP_COMM_LEN);
	comm[AP_COMM_LEN] = 0;
	profile__add(&cc->ses->prof, s->tgid, s->tid, comm, stack, count_flags(s->py_flags), 1);
	profile__add_time(&cc->ses->prof, s->tgid, s->tid, stack, s->time_ns);
	collect_pynames_seen(cc, s->tgid, s->tid);
	return 0;
}

static void oncpu_counters(struct ap_collector *c, struct profile *into)
{
	struct oncpu *o = c->priv;

	profile__set_counter(into, "samples_received", o ? o->received : 0);
	profile__set_counter(into, "samples_missed_in_kernel",
			     collect_prog_misses(c->cc->skel->progs.on_cpu_sample));
}

static void oncpu_detach(struct ap_collector *c)
{
	struct oncpu *o = c->priv;
	int i;

	if (!o)
		return;
	for (i = 0; i < o->nr_links; i++) {
		bpf_link__destroy(o->links[i]);
		close(o->pfds[i]);
		o->links[i] = NULL;
	}
	o->nr_links = 0;
}

static void oncpu_free(struct ap_collector *c)
{
	struct oncpu *o = c->priv;

	if (!o)
		return;
	free(o->links);
	free(o->pfds);
	free(o);
	c->priv = NULL;
}

uint64_t cpu_collector__samples(const struct cpu_collector *cc)
{
	const struct oncpu *o = cc ? cc->coll[AP_COLL_ONCPU].priv : NULL;

	return o ? o->received : 0;
}

const struct ap_collector_ops oncpu_ops = {
	.name = "oncpu",
	.records = 1u << AP_REC_SAMPLE,
	.configure = oncpu_configure,
	.attach = oncpu_attach,
	.on_record = oncpu_on_record,
	.counters = oncpu_counters,
	.detach = oncpu_detach,
	.free = oncpu_free,
};
