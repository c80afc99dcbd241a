// SPDX-License-Identifier: MIT
/* The agent's self-metrics: the Prometheus text exposition (format 0.0.4)
 * and the small non-blocking HTTP/1.x server that serves it on the
 * agent's event loop; see metrics.h for the caps and what is served. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "log.h"
#include "loop.h"
#include "sink/metrics.h"
#include "util.h"

#define MX_NAME_MAX 64           /* a counter name kept (longer ones cut) */
#define MX_ACCEPT_BATCH 16       /* accepts per wakeup */
#define MX_DRAIN_MAX 65536       /* bytes read and dropped after the response */
#define MX_SNDBUF 8192           /* a client socket's send buffer */
#define MX_PAUSE_MS 1000         /* accepting paused after an accept() error */
#define MX_LISTENER 0            /* epoll tag of the listening socket; clients i + 1 */

enum mx_state { MX_FREE, MX_READ, MX_WRITE, MX_DRAIN };

struct mx_client {
	int fd;
	enum mx_state state;
	uint64_t accepted_ns, active_ns;
	size_t req_len, drained;
	char *out;
	size_t out_len, out_off;
	char req[AP_METRICS_MAX_HEADER];
};

struct mx_counter {
	char name[MX_NAME_MAX];
	uint64_t value;
};

struct ap_metrics {
	int lfd, epfd;
	char addr[80];
	struct mx_client cl[AP_METRICS_MAX_CLIENTS];
	int nr_clients;
	uint64_t paused_until_ns;        /* accepting paused until then (0: not) */
	char version[32];
	uint64_t start_real_ns;
	/* as of the last closed window */
	struct ap_metrics_window win;    /* totals not kept: copied into ctr */
	uint64_t samples;
	struct mx_counter ctr[AP_METRICS_MAX_COUNTERS];
	size_t nr_ctr;
	ap_metrics_sinks_fn sinks_fn;
	void *sinks_ctx;
	struct ap_metrics_stats st;
};

/* ---- the exposition ---- */

