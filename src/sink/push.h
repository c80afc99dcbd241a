/* SPDX-License-Identifier: MIT */
/* A push sink: a spool (spool.h) and one sender thread. The agent's loop
 * thread only enqueues (writes a spool file), so a slow or hung backend
 * never stalls sampling. The sender takes the oldest entry, POSTs it
 * (http.h) to the sink's URL + the entry's path, and deletes it when it
 * was taken (2xx) or refused for good (other 4xx; counted, logged at most
 * once a minute per sink). A retryable failure (429, 5xx, network,
 * timeout) keeps the entry and waits: 1 s doubling to 60 s, with jitter,
 * or the server's Retry-After; a request failed by the backend too often
 * for too long is given up (AP_PUSH_GIVE_UP_*). At shutdown the sender gets a short grace
 * to flush; what is left stays in the spool for the next start. */
#ifndef AP_PUSH_H
#define AP_PUSH_H

#include <stddef.h>
#include <stdint.h>

#define AP_PUSH_BACKOFF_MIN_MS 1000
#define AP_PUSH_BACKOFF_MAX_MS 60000
#define AP_PUSH_LOG_EVERY_NS (60 * 1000000000ull) /* a sink's failures: one line a minute */
#define AP_PUSH_SINKS_MAX 4
#define AP_PUSH_ANSWER_GRACE_NS (3 * 1000000000ull) /* stop: a sent request's answer awaited */
/* A request the backend keeps failing (5xx, or a timeout once sent) is
 * given up, deleted and counted (pushes_given_up) once both hold: this
 * many such failures, and this long since its first attempt by this agent
 * process. Both, so that a backend down for a while (or restarting) does
 * not lose requests, and one request that always fails costs at most an
 * hour (or ten tries) per entry. 429 and failed connects never count. */
#define AP_PUSH_GIVE_UP_TRIES 10
#define AP_PUSH_GIVE_UP_S 3600
#define AP_PUSH_READ_TRIES 3    /* an entry unreadable this often in a row is deleted (bad) */
#define AP_PUSH_SPOOL_DEFAULT_MB 64
#define AP_PUSH_TIMEOUT_DEFAULT_S 30

struct ap_push;

struct ap_push_conf {
	const char *name;               /* "pyroscope", "otlp": the spool's name too */
	const char *url;                /* an entry's path is appended to it */
	const char *const *headers;     /* "Name: value" each */
	size_t nr_headers;
	const char *user, *password;    /* basic auth; NULL none */
	const char *tenant;             /* with url, names the spool's entries (NULL none) */
	long timeout_s;                 /* one request, in all */
	uint64_t spool_max_bytes;
	unsigned give_up_tries;         /* 0: AP_PUSH_GIVE_UP_TRIES */
	long give_up_s;                 /* 0: AP_PUSH_GIVE_UP_S; <0: no wait */
};

/* A sink's counters (since the agent started; spool_* are live). */
struct ap_push_stats {
	char name[16];                  /* the sink's */
	uint64_t pushes_ok;             /* requests taken (2xx) */
	uint64_t pushes_retried;        /* attempts that failed retryably (429/5xx/network/timeout) */
	uint64_t pushes_rejected;       /* requests refused for good (4xx): deleted */
	uint64_t pushes_given_up;       /* requests deleted past their attempt budget: lost */
	uint64_t bytes_sent;            /* bodies of the requests taken */
	uint64_t last_ok_real_ns;       /* when a request was last taken, 0 never */
	long last_status;               /* the last HTTP status, 0 none or a network error */
	uint64_t spool_entries, spool_bytes;    /* waiting now */
	uint64_t spool_dropped, spool_dropped_bytes; /* the oldest deleted over --spool-mb */
	uint64_t spool_put_failed;      /* requests that could not be spooled */
	uint64_t spool_resumed;         /* entries found in the spool at start */
	uint64_t spool_syncs;           /* syncs of the spool (one a window) */
	uint64_t spool_bad;             /* entries deleted as unreadable: lost */
	uint64_t spool_foreign;         /* entries for another URL or tenant, deleted at start */
	uint64_t spool_read_errors;     /* failed reads of an entry (-EIO...), retried */
};

/* Open the sink's spool in the store (store_fd) and start its sender.
 * 0 or -errno (one line printed). */
int ap_push__open(int store_fd, const struct ap_push_conf *conf, struct ap_push **out);
/* Spool one request (path and query appended to the sink's URL; not
 * synced: ap_push__sync()); the sender sends it when it can. Called by the agent's loop thread. 0 or
 * -errno (counted in spool_put_failed). */
int ap_push__enqueue(struct ap_push *p, const char *path, const char *ctype, const char *cenc,
		     uint64_t start_ns, const void *body, size_t len);
/* Make the requests enqueued so far durable (one syncfs of the spool's
 * file system, spool.h): the agent's loop calls it once per window, after
 * all of the window's requests. 0 or -errno (one line printed). */
int ap_push__sync(struct ap_push *p);
/* Ask the sender to send what is spooled and end (returns at once: call
 * it on every sink, then ap_push__stop() each, so that they flush
 * together). NULL is fine. */
void ap_push__drain(struct ap_push *p);
/* Let the sender flush until deadline_ns (CLOCK_MONOTONIC), then end it:
 * a request under way whose body was sent in full gets its answer (until
 * AP_PUSH_ANSWER_GRACE_NS past the deadline, and the push timeout), any
 * other is aborted and stays in the spool. Delivery is at least once: a
 * request the server took but whose answer was lost is sent again. NULL
 * is fine. */
void ap_push__stop(struct ap_push *p, uint64_t deadline_ns);
/* stop (no grace) and free; NULL is fine */
void ap_push__free(struct ap_push *p);
void ap_push__sink_stats(struct ap_push *p, struct ap_push_stats *out);
/* The counters of every open sink, into out[0..max): how many. For the
 * metrics endpoint and window.json; any thread. */
size_t ap_push__stats(struct ap_push_stats *out, size_t max);

#endif
