// SPDX-License-Identifier: MIT
/* On-CPU collector: BPF lifecycle (open, size, load, attach), cpu-clock
 * perf events per CPU, and the sample path: ring buffer record -> mappings
 * of the sample's time -> libdw unwind -> symbols -> interned stack. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "shared.h"
#include "autoprof.skel.h"
#include "collect/cpu.h"
#include "collect/mmaptrack.h"
#include "log.h"
#include "unwind/unwind.h"
#include "util.h"

struct cpu_collector {
	struct ap_session *ses;
	struct autoprof_bpf *skel;
	struct ring_buffer *rb;
	struct mmaptrack *mt;
	struct bpf_link **links;
	int *pfds;
	int nr_links;
	struct bpf_link *fork_link;
	struct hmap ucache;         /* (symfile *, vaddr) -> frame id */
	struct hmap kcache;         /* kernel pc -> frame id */
	uint64_t received;          /* samples handled */
	uint64_t bad_records;
	uint64_t unwind_frames;
	uint64_t no_image;          /* samples of a process whose mappings we never saw */
	uint32_t *frames;           /* scratch: one stack */
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

static bool mt_filter(uint32_t pid, uint32_t ppid, void *ctx)
{
	return session__is_tracked(ctx, pid, ppid);
}

struct cpu_collector *cpu_collector__open(struct ap_session *ses)
{
	struct cpu_collector *cc = xcalloc(1, sizeof(*cc));
	int err;

	cc->ses = ses;
	cc->frames = xcalloc(AP_KSTACK_MAX + AP_MAX_UFRAMES, sizeof(*cc->frames));
	cc->skel = autoprof_bpf__open();
	if (!cc->skel) {
		err = -errno;
		ap_err("bpf: open: %s", ap_errstr(err));
		goto err_out;
	}
	cc->skel->rodata->ustack_limit = ses->opts.stack_size;
	cc->skel->rodata->follow_children = !ses->opts.no_children;
	bpf_map__set_max_entries(cc->skel->maps.scratch, ses->nr_cpus);
	bpf_map__set_max_entries(cc->skel->maps.samples, ses->opts.ringbuf_mb << 20);
	cc->skel->rodata->wakeup_bytes = (ses->opts.ringbuf_mb << 20) / 4;
	err = autoprof_bpf__load(cc->skel);
	if (err) {
		ap_err("bpf: loading the BPF programs failed: %s (run with -vv to see the verifier log)",
		       ap_errstr(err));
		goto err_out;
	}
	return cc;

err_out:
	cpu_collector__free(cc);
	errno = -err;
	return NULL;
}

int cpu_collector__track(struct cpu_collector *cc, uint32_t pid)
{
	__u8 one = 1;
	int err;

	if (bpf_map__update_elem(cc->skel->maps.tracked, &pid, sizeof(pid), &one, 1, BPF_ANY)) {
		err = -errno;
		ap_err("bpf: tracking pid %u: %s", pid, ap_errstr(err));
		return err;
	}
	session__track(cc->ses, pid);
	err = procmaps__load_proc(&cc->ses->pm, pid, 0);
	if (err)
		ap_warn("cpu: pid %u: reading its mappings: %s", pid, ap_errstr(err));
	return 0;
}

static int handle_sample(void *ctx, void *data, size_t size);

int cpu_collector__attach(struct cpu_collector *cc)
{
	struct ap_session *ses = cc->ses;
	int cpu, fd, err;

	/* side-band first: nothing mapped after this point is missed */
	cc->mt = mmaptrack__new(&ses->pm, mt_filter, ses);
	if (!cc->mt) {
		err = -errno;
		ap_err("cpu: cannot track process mappings: %s", ap_errstr(err));
		return err;
	}
	cc->rb = ring_buffer__new(bpf_map__fd(cc->skel->maps.samples), handle_sample, cc, NULL);
	if (!cc->rb) {
		err = -errno;
		ap_err("cpu: ring buffer: %s", ap_errstr(err));
		return err;
	}
	cc->fork_link = bpf_program__attach(cc->skel->progs.on_fork);
	if (!cc->fork_link) {
		err = -errno;
		ap_warn("proc: cannot attach sched_process_fork (%s): child processes will not be followed",
			ap_errstr(err));
	}
	cc->links = xcalloc(ses->nr_cpus, sizeof(*cc->links));
	cc->pfds = xcalloc(ses->nr_cpus, sizeof(*cc->pfds));
	for (cpu = 0; cpu < ses->nr_cpus; cpu++) {
		fd = perf_event_open_cpu_clock(cpu, ses->opts.freq);
		if (fd < 0) {
			err = -errno;
			if (err == -ENODEV) /* offline CPU */
				continue;
			ap_err("cpu: perf_event_open(cpu-clock) on cpu %d: %s", cpu, ap_errstr(err));
			return err;
		}
		cc->links[cc->nr_links] = bpf_program__attach_perf_event(cc->skel->progs.on_cpu_sample, fd);
		if (!cc->links[cc->nr_links]) {
			err = -errno;
			close(fd);
			ap_err("cpu: attach on cpu %d: %s", cpu, ap_errstr(err));
			return err;
		}
		cc->pfds[cc->nr_links++] = fd;
	}
	return 0;
}