static void family(struct strbuf *o, const char *name, const char *type, const char *help)
{
	sb_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* a label value as the format wants it: \ " and newline escaped; bytes
 * outside printable ASCII become '_' (the value must be valid UTF-8, and
 * ours are identifiers: nothing is lost) */
static void label_value(struct strbuf *o, const char *v)
{
	const unsigned char *p;

	for (p = (const unsigned char *)v; *p; p++) {
		if (*p == '\\')
			sb_puts(o, "\\\\");
		else if (*p == '"')
			sb_puts(o, "\\\"");
		else if (*p == '\n')
			sb_puts(o, "\\n");
		else if (*p < 0x20 || *p >= 0x7f)
			sb_puts(o, "_");
		else
			sb_append(o, (const char *)p, 1);
	}
}

static void sample_u64(struct strbuf *o, const char *name, const char *label, const char *value,
		       uint64_t v)
{
	sb_puts(o, name);
	if (label) {
		sb_printf(o, "{%s=\"", label);
		label_value(o, value);
		sb_puts(o, "\"}");
	}
	sb_printf(o, " %llu\n", (unsigned long long)v);
}

static void sample_f(struct strbuf *o, const char *name, double v)
{
	sb_printf(o, "%s %.6f\n", name, v);
}

static void one_u64(struct strbuf *o, const char *name, const char *type, const char *help,
		    uint64_t v)
{
	family(o, name, type, help);
	sample_u64(o, name, NULL, NULL, v);
}

/* the agent's own cost, read now */
static void render_process(struct ap_metrics *m, struct strbuf *o)
{
	struct rusage ru;
	double cpu = 0;
	long pages = 0, rss = 0;
	FILE *f;

	if (!getrusage(RUSAGE_SELF, &ru))
		cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
		      ru.ru_stime.tv_usec / 1e6;
	f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	family(o, "process_cpu_seconds_total", "counter",
	       "User and system CPU time of the agent in seconds (live).");
	sample_f(o, "process_cpu_seconds_total", cpu);
	one_u64(o, "process_resident_memory_bytes", "gauge",
		"Resident memory of the agent in bytes (live).",
		(uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE));
	family(o, "process_start_time_seconds", "gauge",
	       "Start time of the agent since the Unix epoch in seconds.");
	sample_f(o, "process_start_time_seconds", (double)(m->start_real_ns / 1000000000ull));
	family(o, "autoprof_build_info", "gauge", "The agent's version (always 1).");
	sample_u64(o, "autoprof_build_info", "version", m->version, 1);
}

static void render_windows(struct ap_metrics *m, struct strbuf *o)
{
	const struct ap_store_stats *s = &m->win.store;

	one_u64(o, "autoprof_windows_total", "counter",
		"Windows closed since the agent started (as of the last closed window).",
		m->win.windows);
	one_u64(o, "autoprof_samples_total", "counter",
		"On-CPU samples in the windows closed so far (as of the last closed window).",
		m->samples);
	family(o, "autoprof_last_window_end_timestamp_seconds", "gauge",
	       "End of the last closed window since the Unix epoch in seconds (0: none yet).");
	sample_f(o, "autoprof_last_window_end_timestamp_seconds", m->win.end_real_ns / 1e9);
	one_u64(o, "autoprof_store_windows", "gauge",
		"Windows in the local store (as of the last closed window).", s->windows);
	one_u64(o, "autoprof_store_bytes", "gauge",
		"Disk usage of the local store's windows in bytes (as of the last closed window).",
		s->bytes);
	one_u64(o, "autoprof_store_max_bytes", "gauge", "The store's size cap (--max-disk) in bytes.",
		m->win.store_max_bytes);
	one_u64(o, "autoprof_store_windows_deleted_total", "counter",
		"Windows deleted from the store for its size cap or a full disk (as of the last closed window).",
		s->evicted);
	one_u64(o, "autoprof_store_deleted_bytes_total", "counter",
		"Disk usage of the deleted windows in bytes (as of the last closed window).",
		s->evicted_bytes);
	one_u64(o, "autoprof_store_windows_dropped_total", "counter",
		"Windows that could not be written to the store (as of the last closed window).",
		s->dropped);
}

/* every counter of the agent as one family with a label: the set is open
 * (each collector adds its own; window.json's counters_total has the same
 * names) and all are event totals since the start */
static void render_counters(struct ap_metrics *m, struct strbuf *o)
{
	size_t i;

	family(o, "autoprof_events_total", "counter",
	       "Every loss, eviction and event counter of the agent, by its name in window.json's "
	       "counters_total (as of the last closed window).");
	for (i = 0; i < m->nr_ctr; i++)
		sample_u64(o, "autoprof_events_total", "event", m->ctr[i].name, m->ctr[i].value);
}

static void render_sink_family(struct strbuf *o, const struct ap_metrics_sink *sk, int n,
			       const char *name, const char *type, const char *help, size_t off)
{
	int i;

	family(o, name, type, help);
	for (i = 0; i < n; i++)
		sample_u64(o, name, "sink", sk[i].name,
			   *(const uint64_t *)((const char *)&sk[i] + off));
}

static void render_sinks(struct ap_metrics *m, struct strbuf *o)
{
	struct ap_metrics_sink sk[AP_METRICS_MAX_SINKS];
	int n, i;

	if (!m->sinks_fn)
		return;
	memset(sk, 0, sizeof(sk));
	n = m->sinks_fn(m->sinks_ctx, sk, AP_METRICS_MAX_SINKS);
	if (n <= 0)
		return;
	if (n > AP_METRICS_MAX_SINKS)
		n = AP_METRICS_MAX_SINKS;
	for (i = 0; i < n; i++)
		sk[i].name[sizeof(sk[i].name) - 1] = 0;
	family(o, "autoprof_sink_pushes_total", "counter",
	       "Push requests per sink and result: ok (2xx), failed (retried: 429, 5xx, network) "
	       "rejected (other 4xx, dropped) and given_up (failed by the backend 10 times and "
	       "for an hour, dropped) (live).");
	for (i = 0; i < n; i++) {
		sb_puts(o, "autoprof_sink_pushes_total{sink=\"");
		label_value(o, sk[i].name);
		sb_printf(o, "\",result=\"ok\"} %llu\n", (unsigned long long)sk[i].pushes_ok);
		sb_puts(o, "autoprof_sink_pushes_total{sink=\"");
		label_value(o, sk[i].name);
		sb_printf(o, "\",result=\"failed\"} %llu\n", (unsigned long long)sk[i].pushes_failed);
		sb_puts(o, "autoprof_sink_pushes_total{sink=\"");
		label_value(o, sk[i].name);
		sb_printf(o, "\",result=\"rejected\"} %llu\n",
			  (unsigned long long)sk[i].pushes_rejected);
		sb_puts(o, "autoprof_sink_pushes_total{sink=\"");
		label_value(o, sk[i].name);
		sb_printf(o, "\",result=\"given_up\"} %llu\n",
			  (unsigned long long)sk[i].pushes_given_up);
	}
	render_sink_family(o, sk, n, "autoprof_sink_sent_bytes_total", "counter",
			   "Request bodies accepted by the backend, in bytes as sent (live).",
			   offsetof(struct ap_metrics_sink, bytes_sent));
	render_sink_family(o, sk, n, "autoprof_sink_spool_entries", "gauge",
			   "Requests waiting in the sink's on-disk spool (live).",
			   offsetof(struct ap_metrics_sink, spool_entries));
	render_sink_family(o, sk, n, "autoprof_sink_spool_bytes", "gauge",
			   "Size of the sink's on-disk spool in bytes (live).",
			   offsetof(struct ap_metrics_sink, spool_bytes));
	render_sink_family(o, sk, n, "autoprof_sink_spool_dropped_total", "counter",
			   "Spooled requests deleted, oldest first, to keep the spool under --spool-mb (live).",
			   offsetof(struct ap_metrics_sink, spool_dropped));
	render_sink_family(o, sk, n, "autoprof_sink_spool_dropped_bytes_total", "counter",
			   "Size of the spooled requests deleted for --spool-mb in bytes (live).",
			   offsetof(struct ap_metrics_sink, spool_dropped_bytes));
	render_sink_family(o, sk, n, "autoprof_sink_spool_failed_total", "counter",
			   "Requests that could not be written to the spool, lost (live).",
			   offsetof(struct ap_metrics_sink, spool_failed));
	render_sink_family(o, sk, n, "autoprof_sink_spool_bad_total", "counter",
			   "Spooled requests deleted as unreadable (not an entry, or unreadable "
			   "three times in a row), lost (live).",
			   offsetof(struct ap_metrics_sink, spool_bad));
	render_sink_family(o, sk, n, "autoprof_sink_spool_foreign_total", "counter",
			   "Spooled requests found at start for another URL or tenant, deleted (live).",
			   offsetof(struct ap_metrics_sink, spool_foreign));
	render_sink_family(o, sk, n, "autoprof_sink_spool_read_errors_total", "counter",
			   "Failed reads of a spooled request (I/O error, no memory...), retried (live).",
			   offsetof(struct ap_metrics_sink, spool_read_errors));
	family(o, "autoprof_sink_last_ok_timestamp_seconds", "gauge",
	       "Time of the sink's last accepted push since the Unix epoch in seconds (0: none).");
	for (i = 0; i < n; i++) {
		sb_puts(o, "autoprof_sink_last_ok_timestamp_seconds{sink=\"");
		label_value(o, sk[i].name);
		sb_printf(o, "\"} %.3f\n", sk[i].last_ok_real_ns / 1e9);
	}
}

static void render_server(struct ap_metrics *m, struct strbuf *o)
{
	const struct ap_metrics_stats *st = &m->st;
	static const char *const codes[] = { "200", "404", "405" };
	static const char *const why[] = { "too_many_clients", "header_too_large", "bad_request",
					   "idle", "too_large", "accept_failed" };
	uint64_t nc[] = { st->requests_ok, st->not_found, st->not_allowed };
	uint64_t nw[] = { st->refused_clients, st->refused_header, st->refused_bad,
			  st->refused_idle, st->refused_body, st->accept_failed };
	size_t i;

	family(o, "autoprof_metrics_requests_total", "counter",
	       "Requests this metrics server answered, by status code (live).");
	for (i = 0; i < AP_ARRAY_SIZE(codes); i++)
		sample_u64(o, "autoprof_metrics_requests_total", "code", codes[i], nc[i]);
	family(o, "autoprof_metrics_refused_total", "counter",
	       "Connections this metrics server refused or closed, by reason (live).");
	for (i = 0; i < AP_ARRAY_SIZE(why); i++)
		sample_u64(o, "autoprof_metrics_refused_total", "reason", why[i], nw[i]);
	one_u64(o, "autoprof_metrics_clients", "gauge",
		"Clients connected to this metrics server, this one included (live).",
		(uint64_t)m->nr_clients);
	one_u64(o, "autoprof_metrics_counters_omitted", "gauge",
		"Agent counters not shown: past the metrics server's cap.", st->counters_omitted);
}

int ap_metrics__render(struct ap_metrics *m, struct strbuf *out)
{
	size_t before = out->len;

	render_process(m, out);
	render_windows(m, out);
	render_counters(m, out);
	render_sinks(m, out);
	render_server(m, out);
	return out->len - before > AP_METRICS_MAX_BODY ? -E2BIG : 0;
}

void ap_metrics__window(struct ap_metrics *m, const struct ap_metrics_window *w)
{
	size_t i, n;

	if (!m)
		return;
	m->win = *w;
	m->win.totals = NULL;
	m->win.nr_totals = 0;
	m->samples += w->samples;
	n = w->nr_totals < AP_METRICS_MAX_COUNTERS ? w->nr_totals : AP_METRICS_MAX_COUNTERS;
	for (i = 0; i < n; i++) {
		snprintf(m->ctr[i].name, sizeof(m->ctr[i].name), "%s",
			 w->totals[i].name ? w->totals[i].name : "");
		m->ctr[i].value = w->totals[i].value;
	}
	m->nr_ctr = n;
	m->st.counters_omitted = w->nr_totals - n;
}

void ap_metrics__set_sinks(struct ap_metrics *m, ap_metrics_sinks_fn fn, void *ctx)
{
	m->sinks_fn = fn;
	m->sinks_ctx = ctx;
}

void ap_metrics__stats(const struct ap_metrics *m, struct ap_metrics_stats *out)
{
	*out = m->st;
	out->clients = m->nr_clients;
}

/* ---- the address ---- */

int ap_metrics_parse_addr(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	char host[64];
	const char *colon, *h = s;
	size_t hl;
	long port;

	memset(sa, 0, sizeof(*sa));
	if (*s == '[') {
		colon = strchr(s, ']');
		if (!colon || colon[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = colon - h;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = colon - s;
	}
	if (!hl || hl >= sizeof(host) || parse_long(colon + 1, 1, 65535, &port))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (*s == '[') {
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		return -EINVAL;
	in4->sin_family = AF_INET;
	in4->sin_port = htons(port);
	*len = sizeof(*in4);
	return 0;
}

/* ---- the server ---- */

struct ap_metrics *ap_metrics__new(const char *version)
{
	struct ap_metrics *m = calloc(1, sizeof(*m));
	int i;

	if (!m)
		return NULL;
	m->lfd = m->epfd = -1;
	for (i = 0; i < AP_METRICS_MAX_CLIENTS; i++)
		m->cl[i].fd = -1;
	snprintf(m->version, sizeof(m->version), "%s", version ? version : "");
	m->start_real_ns = now_real_ns();
	return m;
}

int ap_metrics__listen(struct ap_metrics *m, const char *addr)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int one = 1, err;

	if (ap_metrics_parse_addr(addr, &sa, &len)) {
		ap_err("metrics: '%s' is not HOST:PORT", addr);
		return -EINVAL;
	}
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->epfd < 0 || m->lfd < 0) {
		err = -errno;
		ap_err("metrics: %s: socket: %s", addr, ap_errstr(err));
		return err;
	}
	/* a restarted agent binds again while the old connections are in
	 * TIME_WAIT; a port another socket listens on still fails */
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa.ss_family == AF_INET6) /* [::] means IPv6 only: the address given */
		setsockopt(m->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(m->lfd, (struct sockaddr *)&sa, len) || listen(m->lfd, 16)) {
		err = -errno;
		ap_err("metrics: %s: bind: %s", addr, ap_errstr(err));
		return err;
	}
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->lfd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.u64 = MX_LISTENER })) {
		err = -errno;
		ap_err("metrics: %s: epoll_ctl: %s", addr, ap_errstr(err));
		return err;
	}
	return 0;
}

