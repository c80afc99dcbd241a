// SPDX-License-Identifier: MIT
/* Process lifecycle collector: children followed at fork (on_fork), the
 * command line at exec (on_exec), a thread's scheduler accounting at its
 * exit (on_thread_exit) and, for threads alive at the end, from the
 * dump_threads iterator; exited processes are released once their
 * in-flight records are drained. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect/collect.h"
#include "log.h"
#include "util.h"

struct proclife {
	struct exiting {            /* processes that exited, in the order seen */
		uint32_t pid;
		uint64_t seen_ns;
	} *exiting;
	size_t nr_exiting, cap_exiting;
	/* what the last flush reported of each live thread, so the next one
	 * reports what came since (the kernel's totals only grow); entries go
	 * at the thread's exit record or when a flush no longer sees it */
	struct thread_last {
		uint32_t tid;
		uint16_t exited;        /* its exit record came */
		uint16_t unseen;        /* flushes since the iterator last listed it */
		uint64_t start_ns;
		uint64_t oncpu_ns, off_ns[AP_OFF__COUNT], nr_vol, nr_invol;
	} *last;
	size_t nr_last, cap_last;
	struct hmap last_ids;       /* (tid, start_ns) -> index in last */
};

static int proclife_configure(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;
	const struct ap_options *o = &cc->ses->opts;

	c->priv = xcalloc(1, sizeof(struct proclife));
	c->enabled = true;
	cc->skel->rodata->follow_children = !cc->ses->opts.no_children;
	/* system-wide with a --comm filter: judged again at exec */
	bpf_program__set_autoload(cc->skel->progs.on_exec_refilter,
				  o->all && (!o->no_offcpu || !o->no_syscalls) &&
				  (o->filter.nr_kind[AP_FILTER_COMM][0] ||
				   o->filter.nr_kind[AP_FILTER_COMM][1]));
	return 0;
}

static int proclife_attach(struct ap_collector *c)
{
	struct cpu_collector *cc = c->cc;
	struct bpf_link *l = bpf_program__attach(cc->skel->progs.on_fork);
	int err;

	if (!l) {
		err = -errno;
		ap_warn("proc: cannot attach sched_process_fork (%s): child processes will not be followed",
			ap_errstr(err));
	} else {
		c->links[c->nr_links++] = l;
	}
	err = collect_attach_prog(c, cc->skel->progs.on_thread_exit);
	if (!err)
		err = collect_attach_prog(c, cc->skel->progs.on_exec);
	if (!err)
		err = collect_attach_prog(c, cc->skel->progs.on_exec_refilter);
	return err;
}

static uint64_t since(uint64_t now, uint64_t before)
{
	return now > before ? now - before : 0;
}

static void thread_since(struct ap_thread_stat *st, const struct thread_last *l)
{
	int r;

	st->oncpu_ns = since(st->oncpu_ns, l->oncpu_ns);
	for (r = 0; r < AP_OFF__COUNT; r++)
		st->off_ns[r] = since(st->off_ns[r], l->off_ns[r]);
	st->nr_vol = since(st->nr_vol, l->nr_vol);
	st->nr_invol = since(st->nr_invol, l->nr_invol);
}

/* st's totals less what the last flush reported of the thread (nothing for
 * a thread not seen before); remembered for the next, or forgotten at its
 * exit */
static void thread_delta(struct proclife *pl, struct ap_thread_stat *st, bool exited)
{
	struct { uint32_t tid, pad; uint64_t start; } key = { st->tid, 0, st->start_ns };
	struct thread_last *l;
	bool is_new;
	uint64_t *id, i;
	struct thread_last now = { .tid = st->tid, .exited = exited, .start_ns = st->start_ns,
				   .oncpu_ns = st->oncpu_ns, .nr_vol = st->nr_vol,
				   .nr_invol = st->nr_invol };

	memcpy(now.off_ns, st->off_ns, sizeof(now.off_ns));
	if (exited) { /* nothing to remember: only what a flush reported */
		if (hmap_get(&pl->last_ids, &key, sizeof(key), &i)) {
			thread_since(st, &pl->last[i]);
			pl->last[i].exited = 1;
		}
		return;
	}
	id = hmap_upsert(&pl->last_ids, &key, sizeof(key), pl->nr_last, &is_new);
	if (is_new) {
		GROW(pl->last, pl->cap_last, pl->nr_last + 1);
		pl->last[pl->nr_last++] = now;
		return;
	}
	l = &pl->last[*id];
	thread_since(st, l);
	*l = now;
}

