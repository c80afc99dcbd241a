// SPDX-License-Identifier: MIT
/* The agent's self-metrics (src/sink/metrics.c): the exposition text is
 * well-formed (names, one HELP and TYPE per family before its samples,
 * escaped label values), the address syntax, and the server's caps over
 * real loopback sockets (200, 404, 405, 431, 503 past the client cap). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "loop.h"
#include "sink/metrics.h"
#include "unit.h"
#include "util.h"

static bool name_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

/* a label set {k="v",...}: names valid, values with only \\ \" \n escapes
 * and no raw newline or quote; returns the end or NULL */
static const char *labels_ok(const char *p)
{
	const char *k;

	if (*p++ != '{')
		return NULL;
	while (*p != '}') {
		for (k = p; *p && *p != '='; p++)
			;
		if (!name_ok(k, p - k) || p[1] != '"')
			return NULL;
		for (p += 2; *p != '"'; p++) {
			if (!*p || *p == '\n')
				return NULL;
			if (*p == '\\' && p[1] != '\\' && p[1] != '"' && p[1] != 'n')
				return NULL;
			if (*p == '\\')
				p++;
		}
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return NULL;
	}
	return p + 1;
}

/* the checks of the 0.0.4 text format a scraper relies on; the number of
 * problems (each printed) */
static int exposition_problems(const char *text)
{
	char fam[64][96] = {}, cur[96] = "";
	int nfam = 0, bad = 0, i;
	const char *line = text, *eol, *p;

	for (; *line; line = eol + 1) {
		eol = strchr(line, '\n');
		if (!eol) {
			fprintf(stderr, "    no newline at the end\n");
			return bad + 1;
		}
		if (!strncmp(line, "# TYPE ", 7) || !strncmp(line, "# HELP ", 7)) {
			const char *n = line + 7, *sp = memchr(n, ' ', eol - n);

			if (!sp || !name_ok(n, sp - n) ||
			    (line[2] == 'T' && !(!strncmp(sp, " counter\n", 9) || !strncmp(sp, " gauge\n", 7)))) {
				fprintf(stderr, "    bad comment line: %.*s\n", (int)(eol - line), line);
				bad++;
				continue;
			}
			if (line[2] == 'H') { /* HELP first: a new family */
				for (i = 0; i < nfam; i++)
					if (!strncmp(fam[i], n, sp - n) && !fam[i][sp - n]) {
						fprintf(stderr, "    family twice: %.*s\n", (int)(sp - n), n);
						bad++;
					}
				snprintf(fam[nfam < 63 ? nfam++ : 63], sizeof(fam[0]), "%.*s", (int)(sp - n), n);
				snprintf(cur, sizeof(cur), "%.*s", (int)(sp - n), n);
			} else if (strncmp(cur, n, sp - n) || cur[sp - n]) {
				fprintf(stderr, "    TYPE without its HELP: %.*s\n", (int)(eol - line), line);
				bad++;
			}
			continue;
		}
		for (p = line; p < eol && *p != '{' && *p != ' '; p++)
			;
		if (!name_ok(line, p - line) || strncmp(cur, line, p - line) || cur[p - line]) {
			fprintf(stderr, "    sample outside its family: %.*s\n", (int)(eol - line), line);
			bad++;
			continue;
		}
		if (*p == '{' && !(p = labels_ok(p))) {
			fprintf(stderr, "    bad labels: %.*s\n", (int)(eol - line), line);
			bad++;
			continue;
		}
		if (*p != ' ' || p + 1 >= eol || strspn(p + 1, "0123456789.-e+") != (size_t)(eol - p - 1)) {
			fprintf(stderr, "    bad value: %.*s\n", (int)(eol - line), line);
			bad++;
		}
	}
	return bad;
}

static int two_sinks(void *ctx, struct ap_metrics_sink *out, int max)
{
	snprintf(out[0].name, sizeof(out[0].name), "otlp");
	out[0].pushes_ok = 5;
	out[0].spool_bytes = 4096;
	out[0].spool_failed = 3;
	out[0].spool_bad = 4;
	snprintf(out[1].name, sizeof(out[1].name), "py\"ro\\");
	out[1].pushes_rejected = 2;
	out[1].last_ok_real_ns = 1796000000123000000ull;
	return 2;
}

/* the value of the first sample line that starts with prefix; -1 none */
static double value_of(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);

	while (p && p != text && p[-1] != '\n')
		p = strstr(p + 1, prefix);
	return p ? strtod(strchr(p + strlen(prefix), ' ') + 1, NULL) : -1;
}

