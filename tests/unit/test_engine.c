// SPDX-License-Identifier: MIT
/* Windows of the profile (profile__take_window and friends) and the event
 * loop (src/loop.c), without BPF. Run under ASan: a window that kept a
 * pointer to an array the live profile freed fails here. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>
#include "collect/mapdrain.h"
#include "artifact/artifact.h"
#include "loop.h"
#include "profile/profile.h"
#include "unit.h"
#include "util.h"

/* one process, main -> {hot, cold}, with a sample timeline */
static void fill(struct profile *p, uint32_t pid, uint64_t n)
{
	uint32_t exe = profile__module(p, "/usr/bin/app", "abcd");
	uint32_t f_main = profile__frame(p, AP_FRAME_USER, "main", exe, 0x1100);
	uint32_t f_hot = profile__frame(p, AP_FRAME_USER, "hot", exe, 0x1300);
	uint32_t f_cold = profile__frame(p, AP_FRAME_USER, "cold", exe, 0x1400);
	uint32_t a = profile__stack(p, (uint32_t[]){ f_main, f_hot }, 2);
	uint32_t b = profile__stack(p, (uint32_t[]){ f_main, f_cold }, 2);
	uint64_t i;

	profile__add(p, pid, pid, "app", a, 0, 3 * n);
	profile__add(p, pid, pid + 1, "worker", b, 0, n);
	for (i = 0; i < n; i++)
		profile__add_time(p, pid, pid, a, 1000 + i);
	profile__process(p, pid)->comm = profile__str(p, "app");
	profile__set_counter(p, "samples_received", 4 * n);
}

static char *cpu_json_text(const struct profile *p)
{
	cJSON *o = cpu_json__build(p);
	char *s = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return s;
}

TEST(window_takes_rows_and_borrows_tables)
{
	struct profile ref, live, win;
	char *want, *got, label[512];
	uint32_t f_hot;

	profile__init(&ref);
	profile__init(&live);
	ref.frequency_hz = live.frequency_hz = 99;
	ref.has_timeline = live.has_timeline = true;
	fill(&ref, 10, 5);
	fill(&live, 10, 5);
	profile__take_window(&live, &win);

	ASSERT_EQ(win.total_samples, 20, "the window has the samples");
	ASSERT_EQ(win.nr_counts, 2, "... its rows");
	ASSERT_EQ(win.nr_times, 5, "... its timeline");
	ASSERT_EQ(profile__counter(&win, "samples_received"), 20, "... its counters");
	ASSERT_EQ(live.total_samples, 0, "live starts the next window empty");
	ASSERT_EQ(live.nr_counts + live.nr_threads + live.nr_procs + live.nr_times, 0,
		  "live has no rows");
	ASSERT_EQ(live.nr_counters, 0, "nor counters");
	ASSERT_EQ(live.nr_frames, win.nr_frames, "live keeps the symbol tables");
	ASSERT_TRUE(win.strs == live.strs && win.frames == live.frames, "the window borrows them");

	/* the writers read a window as they read a whole run */
	want = cpu_json_text(&ref);
	got = cpu_json_text(&win);
	ASSERT_STREQ(got, want, "cpu.json of the window is that of the same run");
	free(want);
	free(got);

	/* live interns far past its capacity: arrays move, the window's stay */
	for (int i = 0; i < 5000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "fn%d", i);
		profile__stack(&live, (uint32_t[]){ profile__frame(&live, AP_FRAME_USER, name,
								     AP_NONE, i) }, 1);
	}
	ASSERT_TRUE(live.frames != win.frames, "live's frames moved");
	ASSERT_TRUE(live.nr_retired > 0, "the old arrays are kept while lent");
	f_hot = win.stack_frames[win.stacks[win.counts[0].stack].off + 1];
	ASSERT_STREQ(profile__frame_label(&win, f_hot, false, label, sizeof(label)), "hot",
		     "the window still reads its frames");
	ASSERT_EQ(live.frames[f_hot].name, win.frames[f_hot].name, "ids stay valid in live");

	/* ids interned before the window mean the same in the next one */
	fill(&live, 10, 2);
	ASSERT_EQ(live.nr_frames, win.nr_frames + 5000, "no frame interned twice");
	profile__window_free(&win);
	profile__purge(&live, NULL, NULL);
	ASSERT_EQ(live.nr_retired, 0, "purge frees the old arrays");
	ASSERT_TRUE(!live.lent, "... once the windows are gone");
	profile__take_window(&live, &win);
	ASSERT_EQ(win.total_samples, 8, "the second window: only its own samples");
	ASSERT_EQ(win.nr_times, 2, "... and timeline");
	profile__window_free(&win);
	profile__free(&live);
	profile__free(&ref);
}

