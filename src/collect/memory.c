// SPDX-License-Identifier: MIT
/* Memory collector (bpf/memory.bpf.c): page-fault samples with their
 * mixed stacks become AP_MEM_FAULT rows weighted in bytes; mmap, munmap,
 * brk and mremap become AP_MEM_MAP / AP_MEM_UNMAP rows, with the stack of
 * each large call the kernel sent, and the rest per process under an
 * empty stack. Each sample and stacked call also goes on the memory
 * timeline. A kernel that refuses the programs at load (core.c) or attach
 * costs only this collector: one warning, and the run goes on. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect/collect.h"
#include "collect/mapdrain.h"
#include "log.h"
#include "util.h"

#define MEM_TP_PROGS 2 /* on_mem_enter, on_mem_exit: without the syscall collector's */

struct memory {
	struct bpf_link **links;    /* one per online CPU */
	int *pfds;
	int nr_links;
	struct bpf_link *tp[MEM_TP_PROGS];
	struct bpf_link *thp;       /* on_rss_stat: optional */
	bool thp_tracked;           /* it was attached */
	uint64_t faults, maps;      /* records handled */
	bool failed;                /* refused at load or attach: the run goes on without */
};

static int perf_event_open_faults(int cpu)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_PAGE_FAULTS,
		.size = sizeof(attr),
		/* a fixed period (see fault_take() in bpf/memory.bpf.c for why
		 * not the frequency mode); the rate cap is the BPF side's */
		.sample_period = AP_MEM_FAULT_PERIOD,
	};

	return syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static struct bpf_program *tp_prog(struct autoprof_bpf *skel, int i)
{
	struct bpf_program *progs[MEM_TP_PROGS] = {
		skel->progs.on_mem_enter, skel->progs.on_mem_exit,
	};

	return progs[i];
}

static const char *const mem_progs[] = {
	"on_page_fault", "on_mem_enter", "on_mem_exit", "on_rss_stat",
};

bool collect_memory_prog(const struct cpu_collector *cc, const char *prog)
{
	size_t i;

	for (i = 0; i < AP_ARRAY_SIZE(mem_progs); i++)
		if (!strcmp(prog, mem_progs[i]))
			return true;
	/* they carry the mapping calls then (bpf/memmap.bpf.h): a refusal
	 * there may be those; if not, the load without them fails again
	 * and that is reported */
	return cc->skel->rodata->mem_in_sys &&
	       (!strcmp(prog, "on_sys_enter") || !strcmp(prog, "on_sys_exit"));
}

static int memory_configure(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;
	const struct ap_options *o = &cc->ses->opts;
	struct memory *m;
	bool in_sys;
	long rate;
	int i;

	c->enabled = !o->no_memory && !cc->mem_refused;
	c->priv = m = xcalloc(1, sizeof(struct memory));
	m->failed = !o->no_memory && cc->mem_refused; /* run.json: failed */
	bpf_program__set_autoload(cc->skel->progs.on_page_fault, c->enabled);
	/* the mapping calls: in the syscall collector's programs when they
	 * load (configured before this one), saving two program runs on
	 * every syscall; else in programs of our own */
	in_sys = c->enabled && cc->coll[AP_COLL_SYSCALLS].enabled;
	cc->skel->rodata->mem_in_sys = in_sys;
	for (i = 0; i < MEM_TP_PROGS; i++)
		bpf_program__set_autoload(tp_prog(cc->skel, i), c->enabled && !in_sys);
	bpf_program__set_autoload(cc->skel->progs.on_rss_stat, c->enabled && o->memory_thp);
	/* drained per window with lookup-and-delete (mapdrain.h) */
	map_drain_no_prealloc(cc->skel->maps.mem_maps);
	rate = o->memory_rate ? o->memory_rate : AP_MEM_RATE_DEFAULT;
	cc->skel->rodata->fault_sample_cost_ns = 1000000000ull / rate;
	cc->ses->prof.has_memory = c->enabled;
	/* over the rate a sample weighs the ones it stands for: each its own */
	cc->ses->prof.mem_period = 0;
	return 0;
}