TEST(metrics_exposition)
{
	struct ap_counter_val ctr[] = {
		{ "ringbuf_full", 7 }, { "weird\"name\\with\nnewline", 1 }, { "tab\there\xff", 2 },
	};
	struct ap_metrics_window w = { .windows = 1, .samples = 40, .end_real_ns = 1796000015000000000ull,
				       .totals = ctr, .nr_totals = 3, .store_max_bytes = 1 << 20 };
	struct ap_metrics *m = ap_metrics__new("1.2.3");
	struct strbuf o = {};

	w.store.windows = 1;
	w.store.dropped = 3;
	ap_metrics__window(m, &w);
	w.windows = 2;
	w.samples = 2;
	ap_metrics__window(m, &w);
	ap_metrics__set_sinks(m, two_sinks, NULL);
	ASSERT_EQ(ap_metrics__render(m, &o), 0, "rendered");
	ASSERT_EQ(exposition_problems(o.buf), 0, "well-formed");
	ASSERT_EQ(value_of(o.buf, "autoprof_samples_total"), 42, "samples added up over windows");
	ASSERT_EQ(value_of(o.buf, "autoprof_windows_total"), 2, "windows");
	ASSERT_EQ(value_of(o.buf, "autoprof_store_windows_dropped_total"), 3, "store drops");
	ASSERT_EQ(value_of(o.buf, "autoprof_events_total{event=\"ringbuf_full\"}"), 7, "a counter");
	ASSERT_TRUE(strstr(o.buf, "autoprof_events_total{event=\"weird\\\"name\\\\with\\nnewline\"} 1\n"),
		    "quote, backslash and newline escaped");
	ASSERT_TRUE(strstr(o.buf, "{event=\"tab_here_\"} 2\n"), "controls and non-ASCII replaced");
	ASSERT_TRUE(strstr(o.buf, "autoprof_sink_pushes_total{sink=\"otlp\",result=\"ok\"} 5\n"),
		    "sink pushes");
	ASSERT_TRUE(strstr(o.buf, "autoprof_sink_pushes_total{sink=\"py\\\"ro\\\\\",result=\"rejected\"} 2\n"),
		    "sink name escaped");
	ASSERT_TRUE(strstr(o.buf, "autoprof_sink_last_ok_timestamp_seconds{sink=\"py\\\"ro\\\\\"} 1796000000.123\n"),
		    "last ok time");
	ASSERT_TRUE(strstr(o.buf, "autoprof_sink_spool_failed_total{sink=\"otlp\"} 3\n"),
		    "spool failures");
	ASSERT_TRUE(strstr(o.buf, "autoprof_sink_spool_bad_total{sink=\"otlp\"} 4\n"),
		    "spool entries deleted as unreadable");
	ASSERT_TRUE(strstr(o.buf, "autoprof_build_info{version=\"1.2.3\"} 1\n"), "build info");
	ASSERT_TRUE(value_of(o.buf, "process_resident_memory_bytes") > 0, "own RSS");
	ASSERT_TRUE(strstr(o.buf, "# TYPE process_cpu_seconds_total counter\n") != NULL, "own CPU");
	sb_free(&o);
	ap_metrics__free(m);
}

TEST(metrics_counters_capped)
{
	struct ap_counter_val *ctr = calloc(AP_METRICS_MAX_COUNTERS + 5, sizeof(*ctr));
	struct ap_metrics_window w = { .totals = ctr, .nr_totals = AP_METRICS_MAX_COUNTERS + 5 };
	struct ap_metrics *m = ap_metrics__new("x");
	struct ap_metrics_stats st;
	struct strbuf o = {};
	size_t i;

	for (i = 0; i < w.nr_totals; i++)
		ctr[i].name = xasprintf("c%zu", i);
	ap_metrics__window(m, &w);
	ap_metrics__stats(m, &st);
	ASSERT_EQ(st.counters_omitted, 5, "counters past the cap counted");
	ap_metrics__render(m, &o);
	ASSERT_EQ(value_of(o.buf, "autoprof_metrics_counters_omitted"), 5, "and served");
	ASSERT_EQ(exposition_problems(o.buf), 0, "well-formed");
	sb_free(&o);
	ap_metrics__free(m);
	for (i = 0; i < w.nr_totals; i++)
		free(ctr[i].name);
	free(ctr);
}

