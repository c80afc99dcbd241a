/* SPDX-License-Identifier: MIT */
/* The engine of the long-running modes (agent, top, --all) and of a
 * one-shot run: collectors started per ses->opts, their records turned into
 * ses->prof as they arrive (driven by an ap_loop), and the profile cut into
 * windows. A window holds the rows of one interval (samples, threads,
 * processes, off-CPU and syscall rows, timelines, counters) and borrows the
 * long-lived symbol tables of ses->prof; see profile.h and
 * docs/ARCHITECTURE.md "Windows and long-lived tables".
 *
 * Typical use (agent):
 *
 *	engine__start(ses);                       // open + attach
 *	ap_loop__init(&l, &sigs, NULL, NULL);
 *	engine__add_sources(ses, &l);             // collectors' fds
 *	ap_loop__add_timer(&l, interval, on_report, ses);  // engine__window + write + free
 *	ap_loop__add_timer(&l, purge_period, on_purge, ses); // engine__purge
 *	ap_loop__run(&l);                         // until SIGTERM/SIGINT
 *	engine__stop(ses);                        // stop sampling, drain
 *	engine__window(ses, now_mono_ns(), &win); // the last window
 */
#ifndef AP_ENGINE_H
#define AP_ENGINE_H

#include <stdint.h>
#include "loop.h"
#include "session.h"

/* how often the collectors are drained when nothing wakes the loop */
#define AP_ENGINE_DRAIN_NS 100000000ull

/* What needs no BPF, one clear line each, for run, agent and top (cmd
 * names the command in messages; NULL for run): root or CAP_BPF and
 * CAP_PERFMON, a kernel with BTF; then the kernel's symbols into ses->ks
 * (a warning if unreadable). 0, or -EPERM / -ENOENT. */
int engine__preflight(struct ap_session *ses, const char *cmd);

/* Open (unless ses->cpu is open already) and attach the collectors that
 * ses->opts asks for; initializes ses->prof when it is not, and the first
 * window starts now (ses->start_mono/real, win_start_*). The caller tracks
 * what to profile (cpu_collector__track, or system-wide). 0 or -errno
 * (message logged). */
int engine__start(struct ap_session *ses);

/* register the collectors' fds in l, each drained when readable and at
 * least every AP_ENGINE_DRAIN_NS (sooner after an exec); 0 or -errno */
int engine__add_sources(struct ap_session *ses, struct ap_loop *l);

/* drain what the collectors hold now (records in flight) */
int engine__drain(struct ap_session *ses);
/* engine__drain, then the kernel's aggregates into the open window, as
 * engine__window does (it can be called any number of times per window) */
int engine__flush(struct ap_session *ses, uint64_t now);

/* Close the open window at now (CLOCK_MONOTONIC ns): drain the ring buffer
 * and the kernel's aggregates (cpu_collector__drain: off-CPU time per stack
 * and syscall statistics since the last window, per-thread totals as
 * deltas), counters in, the processes of the window named (comm, exe,
 * cmdline, ppid, labels from the process model), then
 * profile__take_window(&ses->prof, win): win gets the rows (start_mono_ns,
 * duration_s of the window) and borrows the symbol tables until the next
 * engine__purge(). The next window starts at now. The collectors' loss
 * counters are cumulative since the start; the engine's eviction counters
 * are per window. Free win with profile__window_free(). 0 or -errno. */
int engine__window(struct ap_session *ses, uint64_t now, struct profile *win);

/* The slow tick: evict from the long-lived tables past their caps
 * (ses->caps, or the AP_PROFILE_*_MAX; least recently used first, counted),
 * and renumber the collectors' caches of ids. Windows taken before must be
 * freed (or profile__window_own()ed) by then. With ses->purge_ns set, each
 * window carries what the purges during it evicted (counters
 * profile_purges, profile_{stacks,frames,modules,strings}_evicted). */
void engine__purge(struct ap_session *ses);

/* Hidden settings for tests, from the environment: AP_TEST_PURGE_MS (the
 * purge tick of a run, ms), AP_TEST_FLUSH_MS (a run drains the kernel's
 * aggregates this often, as each window does) and AP_TEST_PROFILE_CAPS
 * ("stacks,frames,strs", the caps of ses->prof). 0, or -EINVAL for a
 * malformed value. */
int engine__test_env(struct ap_session *ses);

/* stop sampling and handle what is still buffered; the BPF aggregates
 * (off-CPU per stack, syscalls, thread accounting) go into the open window,
 * so the window taken next holds them. Safe to call twice. */
void engine__stop(struct ap_session *ses);

#endif