static uint32_t kernel_frame(struct cpu_collector *cc, uint64_t pc)
{
	struct profile *p = &cc->ses->prof;
	const char *name = NULL, *mod = NULL;
	uint64_t *slot, off;
	bool is_new;
	uint32_t m = AP_NONE;

	slot = hmap_upsert(&cc->kcache, &pc, sizeof(pc), 0, &is_new);
	if (!is_new)
		return *slot;
	if (cc->ses->ks)
		name = kallsyms__lookup(cc->ses->ks, pc, &mod, &off);
	m = profile__module(p, mod ? mod : "[kernel.kallsyms]", "");
	*slot = profile__frame(p, AP_FRAME_KERNEL, name ? name : "[unknown]", m, name ? pc - off : 0);
	return *slot;
}

/* symbolize one user pc (already adjusted to lie inside its call instruction) */
static uint32_t user_frame(struct cpu_collector *cc, const struct ap_image *img, uint64_t pc)
{
	struct profile *p = &cc->ses->prof;
	const struct ap_mapping *m = img ? image__find(img, pc) : NULL;
	struct {
		const void *sf;
		uint64_t vaddr;
	} key;
	const char *name;
	uint64_t *slot, off, vaddr;
	bool is_new;
	uint32_t mod;

	if (!m)
		return profile__frame(p, AP_FRAME_USER, "[unknown]", AP_NONE, 0);
	if (!m->sf) {
		if (m->special) /* "[vdso]" */
			return profile__frame(p, AP_FRAME_USER, m->path, AP_NONE, 0);
		if (!m->path || m->path[0] != '/')
			return profile__frame(p, AP_FRAME_USER, "[anon]", AP_NONE, 0);
		mod = profile__module(p, m->path, "");
		return profile__frame(p, AP_FRAME_USER, "[unknown]", mod, 0);
	}
	vaddr = pc - m->bias;
	memset(&key, 0, sizeof(key));
	key.sf = m->sf;
	key.vaddr = vaddr;
	slot = hmap_upsert(&cc->ucache, &key, sizeof(key), 0, &is_new);
	if (!is_new)
		return *slot;
	mod = profile__module(p, m->sf->path, m->sf->build_id);
	name = symfile__lookup(m->sf, vaddr, &off);
	*slot = profile__frame(p, AP_FRAME_USER, name ? name : "[unknown]", mod, name ? vaddr - off : 0);
	return *slot;
}

