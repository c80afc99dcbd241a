// SPDX-License-Identifier: MIT
/* Python thread names (threading.Thread.name) for the thread tables. A
 * sampled thread of a Python process not named yet makes its process
 * read again (src/python/pythreads.c), at most every AP_PYNAMES_GAP_NS;
 * every flush reads the live Python processes once more within that
 * limit and a budget, for threads that only block. A name outlives its thread (the last one read), until
 * its process is released by a purge. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "collect/collect.h"
#include "log.h"
#include "python/pythreads.h"
#include "util.h"

#define PN_PENDING 1ull /* seen, not named by a read since */
#define PN_TRIED 0ull   /* a read since did not name it: not a Python thread (yet) */
#define PN_HUNG UINT64_MAX /* pynames_read: a read of the pid timed out, never again */

struct pn_key {
	uint32_t pid, tid;
};

static void name_put(struct cpu_collector *cc, uint32_t pid, uint32_t tid, const char *name)
{
	struct pn_key k = { pid, tid };
	uint64_t *v;
	bool is_new;

	if (!hmap_get(&cc->pynames, &k, sizeof(k), &(uint64_t){ 0 }) &&
	    cc->pynames.len >= AP_PYNAMES_MAX) {
		cc->pynames_dropped++;
		return;
	}
	v = hmap_upsert(&cc->pynames, &k, sizeof(k), PN_TRIED, &is_new);
	if (*v > PN_PENDING) {
		if (!strcmp((char *)(uintptr_t)*v, name))
			return;
		free((char *)(uintptr_t)*v);
	}
	*v = (uintptr_t)xstrdup(name);
}

/* pid's current image, if it runs a CPython whose names we read (3.14
 * names the OS thread itself, truncated to 15 bytes) */
static int target_of(struct cpu_collector *cc, uint32_t pid, struct py_target *tg)
{
	struct ap_proc *p = procmaps__find(&cc->ses->pm, pid);
	struct ap_image *img = p && !p->exited ? proc__image_at(p, UINT64_MAX) : NULL;

	if (!img || img->py_minor <= 0 || img->py_minor > 13)
		return -ENOENT;
	return pythreads__target(pid, img, tg);
}

/* read pid's names now; its threads still pending become tried. The next
 * read of it waits AP_PYNAMES_GAP_NS, or 20 times what this one took, so
 * reading costs a process with many threads at most 5% of a CPU. Returns
 * how many names were read (-1: none could be) */
static int read_pid(struct cpu_collector *cc, uint32_t pid, uint64_t now)
{
	struct pythreads_stats st = { 0 };
	struct py_target tg;
	uint64_t took;
	size_t i;
	int n = 0;

	if (!target_of(cc, pid, &tg)) {
		if (!cc->pynames_buf)
			cc->pynames_buf = xmalloc(AP_PYTHREADS_MAX * sizeof(*cc->pynames_buf));
		n = pythreads__read_bounded(&tg, cc->pynames_buf, AP_PYTHREADS_MAX, &st,
					    AP_PYNAMES_WAIT_NS);
		cc->pynames_pid_reads++;
		if (n == -ETIMEDOUT) {
			collect_pynames_timed_out(cc, pid);
			return -1;
		}
		cc->pynames_reads += st.reads;
		if (n < 0 || st.incomplete) {
			cc->pynames_failed++;
			ap_debug("python: pid %u: reading thread names: %s", pid,
				 n < 0 ? ap_errstr(n) : "stopped early");
		}
		for (i = 0; n > 0 && i < (size_t)n; i++)
			name_put(cc, pid, cc->pynames_buf[i].tid, cc->pynames_buf[i].name);
	}
	took = now_mono_ns() - now;
	hmap_put(&cc->pynames_read, &pid, sizeof(pid),
		 now + (20 * took > AP_PYNAMES_GAP_NS ? 20 * took : AP_PYNAMES_GAP_NS));
	for (i = 0; i < cc->pynames.cap; i++) {
		struct pn_key k;

		if (!cc->pynames.ents[i].key || cc->pynames.ents[i].val != PN_PENDING)
			continue;
		memcpy(&k, cc->pynames.ents[i].key, sizeof(k));
		if (k.pid == pid)
			cc->pynames.ents[i].val = PN_TRIED;
	}
	return n < 0 ? -1 : n;
}

