// SPDX-License-Identifier: MIT
/* The attach snapshot (bpf/snapshot.bpf.c): right after attaching to a
 * running process (-p), every thread's stack, kernel, native and Python,
 * once. Threads blocked since before the attach that stay blocked have no
 * scheduler event while we watch; at the end (idle_threads(), proclife.c)
 * their blocked time goes under this stack, below a root frame saying it
 * was blocked since before profiling, and under the reason the kernel's
 * view of the wait gives (lock, I/O, sleep ...). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "collect/collect.h"
#include "log.h"
#include "util.h"

/* the whole attach snapshot, all processes: a normal one of thousands of
 * threads takes tens of ms */
#define AP_SNAP_BUDGET_NS 2000000000ull

struct snapshot {
	struct snap_thread {
		uint32_t tgid, tid;
		uint32_t reason;        /* enum ap_off_reason */
		int32_t nr;             /* the syscall it was in, or -1 */
		uint32_t state;         /* its task state (0: running or runnable) */
		uint64_t time_ns;       /* when it was taken */
	} *t;
	size_t nr, cap;
	struct hmap ids;            /* (tgid, tid) -> index in t */
	uint64_t sent, lost, cut, bad;
	uint64_t timeouts;          /* processes left out: the snapshot's budget ran out */
};

/* its stack is named in cc->off_stacks under this identity: even, so
 * never one of the BPF side's (sid_of() sets bit 0) */
static uint64_t snap_sid(uint32_t tid)
{
	return 0x534e415000000000ull | (uint64_t)tid << 1;
}

/* Does the kernel have what the snapshot needs: bpf_copy_from_user_task
 * and sleepable iterators (5.18), and the task iterator's pid option
 * (6.1)? Read from the kernel's BTF: the helper's id in enum bpf_func_id,
 * the option as member "task" of union bpf_iter_link_info. */
bool collect_snapshot_supported(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	bool helper = false, pidopt = false;
	int id, i;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "bpf_func_id", BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0; t && i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, btf_enum(t)[i].name_off),
			    "BPF_FUNC_copy_from_user_task"))
			helper = true;
	id = btf__find_by_name_kind(btf, "bpf_iter_link_info", BTF_KIND_UNION);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0; t && i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, btf_members(t)[i].name_off), "task"))
			pidopt = true;
	btf__free(btf);
	return helper && pidopt;
}

/* The reading side of one pid's snapshot runs on a helper thread: reading
 * the iterator runs the BPF program, whose bpf_copy_from_user_task takes
 * the target's mmap_lock and faults its pages in, so a target hung in a
 * fault (a dead NFS mount, a userfaultfd nobody answers) or holding its
 * mmap_lock blocks that read as long as it hangs. The main thread waits
 * for each status at most until the snapshot's deadline, draining the ring
 * buffer between threads as before; past it, it goes on without the rest
 * and the reader, when it returns, frees what the two shared. Those waits
 * are killable: the stuck reader dies with the profiler at exit. */
struct snap_reader {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd;                     /* the iterator's */
	struct bpf_link *link;
	int refs;                   /* 2 while both threads hold it */
	bool have;                  /* st was read, the main thread drains after it */
	bool done, abandoned;       /* the reader is at the end; the main thread left */
	int err;
	struct ap_snap_status st;
};

static void reader_put(struct snap_reader *r)
{
	bool last = --r->refs == 0;

	pthread_mutex_unlock(&r->lock);
	if (!last)
		return;
	close(r->fd);
	bpf_link__destroy(r->link);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void *reader_main(void *arg)
{
	struct snap_reader *r = arg;
	struct ap_snap_status st;
	unsigned int stall = 0;
	const char *e = getenv("AP_TEST_SNAPSHOT_STALL_MS");
	ssize_t n;
	int err;

	/* AP_TEST_SNAPSHOT_STALL_MS: the tests' stand-in for a target whose
	 * memory does not answer (parsed leniently: tests only) */
	if (e)
		stall = (unsigned int)strtoul(e, NULL, 10);
	if (stall)
		usleep(stall * 1000u);
	for (;;) {
		n = read(r->fd, &st, sizeof(st));
		err = n < 0 ? -errno : 0;
		pthread_mutex_lock(&r->lock);
		if (r->abandoned)
			break;
		if (n != sizeof(st)) {
			r->err = err;
			r->done = true;
			pthread_cond_broadcast(&r->cond);
			break;
		}
		r->st = st;
		r->have = true;
		pthread_cond_broadcast(&r->cond);
		while (r->have && !r->abandoned)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->abandoned)
			break;
		pthread_mutex_unlock(&r->lock);
	}
	reader_put(r); /* unlocks */
	return NULL;
}

static struct snap_reader *reader_new(int fd, struct bpf_link *link)
{
	struct snap_reader *r = xcalloc(1, sizeof(*r));
	pthread_condattr_t ca;

	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->fd = fd;
	r->link = link;
	r->refs = 2;
	return r;
}

