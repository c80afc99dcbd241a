// SPDX-License-Identifier: MIT
/* A push sink's sender thread (push.h). The loop thread writes spool
 * entries and signals; the sender sleeps on a condition variable
 * (CLOCK_MONOTONIC) between entries and during a backoff. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "sink/http.h"
#include "sink/push.h"
#include "sink/spool.h"
#include "util.h"

struct ap_push {
	char *name, *url;
	struct ap_spool *spool;
	struct ap_http *http;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool draining;          /* stop asked: send what is there, then end */
	bool exited;            /* the sender returned */
	int abort;              /* enum ap_http_abort (__atomic): end; a request under way
				 * too (ABORT_NOW), or unless its body was sent (UNSENT) */
	uint64_t puts;          /* entries enqueued (under mu): no wakeup is missed */
	unsigned seed;
	/* counters, written by the sender (atomics: read by any thread) */
	uint64_t ok, retried, rejected, given_up, bytes_sent, last_ok;
	/* the attempt budget of the entry being sent (sender only) */
	unsigned give_up_tries;
	uint64_t give_up_ns;
	uint64_t budget_seq, budget_first_ns;
	unsigned budget_fails;
	long last_status;
	/* one line a minute per kind of failure */
	uint64_t last_log_retry, last_log_reject, quiet_retry, quiet_reject;
	/* spool entries that could not be read (sender only, but read_errors) */
	uint64_t read_errors, read_seq, last_log_read, quiet_read;
	unsigned read_fails;
};

static pthread_mutex_t sinks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ap_push *sinks[AP_PUSH_SINKS_MAX];