void collect_pynames_seen(struct cpu_collector *cc, uint32_t pid, uint32_t tid)
{
	struct pn_key k = { pid, tid };
	bool is_new;

	struct ap_proc *p;
	struct ap_image *img;

	if (hmap_get(&cc->pynames, &k, sizeof(k), &(uint64_t){ 0 }))
		return;
	p = procmaps__find(&cc->ses->pm, pid);
	img = p ? proc__image_at(p, UINT64_MAX) : NULL;
	if (!img || img->py_minor <= 0 || img->py_minor > 13)
		return; /* not a Python process whose names we read */
	if (cc->pynames.len >= AP_PYNAMES_MAX) {
		cc->pynames_dropped++;
		return;
	}
	hmap_upsert(&cc->pynames, &k, sizeof(k), PN_PENDING, &is_new);
	cc->pynames_want = true;
}

void collect_pynames_timed_out(struct cpu_collector *cc, uint32_t pid)
{
	/* its memory does not answer: never read again (a helper thread
	 * stays blocked until it does) */
	cc->pynames_timeouts++;
	ap_warn("python: pid %u: reading its memory: no answer within %llu ms (a process hung in a "
		"page fault or holding its mmap_lock?): thread names not read again",
		pid, (unsigned long long)(AP_PYNAMES_WAIT_NS / 1000000));
	hmap_put(&cc->pynames_read, &pid, sizeof(pid), PN_HUNG);
}

bool collect_pynames_hung(struct cpu_collector *cc, uint32_t pid)
{
	uint64_t next;

	return hmap_get(&cc->pynames_read, &pid, sizeof(pid), &next) && next == PN_HUNG;
}

/* may pid be read now? */
static bool may_read(struct cpu_collector *cc, uint32_t pid, uint64_t now)
{
	uint64_t next;

	return !hmap_get(&cc->pynames_read, &pid, sizeof(pid), &next) || now >= next;
}

/* Every AP_PYNAMES_SCAN_NS: a Python process whose thread count changed
 * (the link count of /proc/PID/task: 2 + threads) is read, so a thread that
 * only blocks is named too while its process lives (in launch mode the
 * target is gone by the last flush). One stat per Python process.
 * A new thread is in /proc before threading lists it (it adds itself once
 * it runs): a read that found fewer names than threads is made again at
 * the next AP_PYNAMES_RETRIES scans with the same count (a process may
 * have threads Python never names). pynames_nthr holds the count, and the
 * retries left above bit 32. */
static void scan_thread_counts(struct cpu_collector *cc, uint64_t now)
{
	struct procmaps *pm = &cc->ses->pm;
	char path[40];
	struct stat st;
	uint64_t old, left;
	size_t i;
	int n;

	if (now < cc->pynames_scan_next)
		return;
	cc->pynames_scan_next = now + AP_PYNAMES_SCAN_NS;
	for (i = 0; i < pm->nr_procs; i++) {
		struct ap_proc *p = pm->procs[i];
		struct ap_image *img = p->exited || p->released ? NULL : proc__image_at(p, UINT64_MAX);
		bool same;

		if (!img || img->py_minor <= 0 || img->py_minor > 13)
			continue;
		snprintf(path, sizeof(path), "/proc/%u/task", p->pid);
		if (stat(path, &st))
			continue;
		same = hmap_get(&cc->pynames_nthr, &p->pid, sizeof(p->pid), &old) &&
		       (uint32_t)old == (uint32_t)st.st_nlink;
		if (same && !(old >> 32))
			continue;
		if (!may_read(cc, p->pid, now))
			continue; /* seen again at the next scan */
		n = read_pid(cc, p->pid, now);
		left = same ? (old >> 32) - 1 : AP_PYNAMES_RETRIES;
		if (n < 0 || (uint64_t)n + 2 >= st.st_nlink)
			left = 0;
		hmap_put(&cc->pynames_nthr, &p->pid, sizeof(p->pid), (uint32_t)st.st_nlink | left << 32);
	}
}