static void client_close(struct ap_metrics *m, struct mx_client *c)
{
	if (c->state == MX_FREE)
		return;
	close(c->fd); /* leaves the epoll set with it */
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->state = MX_FREE;
	c->req_len = c->drained = c->out_len = c->out_off = 0;
	m->nr_clients--;
}

static int client_events(struct ap_metrics *m, struct mx_client *c, uint32_t events)
{
	return epoll_ctl(m->epfd, EPOLL_CTL_MOD, c->fd,
			 &(struct epoll_event){ .events = events, .data.u64 = (c - m->cl) + 1 });
}

/* the response into c->out: status line, headers, body (HEAD: no body) */
static void respond(struct ap_metrics *m, struct mx_client *c, const char *status,
		    const char *ctype, const char *extra, const char *body, size_t len, bool head)
{
	struct strbuf o = {};

	sb_printf(&o, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		      "Connection: close\r\n\r\n", status, ctype, len, extra);
	if (!head)
		sb_append(&o, body, len);
	free(c->out);
	c->out = o.buf;
	c->out_len = o.len;
	c->out_off = 0;
	c->state = MX_WRITE;
}

static void respond_text(struct ap_metrics *m, struct mx_client *c, const char *status,
			 const char *extra, const char *body)
{
	respond(m, c, status, "text/plain; charset=utf-8", extra, body, strlen(body), false);
}