TEST(window_own_and_intern)
{
	struct profile live, win;
	uint32_t id;

	profile__init(&live);
	fill(&live, 7, 1);
	profile__take_window(&live, &win);
	/* a window that interns (a loader, a label) gets its own tables */
	id = profile__str(&win, "only in the window");
	ASSERT_TRUE(!win.borrowed, "interning made the window own its tables");
	ASSERT_TRUE(win.strs != live.strs, "... copies");
	ASSERT_STREQ(profile__s(&win, id), "only in the window", "the new string");
	ASSERT_EQ(profile__str(&win, "app"), profile__str(&live, "app"), "old ids kept");
	ASSERT_EQ(live.nr_strs + 1, win.nr_strs, "live untouched");
	/* an owned window outlives the purge and the live profile */
	profile__purge(&live, NULL, NULL);
	profile__free(&live);
	ASSERT_EQ(win.total_samples, 4, "rows intact");
	ASSERT_EQ(profile__stack(&win, (uint32_t[]){ 0, 1 }, 2), 0, "stack index rebuilt");
	profile__window_free(&win);
	profile__window_free(NULL);
}

TEST(window_caps_hold_per_window)
{
	struct profile live, win;
	uint64_t i;

	profile__init(&live);
	for (i = 0; i < AP_TIMELINE_MAX + 10; i++)
		profile__add_time(&live, 1, 1, 0, i);
	profile__take_window(&live, &win);
	ASSERT_EQ(win.nr_times, AP_TIMELINE_MAX, "the cap");
	ASSERT_EQ(win.times_dropped, 10, "the excess counted in its window");
	profile__window_free(&win);
	for (i = 0; i < 5; i++)
		profile__add_time(&live, 1, 1, 0, i);
	profile__add_interval(&live, &(struct ap_interval){ .block_ns = 1 });
	profile__take_window(&live, &win);
	ASSERT_EQ(win.nr_times, 5, "the next window has its own share");
	ASSERT_EQ(win.times_dropped, 0, "... and its own count");
	ASSERT_EQ(win.nr_ivals, 1, "intervals too");
	profile__window_free(&win);
	profile__free(&live);
}

struct loop_probe {
	int ticks, reads, idles, stop_after;
	int fd;
};

static int on_tick(struct ap_loop *l, void *ctx)
{
	struct loop_probe *pr = ctx;

	return ++pr->ticks >= pr->stop_after;
}

static int on_read(struct ap_loop *l, void *ctx)
{
	struct loop_probe *pr = ctx;
	char c;

	if (read(pr->fd, &c, 1) == 1)
		pr->reads++;
	else
		pr->idles++; /* called on its timeout */
	return 0;
}

static int idle_ms(void *ctx)
{
	return 1;
}

TEST(loop_timers_fds_and_timeouts)
{
	struct loop_probe pr = { .stop_after = 3 }, slow = { .stop_after = 1000 };
	struct ap_loop l;
	int p[2], t;
	uint64_t t0;

	ASSERT_EQ(pipe2(p, O_NONBLOCK), 0, "pipe");
	pr.fd = p[0];
	ASSERT_EQ(ap_loop__init(&l, NULL, NULL, NULL), 0, "init without signals");
	ASSERT_EQ(ap_loop__add_fd(&l, p[0], on_read, idle_ms, &pr), 0, "fd source");
	t = ap_loop__add_timer(&l, 20000000, on_tick, &pr);
	ASSERT_TRUE(t >= 0, "timer");
	ASSERT_TRUE(ap_loop__add_timer(&l, 1000000000, on_tick, &slow) >= 0, "slow timer");
	ASSERT_EQ(write(p[1], "ab", 2), 2, "write");
	t0 = now_mono_ns();
	ASSERT_EQ(ap_loop__run(&l), 0, "a callback ends the run");
	ASSERT_EQ(pr.ticks, 3, "three ticks");
	ASSERT_TRUE(now_mono_ns() - t0 >= 50000000, "... 20 ms apart");
	ASSERT_EQ(pr.reads, 2, "the fd's bytes read");
	ASSERT_TRUE(pr.idles > 0, "the fd source's timeout called it while idle");
	ASSERT_EQ(slow.ticks, 0, "the 1 s timer did not fire");
	/* a new period applies; 0 disarms */
	pr.ticks = 0;
	pr.stop_after = 1;
	ASSERT_EQ(ap_loop__set_timer(&l, t, 1000000), 0, "set period");
	ASSERT_EQ(ap_loop__run(&l), 0, "runs again");
	ASSERT_EQ(pr.ticks, 1, "ticked at the new period");
	ASSERT_EQ(ap_loop__set_timer(&l, 99, 1), -EINVAL, "not a timer");
	ap_loop__free(&l);
	close(p[0]);
	close(p[1]);
}