TEST(metrics_parse_addr)
{
	static const char *const good[] = { "127.0.0.1:9464", "localhost:1", "0.0.0.0:65535",
					     "[::1]:9464", "[::]:80" };
	static const char *const bad[] = { "", "9464", ":9464", "127.0.0.1", "127.0.0.1:",
					   "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80",
					   "127.0.0.1: 80", "127.0.0.1:0x50", "127.1:80", "::1:80",
					   "[::1]9464", "[::1", "[]:80", "example.org:80",
					   "127.0.0.1:80:80" };
	struct sockaddr_storage sa;
	socklen_t len;
	size_t i;

	for (i = 0; i < AP_ARRAY_SIZE(good); i++)
		CHECK(!ap_metrics_parse_addr(good[i], &sa, &len), "good address", "'%s' refused", good[i]);
	ASSERT_EQ(ntohs(((struct sockaddr_in6 *)&sa)->sin6_port), 80, "the port");
	for (i = 0; i < AP_ARRAY_SIZE(bad); i++)
		CHECK(ap_metrics_parse_addr(bad[i], &sa, &len) == -EINVAL, "bad address",
		      "'%s' taken", bad[i]);
}

/* ---- the server, over loopback: the loop runs here, a thread is the client ---- */

struct srv_test {
	struct ap_metrics *m;
	int port;
	char got[7][256];        /* each request's status line */
	char head[1024];         /* the whole answer to HEAD */
	int busy_fds[AP_METRICS_MAX_CLIENTS];
	volatile int done;
	uint64_t deadline;
};

static int connect_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	struct timeval tv = { .tv_sec = 5 }; /* a stuck server fails the test, not hangs it */

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* send req (NULL: nothing), read the answer into out */
static void ask_all(int port, const char *req, size_t len, char *out, size_t cap)
{
	int fd = connect_port(port);
	ssize_t n, got = 0;

	out[0] = 0;
	if (fd < 0)
		return;
	if (req)
		send(fd, req, len, MSG_NOSIGNAL);
	while (got < (ssize_t)cap - 1 && (n = recv(fd, out + got, cap - 1 - got, 0)) > 0)
		got += n;
	out[got] = 0;
	close(fd);
}

/* ... and keep its first line */
static void ask(int port, const char *req, size_t len, char *out, size_t cap)
{
	ask_all(port, req, len, out, cap);
	out[strcspn(out, "\r\n")] = 0;
}

/* until the server has n clients (read from this thread: a test's poll) */
static void wait_clients(struct ap_metrics *m, int n)
{
	struct ap_metrics_stats st;
	int i;

	for (i = 0; i < 500; i++) {
		ap_metrics__stats(m, &st);
		if (st.clients == n)
			return;
		usleep(10000);
	}
}

static void *client_thread(void *arg)
{
	struct srv_test *t = arg;
	char *big = malloc(AP_METRICS_MAX_HEADER + 100);
	int i;

	ask(t->port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 34, t->got[0], 256);
	ask(t->port, "GET /nope HTTP/1.1\r\n\r\n", 22, t->got[1], 256);
	ask(t->port, "DELETE /metrics HTTP/1.1\r\n\r\n", 28, t->got[2], 256);
	ask(t->port, "hello\r\n\r\n", 9, t->got[3], 256);
	ask_all(t->port, "HEAD /metrics?x=1 HTTP/1.0\n\n", 28, t->head, sizeof(t->head));
	memset(big, 'a', AP_METRICS_MAX_HEADER + 100);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	ask(t->port, big, AP_METRICS_MAX_HEADER + 100, t->got[4], 256);
	free(big);
	/* every slot taken by a silent client: the next one is refused */
	wait_clients(t->m, 0);
	for (i = 0; i < AP_METRICS_MAX_CLIENTS; i++)
		t->busy_fds[i] = connect_port(t->port);
	wait_clients(t->m, AP_METRICS_MAX_CLIENTS);
	ask(t->port, "GET /metrics HTTP/1.0\r\n\r\n", 25, t->got[5], 256);
	for (i = 0; i < AP_METRICS_MAX_CLIENTS; i++)
		if (t->busy_fds[i] >= 0)
			close(t->busy_fds[i]);
	t->done = 1;
	return NULL;
}

static int stop_tick(struct ap_loop *l, void *ctx)
{
	struct srv_test *t = ctx;

	return t->done || now_mono_ns() > t->deadline;
}

/* a free loopback port (bound and released: a race only with other tests) */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) && !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