/* the request line of a complete header: METHOD SP TARGET SP HTTP/1.x */
static void handle_request(struct ap_metrics *m, struct mx_client *c)
{
	char *line = c->req, *eol = memchr(c->req, '\n', c->req_len), *target, *version, *q;
	struct strbuf body = {};
	bool head;

	*eol = 0;
	if (eol > line && eol[-1] == '\r')
		eol[-1] = 0;
	target = strchr(line, ' ');
	version = target ? strchr(target + 1, ' ') : NULL;
	if (!version || target == line || target[1] != '/' ||
	    (strcmp(version + 1, "HTTP/1.1") && strcmp(version + 1, "HTTP/1.0"))) {
		m->st.refused_bad++;
		respond_text(m, c, "400 Bad Request", "", "bad request\n");
		return;
	}
	*target++ = 0;
	*version = 0;
	q = strchr(target, '?');
	if (q)
		*q = 0;
	if (strcmp(target, "/metrics")) {
		m->st.not_found++;
		respond_text(m, c, "404 Not Found", "", "not found: the metrics are at /metrics\n");
		return;
	}
	head = !strcmp(line, "HEAD");
	if (!head && strcmp(line, "GET")) {
		m->st.not_allowed++;
		respond_text(m, c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
			     "method not allowed: GET /metrics\n");
		return;
	}
	if (ap_metrics__render(m, &body)) {
		m->st.refused_body++;
		respond_text(m, c, "500 Internal Server Error", "", "exposition too large\n");
	} else {
		m->st.requests_ok++;
		respond(m, c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", "", body.buf,
			body.len, head);
	}
	sb_free(&body);
}

