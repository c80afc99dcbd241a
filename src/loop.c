// SPDX-License-Identifier: MIT
/* The event loop: epoll over fds, timerfds and a signalfd; see loop.h. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "log.h"
#include "loop.h"
#include "util.h"

/* epoll data: the source index, or this for the signalfd */
#define SIG_TAG UINT64_MAX

int ap_loop__init(struct ap_loop *l, const sigset_t *sigs, ap_loop_sig_fn on_signal, void *ctx)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->epfd = l->sigfd = -1;
	l->on_signal = on_signal;
	l->sig_ctx = ctx;
	sigemptyset(&l->sigs);
	pthread_sigmask(SIG_SETMASK, NULL, &l->old_mask);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		err = -errno;
		ap_warn("loop: epoll_create1: %s", ap_errstr(err));
		return err;
	}
	if (!sigs || sigisemptyset(sigs))
		return 0;
	l->sigs = *sigs;
	/* blocked first: a signal between the two calls waits in the fd */
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	l->sigfd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sigfd,
				      &(struct epoll_event){ .events = EPOLLIN,
							     .data.u64 = SIG_TAG })) {
		err = -errno;
		ap_warn("loop: signalfd: %s", ap_errstr(err));
		ap_loop__free(l);
		return err;
	}
	return 0;
}

static int add_src(struct ap_loop *l, const struct ap_loop_src *s)
{
	int i = l->nr_src, err;

	if (i >= AP_LOOP_MAX_SOURCES)
		return -ENOSPC;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->fd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.u64 = i })) {
		err = -errno;
		ap_warn("loop: epoll_ctl fd %d: %s", s->fd, ap_errstr(err));
		return err;
	}
	l->src[i] = *s;
	l->nr_src++;
	return i;
}

int ap_loop__add_fd(struct ap_loop *l, int fd, ap_loop_fn fn, ap_loop_timeout_fn timeout, void *ctx)
{
	struct ap_loop_src s = { .fd = fd, .fn = fn, .timeout = timeout, .ctx = ctx,
				.last_ns = now_mono_ns() };
	int i = add_src(l, &s);

	return i < 0 ? i : 0;
}

int ap_loop__set_timer(struct ap_loop *l, int timer, uint64_t period_ns)
{
	struct itimerspec its = {
		.it_interval = { period_ns / 1000000000ull, period_ns % 1000000000ull },
		.it_value = { period_ns / 1000000000ull, period_ns % 1000000000ull },
	};

	if (timer < 0 || timer >= l->nr_src || !l->src[timer].owned)
		return -EINVAL;
	if (timerfd_settime(l->src[timer].fd, 0, &its, NULL))
		return -errno;
	l->src[timer].period_ns = period_ns;
	return 0;
}

int ap_loop__add_timer(struct ap_loop *l, uint64_t period_ns, ap_loop_fn fn, void *ctx)
{
	struct ap_loop_src s = { .owned = true, .fn = fn, .ctx = ctx };
	int i, err;

	s.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s.fd < 0) {
		err = -errno;
		ap_warn("loop: timerfd_create: %s", ap_errstr(err));
		return err;
	}
	i = add_src(l, &s);
	if (i < 0) {
		close(s.fd);
		return i;
	}
	err = ap_loop__set_timer(l, i, period_ns);
	return err ? err : i;
}

/* the signals waiting in the signalfd; 1 when one of them ends the loop */
static int read_signals(struct ap_loop *l)
{
	struct signalfd_siginfo si;
	int ret = 0, r;

	while (read(l->sigfd, &si, sizeof(si)) == sizeof(si)) {
		l->nr_signals++;
		l->last_signal = si.ssi_signo;
		if (l->on_signal)
			r = l->on_signal(l, &si, l->sig_ctx);
		else
			r = si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP;
		if (r && !ret)
			ret = r;
	}
	return ret;
}

/* A source with a timeout is due when that many ms have passed since its
 * callback last ran, whatever else woke the loop meanwhile (a 100 ms tick
 * must not starve a collector whose drain interval is also 100 ms). */
static bool src_due(struct ap_loop_src *s, uint64_t now, int *left_ms)
{
	int t = s->timeout(s->ctx);
	uint64_t due;

	if (t < 0) {
		*left_ms = -1;
		return false;
	}
	due = s->last_ns + (uint64_t)t * 1000000ull;
	*left_ms = due > now ? (int)((due - now + 999999) / 1000000) : 0;
	return due <= now;
}

static int wait_ms(struct ap_loop *l)
{
	uint64_t now = now_mono_ns();
	int i, t, ms = -1;

	for (i = 0; i < l->nr_src; i++) {
		if (!l->src[i].timeout)
			continue;
		src_due(&l->src[i], now, &t);
		if (t >= 0 && (ms < 0 || t < ms))
			ms = t;
	}
	return ms;
}

int ap_loop__run(struct ap_loop *l)
{
	struct epoll_event ev[AP_LOOP_MAX_SOURCES + 1];
	bool ready[AP_LOOP_MAX_SOURCES];
	uint64_t ticks;
	int n, i, r, ms;

	for (;;) {
		ms = wait_ms(l);
		n = epoll_wait(l->epfd, ev, AP_LOOP_MAX_SOURCES + 1, ms);
		if (n < 0) {
			if (errno == EINTR) /* a signal the caller handles itself */
				continue;
			return -errno;
		}
		l->nr_wakeups++;
		memset(ready, 0, sizeof(ready));
		r = 0;
		for (i = 0; i < n; i++) {
			if (ev[i].data.u64 == SIG_TAG)
				r = read_signals(l);
			else if (ev[i].data.u64 < (uint64_t)l->nr_src)
				ready[ev[i].data.u64] = true;
		}
		if (r)
			return r < 0 ? r : 0;
		/* in registration order: fds (collectors) first, then the
		 * ticks, so a tick sees what arrived before it */
		for (i = 0; i < l->nr_src; i++) {
			struct ap_loop_src *s = &l->src[i];
			int left;

			if (!ready[i] && !(s->timeout && src_due(s, now_mono_ns(), &left)))
				continue;
			if (s->timeout)
				s->last_ns = now_mono_ns();
			if (s->owned && read(s->fd, &ticks, sizeof(ticks)) != sizeof(ticks))
				continue; /* a tick already consumed */
			r = s->fn(l, s->ctx);
			if (r)
				return r < 0 ? r : 0;
		}
	}
}

void ap_loop__free(struct ap_loop *l)
{
	int i;

	if (!l)
		return;
	for (i = 0; i < l->nr_src; i++)
		if (l->src[i].owned)
			close(l->src[i].fd);
	l->nr_src = 0;
	if (l->sigfd >= 0) {
		close(l->sigfd);
		l->sigfd = -1;
		pthread_sigmask(SIG_SETMASK, &l->old_mask, NULL);
	}
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}
