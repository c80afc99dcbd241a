// SPDX-License-Identifier: MIT
/* The engine: collectors started, drained from the event loop, and the
 * live profile cut into windows; see engine.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include "collect/cpu.h"
#include "engine.h"
#include "log.h"
#include "unwind/unwind.h"
#include "util.h"

static bool has_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &h, d))
		return false;
	/* CAP_BPF (39) and CAP_PERFMON (38) live in the second word */
	return (d[1].effective & (1u << (39 - 32))) && (d[1].effective & (1u << (38 - 32)));
}

int engine__preflight(struct ap_session *ses, const char *cmd)
{
	if (!has_caps()) {
		ap_err("%s%sneeds root, or CAP_BPF and CAP_PERFMON (try: sudo autoprof-bpf %s)",
		       cmd ? cmd : "", cmd ? ": " : "", cmd ? cmd : "...");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		ap_err("this kernel has no BTF (/sys/kernel/btf/vmlinux): build it with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	ses->ks = kallsyms__load("/proc/kallsyms");
	if (!ses->ks)
		ap_warn("kernel symbols unavailable (/proc/kallsyms: %s): kernel frames stay [unknown]",
			ap_errstr(-errno));
	return 0;
}

int engine__start(struct ap_session *ses)
{
	int err;

	if (!ses->prof.nr_strs) { /* profile__init interns "" as id 0 */
		profile__init(&ses->prof);
		ses->prof.frequency_hz = ses->opts.freq;
	}
	if (!ses->pm.unwind_free)
		ses->pm.unwind_free = unwind_image_free;
	if (!ses->nr_cpus)
		ses->nr_cpus = libbpf_num_possible_cpus();
	if (!ses->cpu) {
		ses->cpu = cpu_collector__open(ses);
		if (!ses->cpu)
			return -errno ? -errno : -EINVAL;
	}
	err = cpu_collector__attach(ses->cpu);
	if (err)
		return err;
	ses->start_mono = ses->win_start_mono = now_mono_ns();
	ses->start_real = ses->win_start_real = now_real_ns();
	ses->engine_stopped = false;
	return 0;
}

static int on_cpu_ready(struct ap_loop *l, void *ctx)
{
	struct ap_session *ses = ctx;
	int err = cpu_collector__poll(ses->cpu, 0);

	if (err)
		ap_err("cpu: polling samples: %s", ap_errstr(err));
	return err;
}

static int cpu_timeout(void *ctx)
{
	struct ap_session *ses = ctx;

	return cpu_collector__timeout_ms(ses->cpu);
}

int engine__add_sources(struct ap_session *ses, struct ap_loop *l)
{
	if (!ses->cpu)
		return -EINVAL;
	return ap_loop__add_fd(l, cpu_collector__fd(ses->cpu), on_cpu_ready, cpu_timeout, ses);
}

int engine__drain(struct ap_session *ses)
{
	return ses->cpu ? cpu_collector__poll(ses->cpu, 0) : 0;
}

int engine__flush(struct ap_session *ses, uint64_t now)
{
	int err = engine__drain(ses);

	if (ses->cpu && !ses->engine_stopped)
		cpu_collector__drain(ses->cpu, now);
	return err;
}

/* name the processes seen in the window, from the process model while it
 * still knows them, else from one of their threads */
static void name_processes(struct ap_session *ses)
{
	struct profile *p = &ses->prof;
	size_t i;

	for (i = 0; i < p->nr_procs; i++) {
		struct ap_process *pr = &p->procs[i];
		const struct ap_proc *pp = procmaps__find(&ses->pm, pr->pid);

		if (pp) {
			pr->ppid = pp->ppid;
			pr->comm = profile__str(p, pp->comm);
			pr->exe = profile__str(p, pp->exe);
			pr->cmdline = profile__str(p, pp->cmdline);
			pr->exited = pr->exited || pp->exited;
			if (pp->labels) { /* read at its first sample (process/labels.h) */
				pr->cgroup = profile__str(p, pp->labels->cgroup);
				pr->container_id = profile__str(p, pp->labels->container_id);
				pr->service = profile__str(p, pp->labels->service);
				pr->runtime = profile__str(p, pp->labels->runtime);
				pr->build_id = profile__str(p, pp->labels->build_id);
			}
		}
	}
	/* the main thread's name, else any thread's */
	for (i = 0; i < p->nr_threads; i++) {
		struct ap_process *pr = &p->procs[p->threads[i].proc];

		if (!pr->comm && p->threads[i].tid == pr->pid)
			pr->comm = p->threads[i].comm;
	}
	for (i = 0; i < p->nr_threads; i++) {
		struct ap_process *pr = &p->procs[p->threads[i].proc];

		if (!pr->comm)
			pr->comm = p->threads[i].comm;
	}
}

/* what the purges of this window evicted */
static void eviction_counters(struct ap_session *ses)
{
	struct profile *p = &ses->prof;

	profile__set_counter(p, "profile_purges", p->evicted.purges);
	profile__set_counter(p, "profile_stacks_evicted", p->evicted.stacks);
	profile__set_counter(p, "profile_frames_evicted", p->evicted.frames);
	profile__set_counter(p, "profile_modules_evicted", p->evicted.modules);
	profile__set_counter(p, "profile_strings_evicted", p->evicted.strs);
	memset(&p->evicted, 0, sizeof(p->evicted));
	profile__set_counter(p, "python_code_objects_evicted", ses->evicted.py_codes);
	profile__set_counter(p, "offcpu_stack_ids_evicted", ses->evicted.off_stacks);
	profile__set_counter(p, "frame_id_cache_evicted", ses->evicted.cache_entries);
	profile__set_counter(p, "process_exits_missed", ses->evicted.exits_missed);
	memset(&ses->evicted, 0, sizeof(ses->evicted));
}

/* processes released before this window named them: gone from the model
 * (counted per window in processes_forgotten) */
static void forget_processes(struct ap_session *ses, struct profile *win)
{
	uint64_t n = procmaps__forget_released(&ses->pm);

	session__prune_untracked(ses); /* --all: the released pids too */

	if (ses->purge_ns)
		profile__set_counter(win, "processes_forgotten", n);
}

int engine__window(struct ap_session *ses, uint64_t now, struct profile *win)
{
	int err = 0;

	if (ses->cpu) {
		if (!ses->engine_stopped) { /* else engine__stop drained it all */
			err = cpu_collector__poll(ses->cpu, 0);
			cpu_collector__drain(ses->cpu, now);
		}
		cpu_collector__counters(ses->cpu);
	}
	name_processes(ses);
	if (ses->purge_ns)
		eviction_counters(ses);
	ses->prof.start_mono_ns = ses->win_start_mono;
	ses->prof.duration_s = now > ses->win_start_mono ? (now - ses->win_start_mono) / 1e9 : 0;
	profile__take_window(&ses->prof, win);
	forget_processes(ses, win);
	ses->win_start_mono = now;
	ses->win_start_real = now_real_ns();
	ses->nr_windows++;
	return err;
}

void engine__purge(struct ap_session *ses)
{
	struct profile_remap rm;

	const struct profile_caps *caps = ses->caps.stacks ? &ses->caps : NULL;

	/* the kernel's aggregates first: rows of processes gone name their
	 * stacks through the caches dropped below */
	engine__flush(ses, now_mono_ns());
	profile__purge(&ses->prof, caps, &rm);
	if (rm.moved && ses->cpu)
		cpu_collector__remap(ses->cpu, &rm);
	profile_remap__free(&rm);
	if (ses->cpu)
		cpu_collector__purge(ses->cpu, &ses->evicted);
}

int engine__test_env(struct ap_session *ses)
{
	const char *ms = getenv("AP_TEST_PURGE_MS"), *caps = getenv("AP_TEST_PROFILE_CAPS");
	const char *flush = getenv("AP_TEST_FLUSH_MS");
	unsigned long long a, b, c;
	long v;

	if (ms) {
		if (parse_long(ms, 1, 3600000, &v))
			return -EINVAL;
		ses->purge_ns = v * 1000000ull;
	}
	if (flush) {
		if (parse_long(flush, 1, 3600000, &v))
			return -EINVAL;
		ses->flush_ns = v * 1000000ull;
	}
	if (caps) {
		if (sscanf(caps, "%llu,%llu,%llu", &a, &b, &c) != 3 || !a || !b || !c)
			return -EINVAL;
		ses->caps = (struct profile_caps){ a, b, c };
	}
	return 0;
}

void engine__stop(struct ap_session *ses)
{
	if (!ses->cpu || ses->engine_stopped)
		return;
	ses->end_mono = now_mono_ns();
	ses->end_real = now_real_ns();
	cpu_collector__stop(ses->cpu);
	cpu_collector__drain(ses->cpu, ses->end_mono);
	ses->engine_stopped = true;
}