/* after the response: read what the client still sends until it closes
 * (closing with unread data would reset the connection and could cut the
 * response short), at most MX_DRAIN_MAX bytes or AP_METRICS_IDLE_MS */
static void client_drain(struct ap_metrics *m, struct mx_client *c)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		c->drained += n;
		if (c->drained > MX_DRAIN_MAX)
			break;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || c->drained > MX_DRAIN_MAX)
		client_close(m, c);
}

static void client_write(struct ap_metrics *m, struct mx_client *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			m->st.writes_waited++;
			if (client_events(m, c, EPOLLOUT))
				client_close(m, c);
			return;
		}
		if (n <= 0) {
			client_close(m, c);
			return;
		}
		c->out_off += n;
		c->active_ns = now_mono_ns();
	}
	free(c->out);
	c->out = NULL;
	shutdown(c->fd, SHUT_WR);
	c->state = MX_DRAIN;
	if (client_events(m, c, EPOLLIN))
		client_close(m, c);
	else
		client_drain(m, c);
}

static bool header_complete(const struct mx_client *c)
{
	return memmem(c->req, c->req_len, "\r\n\r\n", 4) || memmem(c->req, c->req_len, "\n\n", 2);
}

static void client_read(struct ap_metrics *m, struct mx_client *c)
{
	ssize_t n;

	while (c->req_len < sizeof(c->req) - 1) {
		n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) { /* gone before asking */
			client_close(m, c);
			return;
		}
		c->req_len += n;
		c->active_ns = now_mono_ns();
		if (header_complete(c))
			break;
	}
	c->req[c->req_len] = 0;
	if (header_complete(c)) {
		handle_request(m, c);
	} else if (c->req_len >= sizeof(c->req) - 1) {
		m->st.refused_header++;
		respond_text(m, c, "431 Request Header Fields Too Large", "", "header too large\n");
	} else {
		return;
	}
	client_write(m, c);
}