static int count_usr1(struct ap_loop *l, const struct signalfd_siginfo *si, void *ctx)
{
	int *n = ctx;

	if (si->ssi_signo == SIGUSR1) {
		(*n)++;
		return 0;
	}
	return 1;
}

static int raise_then_wait(struct ap_loop *l, void *ctx)
{
	int *step = ctx;

	if ((*step)++ == 0)
		raise(SIGUSR1);
	else if (*step == 3)
		raise(SIGTERM);
	return *step > 10 ? -ETIMEDOUT : 0;
}

TEST(loop_signals)
{
	struct ap_loop l;
	sigset_t sigs, now;
	int usr1 = 0, step = 0;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	ASSERT_EQ(ap_loop__init(&l, &sigs, count_usr1, &usr1), 0, "init with signals");
	ASSERT_TRUE(ap_loop__add_timer(&l, 2000000, raise_then_wait, &step) >= 0, "timer");
	ASSERT_EQ(ap_loop__run(&l), 0, "SIGTERM ends the run, not the process");
	ASSERT_EQ(usr1, 1, "SIGUSR1 handled and the loop went on");
	ASSERT_EQ(l.last_signal, SIGTERM, "the signal that ended it");
	ASSERT_EQ(l.nr_signals, 2, "signals counted");
	ap_loop__free(&l);
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	ASSERT_TRUE(!sigismember(&now, SIGTERM), "the mask is restored");

	/* default: SIGINT ends the loop */
	ASSERT_EQ(ap_loop__init(&l, &(sigset_t){ 0 }, NULL, NULL), 0, "empty set: no signalfd");
	ASSERT_EQ(l.sigfd, -1, "no signalfd");
	ap_loop__free(&l);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	ASSERT_EQ(ap_loop__init(&l, &sigs, NULL, NULL), 0, "init");
	raise(SIGINT);
	ASSERT_EQ(ap_loop__run(&l), 0, "SIGINT ends it by default");
	ASSERT_EQ(l.last_signal, SIGINT, "SIGINT");
	ap_loop__free(&l);
}

/* a one-frame stack named name, counted once for pid 1 */
static uint32_t sample(struct profile *p, const char *name)
{
	uint32_t m = profile__module(p, "/bin/x", "");
	uint32_t f = profile__frame(p, AP_FRAME_USER, name, m, 0x10);
	uint32_t s = profile__stack(p, (uint32_t[]){ f }, 1);

	profile__add(p, 1, 1, "x", s, 0, 1);
	return s;
}

static const char *stack_name(const struct profile *p, uint32_t s, char *buf)
{
	return profile__frame_label(p, p->stack_frames[p->stacks[s].off], false, buf, 512);
}