/* Forget the threads that exited, or that the last flushes did not list
 * (gone, their exit record lost). Not at the first miss: an exit record
 * still in the ring buffer must find what was reported of its thread. */
static void forget_threads(struct proclife *pl)
{
	size_t i, n = 0;

	hmap_free(&pl->last_ids);
	for (i = 0; i < pl->nr_last; i++) {
		struct { uint32_t tid, pad; uint64_t start; } key = { pl->last[i].tid, 0,
								      pl->last[i].start_ns };

		if (pl->last[i].exited || pl->last[i].unseen >= 3)
			continue;
		pl->last[n] = pl->last[i];
		pl->last[n].unseen++; /* thread_delta() clears it when listed */
		hmap_put(&pl->last_ids, &key, sizeof(key), n);
		n++;
	}
	pl->nr_last = n;
}

/* scheduler accounting of one thread (what came since the last flush), at
 * its exit or a flush */
static void thread_account(struct cpu_collector *cc, const struct ap_thread_stat *st)
{
	struct profile *p = &cc->ses->prof;
	/* the first window from when tracking began, the others from their start */
	uint64_t t0 = cc->ses->nr_windows && cc->ses->win_start_mono > cc->t0_ns ?
			      cc->ses->win_start_mono : cc->t0_ns;
	char comm[AP_COMM_LEN + 1];
	struct ap_thread *t;
	int r;

	memcpy(comm, st->comm, AP_COMM_LEN);
	comm[AP_COMM_LEN] = 0;
	t = profile__thread(p, st->tgid, st->tid, comm);
	if (!t->accounted || st->start_ns < t->start_ns)
		t->start_ns = st->start_ns > t0 ? st->start_ns : t0; /* within the window */
	t->accounted = true;
	if (st->end_ns > t->end_ns)
		t->end_ns = st->end_ns;
	t->oncpu_ns += st->oncpu_ns;
	for (r = 0; r < AP_OFF__COUNT; r++)
		t->off_ns[r] += st->off_ns[r];
	t->nr_vol += st->nr_vol;
	t->nr_invol += st->nr_invol;
}

/* pid's process ended: its slot in the BPF tracked set is free for the
 * next child (the map has AP_MAX_TRACKED entries; a build runs more
 * commands than that); its mappings and unwinder are freed once the
 * records it left in flight are drained (proclife_poll) */
void collect_proclife_exited(struct cpu_collector *cc, uint32_t pid)
{
	struct proclife *pl = cc->coll[AP_COLL_PROCLIFE].priv;
	size_t i;

	if (!pl)
		return;
	for (i = 0; i < pl->nr_exiting; i++) /* seen by the side band and the exit record */
		if (pl->exiting[i].pid == pid)
			return;
	bpf_map__delete_elem(cc->skel->maps.tracked, &pid, sizeof(pid), 0);
	GROW(pl->exiting, pl->cap_exiting, pl->nr_exiting + 1);
	pl->exiting[pl->nr_exiting++] = (struct exiting){ pid, now_mono_ns() };
}

static void handle_thread(struct ap_collector *c, const struct ap_thread_rec *r)
{
	struct cpu_collector *cc = c->cc;
	struct proclife *pl = c->priv;
	struct ap_thread_stat st = r->st;

	thread_delta(pl, &st, true);
	collect_snapshot_first_wait(cc, &st);
	thread_account(cc, &st);
	/* --all: a process never discovered has nothing to release */
	if (r->st.group_dead && cc->ses->opts.all && !session__is_tracked(cc->ses, r->st.tgid, 0)) {
		profile__process(&cc->ses->prof, r->st.tgid)->exited = true;
		return;
	}
	if (r->st.group_dead) {
		struct ap_process *pr = profile__process(&cc->ses->prof, r->st.tgid);

		pr->exit_status = r->st.exit_code;
		pr->exited = true;
		collect_proclife_exited(cc, r->st.tgid);
	}
}

/* Free the state of processes whose exit was seen two drain intervals
 * ago. The ring buffer hands records over in the order they were reserved,
 * so what a process recorded before its exit record has been handled; the
 * grace is for the few samples of its last kernel instants (exit_files,
 * the final switch), reserved after the exit record. */
