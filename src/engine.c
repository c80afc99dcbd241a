// SPDX-License-Identifier: MIT
/* The engine: collectors started, drained from the event loop, and the
 * live profile cut into windows; see engine.h. */
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "collect/cpu.h"
#include "engine.h"
#include "log.h"
#include "unwind/unwind.h"
#include "util.h"

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
		}
	}
	for (i = 0; i < p->nr_threads; i++) {
		struct ap_process *pr = &p->procs[p->threads[i].proc];

		if (!pr->comm && (p->threads[i].tid == pr->pid || !pr->comm))
			pr->comm = p->threads[i].comm;
	}
}

int engine__window(struct ap_session *ses, uint64_t now, struct profile *win)
{
	int err = 0;

	if (ses->cpu) {
		if (!ses->engine_stopped)
			err = cpu_collector__poll(ses->cpu, 0);
		cpu_collector__end_window(ses->cpu);
		cpu_collector__counters(ses->cpu);
	}
	name_processes(ses);
	ses->prof.start_mono_ns = ses->win_start_mono;
	ses->prof.duration_s = now > ses->win_start_mono ? (now - ses->win_start_mono) / 1e9 : 0;
	profile__take_window(&ses->prof, win);
	ses->win_start_mono = now;
	ses->win_start_real = now_real_ns();
	ses->nr_windows++;
	return err;
}

void engine__purge(struct ap_session *ses)
{
	profile__purge(&ses->prof);
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
