// SPDX-License-Identifier: MIT
/* Threads blocked for the whole run: in attach mode, a thread that never
 * ran while we watched has its off-CPU time under the attach snapshot's
 * stack (src/collect/snapshot.c), whose root frame says it was blocked
 * since before profiling. What someone attaching to a stuck process wants
 * first: which threads wait, for what, and where in their code. Beside
 * them, the asyncio tasks suspended at the attach (3.14+), which wait
 * where no thread's stack shows: each with its await chain. */
#include <stdlib.h>
#include <string.h>
#include "report/report.h"

#define MARK_PREFIX "[blocked in "
#define MARK_SUFFIX " since before profiling]"

/* the syscall named by a root marker frame, or NULL if it is not one */
static bool marker_syscall(const char *name, char *out, size_t len)
{
	size_t n = strlen(name), pl = strlen(MARK_PREFIX), sl = strlen(MARK_SUFFIX);

	if (n <= pl + sl || strncmp(name, MARK_PREFIX, pl) || strcmp(name + n - sl, MARK_SUFFIX))
		return false;
	snprintf(out, len, "%.*s", (int)(n - pl - sl), name + pl);
	return true;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static void frame_text(const struct profile *p, uint32_t id, struct strbuf *sb)
{
	const struct ap_frame *fr = &p->frames[id];

	sb_puts(sb, profile__s(p, fr->name));
	if (fr->kind == AP_FRAME_PYTHON && fr->module != AP_NONE) {
		sb_printf(sb, " (%s", base_name(profile__s(p, p->modules[fr->module].path)));
		if (fr->line)
			sb_printf(sb, ":%u", fr->line);
		sb_puts(sb, ")");
	}
}

/* a Python frame of the standard library (".../lib/python3.11/queue.py"),
 * not of the program or a package it installed */
static bool is_stdlib(const struct profile *p, uint32_t id)
{
	const struct ap_frame *fr = &p->frames[id];
	const char *path = fr->module != AP_NONE ? profile__s(p, p->modules[fr->module].path) : "";

	return strstr(path, "/lib/python") && !strstr(path, "-packages/");
}

/* Where a stack waits, caller first: from the caller of its innermost
 * frame of the program's own code (not the standard library's) to its
 * innermost Python frame ("main (x.py:9) > work (x.py:4) > Queue.get
 * (queue.py:171) > Condition.wait (threading.py:320)"), five frames at
 * most; without Python frames, its innermost native (user) frame */
static void where_text(const struct profile *p, const struct ap_stack *st, struct strbuf *sb)
{
	const uint32_t *fr = p->stack_frames + st->off;
	int i, leaf = -1, own = -1, from = -1, n = 0, shown = 0;
	int py[AP_MAX_PY_FRAMES];

	for (i = 0; i < (int)st->len && n < AP_MAX_PY_FRAMES; i++)
		if (p->frames[fr[i]].kind == AP_FRAME_PYTHON)
			py[n++] = fr[i];
	if (n) {
		leaf = n - 1;
		for (i = n - 1; i >= 0 && own < 0; i--)
			if (!is_stdlib(p, py[i]))
				own = i;
		from = own > 0 ? own - 1 : own == 0 ? 0 : (leaf > 0 ? leaf - 1 : 0);
		for (i = from; i <= leaf; i++) {
			if (leaf - from >= 5 && i == from + 2) { /* keep both ends */
				sb_puts(sb, " > ...");
				i = leaf - 2;
				continue;
			}
			if (shown++)
				sb_puts(sb, " > ");
			frame_text(p, py[i], sb);
		}
		return;
	}
	for (i = (int)st->len - 1; i >= 1; i--) { /* [0] is the marker */
		if (p->frames[fr[i]].kind != AP_FRAME_USER)
			continue;
		frame_text(p, fr[i], sb);
		return;
	}
	sb_puts(sb, "(no user stack)");
}

/* threads waiting alike: same process, reason, syscall and place */
static int by_wait(const void *a, const void *b)
{
	const struct ap_blocked_thread *x = a, *y = b;
	int c;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	if ((c = strcmp(x->syscall, y->syscall)) || (c = strcmp(x->where, y->where)))
		return c;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* 0 if x and y wait alike (by_wait() but for the tid) */
static int by_wait_same(const struct ap_blocked_thread *x, const struct ap_blocked_thread *y)
{
	struct ap_blocked_thread a = *x;

	a.tid = y->tid;
	return by_wait(&a, y);
}

/* groups in the order of their first thread (the main thread's first) */
static int by_group(const void *a, const void *b)
{
	const struct ap_blocked_thread *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

size_t ap_blocked_threads(const struct profile *p, struct ap_blocked_thread **out)
{
	struct ap_blocked_thread *v = NULL;
	size_t i, j, n = 0, cap = 0;
	struct strbuf sb = { 0 };
	char sys[64];

	for (i = 0; i < p->nr_off; i++) {
		const struct ap_off_row *r = &p->off[i];
		const struct ap_stack *st;
		const struct ap_thread *t;

		if (r->stack >= p->nr_stacks || r->reason == AP_OFF_RUNQUEUE)
			continue;
		st = &p->stacks[r->stack];
		if (!st->len ||
		    !marker_syscall(profile__s(p, p->frames[p->stack_frames[st->off]].name), sys,
				    sizeof(sys)))
			continue;
		/* the snapshot's stack also holds the first wait of a thread
		 * that then ran: the whole run only if it never did */
		t = profile__find_thread(p, r->pid, r->tid);
		if (t && t->accounted && (t->oncpu_ns || t->nr_vol || t->nr_invol))
			continue;
		GROW(v, cap, n + 1);
		sb.len = 0;
		if (sb.buf)
			sb.buf[0] = 0;
		where_text(p, st, &sb);
		v[n] = (struct ap_blocked_thread){
			.pid = r->pid, .tid = r->tid, .reason = r->reason, .ns = r->ns,
			.comm = t ? profile__s(p, t->comm) : "",
		};
		snprintf(v[n].syscall, sizeof(v[n].syscall), "%s", sys);
		snprintf(v[n].where, sizeof(v[n].where), "%s", sb.buf ? sb.buf : "");
		n++;
	}
	sb_free(&sb);
	if (n)
		qsort(v, n, sizeof(*v), by_wait);
	for (i = 0; i < n; i++) {
		v[i].group = i && !by_wait_same(&v[i - 1], &v[i]) ? v[i - 1].group : v[i].tid;
		if (i && v[i].pid == v[i - 1].pid) { /* threads of its process the run accounted */
			v[i].of = v[i - 1].of;
			continue;
		}
		v[i].of = 0;
		for (j = 0; j < p->nr_threads; j++)
			v[i].of += p->threads[j].pid == v[i].pid && p->threads[j].accounted;
	}
	if (n)
		qsort(v, n, sizeof(*v), by_group);
	*out = v;
	return n;
}

size_t ap_blocked_group(const struct ap_blocked_thread *v, size_t n, size_t i)
{
	size_t j = i + 1;

	while (j < n && v[j].pid == v[i].pid && v[j].group == v[i].group)
		j++;
	return j - i;
}

size_t ap_blocked_of_pid(const struct ap_blocked_thread *v, size_t n, size_t i)
{
	size_t j = i + 1;

	while (j < n && v[j].pid == v[i].pid)
		j++;
	return j - i;
}

void ap_blocked_print(const struct profile *p, FILE *f)
{
	struct ap_blocked_thread *v;
	size_t n = ap_blocked_threads(p, &v), i, k, groups = 0;
	char who[48];

	for (i = 0; i < n; i += k) {
		char *comm, *where;

		if (!i || v[i].pid != v[i - 1].pid) {
			fprintf(f, "\nBlocked for the whole run (since before profiling): %zu of %zu threads of pid %u\n",
				ap_blocked_of_pid(v, n, i), v[i].of, v[i].pid);
			groups = 0;
		}
		k = ap_blocked_group(v, n, i);
		if (groups++ == AP_BLOCKED_GROUPS) {
			fprintf(f, "  ... and more (offcpu.folded has every stack)\n");
			k = ap_blocked_of_pid(v, n, i);
			continue;
		}
		comm = tty_dup(v[i].comm);
		where = tty_dup(v[i].where);
		if (k > 1)
			snprintf(who, sizeof(who), "%zu threads", k);
		else
			snprintf(who, sizeof(who), "%u", v[i].tid);
		fprintf(f, "  %-11s %-16.16s %-8s %-15s %s\n", who, comm,
			ap_off_reason_names[v[i].reason < AP_OFF__COUNT ? v[i].reason : AP_OFF_OTHER],
			v[i].syscall, where);
		free(comm);
		free(where);
	}
	free(v);
}

static void async_frame(const struct ap_async_frame *fr, struct strbuf *sb)
{
	sb_printf(sb, "%s (%s", fr->func, base_name(fr->file));
	if (fr->line)
		sb_printf(sb, ":%u", fr->line);
	sb_puts(sb, ")");
}

/* sb emptied, for one of the texts below */
static void sb_empty(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = 0;
}

const char *ap_async_where(const struct ap_async_task *t, struct strbuf *sb)
{
	sb_empty(sb);
	if (t->nr_chain && !t->cut)
		async_frame(&t->chain[t->nr_chain - 1], sb);
	else
		sb_puts(sb, "?");
	return sb->buf ? sb->buf : "";
}

const char *ap_async_chain(const struct ap_async_task *t, struct strbuf *sb)
{
	uint32_t j;

	sb_empty(sb);
	for (j = 0; j < t->nr_chain; j++) {
		if (j)
			sb_puts(sb, " > ");
		async_frame(&t->chain[j], sb);
	}
	if (t->cut)
		sb_puts(sb, " > ...");
	if (!t->nr_chain)
		sb_puts(sb, "?");
	return sb->buf ? sb->buf : "";
}

size_t ap_async_of_pid(const struct profile *p, size_t i)
{
	size_t j = i + 1;

	while (j < p->nr_atasks && p->atasks[j].pid == p->atasks[i].pid)
		j++;
	return j - i;
}

void ap_async_print(const struct profile *p, FILE *f)
{
	struct strbuf sb = { 0 };
	size_t i, k, n;

	for (i = 0; i < p->nr_atasks; i += n) {
		n = ap_async_of_pid(p, i);
		fprintf(f, "\nSuspended asyncio tasks at the attach: %zu of pid %u (await chains, "
			"the task's coroutine first)\n", n, p->atasks[i].pid);
		fprintf(f, "  %-16s %-32s %-16s %s\n", "task", "waiting in", "on", "await chain");
		for (k = 0; k < n && k < AP_ASYNC_SHOWN; k++) {
			const struct ap_async_task *t = &p->atasks[i + k];
			char *name = tty_dup(t->name), *waits = tty_dup(t->waits);
			char *where = tty_dup(ap_async_where(t, &sb));
			char *chain = tty_dup(ap_async_chain(t, &sb));

			fprintf(f, "  %-16s %-32s %-16s %s\n", name, where, waits, chain);
			free(name);
			free(waits);
			free(where);
			free(chain);
		}
		if (n > AP_ASYNC_SHOWN)
			fprintf(f, "  ... and %zu more (offcpu.json \"asyncio_tasks\" has every "
				"one)\n", n - AP_ASYNC_SHOWN);
	}
	if (profile__counter(p, "python_async_tasks_capped"))
		fprintf(f, "  %llu more suspended tasks not read: over the cap "
			"(python_async_tasks_capped)\n",
			(unsigned long long)profile__counter(p, "python_async_tasks_capped"));
	if (profile__counter(p, "python_async_processes_skipped"))
		fprintf(f, "\nSuspended asyncio tasks not read in %llu process(es): the memory did not "
			"answer in time, or the attach's budget ran out (python_async_processes_skipped)\n",
			(unsigned long long)profile__counter(p, "python_async_processes_skipped"));
	sb_free(&sb);
}