#define CC_RELEASE_GRACE_NS 200000000ull

static void proclife_poll(struct ap_collector *c)
{
	struct proclife *pl = c->priv;
	uint64_t now = now_mono_ns();
	size_t i = 0;

	while (i < pl->nr_exiting && now - pl->exiting[i].seen_ns >= CC_RELEASE_GRACE_NS)
		collect_release(c->cc, pl->exiting[i++].pid);
	if (!i)
		return;
	memmove(pl->exiting, pl->exiting + i, (pl->nr_exiting - i) * sizeof(*pl->exiting));
	pl->nr_exiting -= i;
}

static void handle_exec(struct cpu_collector *cc, const struct ap_exec_rec *r)
{
	char comm[AP_COMM_LEN + 1];

	memcpy(comm, r->comm, AP_COMM_LEN);
	comm[AP_COMM_LEN] = 0;
	procmaps__set_cmdline(&cc->ses->pm, r->tgid, r->time_ns, comm, r->args,
			      r->args_len < AP_ARGS_MAX ? r->args_len : AP_ARGS_MAX);
	cc->exec_seen_ns = now_mono_ns();
	collect_watch_exec(cc, r->tgid);
}

static int proclife_on_record(struct ap_collector *c, uint32_t type, const void *data, size_t size)
{
	if (type == AP_REC_THREAD && size >= sizeof(struct ap_thread_rec))
		handle_thread(c, data);
	else if (type == AP_REC_EXEC && size >= sizeof(struct ap_exec_rec))
		handle_exec(c->cc, data);
	else if (type == AP_REC_SNAPSHOT)
		return collect_snapshot_record(c->cc, data, size);
	else
		return -EINVAL;
	return 0;
}

/* Threads alive: their totals up to end_ns (an open interval counted up to
 * it), as deltas since the last flush. At the end (final), a block still in
 * progress also goes under its stack; in a window before, it goes there in
 * the window where it ends (the kernel's off_time then has it whole). */
static void drain_threads(struct ap_collector *c, uint64_t end_ns, bool final)
{
	struct cpu_collector *cc = c->cc;
	struct profile *p = &cc->ses->prof;
	struct bpf_link *link = bpf_program__attach_iter(cc->skel->progs.dump_threads, NULL);
	struct ap_thread_stat st;
	int fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	ssize_t n;

	if (fd < 0) {
		ap_warn("offcpu: cannot read the accounting of live threads: %s", ap_errstr(-errno));
		bpf_link__destroy(link);
		return;
	}
	/* the iterator writes whole records; a read returns one or more */
	while ((n = read(fd, &st, sizeof(st))) == sizeof(st)) {
		if (!st.end_ns) {
			st.end_ns = end_ns;
			if (st.ts_in && end_ns > st.ts_in)
				st.oncpu_ns += end_ns - st.ts_in;
			if (st.ts_out && end_ns > st.ts_out && st.out_reason < AP_OFF__COUNT) {
				uint64_t block = end_ns - st.ts_out, runq = 0;
				uint32_t stack;

				if (st.ts_wake >= st.ts_out && st.ts_wake <= end_ns) {
					block = st.ts_wake - st.ts_out;
					runq = end_ns - st.ts_wake;
				}
				st.off_ns[st.out_reason] += block;
				st.off_ns[AP_OFF_RUNQUEUE] += runq;
				if (final && p->has_offcpu) {
					stack = st.out_sid ? collect_off_stack_of(cc, st.tgid, st.out_sid, st.out_kstack)
						: collect_kernel_only_stack(cc, st.out_kstack,
								    "[still blocked at the end]");
					profile__add_off(p, st.tgid, st.tid, stack, st.out_reason, block, 1);
					if (runq)
						profile__add_off(p, st.tgid, st.tid, stack, AP_OFF_RUNQUEUE, runq, 0);
				}
			}
			if (final && p->has_offcpu && st.pend_block + st.pend_runq) {
				uint32_t stack = collect_kernel_only_stack(cc, st.pend_kstack, "[still blocked at the end]");

				profile__add_off(p, st.tgid, st.tid, stack, st.pend_reason, st.pend_block, 1);
				profile__add_off(p, st.tgid, st.tid, stack, AP_OFF_RUNQUEUE, st.pend_runq, 0);
			}
		}
		thread_delta(c->priv, &st, false);
		collect_snapshot_first_wait(cc, &st);
		thread_account(cc, &st);
	}
	forget_threads(c->priv);
	if (n < 0)
		ap_warn("offcpu: reading live threads: %s", ap_errstr(-errno));
	close(fd);
	bpf_link__destroy(link);
}

