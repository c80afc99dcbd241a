/* SPDX-License-Identifier: MIT */
/* The event loop of the long-running modes: one epoll over the collectors'
 * fds, a timerfd per tick (the report tick, the slow purge tick, a drain
 * tick) and a signalfd for the signals the caller names. Single-threaded:
 * every callback runs on the loop's thread, between two epoll_wait calls. */
#ifndef AP_LOOP_H
#define AP_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/signalfd.h>

#define AP_LOOP_MAX_SOURCES 16

struct ap_loop;

/* a callback returns 0 to go on, 1 to end ap_loop__run() (which returns 0),
 * or -errno to end it with that error */
typedef int (*ap_loop_fn)(struct ap_loop *l, void *ctx);
/* si: the signal read from the signalfd; same return convention */
typedef int (*ap_loop_sig_fn)(struct ap_loop *l, const struct signalfd_siginfo *si, void *ctx);
/* the longest the loop may sleep before calling this source's callback
 * anyway, in ms (-1: no limit); asked before every wait */
typedef int (*ap_loop_timeout_fn)(void *ctx);

struct ap_loop_src {
	int fd;
	bool owned;                 /* a timerfd the loop made (closed by __free) */
	uint64_t period_ns;         /* timers */
	ap_loop_fn fn;
	ap_loop_timeout_fn timeout;
	uint64_t last_ns;           /* when fn last ran (sources with a timeout) */
	void *ctx;
};

struct ap_loop {
	int epfd;
	int sigfd;                  /* -1: no signals handled */
	sigset_t sigs, old_mask;    /* taken by the signalfd; the mask before */
	ap_loop_sig_fn on_signal;
	void *sig_ctx;
	struct ap_loop_src src[AP_LOOP_MAX_SOURCES];
	int nr_src;
	uint64_t nr_wakeups;        /* epoll_wait returns (tests, cost) */
	uint32_t nr_signals;        /* signals read */
	int last_signal;
};

/* Set up l. sigs (NULL or empty: none) are blocked for this thread and read
 * from a signalfd instead; on_signal (NULL: SIGINT, SIGTERM and SIGHUP end
 * the loop, others are counted) decides what each does. Blocked signals are
 * inherited by children: a caller that forks restores l->old_mask in the
 * child before exec. 0 or -errno. */
int ap_loop__init(struct ap_loop *l, const sigset_t *sigs, ap_loop_sig_fn on_signal, void *ctx);
/* call fn when fd is readable (level-triggered), and at the latest after
 * timeout(ctx) ms when timeout is not NULL; 0 or -errno (-ENOSPC: full) */
int ap_loop__add_fd(struct ap_loop *l, int fd, ap_loop_fn fn, ap_loop_timeout_fn timeout, void *ctx);
/* call fn every period_ns (CLOCK_MONOTONIC timerfd, first after one
 * period); ticks missed while a callback ran are coalesced into one call.
 * Returns the timer's index (>= 0) for ap_loop__set_timer, or -errno. */
int ap_loop__add_timer(struct ap_loop *l, uint64_t period_ns, ap_loop_fn fn, void *ctx);
/* change a timer's period (0: disarm); 0 or -errno */
int ap_loop__set_timer(struct ap_loop *l, int timer, uint64_t period_ns);
/* Run until a callback returns 1 or an error, or a signal stops it.
 * 0, or the -errno of a callback or of epoll_wait. Can be called again. */
int ap_loop__run(struct ap_loop *l);
/* close the fds the loop made and restore the signal mask (a signal still
 * pending then takes its normal action); accepts NULL and an l whose
 * ap_loop__init failed */
void ap_loop__free(struct ap_loop *l);

#endif