/* one process's threads through the iterator, one status record per
 * read(): the ring buffer is drained between threads, so a process with
 * many threads fits whatever the buffer's size. -ETIMEDOUT when the
 * reader did not finish by deadline (CLOCK_MONOTONIC, ns) */
static int snapshot_pid(struct cpu_collector *cc, struct snapshot *sn, uint32_t pid,
			uint64_t deadline)
{
	union bpf_iter_link_info linfo = { .task.pid = pid };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &linfo, .link_info_len = sizeof(linfo));
	struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
	struct snap_reader *r;
	struct bpf_link *link;
	pthread_t th;
	int fd, err = 0;

	cc->skel->bss->snap_taken = 0;
	link = bpf_program__attach_iter(cc->skel->progs.snap_threads, &opts);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		bpf_link__destroy(link);
		return err;
	}
	r = reader_new(fd, link);
	pthread_mutex_lock(&r->lock);
	err = -pthread_create(&th, NULL, reader_main, r);
	if (err) {
		r->refs = 1;
		reader_put(r);
		return err;
	}
	pthread_detach(th);
	for (;;) {
		while (!r->have && !r->done && !err)
			if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT)
				err = -ETIMEDOUT;
		if (r->have) { /* (one that came with the timeout still counts) */
			if (r->st.result == AP_SNAP_SENT)
				sn->sent++;
			else if (r->st.result == AP_SNAP_CUT)
				sn->cut++;
			else
				sn->lost++;
			pthread_mutex_unlock(&r->lock);
			ring_buffer__consume(cc->rb);
			pthread_mutex_lock(&r->lock);
			r->have = false;
			pthread_cond_broadcast(&r->cond);
			if (!err)
				continue;
		}
		if (!err)
			err = r->err;
		break;
	}
	if (err == -ETIMEDOUT && !r->done) {
		r->abandoned = true;
		pthread_cond_broadcast(&r->cond);
	} else if (err == -ETIMEDOUT) {
		err = r->err; /* finished as time ran out */
	}
	reader_put(r); /* unlocks */
	ring_buffer__consume(cc->rb);
	return err;
}

void collect_snapshot_take(struct cpu_collector *cc)
{
	const struct ap_options *o = &cc->ses->opts;
	struct snapshot *sn = cc->snap;
	uint64_t t = now_mono_ns();
	int i, err;

	if (!sn)
		return;
	for (i = 0; i < o->nr_pids; i++) {
		err = snapshot_pid(cc, sn, o->pids[i], t + AP_SNAP_BUDGET_NS);
		if (err == -ETIMEDOUT) {
			/* the rest are not tried: each would cost a stuck thread */
			sn->timeouts = o->nr_pids - i;
			ap_warn("snapshot: pid %u: its memory did not answer within %.0f s (a process "
				"hung in a page fault or holding its mmap_lock?): going on without the "
				"attach snapshot of %d process%s",
				o->pids[i], AP_SNAP_BUDGET_NS / 1e9, o->nr_pids - i,
				o->nr_pids - i > 1 ? "es" : "");
			break;
		}
		if (err) {
			ap_warn("snapshot: pid %u: taking its threads' stacks: %s", o->pids[i],
				ap_errstr(err));
			break;
		}
	}
	ap_debug("snapshot: %llu threads in %.1f ms (%llu lost, %llu over the cap of %d)",
		 (unsigned long long)sn->sent, (now_mono_ns() - t) / 1e6,
		 (unsigned long long)sn->lost, (unsigned long long)sn->cut, AP_SNAP_MAX_THREADS);
}

int collect_snapshot_record(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size)
{
	struct snapshot *sn = cc->snap;
	struct off_key key = { s->tgid, 0, snap_sid(s->tid) };
	struct { uint32_t tgid, tid; } id = { s->tgid, s->tid };
	uint32_t stack;
	bool is_new;
	uint64_t *slot;

	if (!sn || size < AP_CPU_SAMPLE_HDR || s->nr_kframes > AP_KSTACK_MAX)
		return -EINVAL;
	stack = collect_record_stack(cc, s, size, (const uint64_t *)s->kstack, s->nr_kframes);
	if (stack == AP_NONE) {
		sn->bad++;
		return 0;
	}
	hmap_put(&cc->off_stacks, &key, sizeof(key), stack);
	slot = hmap_upsert(&sn->ids, &id, sizeof(id), sn->nr, &is_new);
	if (is_new) {
		GROW(sn->t, sn->cap, sn->nr + 1);
		sn->nr++;
	}
	sn->t[*slot] = (struct snap_thread){ s->tgid, s->tid,
		s->aux[0] < AP_OFF__COUNT ? (uint32_t)s->aux[0] : AP_OFF_OTHER, (int32_t)s->aux[1],
		(uint32_t)s->aux[2], s->time_ns };
	return 0;
}