static void add64(uint64_t *v, uint64_t n)
{
	__atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

static uint64_t get64(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* wait on cv until deadline (CLOCK_MONOTONIC ns, 0: a second) or a
 * signal; the caller holds mu */
static void wait_until(struct ap_push *p, uint64_t deadline)
{
	struct timespec ts;

	if (!deadline)
		deadline = now_mono_ns() + 1000000000ull;
	ts.tv_sec = deadline / 1000000000ull;
	ts.tv_nsec = deadline % 1000000000ull;
	pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

static bool aborting(struct ap_push *p)
{
	return __atomic_load_n(&p->abort, __ATOMIC_ACQUIRE) != AP_HTTP_GO_ON;
}

static bool draining(struct ap_push *p)
{
	bool d;

	pthread_mutex_lock(&p->mu);
	d = p->draining;
	pthread_mutex_unlock(&p->mu);
	return d;
}

/* a failure line, at most one a minute per kind; the others counted in it */
static void log_failure(struct ap_push *p, bool retry, const struct ap_http_result *r,
			const char *url)
{
	uint64_t now = now_mono_ns(), *last = retry ? &p->last_log_retry : &p->last_log_reject;
	uint64_t *quiet = retry ? &p->quiet_retry : &p->quiet_reject;

	if (*last && now - *last < AP_PUSH_LOG_EVERY_NS) {
		(*quiet)++;
		return;
	}
	ap_warn("push: %s: %s: %s%s (%llu more since the last such line)", p->name, url, r->what,
		retry ? ", will retry" : ", refused: request deleted",
		(unsigned long long)*quiet);
	*last = now;
	*quiet = 0;
}

/* the backoff after n retryable failures in a row: 1 s doubling to 60 s,
 * each between half and all of it (jitter: sinks restarted together do
 * not retry together) */
static uint64_t backoff_ms(struct ap_push *p, unsigned n)
{
	uint64_t ms = AP_PUSH_BACKOFF_MIN_MS;

	while (n-- > 1 && ms < AP_PUSH_BACKOFF_MAX_MS)
		ms *= 2;
	if (ms > AP_PUSH_BACKOFF_MAX_MS)
		ms = AP_PUSH_BACKOFF_MAX_MS;
	return ms / 2 + rand_r(&p->seed) % (ms / 2 + 1);
}

/* the server's Retry-After plus 0 to 20% (jitter: a fleet told the same
 * time does not come back in lockstep; never sooner than asked, which
 * the server may enforce) */
static uint64_t retry_after_ms(struct ap_push *p, long s)
{
	uint64_t ms = (uint64_t)s * 1000;

	return ms + rand_r(&p->seed) % (ms / 5 + 1);
}

/* one more failure of entry e that is the backend's doing: past the
 * budget (both the tries and the time since its first attempt)? */
static bool give_up(struct ap_push *p, const struct ap_spool_entry *e)
{
	uint64_t now = now_mono_ns();

	if (p->budget_seq != e->seq) {
		p->budget_seq = e->seq;
		p->budget_first_ns = now;
		p->budget_fails = 0;
	}
	return ++p->budget_fails >= p->give_up_tries && now - p->budget_first_ns >= p->give_up_ns;
}

/* send the oldest entry; true when the sender should go on at once */
static bool send_one(struct ap_push *p, const struct ap_spool_entry *e, unsigned *fails,
		     uint64_t *next)
{
	struct ap_http_result r;
	char *url = xasprintf("%s%s", p->url, e->path);
	uint64_t ms;

	ap_http__post(p->http, url, e->ctype, e->cenc, e->body, e->len, &p->abort, &r);
	__atomic_store_n(&p->last_status, r.status, __ATOMIC_RELAXED);
	switch (r.cls) {
	case AP_HTTP_OK:
		ap_spool__remove(p->spool, e->seq);
		add64(&p->ok, 1);
		add64(&p->bytes_sent, e->len);
		__atomic_store_n(&p->last_ok, now_real_ns(), __ATOMIC_RELAXED);
		if (*fails)
			ap_info("push: %s: %s: sent again after %u failures", p->name, p->url, *fails);
		*fails = 0;
		break;
	case AP_HTTP_PERMANENT:
		ap_spool__remove(p->spool, e->seq);
		add64(&p->rejected, 1);
		log_failure(p, false, &r, url);
		*fails = 0;
		break;
	case AP_HTTP_RETRY:
		if (aborting(p))
			break;
		add64(&p->retried, 1);
		if (r.server_fault && give_up(p, e)) {
			ap_warn("push: %s: %s: %s: failed %u times in %llu s: given up, request deleted",
				p->name, url, r.what, p->budget_fails,
				(unsigned long long)((now_mono_ns() - p->budget_first_ns) / 1000000000ull));
			ap_spool__remove(p->spool, e->seq);
			add64(&p->given_up, 1);
			p->budget_seq = 0;
			break; /* the next one at once */
		}
		log_failure(p, true, &r, url);
		ms = r.retry_after_s ? retry_after_ms(p, r.retry_after_s) : backoff_ms(p, ++*fails);
		*next = now_mono_ns() + ms * 1000000ull;
		free(url);
		return false;
	}
	free(url);
	return true;
}

/* The oldest entry could not be read, and not for its contents (-EIO,
 * -ENOMEM, -EMFILE, -EISDIR...): counted, one line a minute, a second's
 * wait (while draining too); after AP_PUSH_READ_TRIES such failures in a
 * row on the same entry it is deleted as bad, so one entry never stalls
 * the sink. */
static void read_error(struct ap_push *p, uint64_t seq, int err)
{
	uint64_t now = now_mono_ns(), deadline = now + 1000000000ull;

	add64(&p->read_errors, 1);
	if (seq != p->read_seq) {
		p->read_seq = seq;
		p->read_fails = 0;
	}
	if (++p->read_fails >= AP_PUSH_READ_TRIES) {
		ap_warn("push: %s: spool entry %llu: unreadable %u times (%s): deleted", p->name,
			(unsigned long long)seq, p->read_fails, ap_errstr(err));
		ap_spool__remove_bad(p->spool, seq);
		p->read_fails = 0;
		p->last_log_read = now;
		return;
	}
	if (!p->last_log_read || now - p->last_log_read >= AP_PUSH_LOG_EVERY_NS) {
		ap_warn("push: %s: reading spool entry %llu: %s, will retry (%llu more since the last such line)",
			p->name, (unsigned long long)seq, ap_errstr(err),
			(unsigned long long)p->quiet_read);
		p->last_log_read = now;
		p->quiet_read = 0;
	} else {
		p->quiet_read++;
	}
	pthread_mutex_lock(&p->mu);
	while (!aborting(p) && now_mono_ns() < deadline)
		wait_until(p, deadline);
	pthread_mutex_unlock(&p->mu);
}

static void *sender(void *arg)
{
	struct ap_push *p = arg;
	struct ap_spool_entry e;
	unsigned fails = 0;
	uint64_t next = 0, seen;
	int err;

	while (!aborting(p)) {
		pthread_mutex_lock(&p->mu);
		seen = p->puts;
		pthread_mutex_unlock(&p->mu);
		err = ap_spool__peek(p->spool, &e);
		if (err && err != -ENOENT) {
			read_error(p, e.seq, err);
			continue;
		}
		p->read_fails = 0;
		if (err) {
			pthread_mutex_lock(&p->mu);
			if (p->draining) {
				pthread_mutex_unlock(&p->mu);
				break; /* all sent */
			}
			/* woken by the next entry, unless it came meanwhile */
			if (!p->draining && !aborting(p) && p->puts == seen)
				wait_until(p, 0);
			pthread_mutex_unlock(&p->mu);
			continue;
		}
		if (send_one(p, &e, &fails, &next)) {
			ap_spool_entry_free(&e);
			continue;
		}
		ap_spool_entry_free(&e);
		/* backing off: the backend is down; at shutdown the rest waits
		 * in the spool for the next start */
		if (draining(p))
			break;
		pthread_mutex_lock(&p->mu);
		while (!p->draining && !aborting(p) && now_mono_ns() < next)
			wait_until(p, next);
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_lock(&p->mu);
	p->exited = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The endpoint's ID in the spool: FNV-1a 64 of the URL and the tenant, so
 * that after a restart with another of either the old entries are not
 * sent to the new one (credentials are left out: rotating them keeps the
 * spool). */
static void spool_ident(const struct ap_push_conf *c, char out[AP_SPOOL_IDENT_LEN + 1])
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *parts[2] = { c->url, c->tenant ? c->tenant : "" }, *q;
	int i;

	for (i = 0; i < 2; i++) {
		for (q = parts[i]; *q; q++)
			h = (h ^ (unsigned char)*q) * 0x100000001b3ull;
		h = (h ^ 0xff) * 0x100000001b3ull; /* a separator no string holds */
	}
	snprintf(out, AP_SPOOL_IDENT_LEN + 1, "%016llx", (unsigned long long)h);
}

static void push_free_parts(struct ap_push *p)
{
	ap_http__free(p->http);
	ap_spool__close(p->spool);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->name);
	free(p->url);
	free(p);
}

int ap_push__open(int store_fd, const struct ap_push_conf *c, struct ap_push **out)
{
	struct ap_push *p = xcalloc(1, sizeof(*p));
	char why[256], ident[AP_SPOOL_IDENT_LEN + 1];
	pthread_condattr_t ca;
	sigset_t all, old;
	size_t i;
	int err;

	*out = NULL;
	p->name = xstrdup(c->name);
	p->url = xstrdup(c->url);
	p->seed = (unsigned)(now_real_ns() ^ (uintptr_t)p);
	p->give_up_tries = c->give_up_tries ? c->give_up_tries : AP_PUSH_GIVE_UP_TRIES;
	p->give_up_ns = c->give_up_s < 0 ? 0 :
			(uint64_t)(c->give_up_s ? c->give_up_s : AP_PUSH_GIVE_UP_S) * 1000000000ull;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	spool_ident(c, ident);
	err = ap_spool__open(store_fd, c->name, c->spool_max_bytes, ident, &p->spool);
	if (err)
		goto err_out;
	p->http = ap_http__new(c->headers, c->nr_headers, c->user, c->password, c->timeout_s,
			       why, sizeof(why));
	if (!p->http) {
		err = -errno;
		ap_err("push: %s: HTTP client: %s: %s", c->name, why, ap_errstr(err));
		goto err_out;
	}
	pthread_mutex_lock(&sinks_mu);
	for (i = 0; i < AP_PUSH_SINKS_MAX && sinks[i]; i++)
		;
	if (i < AP_PUSH_SINKS_MAX)
		sinks[i] = p;
	pthread_mutex_unlock(&sinks_mu);
	if (i == AP_PUSH_SINKS_MAX) {
		err = -ENOSPC;
		ap_err("push: %s: more than %d sinks", c->name, AP_PUSH_SINKS_MAX);
		goto err_out;
	}
	/* the sender takes no signal: they are the agent's loop's (signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&p->thread, NULL, sender, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		ap_err("push: %s: sender thread: %s", c->name, ap_errstr(err));
		pthread_mutex_lock(&sinks_mu);
		sinks[i] = NULL;
		pthread_mutex_unlock(&sinks_mu);
		goto err_out;
	}
	p->started = true;
	*out = p;
	return 0;

err_out:
	push_free_parts(p);
	return err;
}

int ap_push__enqueue(struct ap_push *p, const char *path, const char *ctype, const char *cenc,
		     uint64_t start_ns, const void *body, size_t len)
{
	int err = ap_spool__put(p->spool, path, ctype, cenc ? cenc : "", start_ns, body, len);

	pthread_mutex_lock(&p->mu);
	p->puts++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return err;
}

int ap_push__sync(struct ap_push *p)
{
	int err = ap_spool__sync(p->spool);

	if (err)
		ap_warn("push: %s: spool: syncing the file system: %s", p->name, ap_errstr(err));
	return err;
}

void ap_push__drain(struct ap_push *p)
{
	if (!p || !p->started)
		return;
	pthread_mutex_lock(&p->mu);
	p->draining = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void ap_push__stop(struct ap_push *p, uint64_t deadline)
{
	if (!p || !p->started)
		return;
	pthread_mutex_lock(&p->mu);
	p->draining = true;
	pthread_cond_broadcast(&p->cv);
	while (!p->exited && now_mono_ns() < deadline)
		wait_until(p, deadline);
	/* At least once: a request whose body went out in full may have
	 * been taken; its answer is awaited (the push timeout bounds it too),
	 * until AP_PUSH_ANSWER_GRACE_NS past the deadline. Anything else ends
	 * now and stays in the spool. */
	__atomic_store_n(&p->abort, AP_HTTP_ABORT_UNSENT, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->cv);
	while (!p->exited && now_mono_ns() < deadline + AP_PUSH_ANSWER_GRACE_NS)
		wait_until(p, deadline + AP_PUSH_ANSWER_GRACE_NS);
	__atomic_store_n(&p->abort, AP_HTTP_ABORT_NOW, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	p->started = false;
}

void ap_push__free(struct ap_push *p)
{
	size_t i;

	if (!p)
		return;
	ap_push__stop(p, 0); /* no grace */
	pthread_mutex_lock(&sinks_mu);
	for (i = 0; i < AP_PUSH_SINKS_MAX; i++)
		if (sinks[i] == p)
			sinks[i] = NULL;
	pthread_mutex_unlock(&sinks_mu);
	push_free_parts(p);
}

void ap_push__sink_stats(struct ap_push *p, struct ap_push_stats *out)
{
	struct ap_spool_stats ss;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	out->pushes_ok = get64(&p->ok);
	out->pushes_retried = get64(&p->retried);
	out->pushes_rejected = get64(&p->rejected);
	out->pushes_given_up = get64(&p->given_up);
	out->bytes_sent = get64(&p->bytes_sent);
	out->last_ok_real_ns = get64(&p->last_ok);
	out->last_status = __atomic_load_n(&p->last_status, __ATOMIC_RELAXED);
	ap_spool__stats(p->spool, &ss);
	out->spool_entries = ss.entries;
	out->spool_bytes = ss.bytes;
	out->spool_dropped = ss.dropped;
	out->spool_dropped_bytes = ss.dropped_bytes;
	out->spool_put_failed = ss.put_failed;
	out->spool_resumed = ss.resumed;
	out->spool_syncs = ss.syncs;
	out->spool_bad = ss.bad;
	out->spool_foreign = ss.foreign;
	out->spool_read_errors = get64(&p->read_errors);
}

size_t ap_push__stats(struct ap_push_stats *out, size_t max)
{
	size_t i, n = 0;

	pthread_mutex_lock(&sinks_mu);
	for (i = 0; i < AP_PUSH_SINKS_MAX && n < max; i++)
		if (sinks[i])
			ap_push__sink_stats(sinks[i], &out[n++]);
	pthread_mutex_unlock(&sinks_mu);
	return n;
}