static void memory_detach(struct ap_collector *c)
{
	struct memory *m = c->priv;
	int i;

	if (!m)
		return;
	for (i = 0; i < m->nr_links; i++) {
		bpf_link__destroy(m->links[i]);
		close(m->pfds[i]);
		m->links[i] = NULL;
	}
	m->nr_links = 0;
	/* BPF links on raw tracepoints: closing one does not wait for a
	 * grace period, as the perf event of a classic one did (bpf/memory.bpf.c) */
	for (i = 0; i < MEM_TP_PROGS; i++) {
		bpf_link__destroy(m->tp[i]);
		m->tp[i] = NULL;
	}
	bpf_link__destroy(m->thp);
	m->thp = NULL;
}

static int attach_faults(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;
	struct memory *m = c->priv;
	int nr_cpus = cc->ses->nr_cpus, cpu, fd, err;

	m->links = xcalloc(nr_cpus, sizeof(*m->links));
	m->pfds = xcalloc(nr_cpus, sizeof(*m->pfds));
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		fd = perf_event_open_faults(cpu);
		if (fd < 0) {
			err = -errno;
			if (err == -ENODEV) /* offline CPU */
				continue;
			ap_warn("memory: perf_event_open(page-faults) on cpu %d: %s; no memory profile",
				cpu, ap_errstr(err));
			return err;
		}
		m->links[m->nr_links] = bpf_program__attach_perf_event(cc->skel->progs.on_page_fault, fd);
		if (!m->links[m->nr_links]) {
			err = -errno;
			close(fd);
			ap_warn("memory: attaching the page-fault sampler on cpu %d: %s; no memory profile",
				cpu, ap_errstr(err));
			return err;
		}
		m->pfds[m->nr_links++] = fd;
	}
	return 0;
}

/* may a fault map a transparent huge page? Not when the kernel has none
 * or they are off ("[never]"): on_rss_stat, which runs on every change of
 * any process's anonymous RSS, is then not attached */
static bool thp_possible(void)
{
	char *text = read_file("/sys/kernel/mm/transparent_hugepage/enabled", NULL);
	bool on = text && !strstr(text, "[never]");

	free(text);
	return on;
}

static int memory_attach(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;
	struct memory *m = c->priv;
	struct bpf_program *prog;
	int i, err;

	err = attach_faults(c);
	for (i = 0; !err && i < MEM_TP_PROGS; i++) {
		prog = tp_prog(cc->skel, i);
		if (!bpf_program__autoload(prog)) /* the syscall collector's take the calls */
			continue;
		m->tp[i] = bpf_program__attach(prog);
		if (!m->tp[i]) {
			err = -errno;
			ap_warn("memory: attaching %s: %s; no memory profile",
				bpf_program__section_name(prog), ap_errstr(err));
		}
	}
	if (!err && cc->ses->opts.memory_thp && thp_possible()) {
		/* huge pages' weight (on_rss_stat): optional; without, each weighs one 4 KiB fault */
		m->thp = bpf_program__attach(cc->skel->progs.on_rss_stat);
		m->thp_tracked = m->thp != NULL;
		if (!m->thp)
			ap_warn("memory: attaching the huge-page probe (tp_btf/rss_stat): %s; "
				"a transparent huge page counts as 4 KiB",
				ap_errstr(-errno));
	}
	if (err) {
		/* one collector's loss, not the run's: run.json says so. The
		 * syscall collector's programs stay: they take no more calls */
		cc->skel->bss->mem_maps_off = true;
		memory_detach(c);
		m->failed = true;
		c->enabled = false;
		cc->ses->prof.has_memory = false;
	}
	return 0;
}