uint32_t collect_snapshot_stack(struct cpu_collector *cc, uint32_t tgid, uint32_t tid,
				const char *root, uint32_t *reason, int32_t *nr)
{
	struct snapshot *sn = cc->snap;
	struct profile *p = &cc->ses->prof;
	struct off_key key = { tgid, 0, snap_sid(tid) };
	struct { uint32_t tgid, tid; } id = { tgid, tid };
	const struct ap_stack *st;
	uint64_t i, stack;
	uint32_t n = 0, j;

	if (!sn || !hmap_get(&sn->ids, &id, sizeof(id), &i) ||
	    !hmap_get(&cc->off_stacks, &key, sizeof(key), &stack) || stack >= p->nr_stacks)
		return AP_NONE;
	st = &p->stacks[stack];
	if (st->len + 1 > CC_MAX_FRAMES)
		return AP_NONE;
	cc->frames[n++] = profile__frame(p, AP_FRAME_USER, root, AP_NONE, 0);
	for (j = 0; j < st->len; j++)
		cc->frames[n++] = p->stack_frames[st->off + j];
	*reason = sn->t[i].reason;
	*nr = sn->t[i].nr;
	return profile__stack(p, cc->frames, n);
}

/* A thread whose first event while we watched was a switch-in was off CPU
 * from the start until then; the kernel counts that time unknown
 * (switch_in()). If it was still waiting when its snapshot was taken, that
 * wait is the one in the snapshot: its time goes under the snapshot's
 * stack and reason, as for a thread blocked the whole run. st: the
 * thread's accounting since the last flush. */
void collect_snapshot_first_wait(struct cpu_collector *cc, struct ap_thread_stat *st)
{
	struct snapshot *sn = cc->snap;
	struct profile *p = &cc->ses->prof;
	struct { uint32_t tgid, tid; } id = { st->tgid, st->tid };
	uint64_t ns = st->off_ns[AP_OFF_UNKNOWN], i;
	const struct snap_thread *t;
	uint32_t stack, reason;
	int32_t nr;
	char why[96];

	if (!sn || !ns || !p->has_offcpu || !hmap_get(&sn->ids, &id, sizeof(id), &i))
		return;
	t = &sn->t[i];
	/* blocked at the snapshot, and the wait lasted past it */
	if (!t->state || cc->t0_ns + ns <= t->time_ns)
		return;
	snprintf(why, sizeof(why), "[blocked in %s since before profiling]",
		 t->nr >= 0 && ap_syscall_name(t->nr) ? ap_syscall_name(t->nr) : "the kernel");
	stack = collect_snapshot_stack(cc, st->tgid, st->tid, why, &reason, &nr);
	if (stack == AP_NONE)
		return;
	st->off_ns[AP_OFF_UNKNOWN] = 0;
	st->off_ns[reason] += ns;
	profile__add_off(p, st->tgid, st->tid, stack, reason, ns, 1);
}

/* before the load: the iterator loads only where it is used and can;
 * refused: a load with it failed, this one goes without */
void collect_snapshot_configure(struct cpu_collector *cc, bool refused)
{
	const struct ap_options *o = &cc->ses->opts;
	bool want = o->nr_pids && !o->argv && !o->all && !o->no_offcpu && !refused;

	/* AP_TEST_NO_SNAPSHOT: the tests' stand-in for an older kernel */
	if (want && (getenv("AP_TEST_NO_SNAPSHOT") || !collect_snapshot_supported())) {
		ap_warn("snapshot: this kernel has no sleepable task iterator with bpf_copy_from_user_task "
			"(Linux 6.1+): threads blocked since before the attach get no user or Python stack");
		want = false;
	}
	bpf_program__set_autoload(cc->skel->progs.snap_threads, want);
	if (want && getenv("AP_TEST_SNAPSHOT_REJECT"))
		cc->skel->rodata->snap_test_reject = 1;
	if (want)
		cc->snap = xcalloc(1, sizeof(*cc->snap));
}

void collect_snapshot_counters(struct cpu_collector *cc, struct profile *into)
{
	struct snapshot *sn = cc->snap;

	profile__set_counter(into, "snapshot_threads", sn ? sn->sent : 0);
	profile__set_counter(into, "snapshot_threads_lost", sn ? sn->lost + sn->bad : 0);
	profile__set_counter(into, "snapshot_threads_cut", sn ? sn->cut : 0);
	profile__set_counter(into, "snapshot_timeouts", sn ? sn->timeouts : 0);
}

void collect_snapshot_free(struct cpu_collector *cc)
{
	struct snapshot *sn = cc->snap;

	if (!sn)
		return;
	hmap_free(&sn->ids);
	free(sn->t);
	free(sn);
	cc->snap = NULL;
}