static void accept_clients(struct ap_metrics *m)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	struct mx_client *c = NULL;
	int i, k, fd;

	for (k = 0; k < MX_ACCEPT_BATCH; k++) {
		fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/* e.g. EMFILE: the listener stays readable; pause it
			 * rather than spin on it */
			m->st.accept_failed++;
			m->paused_until_ns = now_mono_ns() + MX_PAUSE_MS * 1000000ull;
			epoll_ctl(m->epfd, EPOLL_CTL_MOD, m->lfd,
				  &(struct epoll_event){ .events = 0, .data.u64 = MX_LISTENER });
			return;
		}
		for (i = 0, c = NULL; i < AP_METRICS_MAX_CLIENTS && !c; i++)
			if (m->cl[i].state == MX_FREE)
				c = &m->cl[i];
		if (!c) { /* a fresh socket's buffer takes this at once */
			m->st.refused_clients++;
			send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		/* the kernel's share per client bounded too (it doubles this) */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ MX_SNDBUF }, sizeof(int));
		c->fd = fd;
		c->state = MX_READ;
		c->accepted_ns = c->active_ns = now_mono_ns();
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd,
			      &(struct epoll_event){ .events = EPOLLIN,
						     .data.u64 = (c - m->cl) + 1 })) {
			close(fd);
			c->fd = -1;
			c->state = MX_FREE;
			continue;
		}
		m->nr_clients++;
	}
}

/* when the next client deadline (or the end of an accept pause) is due */
static uint64_t next_deadline(const struct ap_metrics *m)
{
	uint64_t d = m->paused_until_ns ? m->paused_until_ns : UINT64_MAX, t;
	int i;

	for (i = 0; i < AP_METRICS_MAX_CLIENTS; i++) {
		const struct mx_client *c = &m->cl[i];

		if (c->state == MX_FREE)
			continue;
		t = c->active_ns + AP_METRICS_IDLE_MS * 1000000ull;
		if (c->state == MX_READ && c->accepted_ns + AP_METRICS_HEADER_MS * 1000000ull < t)
			t = c->accepted_ns + AP_METRICS_HEADER_MS * 1000000ull;
		if (t < d)
			d = t;
	}
	return d;
}

static void reap(struct ap_metrics *m, uint64_t now)
{
	int i;

	if (m->paused_until_ns && now >= m->paused_until_ns) {
		m->paused_until_ns = 0;
		epoll_ctl(m->epfd, EPOLL_CTL_MOD, m->lfd,
			  &(struct epoll_event){ .events = EPOLLIN, .data.u64 = MX_LISTENER });
	}
	for (i = 0; i < AP_METRICS_MAX_CLIENTS; i++) {
		struct mx_client *c = &m->cl[i];

		if (c->state == MX_FREE)
			continue;
		if (now < c->active_ns + AP_METRICS_IDLE_MS * 1000000ull &&
		    !(c->state == MX_READ && now >= c->accepted_ns + AP_METRICS_HEADER_MS * 1000000ull))
			continue;
		if (c->state != MX_DRAIN) /* draining ends this way normally */
			m->st.refused_idle++;
		client_close(m, c);
	}
}

static int on_ready(struct ap_loop *l, void *ctx)
{
	struct ap_metrics *m = ctx;
	struct epoll_event ev[AP_METRICS_MAX_CLIENTS + 1];
	int n, i;

	n = epoll_wait(m->epfd, ev, AP_ARRAY_SIZE(ev), 0);
	for (i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		struct mx_client *c;

		if (tag == MX_LISTENER) {
			accept_clients(m);
			continue;
		}
		if (tag > AP_METRICS_MAX_CLIENTS)
			continue;
		c = &m->cl[tag - 1];
		if (c->state == MX_READ)
			client_read(m, c);
		else if (c->state == MX_WRITE)
			client_write(m, c);
		else if (c->state == MX_DRAIN)
			client_drain(m, c);
	}
	reap(m, now_mono_ns());
	return 0; /* the metrics never end the agent */
}

static int on_timeout(void *ctx)
{
	struct ap_metrics *m = ctx;
	uint64_t d = next_deadline(m), now = now_mono_ns();

	if (d == UINT64_MAX)
		return -1;
	return d <= now ? 0 : (int)((d - now + 999999) / 1000000);
}

int ap_metrics__attach(struct ap_metrics *m, struct ap_loop *l)
{
	int err = ap_loop__add_fd(l, m->epfd, on_ready, on_timeout, m);

	if (err)
		ap_err("metrics: %s: adding to the event loop: %s", m->addr, ap_errstr(err));
	return err;
}

void ap_metrics__free(struct ap_metrics *m)
{
	int i;

	if (!m)
		return;
	for (i = 0; i < AP_METRICS_MAX_CLIENTS; i++)
		client_close(m, &m->cl[i]);
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->epfd >= 0)
		close(m->epfd);
	free(m);
}