static int memory_on_record(struct ap_collector *c, uint32_t type, const void *data, size_t size)
{
	struct cpu_collector *cc = c->cc;
	struct memory *m = c->priv;
	const struct ap_cpu_sample *s = data;
	struct profile *p = &cc->ses->prof;
	struct ap_mem_time t;
	char comm[AP_COMM_LEN + 1];
	uint32_t stack, kind;

	if (size < AP_CPU_SAMPLE_HDR)
		return -EINVAL;
	if (type == AP_REC_MEM_FAULT) {
		kind = AP_MEM_FAULT;
	} else {
		if (s->aux[2] > AP_MAP_SHRINK)
			return -EINVAL;
		kind = s->aux[2] == AP_MAP_GROW ? AP_MEM_MAP : AP_MEM_UNMAP;
	}
	/* aux[] holds no asyncio task here: no collect_pytask_begin() */
	stack = collect_record_stack(cc, s, size, (const uint64_t *)s->kstack, s->nr_kframes);
	if (stack == AP_NONE)
		return 0; /* counted by collect_record_stack */
	if (kind == AP_MEM_FAULT)
		m->faults++;
	else
		m->maps++;
	memcpy(comm, s->comm, AP_COMM_LEN);
	comm[AP_COMM_LEN] = 0;
	profile__thread(p, s->tgid, s->tid, comm);
	profile__add_mem(p, s->tgid, s->tid, stack, kind, s->aux[0], 1);
	t = (struct ap_mem_time){ .t_ns = s->time_ns, .bytes = s->aux[0], .addr = s->aux[1],
				  .pid = s->tgid, .tid = s->tid, .stack = stack, .kind = kind };
	profile__add_mem_time(p, &t);
	return 0;
}

/* the calls counted without a stack: the process's row under an empty
 * stack (tid 0: the process as a whole) */
static void mem_map_row(const void *k, const void *v, void *ctx)
{
	const struct ap_mem_key *key = k;
	const struct ap_mem_val *val = v;
	struct profile *p = ctx;

	if (key->dir > AP_MAP_SHRINK || !val->count)
		return;
	profile__add_mem(p, key->tgid, 0, profile__stack(p, NULL, 0),
			 key->dir == AP_MAP_GROW ? AP_MEM_MAP : AP_MEM_UNMAP, val->bytes, val->count);
}

static void memory_flush(struct ap_collector *c, uint64_t end_ns, struct profile *into)
{
	map_drain(bpf_map__fd(c->cc->skel->maps.mem_maps), sizeof(struct ap_mem_key),
		  sizeof(struct ap_mem_val), mem_map_row, into);
}

static void memory_counters(struct ap_collector *c, struct profile *into)
{
	struct memory *m = c->priv;

	profile__set_counter(into, "memory_fault_samples_received", m ? m->faults : 0);
	profile__set_counter(into, "memory_map_records_received", m ? m->maps : 0);
	profile__set_counter(into, "memory_faults_missed_in_kernel",
			     collect_prog_misses(c->cc->skel->progs.on_page_fault));
	profile__set_counter(into, "memory_timeline_dropped", into->mem_times_dropped);
	profile__set_counter(into, "memory_failed", m && m->failed);
	profile__set_counter(into, "memory_thp_tracked", m && m->thp_tracked);
}

static void memory_free(struct ap_collector *c)
{
	struct memory *m = c->priv;

	if (!m)
		return;
	free(m->links);
	free(m->pfds);
	free(m);
	c->priv = NULL;
}

const struct ap_collector_ops memory_ops = {
	.name = "memory",
	.records = 1u << AP_REC_MEM_FAULT | 1u << AP_REC_MEM_MAP,
	.configure = memory_configure,
	.attach = memory_attach,
	.on_record = memory_on_record,
	.flush = memory_flush,
	.counters = memory_counters,
	.detach = memory_detach,
	.free = memory_free,
};