static int handle_sample(void *ctx, void *data, size_t size)
{
	struct cpu_collector *cc = ctx;
	struct ap_session *ses = cc->ses;
	const struct ap_cpu_sample *s = data;
	uint64_t pcs[AP_MAX_UFRAMES];
	struct ap_image *img = NULL;
	struct ap_proc *proc;
	char comm[AP_COMM_LEN + 1];
	uint32_t n = 0, stack;
	int i, nu = 0;

	if (size < AP_CPU_SAMPLE_HDR || s->ustack_size > size - AP_CPU_SAMPLE_HDR ||
	    s->nr_kframes > AP_KSTACK_MAX) {
		cc->bad_records++;
		return 0;
	}
	cc->received++;
	/* mappings, execs and forks that happened before this sample */
	mmaptrack__consume(cc->mt);
	proc = procmaps__find(&ses->pm, s->tgid);
	if (!proc || !proc->nr_images) {
		/* a process we never saw start (e.g. forked before side-band
		 * tracking began): read it now while it lives */
		if (procmaps__load_proc(&ses->pm, s->tgid, 0) == 0)
			proc = procmaps__find(&ses->pm, s->tgid);
		else
			cc->no_image++;
	}
	if (proc) {
		img = proc__image_at(proc, s->time_ns);
		proc->nr_samples++;
	}
	if (!(s->flags & AP_SF_KERNEL_THREAD) && s->regs[16]) {
		struct ap_uctx uc = {
			.pid = s->tgid, .tid = s->tid, .regs = (const uint64_t *)s->regs,
			.stack = s->ustack, .stack_size = s->ustack_size,
		};

		nu = img ? unwind_user(img, &uc, pcs, AP_MAX_UFRAMES) : (pcs[0] = s->regs[16], 1);
		cc->unwind_frames += nu;
	}
	/* root first: user frames outermost..innermost, then kernel frames */
	for (i = nu - 1; i >= 0; i--)
		cc->frames[n++] = user_frame(cc, img, i ? pcs[i] - 1 : pcs[i]);
	for (i = s->nr_kframes - 1; i >= 0; i--)
		cc->frames[n++] = kernel_frame(cc, s->kstack[i]);
	stack = profile__stack(&ses->prof, cc->frames, n);
	memcpy(comm, s->comm, AP_COMM_LEN);
	comm[AP_COMM_LEN] = 0;
	profile__add(&ses->prof, s->tgid, s->tid, comm, stack, 1);
	return 0;
}

int cpu_collector__poll(struct cpu_collector *cc, int timeout_ms)
{
	/* the BPF side wakes us only when the buffer fills up (see
	 * wakeup_bytes); otherwise the timeout is the drain interval */
	int n = ring_buffer__poll(cc->rb, timeout_ms);

	if (n == -EINTR)
		n = 0;
	if (n >= 0)
		n = ring_buffer__consume(cc->rb);
	mmaptrack__consume(cc->mt);
	return n < 0 ? n : 0;
}

void cpu_collector__stop(struct cpu_collector *cc)
{
	int i;

	if (!cc)
		return;
	for (i = 0; i < cc->nr_links; i++) {
		bpf_link__destroy(cc->links[i]);
		close(cc->pfds[i]);
		cc->links[i] = NULL;
	}
	cc->nr_links = 0;
	bpf_link__destroy(cc->fork_link);
	cc->fork_link = NULL;
	if (cc->rb)
		ring_buffer__consume(cc->rb);
	if (cc->mt)
		mmaptrack__consume(cc->mt);
}

static uint64_t bpf_counter(struct cpu_collector *cc, enum ap_counter c)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t vals[ncpu > 0 ? ncpu : 1], sum = 0;
	uint32_t key = c;

	/* zeroed: the kernel fills it, but checkers such as valgrind cannot see that */
	memset(vals, 0, sizeof(vals));
	if (ncpu <= 0 || bpf_map__lookup_elem(cc->skel->maps.counters, &key, sizeof(key), vals,
					      sizeof(vals), 0))
		return 0;
	for (i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

uint64_t cpu_collector__samples(const struct cpu_collector *cc)
{
	return cc ? cc->received : 0;
}

uint64_t cpu_collector__drops(struct cpu_collector *cc)
{
	return cc ? bpf_counter(cc, AP_CNT_RINGBUF_FULL) : 0;
}

void cpu_collector__counters(struct cpu_collector *cc)
{
	struct profile *p = &cc->ses->prof;
	int c;

	for (c = 0; c < AP_CNT__COUNT; c++)
		profile__set_counter(p, ap_counter_names[c], bpf_counter(cc, c));
	profile__set_counter(p, "samples_received", cc->received);
	profile__set_counter(p, "malformed_records", cc->bad_records);
	profile__set_counter(p, "samples_without_mappings", cc->no_image);
	profile__set_counter(p, "sideband_lost", cc->ses->pm.nr_lost_events);
	profile__set_counter(p, "mmap_events", cc->ses->pm.nr_mmap_events);
}

void cpu_collector__free(struct cpu_collector *cc)
{
	if (!cc)
		return;
	cpu_collector__stop(cc);
	ring_buffer__free(cc->rb);
	mmaptrack__free(cc->mt);
	autoprof_bpf__destroy(cc->skel);
	hmap_free(&cc->ucache);
	hmap_free(&cc->kcache);
	free(cc->links);
	free(cc->pfds);
	free(cc->frames);
	free(cc);
}