void collect_pynames_tick(struct cpu_collector *cc)
{
	uint64_t now = now_mono_ns(), next;
	uint32_t *pids = NULL;
	size_t i, n = 0, cap = 0;
	bool again = false;

	scan_thread_counts(cc, now);
	/* the pending entries are found by a walk of the whole table: not at
	 * every poll (every millisecond while an interpreter is awaited) */
	if (!cc->pynames_want || now < cc->pynames_tick_next)
		return;
	cc->pynames_tick_next = now + AP_PYNAMES_TICK_NS;
	for (i = 0; i < cc->pynames.cap; i++) {
		struct pn_key k;

		if (!cc->pynames.ents[i].key || cc->pynames.ents[i].val != PN_PENDING)
			continue;
		memcpy(&k, cc->pynames.ents[i].key, sizeof(k));
		if (n && pids[n - 1] == k.pid)
			continue;
		if (hmap_get(&cc->pynames_read, &k.pid, sizeof(k.pid), &next) && now < next) {
			again |= next != PN_HUNG; /* a hung pid's stay pending */
			continue;
		}
		GROW(pids, cap, n + 1);
		pids[n++] = k.pid;
	}
	for (i = 0; i < n; i++)
		if (!hmap_get(&cc->pynames_read, &pids[i], sizeof(pids[i]), &next) ||
		    now >= next) /* (a pid listed twice is read once) */
			read_pid(cc, pids[i], now);
	free(pids);
	cc->pynames_want = again;
}

/* Each flush reads the live Python processes again, for threads that
 * only block, within the rate limit (may_read()) and a budget for all of
 * them together, from where the last flush stopped: with --all and many
 * Python processes a flush costs the drain loop at most
 * AP_PYNAMES_FLUSH_NS. The last flush ignores the rate limit (it is the
 * last chance) but has a budget too. Reads the budget leaves out are
 * counted (python_thread_name_reads_deferred). */
static void flush_reads(struct cpu_collector *cc)
{
	struct procmaps *pm = &cc->ses->pm;
	uint64_t t0 = now_mono_ns(), now = t0;
	uint64_t budget = cc->stopped ? AP_PYNAMES_LAST_FLUSH_NS : AP_PYNAMES_FLUSH_NS;
	size_t i, j, n = pm->nr_procs;

	for (j = 0; j < n; j++) {
		struct ap_proc *p;
		struct ap_image *img;

		i = (cc->pynames_flush_from + j) % n;
		p = pm->procs[i];
		img = p->exited || p->released ? NULL : proc__image_at(p, UINT64_MAX);
		if (!img || img->py_minor <= 0 || img->py_minor > 13)
			continue;
		if (!cc->stopped && !may_read(cc, p->pid, now))
			continue;
		if (collect_pynames_hung(cc, p->pid))
			continue;
		if (now - t0 >= budget) {
			cc->pynames_deferred++;
			continue;
		}
		read_pid(cc, p->pid, now);
		now = now_mono_ns();
		cc->pynames_flush_from = i + 1;
	}
}

void collect_pynames_flush(struct cpu_collector *cc, struct profile *into)
{
	uint64_t v;
	size_t i;

	flush_reads(cc);
	for (i = 0; i < into->nr_threads; i++) {
		struct ap_thread *t = &into->threads[i];
		struct pn_key k = { t->pid, t->tid };

		if (hmap_get(&cc->pynames, &k, sizeof(k), &v) && v > PN_PENDING)
			t->pyname = profile__str(into, (const char *)(uintptr_t)v);
	}
}