TEST(purge_evicts_least_recently_used)
{
	struct profile_caps caps = { .stacks = 8, .frames = 8, .strs = 1000 };
	struct profile live, win;
	struct profile_remap rm;
	uint32_t old[10], recent[3], kept, s;
	char name[32], buf[512];
	size_t strs;
	int i;

	profile__init(&live);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "old%d", i);
		old[i] = sample(&live, name);
	}
	profile__take_window(&live, &win);
	profile__window_free(&win);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "recent%d", i);
		recent[i] = sample(&live, name);
	}
	profile__take_window(&live, &win);
	profile__window_free(&win);
	/* the open window counts one old stack again: it stays */
	profile__add(&live, 1, 1, "x", old[4], 0, 2);
	ASSERT_EQ(profile__purge(&live, NULL, &rm), 0, "under the default caps: nothing");
	ASSERT_TRUE(!rm.moved, "no ids moved");
	strs = live.nr_strs;
	ASSERT_EQ(profile__purge(&live, &caps, &rm), 9, "the 9 unused old stacks evicted");
	ASSERT_TRUE(rm.moved, "ids moved");
	ASSERT_EQ(live.nr_stacks, 4, "3 recent + the one in use");
	ASSERT_EQ(live.nr_frames, 4, "their frames");
	ASSERT_EQ(live.evicted.stacks, 9, "stacks counted");
	ASSERT_EQ(live.evicted.frames, 9, "frames counted");
	ASSERT_EQ(live.evicted.strs, 9, "their names counted");
	ASSERT_EQ(live.nr_strs, strs - 9, "... and gone");
	ASSERT_EQ(live.evicted.purges, 1, "one compaction");
	ASSERT_EQ(profile_remap__id(rm.stacks, rm.nr_stacks, old[0]), AP_NONE, "old0 evicted");
	kept = profile_remap__id(rm.stacks, rm.nr_stacks, old[4]);
	ASSERT_TRUE(kept != AP_NONE, "old4 kept");
	ASSERT_STREQ(stack_name(&live, kept, buf), "old4", "its frame, renumbered");
	for (i = 0; i < 3; i++) {
		s = profile_remap__id(rm.stacks, rm.nr_stacks, recent[i]);
		snprintf(name, sizeof(name), "recent%d", i);
		ASSERT_STREQ(stack_name(&live, s, buf), name, "recent stacks keep their names");
	}
	/* the live rows follow, and the indexes were rebuilt */
	ASSERT_EQ(live.nr_counts, 1, "one row");
	ASSERT_EQ(live.counts[0].stack, kept, "its stack renumbered");
	ASSERT_EQ(sample(&live, "old4"), kept, "re-interning finds the kept stack");
	ASSERT_EQ(live.nr_counts, 1, "... and its row");
	ASSERT_EQ(live.counts[0].count, 3, "counted in it");
	s = sample(&live, "old0");
	ASSERT_EQ(s, live.nr_stacks - 1, "an evicted stack comes back as a new one");
	ASSERT_STREQ(stack_name(&live, s, buf), "old0", "with its name");
	ASSERT_STREQ(profile__s(&live, live.threads[0].comm), "x", "row strings remapped");
	profile_remap__free(&rm);

	/* keep_stack: a cache's stack survives as if used now */
	profile__take_window(&live, &win);
	profile__window_free(&win);
	profile__take_window(&live, &win);
	profile__window_free(&win);
	profile__keep_stack(&live, 0);
	caps.stacks = caps.frames = 1;
	profile__purge(&live, &caps, &rm);
	ASSERT_EQ(live.nr_stacks, 1, "only the kept one");
	ASSERT_EQ(profile_remap__id(rm.stacks, rm.nr_stacks, 0), 0, "stack 0 kept");
	profile_remap__free(&rm);
	profile__free(&live);
}

static void sum_drained(const void *k, const void *v, void *ctx)
{
	uint64_t *acc = ctx;

	acc[0] += *(const uint32_t *)k;
	acc[1] += *(const uint64_t *)v;
	acc[2]++;
}

/* map_drain on a real BPF hash map (no program loaded): every entry read
 * once, the map empty after; more entries than one batch and buckets
 * that need the batch to grow */
TEST(map_drain_empties_a_hash)
{
	static const uint32_t flags[] = { 0, BPF_F_NO_PREALLOC };
	uint64_t acc[3], want_k = 0, want_v = 0, v;
	uint32_t k, f;
	int fd;

	for (f = 0; f < 2; f++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags[f]);

		fd = bpf_map_create(BPF_MAP_TYPE_HASH, "ap_drain_test", 4, 8, 4096, &o);
		if (!CHECK(fd >= 0, "bpf_map_create", "errno %d (unit tests run as root)", errno))
			return;
		want_k = want_v = 0;
		for (k = 1; k <= 3000; k++) {
			v = k * 10ull;
			bpf_map_update_elem(fd, &k, &v, BPF_ANY);
			want_k += k;
			want_v += v;
		}
		memset(acc, 0, sizeof(acc));
		ASSERT_EQ(map_drain(fd, 4, 8, sum_drained, acc), 3000, "entries read");
		ASSERT_EQ(acc[2], 3000, "each once");
		ASSERT_EQ(acc[0], want_k, "every key");
		ASSERT_EQ(acc[1], want_v, "every value");
		k = 0;
		ASSERT_TRUE(bpf_map_get_next_key(fd, NULL, &k) != 0, "the map is empty");
		ASSERT_EQ(map_drain(fd, 4, 8, sum_drained, acc), 0, "a second drain: nothing");
		close(fd);
	}
}
