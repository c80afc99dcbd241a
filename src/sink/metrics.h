/* SPDX-License-Identifier: MIT */
/* The agent's self-metrics (--metrics-addr HOST:PORT): a tiny HTTP/1.x
 * server on the agent's event loop answering GET /metrics with the
 * Prometheus text exposition format 0.0.4. It has no authentication and
 * no TLS: bind it to loopback (or a private address).
 *
 * Single-threaded and non-blocking: the listening socket and its clients
 * live in an epoll set of their own, which is one source of the agent's
 * loop (one source whatever the number of clients, and writes can wait for
 * EPOLLOUT, which the loop's sources do not offer). One request per
 * connection (Connection: close). Bounded: at most AP_METRICS_MAX_CLIENTS
 * clients (more are answered 503 and closed), a request header of at most
 * AP_METRICS_MAX_HEADER bytes (431), a client without progress for
 * AP_METRICS_IDLE_MS is closed, and so is one that has not sent its header
 * AP_METRICS_HEADER_MS after connecting; every refusal is counted and
 * served too (autoprof_metrics_refused_total). A slow reader keeps only its
 * own response buffer (one exposition, a few KiB, sent as its socket's
 * 8 KiB send buffer takes it) and never stalls the loop.
 *
 * What is served is the state as of the last closed window (samples,
 * windows, store, the agent's counters), plus values read live at each
 * scrape: the agent's CPU time and RSS, and each sink's pushes and spool
 * (through the function given to ap_metrics__set_sinks). */
#ifndef AP_METRICS_H
#define AP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "profile/profile.h"
#include "sink/store.h"
#include "util.h"

#define AP_METRICS_MAX_CLIENTS 8
#define AP_METRICS_MAX_HEADER 8192
#define AP_METRICS_IDLE_MS 5000
#define AP_METRICS_HEADER_MS 10000
#define AP_METRICS_MAX_COUNTERS 256   /* counters kept; more are counted, not shown */
#define AP_METRICS_MAX_SINKS 8
#define AP_METRICS_MAX_BODY (1u << 20) /* an exposition past this is answered 500 */

struct ap_loop;
struct ap_metrics;

/* one push sink's live figures (the push module's stats, copied) */
struct ap_metrics_sink {
	char name[16];                  /* "otlp", "pyroscope" */
	uint64_t pushes_ok;             /* requests accepted (2xx) */
	uint64_t pushes_failed;         /* attempts that failed and are retried (429, 5xx, network) */
	uint64_t pushes_rejected;       /* requests refused for good (other 4xx): dropped */
	uint64_t pushes_given_up;       /* requests failed past their attempt budget: dropped */
	uint64_t bytes_sent;            /* request bodies accepted, as sent (compressed) */
	uint64_t spool_entries, spool_bytes;            /* in the spool now */
	uint64_t spool_dropped, spool_dropped_bytes;    /* deleted for --spool-mb */
	uint64_t spool_failed;          /* requests that could not be spooled: lost */
	uint64_t spool_bad;             /* spooled requests deleted as unreadable: lost */
	uint64_t spool_foreign;         /* spooled requests for another URL or tenant: deleted */
	uint64_t spool_read_errors;     /* failed reads of a spooled request, retried */
	uint64_t last_ok_real_ns;       /* CLOCK_REALTIME of the last accepted push, 0: none */
};

/* fills at most max sinks into out; how many (0: none) */
typedef int (*ap_metrics_sinks_fn)(void *ctx, struct ap_metrics_sink *out, int max);

/* what the agent hands over when a window is closed */
struct ap_metrics_window {
	uint64_t windows;               /* windows closed since the start */
	uint64_t samples;               /* on-CPU samples in this window (added up) */
	uint64_t end_real_ns;           /* the window's end (CLOCK_REALTIME) */
	const struct ap_counter_val *totals; /* every counter, totals since the start */
	size_t nr_totals;
	struct ap_store_stats store;    /* after the window was written */
	uint64_t store_max_bytes;       /* --max-disk */
};

/* the server's own refusals and answers (also served) */
struct ap_metrics_stats {
	uint64_t requests_ok, not_found, not_allowed;
	uint64_t refused_clients;       /* over AP_METRICS_MAX_CLIENTS: 503 */
	uint64_t refused_header;        /* header over AP_METRICS_MAX_HEADER: 431 */
	uint64_t refused_bad;           /* not an HTTP/1.x request line: 400 */
	uint64_t refused_idle;          /* closed idle or too slow before a full header */
	uint64_t refused_body;          /* exposition over AP_METRICS_MAX_BODY: 500 */
	uint64_t accept_failed;         /* accept() errors (e.g. EMFILE; accepting pauses 1 s) */
	uint64_t counters_omitted;      /* counters past AP_METRICS_MAX_COUNTERS */
	uint64_t writes_waited;         /* answers the socket did not take at once (EPOLLOUT) */
	int clients;                    /* connected now */
};

/* "HOST:PORT": HOST a numeric IPv4 address, a bracketed IPv6 address
 * ("[::1]") or "localhost" (127.0.0.1; no other name is resolved: the
 * address bound is the one written), PORT 1-65535 in decimal. 0 or
 * -EINVAL. */
int ap_metrics_parse_addr(const char *s, struct sockaddr_storage *sa, socklen_t *len);

/* The metrics state, with no socket yet (NULL and errno on failure).
 * version: the build_info label. */
struct ap_metrics *ap_metrics__new(const char *version);
/* Bind and listen on addr (ap_metrics_parse_addr's syntax). 0 or -errno,
 * with one line printed ("metrics: ADDR: bind: ..."); -EINVAL: not
 * HOST:PORT. */
int ap_metrics__listen(struct ap_metrics *m, const char *addr);
/* serve on loop l (one source); 0 or -errno */
int ap_metrics__attach(struct ap_metrics *m, struct ap_loop *l);
/* where the sinks' live figures come from (NULL: no sink series) */
void ap_metrics__set_sinks(struct ap_metrics *m, ap_metrics_sinks_fn fn, void *ctx);
/* a window was closed: keep its figures (counters copied) */
void ap_metrics__window(struct ap_metrics *m, const struct ap_metrics_window *w);
/* the exposition as served now, appended to out; 0 or -E2BIG (over
 * AP_METRICS_MAX_BODY: out then holds what was rendered) */
int ap_metrics__render(struct ap_metrics *m, struct strbuf *out);
void ap_metrics__stats(const struct ap_metrics *m, struct ap_metrics_stats *out);
/* close every client and the socket; accepts NULL */
void ap_metrics__free(struct ap_metrics *m);

#endif