TEST(metrics_server)
{
	struct ap_metrics *m = ap_metrics__new("x");
	struct srv_test t = { .m = m, .port = free_port() };
	struct ap_metrics_stats st;
	struct ap_loop l;
	pthread_t th;
	char addr[32], *end;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", t.port);
	if (!ASSERT_EQ(ap_metrics__listen(m, addr), 0, "listen") ||
	    !ASSERT_EQ(ap_loop__init(&l, NULL, NULL, NULL), 0, "loop")) {
		ap_metrics__free(m);
		return;
	}
	ap_metrics__attach(m, &l);
	pthread_create(&th, NULL, client_thread, &t);
	t.deadline = now_mono_ns() + 30000000000ull;
	ap_loop__add_timer(&l, 50000000ull, stop_tick, &t);
	ap_loop__run(&l);
	pthread_join(th, NULL);
	ASSERT_STREQ(t.got[0], "HTTP/1.1 200 OK", "GET /metrics");
	ASSERT_STREQ(t.got[1], "HTTP/1.1 404 Not Found", "another path");
	ASSERT_STREQ(t.got[2], "HTTP/1.1 405 Method Not Allowed", "another method");
	ASSERT_STREQ(t.got[3], "HTTP/1.1 400 Bad Request", "not HTTP");
	ASSERT_STREQ(t.got[4], "HTTP/1.1 431 Request Header Fields Too Large", "header cap");
	ASSERT_STREQ(t.got[5], "HTTP/1.1 503 Service Unavailable", "client cap");
	end = strstr(t.head, "\r\n\r\n");
	ASSERT_TRUE(!strncmp(t.head, "HTTP/1.1 200 OK\r\n", 17) &&
		    strstr(t.head, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") &&
		    end && !end[4],
		    "HEAD (bare LF, a query): the headers of GET, no body");
	ap_metrics__stats(m, &st);
	ASSERT_EQ(st.requests_ok, 2, "ok counted");
	ASSERT_EQ(st.refused_clients, 1, "503 counted");
	ASSERT_EQ(st.refused_header, 1, "431 counted");
	ap_metrics__free(m);
	ap_loop__free(&l);
}

/* a client that asks and does not read a large answer: the answer waits
 * in its buffer (EPOLLOUT), another scrape is served meanwhile, and the
 * slow one still gets all of it when it reads */
struct slow_test {
	int port;
	char other[256];
	size_t slow_got, slow_len;
	volatile int done;
	uint64_t deadline;
};

static void *slow_thread(void *arg)
{
	struct slow_test *t = arg;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(t->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 1024;
	char buf[4096], *cl;
	ssize_t n;

	/* a small receive window, so the answer cannot all be in flight */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		goto out;
	send(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25, MSG_NOSIGNAL);
	usleep(300000);
	ask(t->port, "GET /metrics HTTP/1.1\r\n\r\n", 25, t->other, sizeof(t->other));
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		if (!t->slow_got) {
			buf[n] = 0;
			cl = strstr(buf, "Content-Length: ");
			t->slow_len = cl ? strtoul(cl + 16, NULL, 10) + (strstr(buf, "\r\n\r\n") + 4 - buf) : 0;
		}
		t->slow_got += n;
	}
out:
	close(fd);
	t->done = 1;
	return NULL;
}

static int slow_stop(struct ap_loop *l, void *ctx)
{
	struct slow_test *t = ctx;

	return t->done || now_mono_ns() > t->deadline;
}

TEST(metrics_slow_reader)
{
	struct ap_counter_val *ctr = calloc(AP_METRICS_MAX_COUNTERS, sizeof(*ctr));
	struct ap_metrics_window w = { .totals = ctr, .nr_totals = AP_METRICS_MAX_COUNTERS };
	struct slow_test t = { .port = free_port() };
	struct ap_metrics *m = ap_metrics__new("x");
	struct ap_metrics_stats st;
	struct ap_loop l;
	pthread_t th;
	char addr[32];
	size_t i;

	/* an answer of ~25 KB: more than a small window and a socket buffer take */
	for (i = 0; i < w.nr_totals; i++)
		ctr[i].name = xasprintf("a_long_counter_name_to_make_the_answer_large_%03zu", i);
	ap_metrics__window(m, &w);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", t.port);
	if (!ASSERT_EQ(ap_metrics__listen(m, addr), 0, "listen") ||
	    !ASSERT_EQ(ap_loop__init(&l, NULL, NULL, NULL), 0, "loop"))
		goto out;
	ap_metrics__attach(m, &l);
	t.deadline = now_mono_ns() + 30000000000ull;
	pthread_create(&th, NULL, slow_thread, &t);
	ap_loop__add_timer(&l, 50000000ull, slow_stop, &t);
	ap_loop__run(&l);
	pthread_join(th, NULL);
	ap_loop__free(&l);
	ap_metrics__stats(m, &st);
	ASSERT_STREQ(t.other, "HTTP/1.1 200 OK", "another scrape served while one waits");
	ASSERT_TRUE(st.writes_waited > 0, "the slow answer waited for EPOLLOUT");
	ASSERT_TRUE(t.slow_len > 20000, "a large answer");
	ASSERT_EQ(t.slow_got, t.slow_len, "the slow reader got all of it");
out:
	ap_metrics__free(m);
	for (i = 0; i < w.nr_totals; i++)
		free(ctr[i].name);
	free(ctr);
}