void collect_pynames_exec(struct cpu_collector *cc, uint32_t pid)
{
	size_t i;

	for (i = 0; i < cc->pynames.cap; i++) {
		struct hmap_ent *e = &cc->pynames.ents[i];
		struct pn_key k;

		if (!e->key)
			continue;
		memcpy(&k, e->key, sizeof(k));
		if (k.pid != pid)
			continue;
		if (e->val > PN_PENDING)
			free((char *)(uintptr_t)e->val);
		e->val = PN_TRIED;
	}
	if (hmap_get(&cc->pynames_nthr, &pid, sizeof(pid), &(uint64_t){ 0 }))
		hmap_put(&cc->pynames_nthr, &pid, sizeof(pid), 0); /* read again if Python */
}

/* names of processes released go */
size_t collect_pynames_purge(struct cpu_collector *cc)
{
	struct hmap out = { 0 }, rd = { 0 };
	size_t i, n = 0;

	for (i = 0; i < cc->pynames.cap; i++) {
		struct hmap_ent *e = &cc->pynames.ents[i];
		const struct ap_proc *p;
		struct pn_key k;

		if (!e->key)
			continue;
		memcpy(&k, e->key, sizeof(k));
		p = procmaps__find(&cc->ses->pm, k.pid);
		if (p && !p->released) {
			hmap_put(&out, &k, sizeof(k), e->val);
			hmap_put(&rd, &k.pid, sizeof(k.pid), 0);
			continue;
		}
		if (e->val > PN_PENDING)
			free((char *)(uintptr_t)e->val);
		n++;
	}
	hmap_free(&cc->pynames);
	cc->pynames = out;
	/* read times of the pids kept */
	for (i = 0; i < rd.cap; i++) {
		uint64_t t;

		if (rd.ents[i].key &&
		    hmap_get(&cc->pynames_read, rd.ents[i].key, rd.ents[i].klen, &t))
			rd.ents[i].val = t;
	}
	/* ... and the mark of live pids whose memory did not answer */
	for (i = 0; i < cc->pynames_read.cap; i++) {
		struct hmap_ent *e = &cc->pynames_read.ents[i];
		const struct ap_proc *p;
		uint32_t pid;

		if (!e->key || e->val != PN_HUNG)
			continue;
		memcpy(&pid, e->key, sizeof(pid));
		p = procmaps__find(&cc->ses->pm, pid);
		if (p && !p->released)
			hmap_put(&rd, &pid, sizeof(pid), PN_HUNG);
	}
	hmap_free(&cc->pynames_read);
	cc->pynames_read = rd;
	/* thread counts of the pids kept */
	rd = (struct hmap){ 0 };
	for (i = 0; i < cc->pynames_nthr.cap; i++) {
		struct hmap_ent *e = &cc->pynames_nthr.ents[i];
		const struct ap_proc *p;
		uint32_t pid;

		if (!e->key)
			continue;
		memcpy(&pid, e->key, sizeof(pid));
		p = procmaps__find(&cc->ses->pm, pid);
		if (p && !p->released)
			hmap_put(&rd, &pid, sizeof(pid), e->val);
	}
	hmap_free(&cc->pynames_nthr);
	cc->pynames_nthr = rd;
	return n;
}

void collect_pynames_free(struct cpu_collector *cc)
{
	size_t i;

	for (i = 0; i < cc->pynames.cap; i++)
		if (cc->pynames.ents[i].key && cc->pynames.ents[i].val > PN_PENDING)
			free((char *)(uintptr_t)cc->pynames.ents[i].val);
	hmap_free(&cc->pynames);
	hmap_free(&cc->pynames_read);
	hmap_free(&cc->pynames_nthr);
	hmap_free(&cc->pyarg0_reads); /* stacks.c's, freed with its neighbours */
	free(cc->pynames_buf);
}