/* Threads of a process attached to that never ran while we watched (idle
 * workers blocked since before the attach, or every thread of a hung
 * process) have no scheduler event and so no accounting: off CPU the
 * whole time. Their stack and the reason of the wait are the attach
 * snapshot's (snapshot.c), under a root frame saying since when; without
 * one, the reason is unknown and only /proc says which syscall they sit in */
static void idle_threads(struct cpu_collector *cc, uint64_t end_ns)
{
	struct ap_session *ses = cc->ses;
	struct profile *p = &ses->prof;
	char path[64], why[96], *text, comm[AP_COMM_LEN + 1];
	struct ap_thread_stat st;
	struct dirent *de;
	size_t len;
	DIR *d;
	int i;

	for (i = 0; i < ses->opts.nr_pids; i++) {
		uint32_t pid = ses->opts.pids[i];

		snprintf(path, sizeof(path), "/proc/%u/task", pid);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			uint32_t tid = strtoul(de->d_name, NULL, 10);
			const struct ap_thread *known = profile__find_thread(p, pid, tid);
			uint32_t stack, reason = AP_OFF_UNKNOWN;
			int32_t snap_nr;
			long nr = -1;

			if (!tid || (known && known->accounted))
				continue;
			memset(&st, 0, sizeof(st));
			st.tgid = pid;
			st.tid = tid;
			st.start_ns = cc->t0_ns;
			st.end_ns = end_ns;
			snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", pid, tid);
			text = read_file(path, &len);
			snprintf(comm, sizeof(comm), "%s", text ? text : "");
			comm[strcspn(comm, "\n")] = 0;
			free(text);
			memcpy(st.comm, comm, AP_COMM_LEN);
			snprintf(path, sizeof(path), "/proc/%u/task/%u/syscall", pid, tid);
			text = read_file(path, &len);
			if (text)
				nr = strtol(text, NULL, 10);
			free(text);
			snprintf(why, sizeof(why), "[blocked in %s since before profiling]",
				 nr >= 0 && ap_syscall_name(nr) ? ap_syscall_name(nr) : "the kernel");
			stack = collect_snapshot_stack(cc, pid, tid, why, &reason, &snap_nr);
			if (stack == AP_NONE) {
				reason = AP_OFF_UNKNOWN;
				stack = collect_kernel_only_stack(cc, -1, why);
			}
			st.off_ns[reason] = end_ns - cc->t0_ns;
			thread_account(cc, &st);
			if (p->has_offcpu)
				profile__add_off(p, pid, tid, stack, reason, st.off_ns[reason], 1);
		}
		closedir(d);
	}
}


/* --all: a process known only by its threads' scheduler accounting (never
 * discovered by a sample) is named after its main thread, or any thread */
static void name_processes(struct profile *p)
{
	size_t i;

	for (i = 0; i < p->nr_threads; i++) {
		const struct ap_thread *t = &p->threads[i];
		struct ap_process *pr = &p->procs[t->proc];

		if (t->comm && (!pr->comm || t->tid == t->pid))
			pr->comm = t->comm;
	}
}

static void proclife_flush(struct ap_collector *c, uint64_t end_ns, struct profile *into)
{
	struct cpu_collector *cc = c->cc;

	drain_threads(c, end_ns, cc->stopped);
	if (cc->ses->opts.all)
		name_processes(&cc->ses->prof);
	if (cc->stopped && into->has_offcpu && !cc->ses->opts.argv)
		idle_threads(cc, end_ns);
}

static void proclife_free(struct ap_collector *c)
{
	struct proclife *pl = c->priv;

	if (!pl)
		return;
	free(pl->exiting);
	free(pl->last);
	hmap_free(&pl->last_ids);
	free(pl);
	c->priv = NULL;
}

const struct ap_collector_ops proclife_ops = {
	.name = "proclife",
	.records = 1u << AP_REC_THREAD | 1u << AP_REC_EXEC | 1u << AP_REC_SNAPSHOT,
	.configure = proclife_configure,
	.attach = proclife_attach,
	.on_record = proclife_on_record,
	.poll = proclife_poll,
	.flush = proclife_flush,
	.free = proclife_free,
};
